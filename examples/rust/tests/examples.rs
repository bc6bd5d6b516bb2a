//! The examples run as a new user runs them: against a broker (in-process here, on an
//! ephemeral port with a temporary data dir), producer first, then consumer.

use std::process::Command;

use odradek_broker::{Broker, BrokerConfig};

#[test]
fn producer_then_consumer() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broker = runtime
        .block_on(Broker::start(BrokerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path(),
        )))
        .unwrap();
    let addr = broker.local_addr().to_string();

    let produced = Command::new(env!("CARGO_BIN_EXE_producer"))
        .args([&addr, "greetings", "6"])
        .output()
        .unwrap();
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );
    let produced = String::from_utf8(produced.stdout).unwrap();
    assert_eq!(produced.lines().count(), 6, "{produced}");

    let consumed = Command::new(env!("CARGO_BIN_EXE_consumer"))
        .args([&addr, "greetings"])
        .output()
        .unwrap();
    assert!(
        consumed.status.success(),
        "{}",
        String::from_utf8_lossy(&consumed.stderr)
    );
    let consumed = String::from_utf8(consumed.stdout).unwrap();
    // Same lines, same partitions and offsets (one partition: same order too).
    let mut a: Vec<&str> = produced.lines().collect();
    let mut b: Vec<&str> = consumed.lines().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert!(consumed.contains("user-1 = hello #4"), "{consumed}");
    runtime.block_on(broker.shutdown());
}
