//! The benchmark peer for Odradek's Rust client: produce, consume and fixed-rate latency, with
//! the same command line and JSON output as the other peers (see bench/README.md). It uses the
//! client as a binding would: plain threads, the library's own runtime.
//!
//! `txn-produce` (transactions of `--txn-records` records, one `--transactional-id`, every
//! `--abort-every`-th transaction aborted) and `consume --isolation read_committed|
//! read_uncommitted` serve the transactions section; `steady` (fixed-rate produce, longest gap
//! between acknowledgements) the replication section's failover stall.

use std::collections::{HashMap, VecDeque};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use odradek::config::Config;
use odradek::consumer::{Consumer, Offset};
use odradek::producer::{DeliveryFuture, Producer, ProducerRecord};
use odradek::runtime::block_on;

struct Options {
    mode: String,
    bootstrap: String,
    topic: String,
    acks: String,
    compression: String,
    count: u64,
    size: usize,
    linger_ms: u64,
    batch_size: u64,
    rate: u64,
    seconds: f64,
    txn_records: u64,
    abort_every: u64,
    transactional_id: String,
    isolation: Option<String>,
    /// `consume`: partitions 0..N are assigned (the sessions section; default 1).
    partitions: u64,
    /// `produce`, `steady`: records go round-robin to partitions 0..N (0: the partitioner).
    produce_partitions: u64,
}

type Fallible<T> = Result<T, String>;

fn parse_args() -> Fallible<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args
        .first()
        .cloned()
        .ok_or("usage: odradek-peer produce|consume|latency --bootstrap B --topic T ...")?;
    let mut kv = HashMap::new();
    for pair in args[1..].chunks(2) {
        match pair {
            [k, v] => kv.insert(k.trim_start_matches("--").to_string(), v.clone()),
            _ => return Err(format!("option {} has no value", pair[0])),
        };
    }
    let get = |k: &str, default: &str| kv.get(k).cloned().unwrap_or_else(|| default.to_string());
    let num = |k: &str, default: &str| -> Fallible<u64> {
        get(k, default).parse().map_err(|e| format!("--{k}: {e}"))
    };
    let o = Options {
        bootstrap: get("bootstrap", ""),
        topic: get("topic", ""),
        acks: get("acks", "1"),
        compression: get("compression", "none"),
        count: num("count", "100000")?,
        size: num("size", "100")? as usize,
        linger_ms: num("linger-ms", "5")?,
        batch_size: num("batch-size", "65536")?,
        rate: num("rate", "1000")?.max(1),
        seconds: get("seconds", "5")
            .parse()
            .map_err(|e| format!("--seconds: {e}"))?,
        txn_records: num("txn-records", "100")?.max(1),
        abort_every: num("abort-every", "0")?,
        transactional_id: get("transactional-id", "odradek-bench-txn"),
        isolation: kv.get("isolation").cloned(),
        partitions: num("partitions", "1")?,
        produce_partitions: num("produce-partitions", "0")?,
        mode,
    };
    if o.bootstrap.is_empty() || o.topic.is_empty() {
        return Err("--bootstrap and --topic are required".into());
    }
    Ok(o)
}

/// Random upper-case letters, like kafka-tools ProducerPerformance's payloads.
fn payload_pool(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect()
}

const POOL: usize = 1 << 20;

/// `BENCH_CLIENT_CONFIG="k=v k2=v2"`: extra properties for every client (the TLS benchmark's
/// security settings), applied after the peer's own.
fn with_extra(mut config: Config) -> Fallible<Config> {
    for kv in std::env::var("BENCH_CLIENT_CONFIG")
        .unwrap_or_default()
        .split_whitespace()
    {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("BENCH_CLIENT_CONFIG: {kv:?} is not key=value"))?;
        config
            .set(k, v)
            .map_err(|e| format!("BENCH_CLIENT_CONFIG: {e}"))?;
    }
    Ok(config)
}

fn producer(o: &Options) -> Fallible<Producer> {
    let mut config = Config::from_pairs([
        ("bootstrap.servers", o.bootstrap.clone()),
        ("acks", o.acks.clone()),
        ("compression.type", o.compression.clone()),
        ("linger.ms", o.linger_ms.to_string()),
        ("batch.size", o.batch_size.to_string()),
        ("enable.idempotence", "false".into()),
        ("max.in.flight.requests.per.connection", "5".into()),
    ])
    .map_err(|e| format!("producer config: {e}"))?;
    if o.mode == "txn-produce" {
        for (k, v) in [
            ("enable.idempotence", "true"),
            ("transactional.id", o.transactional_id.as_str()),
        ] {
            config
                .set(k, v)
                .map_err(|e| format!("producer config: {e}"))?;
        }
    }
    let config = with_extra(config)?;
    Producer::from_config(&config).map_err(|e| format!("producer: {e}"))
}

