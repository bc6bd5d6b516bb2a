//! `odradek consume`: print a topic's records (text or JSON lines), optionally stopping at the
//! end of the partitions or after a count; with `-g GROUP` as a member of a consumer group.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use base64::Engine;
use odradek::cluster::offsets::{EARLIEST, LATEST};
use odradek::config::IsolationLevel;
use odradek::consumer::{Consumer, ConsumerRecord, Offset};
use serde::Serialize;

use crate::args::{ConsumeArgs, Format, StartOffset};
use crate::connect::{check_partition, client_config, reach_broker, topic_info};
use crate::failure::{CliResult, Failure};

/// How often the end-of-partition check runs while no record arrives.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// Records taken from the consumer per write (then stdout is flushed).
const BATCH: usize = 1000;

pub async fn run(args: ConsumeArgs) -> CliResult {
    if let Some(group) = args.group.clone() {
        return run_group(args, &group).await;
    }
    let mut config = client_config(&args.client)?;
    // Reading must never create a topic.
    config
        .set("allow.auto.create.topics", "false")
        .map_err(|e| Failure::usage(e.to_string()))?;
    let consumer_config = config
        .consumer()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let isolation = consumer_config.isolation_level;
    let consumer =
        Consumer::new(consumer_config).map_err(|e| Failure::client("starting the consumer", &e))?;
    let cluster = consumer.cluster().clone();
    reach_broker(&cluster).await?;
    let info = topic_info(&cluster, &args.topic).await?;
    let partitions: Vec<i32> = match args.partition {
        Some(p) => {
            check_partition(&info, p)?;
            vec![p]
        }
        None => (0..info.partitions.len() as i32).collect(),
    };

    let bounds = watermarks(&consumer, &args.topic, &partitions, isolation).await?;
    let mut plan: Vec<(&str, i32, Offset)> = Vec::new();
    // Per partition: the end as of start-up (for -e), and whether we are there already.
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    for &p in &partitions {
        let (low, high) = bounds[&p];
        let start = match args.offset {
            StartOffset::Beginning => low,
            StartOffset::End => high,
            StartOffset::At(o) => o.clamp(low, high),
            StartOffset::FromEnd(n) => high.saturating_sub(n).max(low),
        };
        plan.push((&args.topic, p, Offset::At(start)));
        if start < high {
            remaining.insert(p, high);
        }
    }
    consumer
        .assign(&plan)
        .map_err(|e| Failure::client("assigning partitions", &e))?;

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut printed: u64 = 0;
    let limit = args.count.unwrap_or(u64::MAX);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let result = loop {
        if printed >= limit || (args.exit_at_end && remaining.is_empty()) {
            break Ok(());
        }
        let want = (limit - printed).min(BATCH as u64) as usize;
        let batch = tokio::select! {
            r = tokio::time::timeout(IDLE_CHECK, consumer.recv_batch(want)) => r,
            _ = &mut ctrl_c => break Ok(()),
        };
        match batch {
            Ok(Ok(records)) => {
                for record in &records {
                    if printed >= limit {
                        break;
                    }
                    if let Err(e) = write_record(&mut out, record, &args) {
                        break_on_write(e)?;
                        return Ok(());
                    }
                    printed += 1;
                }
                if let Err(e) = out.flush() {
                    break_on_write(e)?;
                    return Ok(());
                }
            }
            Ok(Err(e)) => {
                break Err(Failure::client(
                    format!("consuming topic {:?}", args.topic),
                    &e,
                ));
            }
            Err(_idle) => {}
        }
        // The position moves past records, and past control batches the user never sees.
        remaining.retain(|&p, end| {
            consumer
                .position(&args.topic, p)
                .is_none_or(|pos| pos < *end)
        });
    };
    if let Err(e) = out.flush() {
        break_on_write(e)?;
    }
    if !args.quiet {
        eprintln!(
            "odradek: {printed} record(s) consumed from topic {:?}",
            args.topic
        );
    }
    result
}

