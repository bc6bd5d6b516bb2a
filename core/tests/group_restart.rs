//! A broker restart keeps committed offsets, and a group consumer recovers by itself: it
//! rejoins the restarted coordinator and keeps reading; a later member of the same group
//! starts at the committed offsets. Classic and KIP-848 (`group.protocol=consumer`) members.

mod client_support;

use std::collections::BTreeSet;
use std::time::Duration;

use client_support::{TestCluster, topic};
use odradek::admin::{Admin, NewTopic};
use odradek::config::{ClientConfig, Config};
use odradek::group::GroupConsumer;
use odradek::producer::{Producer, ProducerRecord};

fn group_consumer(bootstrap: &str, group: &str, t: &str, protocol: &str) -> GroupConsumer {
    let config = Config::new()
        .with("group.protocol", protocol)
        .unwrap()
        .with("bootstrap.servers", bootstrap)
        .unwrap()
        .with("group.id", group)
        .unwrap()
        .with("auto.offset.reset", "earliest")
        .unwrap()
        .with("session.timeout.ms", "6000")
        .unwrap()
        .with("heartbeat.interval.ms", "500")
        .unwrap();
    let c = GroupConsumer::new(&config).unwrap();
    c.subscribe(&[t]).unwrap();
    c
}

async fn produce(bootstrap: &str, t: &str, from: usize, n: usize) {
    let p = Producer::new(
        Config::new()
            .with("bootstrap.servers", bootstrap)
            .unwrap()
            .producer()
            .unwrap(),
    )
    .unwrap();
    let mut acks = Vec::new();
    for i in from..from + n {
        acks.push(
            p.send(
                ProducerRecord::new(t)
                    .partition((i % 3) as i32)
                    .value(format!("{i}").as_bytes()),
            ),
        );
    }
    p.flush().await.unwrap();
    for a in acks {
        a.await.expect("delivered");
    }
    p.close().await.unwrap();
}

/// Reads until `n` distinct records arrived, committing after each one.
async fn read(c: &GroupConsumer, n: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while seen.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "read {} of {n}",
            seen.len()
        );
        if let Ok(Some(r)) = c.recv_timeout(Duration::from_millis(200)).await {
            seen.insert(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
        let _ = c.commit().await;
    }
    seen
}

#[test]
fn restart_keeps_offsets_and_members_recover() {
    scenario("classic");
}

#[test]
fn restart_keeps_offsets_and_kip848_members_recover() {
    scenario("consumer");
}

fn scenario(protocol: &str) {
    let mut cluster = TestCluster::odradek();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bootstrap = cluster.bootstrap.clone();
    let t = topic("group-restart");
    let group = format!("{t}-g");
    let a = rt.block_on(async {
        Admin::new(ClientConfig::new(&bootstrap).unwrap())
            .create_topics(&[NewTopic::new(&t, 3)])
            .await
            .unwrap();
        produce(&bootstrap, &t, 0, 600).await;
        let a = group_consumer(&bootstrap, &group, &t, protocol);
        assert_eq!(read(&a, 600).await.len(), 600);
        a.commit().await.unwrap();
        a
    });
    let before = a.generation();
    cluster.restart();
    rt.block_on(async {
        produce(&bootstrap, &t, 600, 300).await;
        // The member rejoins the restarted coordinator without any call from us (the restarted
        // broker does not remember members, so rejoining gives a new member id). Committing
        // before that would rightly fail with ILLEGAL_GENERATION.
        let rejoin_deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        if protocol == "classic" {
            while a.generation() == before {
                assert!(
                    tokio::time::Instant::now() < rejoin_deadline,
                    "member never rejoined"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let after = read(&a, 300).await;
            assert!(
                after.iter().all(|v| v.parse::<usize>().unwrap() >= 600),
                "re-read old records"
            );
            a.commit().await.unwrap();
        } else {
            // A KIP-848 member hears UNKNOWN_MEMBER_ID on its next heartbeat and rejoins (its
            // new epoch may equal the old one). Records it read before that come again from
            // the committed offsets (at-least-once); it reads and commits until its commits
            // reach the log ends.
            let parts: Vec<(String, i32)> = (0..3).map(|p| (t.clone(), p)).collect();
            let mut highs = Vec::new();
            for p in 0..3 {
                highs.push(a.consumer().fetch_watermarks(&t, p).await.unwrap().1);
            }
            loop {
                if let Ok(Ok(batch)) =
                    tokio::time::timeout(Duration::from_millis(200), a.recv_batch(500)).await
                {
                    assert!(
                        batch
                            .iter()
                            .all(|r| String::from_utf8_lossy(r.value.as_deref().unwrap())
                                .parse::<usize>()
                                .unwrap()
                                >= 600),
                        "re-read records committed before the restart"
                    );
                }
                let _ = a.commit().await;
                let committed = a.committed(&parts).await.unwrap_or_default();
                if (0..3).all(|p| {
                    committed.get(&(t.clone(), p)).copied().flatten() == Some(highs[p as usize])
                }) {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < rejoin_deadline,
                    "the member's commits never reached the log ends: {committed:?}"
                );
            }
        }
        a.close().await.unwrap();
        // A new member starts at the committed offsets: nothing left to read.
        let b = group_consumer(&bootstrap, &group, &t, protocol);
        let parts: Vec<(String, i32)> = (0..3).map(|p| (t.clone(), p)).collect();
        let committed = b.committed(&parts).await.unwrap();
        for p in 0..3 {
            let (_, high) = b.consumer().fetch_watermarks(&t, p).await.unwrap();
            assert_eq!(committed[&(t.clone(), p)], Some(high), "partition {p}");
        }
        assert!(
            b.recv_timeout(Duration::from_secs(3))
                .await
                .unwrap()
                .is_none()
        );
        b.close().await.unwrap();
    });
}