fn consumer(o: &Options) -> Fallible<Consumer> {
    let config = Config::from_pairs([
        ("bootstrap.servers", o.bootstrap.as_str()),
        ("enable.auto.commit", "false"),
        ("fetch.min.bytes", "1"),
        ("max.partition.fetch.bytes", "1048576"),
        ("fetch.max.bytes", "52428800"),
    ])
    .map_err(|e| format!("consumer config: {e}"))?;
    let mut config = with_extra(config)?;
    if let Some(level) = &o.isolation {
        config
            .set("isolation.level", level)
            .map_err(|e| format!("consumer config: {e}"))?;
    }
    let c = Consumer::from_config(&config).map_err(|e| format!("consumer: {e}"))?;
    let assigned: Vec<(&str, i32, Offset)> = (0..o.partitions.max(1) as i32)
        .map(|p| (o.topic.as_str(), p, Offset::At(0)))
        .collect();
    c.assign(&assigned).map_err(|e| format!("assign: {e}"))?;
    Ok(c)
}

/// The `i`-th record's partition with `--produce-partitions N`: round-robin over 0..N.
fn spread<'a>(o: &Options, record: ProducerRecord<'a>, i: u64) -> ProducerRecord<'a> {
    match o.produce_partitions {
        0 => record,
        n => record.partition((i % n) as i32),
    }
}

fn client() -> String {
    format!("odradek {}", env!("CARGO_PKG_VERSION"))
}

fn run_produce(o: &Options) -> Fallible<()> {
    let pool = payload_pool(POOL);
    let p = producer(o)?;
    // Delivery reports are collected in send order as they come in, every 256 sends (as the
    // librdkafka peer polls its delivery callbacks), and the rest at the end.
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::with_capacity(1 << 16);
    let mut delivered = 0u64;
    let collect = |pending: &mut VecDeque<DeliveryFuture>, delivered: &mut u64| -> Fallible<()> {
        while let Some(fut) = pending.pop_front() {
            match fut.try_wait() {
                Ok(r) => {
                    r.map_err(|e| format!("delivery failed: {e}"))?;
                    *delivered += 1;
                }
                Err(fut) => {
                    pending.push_front(fut);
                    break;
                }
            }
        }
        Ok(())
    };
    let t0 = Instant::now();
    for i in 0..o.count as usize {
        let off = (i * 4099) % (POOL - o.size);
        let record = ProducerRecord::new(&o.topic).value(&pool[off..off + o.size]);
        pending.push_back(p.send(spread(o, record, i as u64)));
        if i % 256 == 255 {
            collect(&mut pending, &mut delivered)?;
        }
    }
    for fut in pending {
        fut.wait().map_err(|e| format!("delivery failed: {e}"))?;
        delivered += 1;
    }
    let seconds = t0.elapsed().as_secs_f64();
    block_on(p.close()).map_err(|e| format!("close: {e}"))?;
    println!(
        "{{\"records\":{delivered},\"bytes\":{},\"seconds\":{seconds:.6},\"client\":\"{}\"}}",
        delivered * o.size as u64,
        client()
    );
    Ok(())
}

