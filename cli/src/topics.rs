//! `odradek topics list|create|describe|delete` (reassign, reassignments and elect-leaders in
//! `reassign`).

use std::io::Write;

use odradek::admin::{Admin, ConfigResource, NewTopic};
use odradek::cluster::offsets::{EARLIEST, LATEST};
use serde::Serialize;

use crate::args::{ClientArgs, TopicsCommand};
use crate::connect::{client_config, reach_broker, split_pair, topic_info};
use crate::failure::{CliResult, Failure};

pub async fn run(command: TopicsCommand) -> CliResult {
    match command {
        TopicsCommand::List { client, json } => list(&client, json).await,
        TopicsCommand::Create {
            client,
            topic,
            partitions,
            replication_factor,
            configs,
        } => create(&client, &topic, partitions, replication_factor, &configs).await,
        TopicsCommand::Describe {
            client,
            topics,
            json,
        } => describe(&client, &topics, json).await,
        TopicsCommand::Delete { client, topics } => delete(&client, &topics).await,
        TopicsCommand::Reassign {
            client,
            moves,
            cancels,
        } => crate::reassign::reassign(&client, &moves, &cancels).await,
        TopicsCommand::Reassignments { client } => {
            crate::reassign::list_reassignments(&client).await
        }
        TopicsCommand::ElectLeaders {
            client,
            partitions,
            unclean,
        } => crate::reassign::elect_leaders(&client, &partitions, unclean).await,
    }
}

pub async fn admin(client: &ClientArgs) -> CliResult<Admin> {
    let config = client_config(client)?;
    let admin = Admin::from_config(&config).map_err(|e| Failure::usage(e.to_string()))?;
    reach_broker(admin.cluster()).await?;
    Ok(admin)
}

pub fn print(text: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::runtime(format!("writing to stdout: {e}"))),
    }
}

pub fn json_line(value: &impl Serialize) -> String {
    let mut line =
        serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    line.push('\n');
    line
}

async fn list(client: &ClientArgs, json: bool) -> CliResult {
    let admin = admin(client).await?;
    let topics = admin
        .list_topics()
        .await
        .map_err(|e| Failure::client("listing topics", &e))?;
    let mut text = String::new();
    if json {
        #[derive(Serialize)]
        struct Row<'a> {
            topic: &'a str,
            partitions: usize,
        }
        for (topic, partitions) in &topics {
            text.push_str(&json_line(&Row {
                topic,
                partitions: *partitions,
            }));
        }
    } else {
        let width = topics
            .iter()
            .map(|(t, _)| t.len())
            .max()
            .unwrap_or(0)
            .max(5);
        if !topics.is_empty() {
            text.push_str(&format!("{:width$}  PARTITIONS\n", "TOPIC"));
        }
        for (topic, partitions) in &topics {
            text.push_str(&format!("{topic:width$}  {partitions}\n"));
        }
    }
    print(&text)
}

async fn create(
    client: &ClientArgs,
    topic: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[String],
) -> CliResult {
    let mut new = NewTopic::new(topic, partitions).replication_factor(replication_factor);
    for pair in configs {
        let (k, v) = split_pair(pair, "-c")?;
        new = new.config(k, v);
    }
    let admin = admin(client).await?;
    admin
        .create_topics(&[new])
        .await
        .map_err(|e| Failure::client(format!("creating topic {topic:?}"), &e))?;
    let count = admin
        .cluster()
        .metadata()
        .partition_count(topic)
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    print(&format!("created topic {topic} ({count} partitions)\n"))
}

#[derive(Debug, Serialize)]
struct PartitionDescription {
    partition: i32,
    leader: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    low_watermark: i64,
    high_watermark: i64,
}

#[derive(Debug, Serialize)]
struct TopicDescription {
    topic: String,
    partitions: Vec<PartitionDescription>,
    /// Configs set on the topic (not defaults).
    configs: std::collections::BTreeMap<String, Option<String>>,
}

async fn describe(client: &ClientArgs, topics: &[String], json: bool) -> CliResult {
    let admin = admin(client).await?;
    let mut text = String::new();
    for topic in topics {
        let d = describe_one(&admin, topic).await?;
        if json {
            text.push_str(&json_line(&d));
            continue;
        }
        text.push_str(&format!(
            "topic {}  partitions {}\n",
            d.topic,
            d.partitions.len()
        ));
        for p in &d.partitions {
            text.push_str(&format!(
                "  partition {}  leader {}  replicas {:?}  isr {:?}  offsets {}..{}\n",
                p.partition, p.leader, p.replicas, p.isr, p.low_watermark, p.high_watermark
            ));
        }
        if d.configs.is_empty() {
            text.push_str("  configs: all defaults\n");
        } else {
            text.push_str("  configs:\n");
            for (k, v) in &d.configs {
                text.push_str(&format!("    {k}={}\n", v.as_deref().unwrap_or("(hidden)")));
            }
        }
    }
    print(&text)
}

async fn describe_one(admin: &Admin, topic: &str) -> CliResult<TopicDescription> {
    let info = topic_info(admin.cluster(), topic).await?;
    let doing = || format!("describing topic {topic:?}");
    let ask = |ts: i64| -> Vec<(&str, i32, i64)> {
        info.partitions.iter().map(|p| (topic, p.id, ts)).collect()
    };
    let low = admin
        .list_offsets(&ask(EARLIEST))
        .await
        .map_err(|e| Failure::client(doing(), &e))?;
    let high = admin
        .list_offsets(&ask(LATEST))
        .await
        .map_err(|e| Failure::client(doing(), &e))?;
    let configs = admin
        .describe_configs(&ConfigResource::Topic(topic.to_owned()), None)
        .await
        .map_err(|e| Failure::client(doing(), &e))?;
    let offset =
        |m: &std::collections::HashMap<
            (String, i32),
            odradek::cluster::offsets::OffsetAndTimestamp,
        >,
         p: i32| { m.get(&(topic.to_owned(), p)).map_or(-1, |o| o.offset) };
    Ok(TopicDescription {
        topic: topic.to_owned(),
        partitions: info
            .partitions
            .iter()
            .map(|p| PartitionDescription {
                partition: p.id,
                leader: p.leader,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                low_watermark: offset(&low, p.id),
                high_watermark: offset(&high, p.id),
            })
            .collect(),
        configs: configs
            .into_iter()
            .filter(|c| !c.is_default)
            .map(|c| (c.name, c.value))
            .collect(),
    })
}

async fn delete(client: &ClientArgs, topics: &[String]) -> CliResult {
    let admin = admin(client).await?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    admin
        .delete_topics(&names)
        .await
        .map_err(|e| Failure::client(format!("deleting topic(s) {}", names.join(", ")), &e))?;
    let mut text = String::new();
    for t in &names {
        text.push_str(&format!("deleted topic {t}\n"));
    }
    print(&text)
}
