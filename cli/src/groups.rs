//! `odradek groups list|describe|lag|reset-offsets|delete`: human tables, or `--json` lines.

use std::collections::BTreeMap;

use odradek::admin::Admin;
use odradek::cluster::offsets::{EARLIEST, LATEST};
use odradek::config::IsolationLevel;
use serde::Serialize;

use crate::args::{ClientArgs, GroupsCommand, ResetTarget};
use crate::connect::{client_config, reach_broker, topic_info};
use crate::failure::{CliResult, Failure};
use crate::topics::{json_line, print};

pub async fn run(command: GroupsCommand) -> CliResult {
    match command {
        GroupsCommand::List { client, json } => list(&client, json).await,
        GroupsCommand::Describe {
            client,
            groups,
            json,
        } => describe(&client, &groups, json).await,
        GroupsCommand::Lag {
            client,
            group,
            topics,
            json,
        } => lag(&client, &group, &topics, json).await,
        GroupsCommand::ResetOffsets {
            client,
            group,
            topic,
            to,
            dry_run,
            json,
        } => reset(&client, &group, &topic, &to, dry_run, json).await,
        GroupsCommand::Delete { client, groups } => delete(&client, &groups).await,
    }
}

async fn admin(client: &ClientArgs) -> CliResult<Admin> {
    let config = client_config(client)?;
    let admin = Admin::from_config(&config).map_err(|e| Failure::usage(e.to_string()))?;
    reach_broker(admin.cluster()).await?;
    Ok(admin)
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        l.push('\n');
        l
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

async fn list(client: &ClientArgs, json: bool) -> CliResult {
    let admin = admin(client).await?;
    let groups = admin
        .list_groups()
        .await
        .map_err(|e| Failure::client("listing groups", &e))?;
    if json {
        #[derive(Serialize)]
        struct Row<'a> {
            group: &'a str,
            r#type: &'a str,
            state: &'a str,
            protocol_type: &'a str,
        }
        let mut text = String::new();
        for g in &groups {
            text.push_str(&json_line(&Row {
                group: &g.group_id,
                r#type: &g.group_type,
                state: &g.state,
                protocol_type: &g.protocol_type,
            }));
        }
        return print(&text);
    }
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| vec![g.group_id.clone(), g.group_type.clone(), g.state.clone()])
        .collect();
    print(&table(&["GROUP", "TYPE", "STATE"], &rows))
}

async fn describe(client: &ClientArgs, groups: &[String], json: bool) -> CliResult {
    let admin = admin(client).await?;
    let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
    let described = admin
        .describe_groups(&ids)
        .await
        .map_err(|e| Failure::client("describing groups", &e))?;
    let mut text = String::new();
    for g in &described {
        if json {
            #[derive(Serialize)]
            struct Member<'a> {
                member_id: &'a str,
                instance_id: Option<&'a str>,
                client_id: &'a str,
                host: &'a str,
                member_epoch: i32,
                partitions: Vec<serde_json::Value>,
            }
            #[derive(Serialize)]
            struct Row<'a> {
                group: &'a str,
                r#type: &'a str,
                state: &'a str,
                assignor: &'a str,
                epoch: i32,
                members: Vec<Member<'a>>,
            }
            text.push_str(&json_line(&Row {
                group: &g.group_id,
                r#type: &g.group_type,
                state: &g.state,
                assignor: &g.assignor,
                epoch: g.epoch,
                members: g
                    .members
                    .iter()
                    .map(|m| Member {
                        member_id: &m.member_id,
                        instance_id: m.instance_id.as_deref(),
                        client_id: &m.client_id,
                        host: &m.host,
                        member_epoch: m.member_epoch,
                        partitions: m
                            .assignment
                            .iter()
                            .map(|(t, p)| serde_json::json!({"topic": t, "partition": p}))
                            .collect(),
                    })
                    .collect(),
            }));
            continue;
        }
        text.push_str(&format!(
            "group {} ({}): {}, assignor {}, {} member(s)\n",
            g.group_id,
            g.group_type,
            g.state,
            if g.assignor.is_empty() {
                "-"
            } else {
                &g.assignor
            },
            g.members.len()
        ));
        if !g.members.is_empty() {
            let rows: Vec<Vec<String>> = g
                .members
                .iter()
                .map(|m| {
                    vec![
                        m.member_id.clone(),
                        m.instance_id.clone().unwrap_or_else(|| "-".into()),
                        m.client_id.clone(),
                        m.host.clone(),
                        compact(&m.assignment),
                    ]
                })
                .collect();
            text.push_str(&table(
                &["MEMBER", "INSTANCE", "CLIENT", "HOST", "PARTITIONS"],
                &rows,
            ));
        }
    }
    print(&text)
}