/// Produces `--count` records in transactions of `--txn-records`, committing each (aborting
/// every `--abort-every`-th). The clock runs from the first `begin_transaction` (after
/// `init_transactions`) to the last commit's answer; `records` counts the committed ones.
fn run_txn_produce(o: &Options) -> Fallible<()> {
    let pool = payload_pool(POOL);
    let p = producer(o)?;
    block_on(p.init_transactions()).map_err(|e| format!("init_transactions: {e}"))?;
    let (mut committed, mut aborted, mut sent, mut n_txn) = (0u64, 0u64, 0u64, 0u64);
    let t0 = Instant::now();
    while sent < o.count {
        let n = o.txn_records.min(o.count - sent);
        n_txn += 1;
        p.begin_transaction()
            .map_err(|e| format!("begin_transaction: {e}"))?;
        for i in sent..sent + n {
            let off = (i as usize * 4099) % (POOL - o.size);
            // Delivery is awaited by commit/abort (it flushes first and fails if a record did).
            drop(p.send(ProducerRecord::new(&o.topic).value(&pool[off..off + o.size])));
        }
        sent += n;
        if o.abort_every > 0 && n_txn % o.abort_every == 0 {
            block_on(p.abort_transaction()).map_err(|e| format!("abort_transaction: {e}"))?;
            aborted += n;
        } else {
            block_on(p.commit_transaction()).map_err(|e| format!("commit_transaction: {e}"))?;
            committed += n;
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    block_on(p.close()).map_err(|e| format!("close: {e}"))?;
    println!(
        "{{\"records\":{committed},\"aborted\":{aborted},\"transactions\":{n_txn},\"bytes\":{},\"seconds\":{seconds:.6},\"client\":\"{}\"}}",
        committed * o.size as u64,
        client()
    );
    Ok(())
}

fn run_consume(o: &Options) -> Fallible<()> {
    let c = consumer(o)?;
    let (mut n, mut bytes) = (0u64, 0u64);
    // Steady-state rate: the clock starts at the first record (not at assign/connect).
    let mut t0 = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while n < o.count {
        if Instant::now() > deadline {
            return Err("consume timed out after 300 s".into());
        }
        let want = (o.count - n).min(10_000) as usize;
        let batch = block_on(c.recv_batch(want)).map_err(|e| format!("consume: {e}"))?;
        t0.get_or_insert_with(Instant::now);
        for r in &batch {
            n += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
    }
    let seconds = t0.map_or(0.0, |t| t.elapsed().as_secs_f64());
    println!(
        "{{\"records\":{n},\"bytes\":{bytes},\"seconds\":{seconds:.6},\"written_bytes\":{},\"fetches\":{},\"client\":\"{}\"}}",
        written_bytes(),
        c.metrics().fetch_requests,
        client()
    );
    Ok(())
}

/// Bytes this process has sent on its open TCP connections (the kernel's `tcpi_bytes_acked`
/// of each socket, from getsockopt TCP_INFO): for a consumer, its requests. Connections
/// already closed are not counted; -1 where it cannot be read.
#[allow(unsafe_code)] // one getsockopt(2) call: the FFI edge of this measurement
fn written_bytes() -> i64 {
    // tcpi_bytes_acked: a u64 at byte 120 of struct tcp_info (Linux 4.1+; the layout only grows).
    const BYTES_ACKED_AT: usize = 120;
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return -1;
    };
    let mut total = 0i64;
    for fd in fds.flatten() {
        let Some(fd) = fd.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let mut info = [0u8; 256];
        let mut len = info.len() as libc::socklen_t;
        // SAFETY: `info` is a writable buffer of `len` bytes that outlives the call; for an fd
        // that is not a TCP socket the call fails and writes nothing.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc == 0 && len as usize >= BYTES_ACKED_AT + 8 {
            let mut acked = [0u8; 8];
            acked.copy_from_slice(&info[BYTES_ACKED_AT..BYTES_ACKED_AT + 8]);
            total += u64::from_ne_bytes(acked) as i64;
        }
    }
    total
}

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn mono_ns() -> i64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as i64
}

fn run_latency(o: &Options) -> Fallible<()> {
    if o.size < 8 {
        return Err("--size must be at least 8".into());
    }
    mono_ns();
    let total = (o.rate as f64 * o.seconds) as usize;
    let p = producer(o)?;
    let c = consumer(o)?;
    let warm = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (warm, stop) = (warm.clone(), stop.clone());
        thread::spawn(move || -> Fallible<Vec<i64>> {
            let mut lat = Vec::with_capacity(total);
            while lat.len() < total && !stop.load(Ordering::Relaxed) {
                // recv_batch returns as soon as one record is there (and takes what else is).
                let wait = async {
                    tokio::time::timeout(Duration::from_millis(50), c.recv_batch(1000)).await
                };
                let batch = match block_on(wait) {
                    Ok(Ok(batch)) => batch,
                    Ok(Err(e)) => return Err(format!("consume: {e}")),
                    Err(_elapsed) => continue,
                };
                let now = mono_ns();
                for r in batch {
                    let v = r.value.unwrap_or_default();
                    let intended = i64::from_le_bytes(v[..8].try_into().unwrap_or([0; 8]));
                    if intended == 0 {
                        warm.store(true, Ordering::Release);
                    } else {
                        lat.push(now - intended);
                    }
                }
            }
            Ok(lat)
        })
    };
    let mut value = payload_pool(o.size);
    value[..8].copy_from_slice(&0i64.to_le_bytes());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !warm.load(Ordering::Acquire) {
        if Instant::now() > deadline {
            stop.store(true, Ordering::Relaxed);
            return Err("consumer saw no warm-up record in 60 s".into());
        }
        p.send(ProducerRecord::new(&o.topic).value(&value))
            .wait()
            .map_err(|e| format!("warm-up produce: {e}"))?;
        thread::sleep(Duration::from_millis(100));
    }
    // Produce latency: when each delivery future resolves - intended send time (in send order).
    let (tx, rx) = mpsc::sync_channel::<(i64, DeliveryFuture)>(1 << 20);
    let waiter = thread::spawn(move || -> Fallible<Vec<i64>> {
        let mut acks = Vec::with_capacity(total);
        for (intended, fut) in rx {
            fut.wait().map_err(|e| format!("delivery failed: {e}"))?;
            acks.push(mono_ns() - intended);
        }
        Ok(acks)
    });
    let interval = 1_000_000_000 / o.rate as i64;
    let start = mono_ns() + 10_000_000;
    for i in 0..total as i64 {
        let intended = start + i * interval;
        wait_until(intended);
        value[..8].copy_from_slice(&intended.to_le_bytes());
        let fut = p.send(ProducerRecord::new(&o.topic).value(&value));
        tx.send((intended, fut))
            .map_err(|_| "the delivery waiter stopped".to_string())?;
    }
    drop(tx);
    let mut acks = waiter.join().map_err(|_| "delivery waiter panicked")??;
    let end = Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() && Instant::now() < end {
        thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let mut lat = reader.join().map_err(|_| "reader panicked")??;
    if lat.len() < total {
        return Err("not every record arrived within 30 s".into());
    }
    lat.sort_unstable();
    acks.sort_unstable();
    let pct = |xs: &[i64], q: f64| xs[(q * (xs.len() - 1) as f64) as usize] as f64 / 1000.0;
    println!(
        "{{\"records\":{},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"max_us\":{:.1},\"ack_p50_us\":{:.1},\"ack_p99_us\":{:.1},\"ack_p999_us\":{:.1},\"client\":\"{}\"}}",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 0.999),
        lat[lat.len() - 1] as f64 / 1000.0,
        pct(&acks, 0.5),
        pct(&acks, 0.99),
        pct(&acks, 0.999),
        client()
    );
    Ok(())
}

