//! `odradek topics reassign|reassignments|elect-leaders`: replica reassignment (KIP-455) and
//! leader elections (KIP-460).

use odradek::admin::ElectionType;

use crate::args::ClientArgs;
use crate::failure::{CliResult, Failure};
use crate::topics::{admin, print};

/// Kafka's answer for a partition already led as asked.
const ELECTION_NOT_NEEDED: i16 = 84;

/// `events:0` → ("events", 0). Topic names may hold ':' only before the last one.
fn topic_partition<'a>(text: &'a str, flag: &str) -> CliResult<(&'a str, i32)> {
    let bad = || Failure::usage(format!("{flag} {text:?}: expected TOPIC:PARTITION"));
    let (topic, partition) = text.rsplit_once(':').ok_or_else(bad)?;
    let partition: i32 = partition.trim().parse().map_err(|_| bad())?;
    if topic.is_empty() || partition < 0 {
        return Err(bad());
    }
    Ok((topic, partition))
}

/// `events:0=2,3,1` → ("events", 0, [2, 3, 1]).
fn partition_move(text: &str) -> CliResult<(&str, i32, Vec<i32>)> {
    let bad = || {
        Failure::usage(format!(
            "--move {text:?}: expected TOPIC:PARTITION=ID,ID,..."
        ))
    };
    let (tp, ids) = text.split_once('=').ok_or_else(bad)?;
    let (topic, partition) = topic_partition(tp, "--move")?;
    let ids: Vec<i32> = ids
        .split(',')
        .map(|id| id.trim().parse().map_err(|_| bad()))
        .collect::<CliResult<_>>()?;
    Ok((topic, partition, ids))
}

pub async fn reassign(client: &ClientArgs, moves: &[String], cancels: &[String]) -> CliResult {
    if moves.is_empty() && cancels.is_empty() {
        return Err(Failure::usage("nothing to do: give --move or --cancel"));
    }
    let mut changes: Vec<(&str, i32, Option<Vec<i32>>)> = Vec::new();
    for m in moves {
        let (topic, partition, ids) = partition_move(m)?;
        changes.push((topic, partition, Some(ids)));
    }
    for c in cancels {
        let (topic, partition) = topic_partition(c, "--cancel")?;
        changes.push((topic, partition, None));
    }
    let admin = admin(client).await?;
    admin
        .alter_partition_reassignments(&changes)
        .await
        .map_err(|e| Failure::client("reassigning partitions", &e))?;
    let mut text = String::new();
    for (topic, partition, target) in &changes {
        match target {
            Some(ids) => text.push_str(&format!("moving {topic}:{partition} to {ids:?}\n")),
            None => text.push_str(&format!("cancelled the move of {topic}:{partition}\n")),
        }
    }
    print(&text)
}

pub async fn list_reassignments(client: &ClientArgs) -> CliResult {
    let admin = admin(client).await?;
    let moving = admin
        .list_partition_reassignments(None)
        .await
        .map_err(|e| Failure::client("listing reassignments", &e))?;
    let mut text = String::new();
    if moving.is_empty() {
        text.push_str("no reassignments in progress\n");
    }
    for r in &moving {
        text.push_str(&format!(
            "{}:{}  replicas {:?}  adding {:?}  removing {:?}\n",
            r.topic, r.partition, r.replicas, r.adding, r.removing
        ));
    }
    print(&text)
}

pub async fn elect_leaders(client: &ClientArgs, partitions: &[String], unclean: bool) -> CliResult {
    let wanted: Vec<(&str, i32)> = partitions
        .iter()
        .map(|p| topic_partition(p, "--partition"))
        .collect::<CliResult<_>>()?;
    let election = if unclean {
        ElectionType::Unclean
    } else {
        ElectionType::Preferred
    };
    let admin = admin(client).await?;
    let only = (!wanted.is_empty()).then_some(wanted.as_slice());
    let results = admin
        .elect_leaders(election, only)
        .await
        .map_err(|e| Failure::client("electing leaders", &e))?;
    let mut text = String::new();
    if results.is_empty() {
        text.push_str("every partition already has its leader\n");
    }
    let mut failed = 0;
    for r in &results {
        match &r.error {
            None => text.push_str(&format!("{}:{}  elected\n", r.topic, r.partition)),
            Some(e) if e.code() == Some(ELECTION_NOT_NEEDED) => text.push_str(&format!(
                "{}:{}  already led as asked\n",
                r.topic, r.partition
            )),
            Some(e) => {
                failed += 1;
                text.push_str(&format!("{}:{}  {e}\n", r.topic, r.partition));
            }
        }
    }
    print(&text)?;
    if failed > 0 {
        return Err(Failure::runtime(format!(
            "{failed} of {} election(s) failed",
            results.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_and_moves_parse_or_say_what_is_expected() {
        assert_eq!(topic_partition("a:b:3", "-p").unwrap(), ("a:b", 3));
        assert!(topic_partition("events", "-p").is_err());
        assert!(topic_partition("events:-1", "-p").is_err());
        assert_eq!(
            partition_move("events:0=2, 3,1").unwrap(),
            ("events", 0, vec![2, 3, 1])
        );
        assert!(partition_move("events:0").is_err());
        assert!(partition_move("events:0=2,x").is_err());
    }
}