/// `consume -g GROUP`: a group member. Offsets of printed records are committed with
/// auto-commit and on exit (Ctrl-C, SIGTERM, `-c`, `-e`), so a restarted member goes on where
/// this one stopped; SIGKILL loses at most the last auto-commit interval (at-least-once).
async fn run_group(args: ConsumeArgs, group: &str) -> CliResult {
    if args.partition.is_some() {
        return Err(Failure::usage(
            "-p cannot be used with -g: the group assigns the partitions",
        ));
    }
    let reset = match args.offset {
        StartOffset::Beginning => "earliest",
        StartOffset::End => "latest",
        _ => {
            return Err(Failure::usage(
                "with -g, -o takes beginning or end (where to start without a committed offset)",
            ));
        }
    };
    let mut config = client_config(&args.client)?;
    for (k, v) in [
        ("allow.auto.create.topics", "false"),
        ("group.id", group),
        ("auto.offset.reset", reset),
    ] {
        config
            .set(k, v)
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    let consumer =
        odradek::group::GroupConsumer::new(&config).map_err(|e| Failure::usage(e.to_string()))?;
    let cluster = consumer.consumer().cluster().clone();
    reach_broker(&cluster).await?;
    let info = topic_info(&cluster, &args.topic).await?;
    let all: Vec<i32> = (0..info.partitions.len() as i32).collect();
    let isolation = config
        .consumer()
        .map_err(|e| Failure::usage(e.to_string()))?
        .isolation_level;
    let ends: HashMap<i32, i64> = watermarks(consumer.consumer(), &args.topic, &all, isolation)
        .await?
        .into_iter()
        .map(|(p, (_, high))| (p, high))
        .collect();
    consumer
        .subscribe(&[&args.topic])
        .map_err(|e| Failure::client("subscribing", &e))?;

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut printed: u64 = 0;
    let limit = args.count.unwrap_or(u64::MAX);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::runtime(format!("installing the SIGTERM handler: {e}")))?;
    let result = loop {
        if printed >= limit {
            break Ok(());
        }
        // -e: every partition this member owns is at its end as of start-up.
        if args.exit_at_end {
            let owned = consumer.assignment();
            if !owned.is_empty()
                && owned.iter().all(|(t, p)| {
                    consumer
                        .consumer()
                        .position(t, *p)
                        .is_some_and(|pos| pos >= ends.get(p).copied().unwrap_or(0))
                })
            {
                break Ok(());
            }
        }
        let want = (limit - printed).min(BATCH as u64) as usize;
        let batch = tokio::select! {
            r = tokio::time::timeout(IDLE_CHECK, consumer.recv_batch(want)) => r,
            _ = &mut ctrl_c => break Ok(()),
            _ = term.recv() => break Ok(()),
        };
        match batch {
            Ok(Ok(records)) => {
                for record in &records {
                    if let Err(e) = write_record(&mut out, record, &args) {
                        break_on_write(e)?;
                        break;
                    }
                    printed += 1;
                }
                if let Err(e) = out.flush() {
                    break_on_write(e)?;
                    break Ok(());
                }
            }
            Ok(Err(e)) => {
                break Err(Failure::client(
                    format!("consuming topic {:?} in group {group:?}", args.topic),
                    &e,
                ));
            }
            Err(_idle) => {}
        }
    };
    let _ = out.flush();
    // Everything printed counts as processed: commit it, then leave the group.
    if let Err(e) = consumer.commit().await {
        eprintln!("odradek: committing the offsets of group {group:?} failed: {e}");
    }
    consumer
        .close()
        .await
        .map_err(|e| Failure::client("leaving the group", &e))?;
    if !args.quiet {
        eprintln!(
            "odradek: {printed} record(s) consumed from topic {:?} in group {group:?}",
            args.topic
        );
    }
    result
}

/// A closed stdout (`odradek consume ... | head`) ends the command quietly; other write errors
/// are failures.
fn break_on_write(e: std::io::Error) -> CliResult {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(Failure::runtime(format!("writing to stdout: {e}")))
    }
}

/// (low, high) per partition, the high one as the consumer's isolation level sees it.
pub async fn watermarks(
    consumer: &Consumer,
    topic: &str,
    partitions: &[i32],
    isolation: IsolationLevel,
) -> CliResult<HashMap<i32, (i64, i64)>> {
    let cluster = consumer.cluster();
    let ask =
        |ts: i64| -> Vec<(&str, i32, i64)> { partitions.iter().map(|&p| (topic, p, ts)).collect() };
    let doing = || format!("listing offsets of topic {topic:?}");
    let low = cluster
        .list_offsets(&ask(EARLIEST), IsolationLevel::ReadUncommitted)
        .await
        .map_err(|e| Failure::client(doing(), &e))?;
    let high = cluster
        .list_offsets(&ask(LATEST), isolation)
        .await
        .map_err(|e| Failure::client(doing(), &e))?;
    let mut out = HashMap::new();
    for &p in partitions {
        let key = (topic.to_owned(), p);
        let (Some(l), Some(h)) = (low.get(&key), high.get(&key)) else {
            return Err(Failure::runtime(format!(
                "the broker returned no offsets for partition {topic}-{p}"
            )));
        };
        out.insert(p, (l.offset, h.offset));
    }
    Ok(out)
}

fn write_record(
    out: &mut impl Write,
    record: &ConsumerRecord,
    args: &ConsumeArgs,
) -> std::io::Result<()> {
    match args.format {
        Format::Text => {
            if let Some(sep) = &args.key_separator {
                if let Some(k) = &record.key {
                    out.write_all(k)?;
                }
                out.write_all(sep.as_bytes())?;
            }
            if let Some(v) = &record.value {
                out.write_all(v)?;
            }
            out.write_all(b"\n")
        }
        Format::Json => {
            serde_json::to_writer(&mut *out, &JsonRecord::from(record))?;
            out.write_all(b"\n")
        }
    }
}

/// One record as a JSON line. Keys, values and header values are UTF-8 strings when they are
/// valid UTF-8; otherwise the field is null and a `*_base64` field carries the bytes.
#[derive(Debug, Serialize)]
pub struct JsonRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    pub value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    pub timestamp: i64,
    pub headers: Vec<JsonHeader<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonHeader<'a> {
    pub key: std::borrow::Cow<'a, str>,
    pub value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
}

/// (text, base64): text when the bytes are UTF-8, base64 otherwise; both `None` for null.
fn text_or_base64(bytes: Option<&[u8]>) -> (Option<&str>, Option<String>) {
    match bytes {
        None => (None, None),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => (Some(s), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(b)),
            ),
        },
    }
}

impl<'a> From<&'a ConsumerRecord> for JsonRecord<'a> {
    fn from(r: &'a ConsumerRecord) -> Self {
        let (key, key_base64) = text_or_base64(r.key.as_deref());
        let (value, value_base64) = text_or_base64(r.value.as_deref());
        JsonRecord {
            topic: &r.topic,
            partition: r.partition,
            offset: r.offset,
            key,
            key_base64,
            value,
            value_base64,
            timestamp: r.timestamp,
            headers: r
                .headers
                .iter()
                .map(|h| {
                    let (value, value_base64) = text_or_base64(h.value.as_deref());
                    JsonHeader {
                        key: String::from_utf8_lossy(&h.key),
                        value,
                        value_base64,
                    }
                })
                .collect(),
        }
    }
}