/// Sleeps, then spins the last 0.1 ms, until `mono_ns()` reaches `t` (a fixed-rate schedule).
fn wait_until(t: i64) {
    loop {
        let left = t - mono_ns();
        if left <= 0 {
            break;
        }
        if left > 200_000 {
            thread::sleep(Duration::from_nanos((left - 100_000) as u64));
        }
    }
}

/// `steady` (the replication section's failover stall): fixed-rate produce only, no consumer, so
/// a leader kill during the run costs only the producer's recovery. Prints the longest time
/// between two consecutive acknowledgements (from the first intended send), when it began, and
/// the acknowledgement latencies; a failed record is counted, not fatal.
fn run_steady(o: &Options) -> Fallible<()> {
    mono_ns();
    let total = (o.rate as f64 * o.seconds) as usize;
    let p = producer(o)?;
    let value = payload_pool(o.size);
    let interval = 1_000_000_000 / o.rate as i64;
    let start = mono_ns() + 10_000_000;
    let (tx, rx) = mpsc::sync_channel::<(i64, DeliveryFuture)>(1 << 20);
    let waiter = thread::spawn(move || {
        let (mut acks, mut failed) = (Vec::with_capacity(total), 0u64);
        let (mut last, mut gap, mut gap_from) = (start, 0i64, start);
        for (intended, fut) in rx {
            if fut.wait().is_err() {
                failed += 1;
                continue;
            }
            let now = mono_ns();
            acks.push(now - intended);
            if now - last > gap {
                (gap, gap_from) = (now - last, last);
            }
            last = now;
        }
        (acks, failed, gap, gap_from)
    });
    for i in 0..total as i64 {
        wait_until(start + i * interval);
        let record = ProducerRecord::new(&o.topic).value(&value);
        let fut = p.send(spread(o, record, i as u64));
        tx.send((start + i * interval, fut))
            .map_err(|_| "the delivery waiter stopped".to_string())?;
    }
    drop(tx);
    let (mut acks, failed, gap, gap_from) =
        waiter.join().map_err(|_| "delivery waiter panicked")?;
    if acks.is_empty() {
        return Err(format!("no record acknowledged ({failed} failed)"));
    }
    acks.sort_unstable();
    let pct = |q: f64| acks[(q * (acks.len() - 1) as f64) as usize] as f64 / 1000.0;
    println!(
        "{{\"records\":{},\"failed\":{},\"max_gap_us\":{:.1},\"gap_from_s\":{:.3},\"ack_p50_us\":{:.1},\"ack_p99_us\":{:.1},\"ack_max_us\":{:.1},\"client\":\"{}\"}}",
        acks.len(),
        failed,
        gap as f64 / 1000.0,
        (gap_from - start) as f64 / 1e9,
        pct(0.5),
        pct(0.99),
        pct(1.0),
        client()
    );
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|o| match o.mode.as_str() {
        "produce" => run_produce(&o),
        "consume" => run_consume(&o),
        "txn-produce" => run_txn_produce(&o),
        "latency" => run_latency(&o),
        "steady" => run_steady(&o),
        other => Err(format!("unknown mode {other}")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("odradek peer: {e}");
            ExitCode::FAILURE
        }
    }
}