/// `topic:0,1,2 other:3`.
fn compact(parts: &[(String, i32)]) -> String {
    let mut by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (t, p) in parts {
        by.entry(t).or_default().push(p.to_string());
    }
    let s: Vec<String> = by
        .into_iter()
        .map(|(t, ps)| format!("{t}:{}", ps.join(",")))
        .collect();
    if s.is_empty() {
        "-".into()
    } else {
        s.join(" ")
    }
}

async fn lag(client: &ClientArgs, group: &str, topics: &[String], json: bool) -> CliResult {
    let admin = admin(client).await?;
    for t in topics {
        topic_info(admin.cluster(), t).await?;
    }
    let ts: Vec<&str> = topics.iter().map(String::as_str).collect();
    let lags = admin
        .group_lag(group, &ts)
        .await
        .map_err(|e| Failure::client(format!("computing the lag of group {group:?}"), &e))?;
    if json {
        #[derive(Serialize)]
        struct Row<'a> {
            group: &'a str,
            topic: &'a str,
            partition: i32,
            committed: Option<i64>,
            log_end: i64,
            lag: i64,
        }
        let mut text = String::new();
        for l in &lags {
            text.push_str(&json_line(&Row {
                group,
                topic: &l.topic,
                partition: l.partition,
                committed: l.committed,
                log_end: l.log_end,
                lag: l.lag,
            }));
        }
        return print(&text);
    }
    let rows: Vec<Vec<String>> = lags
        .iter()
        .map(|l| {
            vec![
                l.topic.clone(),
                l.partition.to_string(),
                l.committed.map_or("-".into(), |c| c.to_string()),
                l.log_end.to_string(),
                l.lag.to_string(),
            ]
        })
        .collect();
    let total: i64 = lags.iter().map(|l| l.lag).sum();
    let mut text = table(
        &["TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG"],
        &rows,
    );
    text.push_str(&format!("total lag of group {group}: {total}\n"));
    print(&text)
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.mmm][Z|±HH:MM]` (UTC without a
/// zone), or of a plain integer.
pub fn parse_datetime(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    let (date, rest) = text.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let da: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    // The zone: Z, +HH:MM, -HH:MM or nothing.
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':').unwrap_or((&z[1..], "0"));
        (
            t,
            sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?),
        )
    } else {
        (rest, 0)
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut h = hms.split(':');
    let hh: i64 = h.next()?.parse().ok()?;
    let mm: i64 = h.next().unwrap_or("0").parse().ok()?;
    let ss: i64 = h.next().unwrap_or("0").parse().ok()?;
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    // Days from the civil date (proleptic Gregorian).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) - offset_min * 60) * 1000 + ms)
}

async fn reset(
    client: &ClientArgs,
    group: &str,
    topic: &str,
    to: &ResetTarget,
    dry_run: bool,
    json: bool,
) -> CliResult {
    let at = match &to.to_datetime {
        Some(d) => Some(parse_datetime(d).ok_or_else(|| {
            Failure::usage(format!(
                "--to-datetime {d:?}: expected YYYY-MM-DDTHH:MM:SS[.mmm][Z|+HH:MM] or epoch ms"
            ))
        })?),
        None => None,
    };
    let admin = admin(client).await?;
    let info = topic_info(admin.cluster(), topic).await?;
    let described = admin
        .describe_groups(&[group])
        .await
        .map_err(|e| Failure::client(format!("describing group {group:?}"), &e))?;
    if let Some(g) = described.first()
        && !g.members.is_empty()
    {
        return Err(Failure::runtime(format!(
            "group {group:?} has {} active member(s) ({}): offsets can only be reset while it \
             has none; stop its consumers first",
            g.members.len(),
            g.state
        )));
    }
    let partitions: Vec<i32> = (0..info.partitions.len() as i32).collect();
    let cluster = admin.cluster();
    let ask =
        |ts: i64| -> Vec<(&str, i32, i64)> { partitions.iter().map(|&p| (topic, p, ts)).collect() };
    let fail = |e| Failure::client(format!("listing offsets of topic {topic:?}"), &e);
    let low = cluster
        .list_offsets(&ask(EARLIEST), IsolationLevel::ReadUncommitted)
        .await
        .map_err(fail)?;
    let high = cluster
        .list_offsets(&ask(LATEST), IsolationLevel::ReadUncommitted)
        .await
        .map_err(fail)?;
    let by_time = match at {
        Some(ms) => Some(
            cluster
                .list_offsets(&ask(ms), IsolationLevel::ReadUncommitted)
                .await
                .map_err(fail)?,
        ),
        None => None,
    };
    let current = admin
        .list_group_offsets(group)
        .await
        .map_err(|e| Failure::client(format!("fetching offsets of group {group:?}"), &e))?;
    let mut plan: Vec<(String, i32, i64)> = Vec::new();
    for &p in &partitions {
        let key = (topic.to_string(), p);
        let lo = low.get(&key).map_or(0, |o| o.offset);
        let hi = high.get(&key).map_or(0, |o| o.offset);
        let new = if to.to_earliest {
            lo
        } else if to.to_latest {
            hi
        } else if let Some(o) = to.to_offset {
            o.clamp(lo, hi)
        } else {
            // No record at or after the time: the log end, as Kafka does.
            by_time
                .as_ref()
                .and_then(|m| m.get(&key))
                .map(|o| o.offset)
                .filter(|o| *o >= 0)
                .unwrap_or(hi)
        };
        plan.push((topic.to_string(), p, new));
    }
    if !dry_run {
        admin
            .alter_group_offsets(group, &plan)
            .await
            .map_err(|e| Failure::client(format!("committing offsets of group {group:?}"), &e))?;
    }
    let mut text = String::new();
    if json {
        #[derive(Serialize)]
        struct Row<'a> {
            group: &'a str,
            topic: &'a str,
            partition: i32,
            previous: Option<i64>,
            offset: i64,
            dry_run: bool,
        }
        for (t, p, o) in &plan {
            text.push_str(&json_line(&Row {
                group,
                topic: t,
                partition: *p,
                previous: current.get(&(t.clone(), *p)).copied(),
                offset: *o,
                dry_run,
            }));
        }
        return print(&text);
    }
    let rows: Vec<Vec<String>> = plan
        .iter()
        .map(|(t, p, o)| {
            vec![
                t.clone(),
                p.to_string(),
                current
                    .get(&(t.clone(), *p))
                    .map_or("-".into(), |c| c.to_string()),
                o.to_string(),
            ]
        })
        .collect();
    text.push_str(&table(
        &["TOPIC", "PARTITION", "PREVIOUS", "NEW-OFFSET"],
        &rows,
    ));
    text.push_str(if dry_run {
        "dry run: nothing was committed\n"
    } else {
        "committed\n"
    });
    print(&text)
}

async fn delete(client: &ClientArgs, groups: &[String]) -> CliResult {
    let admin = admin(client).await?;
    let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
    admin
        .delete_groups(&ids)
        .await
        .map_err(|e| Failure::client("deleting groups", &e))?;
    print(&format!("deleted group(s) {}\n", ids.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_datetime("2026-11-30T23:00:00.5Z"),
            Some(1_796_079_600_500)
        );
        assert_eq!(
            parse_datetime("2026-12-01T00:00:00+01:00"),
            parse_datetime("2026-11-30T23:00:00")
        );
        assert_eq!(parse_datetime("1234"), Some(1234));
        assert_eq!(parse_datetime("yesterday"), None);
    }
}
