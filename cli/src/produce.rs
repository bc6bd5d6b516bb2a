//! `odradek produce`: one record per stdin line, optionally split into key and value.

use std::io::{BufRead, IsTerminal, Write};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use odradek::error::Error;
use odradek::producer::{DeliveryReport, Producer, ProducerRecord};
use odradek::records::RecordHeader;
use tokio::sync::mpsc;

use crate::args::ProduceArgs;
use crate::connect::{check_partition, client_config, reach_broker, split_pair, topic_info};
use crate::failure::{CliResult, Failure};
use crate::progress;

/// Most delivery futures held at once; past it we wait for deliveries before reading more
/// input, so a huge stdin cannot grow memory without bound.
const MAX_PENDING: usize = 100_000;

pub async fn run(args: ProduceArgs) -> CliResult {
    let mut config = client_config(&args.client)?;
    if let Some(codec) = &args.compression {
        config
            .set("compression.type", codec)
            .map_err(|e| Failure::usage(format!("-z {codec}: {e}")))?;
    }
    let headers = parse_headers(&args.headers)?;
    let producer_config = config
        .producer()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let producer =
        Producer::new(producer_config).map_err(|e| Failure::client("starting the producer", &e))?;
    reach_broker(producer.cluster()).await?;
    let info = topic_info(producer.cluster(), &args.topic).await?;
    if let Some(p) = args.partition {
        check_partition(&info, p)?;
    }

    let lines = spawn_stdin_reader();
    let outcome = produce_lines(&producer, &args, &headers, lines).await;
    // Whatever happened, wait for what was sent: every record gets its report.
    let closed = producer.close().await;
    let stats = outcome?;
    if let Err(e) = closed {
        return Err(Failure::client(
            format!("flushing records to topic {:?}", args.topic),
            &e,
        ));
    }
    if !args.quiet {
        eprintln!(
            "odradek: {} record(s) delivered to topic {:?}{}",
            stats.delivered,
            args.topic,
            if stats.failed > 0 {
                format!(", {} failed", stats.failed)
            } else {
                String::new()
            }
        );
    }
    match stats.first_error {
        Some(e) => Err(Failure::client(
            format!(
                "{} of {} record(s) to topic {:?} failed; the first",
                stats.failed,
                stats.failed + stats.delivered,
                args.topic
            ),
            &e,
        )),
        None => Ok(()),
    }
}

#[derive(Default)]
struct Stats {
    delivered: u64,
    failed: u64,
    first_error: Option<Error>,
}

/// How deliveries are printed to stdout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Report {
    None,
    PartitionOffset,
    Json,
}

/// One `--report-json` line.
fn json_report(
    line: &[u8],
    separator: Option<&[u8]>,
    result: &Result<DeliveryReport, Error>,
) -> String {
    let (key, value) = split_key(line, separator);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut object = serde_json::json!({
        "key": key.map(text),
        "value": text(value),
    });
    match result {
        Ok(r) => {
            object["partition"] = r.partition.into();
            object["offset"] = r.offset.into();
        }
        Err(e) => {
            object["partition"] = e.partition().into();
            object["error"] = e.name().into();
            object["possibly_persisted"] = e.possibly_persisted().into();
        }
    }
    object.to_string()
}

impl Stats {
    fn record(&mut self, result: Result<DeliveryReport, Error>, report: Report) -> CliResult {
        match result {
            Ok(r) => {
                self.delivered += 1;
                if report == Report::PartitionOffset {
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{}\t{}", r.partition, r.offset)
                        .map_err(|e| Failure::runtime(format!("writing to stdout: {e}")))?;
                }
            }
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert(e);
            }
        }
        Ok(())
    }
}

async fn produce_lines(
    producer: &Producer,
    args: &ProduceArgs,
    headers: &[RecordHeader],
    mut lines: mpsc::Receiver<std::io::Result<Vec<u8>>>,
) -> CliResult<Stats> {
    let mut stats = Stats::default();
    let mut pending = FuturesUnordered::new();
    let bar = if std::io::stdin().is_terminal() {
        // Someone is typing records: a spinner would overwrite what they type.
        indicatif::ProgressBar::hidden()
    } else {
        progress::records(None, "producing")
    };
    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let report = match (args.report, args.report_json) {
        (_, true) => Report::Json,
        (true, false) => Report::PartitionOffset,
        (false, false) => Report::None,
    };
    // With --report-json each delivery is printed with its record, so the line travels along.
    let mut record_done = |(line, result): (Vec<u8>, Result<DeliveryReport, Error>)| {
        if report == Report::Json {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", json_report(&line, separator, &result))
                .map_err(|e| Failure::runtime(format!("writing to stdout: {e}")))?;
        }
        bar.inc(1);
        stats.record(result, report)
    };
    while let Some(line) = lines.recv().await {
        let line = line.map_err(|e| Failure::runtime(format!("reading stdin: {e}")))?;
        let (key, value) = split_key(&line, separator);
        let mut record = ProducerRecord::new(&args.topic)
            .value(value)
            .headers(headers);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = args.partition {
            record = record.partition(p);
        }
        let delivery = producer.send(record);
        let kept = if report == Report::Json {
            line
        } else {
            Vec::new()
        };
        pending.push(async move { (kept, delivery.await) });
        // Collect deliveries that are already done, and wait when too many are pending.
        while let Some(Some(done)) = futures::FutureExt::now_or_never(pending.next()) {
            record_done(done)?;
        }
        while pending.len() >= MAX_PENDING {
            if let Some(done) = pending.next().await {
                record_done(done)?;
            }
        }
    }
    while let Some(done) = pending.next().await {
        record_done(done)?;
    }
    bar.finish_and_clear();
    Ok(stats)
}

/// Splits a line at the first `separator`: (key, value). Without a separator in the line the
/// whole line is the value and the key is null.
pub fn split_key<'a>(line: &'a [u8], separator: Option<&[u8]>) -> (Option<&'a [u8]>, &'a [u8]) {
    let Some(sep) = separator.filter(|s| !s.is_empty()) else {
        return (None, line);
    };
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(at) => (Some(&line[..at]), &line[at + sep.len()..]),
        None => (None, line),
    }
}

fn parse_headers(pairs: &[String]) -> CliResult<Vec<RecordHeader>> {
    pairs
        .iter()
        .map(|pair| {
            let (k, v) = split_pair(pair, "-H")?;
            Ok(RecordHeader::new(
                Bytes::copy_from_slice(k.as_bytes()),
                Some(Bytes::copy_from_slice(v.as_bytes())),
            ))
        })
        .collect()
}

/// Reads stdin line by line on its own thread (reads block), without the trailing newline.
/// The bounded channel makes the reader wait while the producer is behind.
fn spawn_stdin_reader() -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(1024);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if tx.blocking_send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::split_key;

    #[test]
    fn key_is_the_text_before_the_first_separator() {
        assert_eq!(
            split_key(b"user-1:a:b", Some(b":")),
            (Some(&b"user-1"[..]), &b"a:b"[..])
        );
        assert_eq!(
            split_key(b"k=>v", Some(b"=>")),
            (Some(&b"k"[..]), &b"v"[..])
        );
        assert_eq!(split_key(b":v", Some(b":")), (Some(&b""[..]), &b"v"[..]));
        assert_eq!(split_key(b"no-sep", Some(b":")), (None, &b"no-sep"[..]));
        assert_eq!(split_key(b"a:b", None), (None, &b"a:b"[..]));
    }
}
