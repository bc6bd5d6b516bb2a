//! Three controllers over real TCP on 127.0.0.1 with their files in temp data dirs: they elect
//! an active controller, commit metadata, survive the active one stopping, and a restarted
//! controller comes back from its own files (snapshot and log) and catches up with what was
//! committed while it was away.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use odradek_cluster::client::{BrokerIdentity, ControllerClient, run_broker_lifecycle};
use odradek_cluster::metadata::{Endpoint, assign_replicas};
use odradek_cluster::rpc::Tcp;
use odradek_cluster::{
    Applied, Controller, ControllerConfig, MetadataImage, MetadataRecord, NodeId, ProposeError,
};
use tokio::net::TcpListener;

/// Generous bound for events that take milliseconds; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(30);
/// Long enough that a loaded machine does not fence a broker that heartbeats every 100 ms.
const SESSION_TIMEOUT_MS: u64 = 5_000;

fn config(
    id: NodeId,
    dir: &std::path::Path,
    voters: &BTreeMap<NodeId, String>,
) -> ControllerConfig {
    let mut raft = ControllerConfig::default_raft_config();
    // Snapshot often, so the restart below loads one and a lagging node is sent one.
    raft.snapshot_policy = openraft::SnapshotPolicy::LogsSinceLast(4);
    raft.max_in_snapshot_log_to_keep = 0;
    ControllerConfig {
        node_id: id,
        data_dir: dir.to_path_buf(),
        voters: voters.clone(),
        sync: true,
        raft,
        broker_session_timeout_ms: SESSION_TIMEOUT_MS,
        leader_rebalance: None,
    }
}

/// Proposes through whichever controller is active, following NotLeader answers.
async fn propose(
    controllers: &BTreeMap<NodeId, Controller>,
    record: MetadataRecord,
) -> (u64, Applied) {
    let any = controllers.values().next().expect("a controller");
    loop {
        let leader = any
            .raft()
            .wait(Some(PATIENCE))
            .metrics(
                |m| {
                    m.current_leader
                        .is_some_and(|l| controllers.contains_key(&l))
                },
                "a running active controller",
            )
            .await
            .expect("an active controller is elected")
            .current_leader
            .expect("checked above");
        match controllers[&leader].propose(record.clone()).await {
            Ok((log_id, applied)) => return (log_id.index, applied),
            Err(ProposeError::NotLeader { .. }) => {
                // Leadership moved between the look and the proposal: wait for the new one.
                let mut metrics = any.raft().metrics();
                let _ = tokio::time::timeout(PATIENCE, metrics.changed()).await;
            }
            Err(e) => panic!("proposal failed: {e}"),
        }
    }
}

/// Waits until `controller` has applied up to `index`, and returns its image.
async fn image_at(controller: &Controller, index: u64) -> Arc<MetadataImage> {
    controller
        .raft()
        .wait(Some(PATIENCE))
        .applied_index_at_least(Some(index), "catch up")
        .await
        .unwrap_or_else(|e| panic!("controller {} did not catch up: {e}", controller.node_id));
    controller.image()
}

type Voters = BTreeMap<NodeId, String>;

/// Three controllers on ephemeral ports, each with its own temp data dir.
async fn start_three() -> (Vec<tempfile::TempDir>, Voters, BTreeMap<NodeId, Controller>) {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut listeners = BTreeMap::new();
    let mut voters = BTreeMap::new();
    for id in 1..=3u64 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        voters.insert(id, listener.local_addr().unwrap().to_string());
        listeners.insert(id, listener);
    }
    let mut controllers = BTreeMap::new();
    for (id, listener) in listeners {
        let dir = dirs[(id - 1) as usize].path();
        let c = Controller::start_tcp(config(id, dir, &voters), listener, Default::default())
            .await
            .unwrap();
        controllers.insert(id, c);
    }
    (dirs, voters, controllers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_controllers_over_tcp_fail_over_and_restart_from_their_files() {
    let (dirs, voters, mut controllers) = start_three().await;

    let mut unfenced = 0;
    for id in 1..=3 {
        let (_, applied) = propose(
            &controllers,
            MetadataRecord::RegisterBroker {
                id,
                incarnation: 1,
                listeners: vec![],
                rack: None,
            },
        )
        .await;
        let Applied::Registered { epoch } = applied else {
            panic!("registration refused: {applied:?}");
        };
        unfenced = propose(&controllers, MetadataRecord::UnfenceBroker { id, epoch })
            .await
            .0;
    }
    // (These brokers never heartbeat, so their leases lapse after the session timeout; what
    // follows checks replication of the metadata, whoever leads the partitions.)
    let image = image_at(&controllers[&1], unfenced).await;
    let assignment = assign_replicas(&image, 3, 3, 0).expect("three live brokers");
    let (index, _) = propose(
        &controllers,
        MetadataRecord::CreateTopic {
            name: "orders".into(),
            id: 7,
            assignment,
            configs: BTreeMap::new(),
        },
    )
    .await;
    for c in controllers.values() {
        let image = image_at(c, index).await;
        assert_eq!(
            image.topics["orders"].partitions.len(),
            3,
            "node {}",
            c.node_id
        );
    }

    // Stop the active controller; the other two elect a new one and keep committing.
    let first_leader = controllers[&1].current_leader().expect("a leader");
    let stopped = controllers.remove(&first_leader).unwrap();
    stopped.shutdown().await;
    let mut last = 0;
    for broker in 1..=3 {
        let (index, applied) = propose(
            &controllers,
            MetadataRecord::AllocateProducerIds { broker, count: 100 },
        )
        .await;
        assert!(
            matches!(applied, Applied::ProducerIds { .. }),
            "{applied:?}"
        );
        last = index;
    }
    let new_leader = controllers
        .values()
        .next()
        .unwrap()
        .current_leader()
        .unwrap();
    assert_ne!(new_leader, first_leader, "leadership moved");

    // The stopped controller restarts on its address from its own files and catches up.
    let dir = dirs[(first_leader - 1) as usize].path();
    assert!(
        odradek_cluster::controller::metadata_dir(dir)
            .join("snapshot.json")
            .exists(),
        "a snapshot was written before the stop"
    );
    let listener = TcpListener::bind(&voters[&first_leader]).await.unwrap();
    let restarted = Controller::start_tcp(
        config(first_leader, dir, &voters),
        listener,
        Default::default(),
    )
    .await
    .unwrap();
    let caught_up = image_at(&restarted, last).await;
    let reference = image_at(&controllers[&new_leader], last).await;
    assert_eq!(*caught_up, *reference);
    assert_eq!(caught_up.next_producer_id, 300);
    assert_eq!(caught_up.topics["orders"].partitions.len(), 3);

    restarted.shutdown().await;
    for (_, c) in controllers {
        c.shutdown().await;
    }
}

#[tokio::test]
async fn a_bad_frame_closes_one_connection_and_the_controller_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let voters = BTreeMap::from([(1, addr.to_string())]);
    let single =
        Controller::start_tcp(config(1, dir.path(), &voters), listener, Default::default())
            .await
            .unwrap();

    let mut bad = tokio::net::TcpStream::connect(addr).await.unwrap();
    bad.write_all(&[0xff, 0xff, 0xff, 0xff]).await.unwrap();
    let mut rest = vec![];
    let read = tokio::time::timeout(PATIENCE, bad.read_to_end(&mut rest)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "an oversized frame closes the connection"
    );

    // A single voter elects itself and still commits.
    let controllers = BTreeMap::from([(1, single)]);
    let (_, applied) = propose(
        &controllers,
        MetadataRecord::AllocateProducerIds {
            broker: 0,
            count: 1,
        },
    )
    .await;
    assert_eq!(
        applied,
        Applied::Rejected(odradek_cluster::metadata::Rejection::UnknownBroker)
    );
    for (_, c) in controllers {
        c.shutdown().await;
    }
}

/// Waits until `controller`'s image satisfies `ready`.
async fn image_where(
    controller: &Controller,
    what: &str,
    ready: impl Fn(&MetadataImage) -> bool,
) -> Arc<MetadataImage> {
    let mut images = controller.watch_image();
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            let image = images.borrow_and_update().clone();
            if ready(&image) {
                return image;
            }
            images.changed().await.expect("controller running");
        }
    });
    waited
        .await
        .unwrap_or_else(|_| panic!("controller {}: {what}", controller.node_id))
}

fn spawn_broker(
    voters: &BTreeMap<NodeId, String>,
    id: NodeId,
    incarnation: u128,
) -> tokio::task::JoinHandle<()> {
    let client = ControllerClient::new(voters, Tcp::default());
    let identity = BrokerIdentity {
        id,
        incarnation,
        listeners: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9000 + id as u16,
        }],
        rack: None,
    };
    let (state, _) = tokio::sync::watch::channel(None);
    tokio::spawn(run_broker_lifecycle(
        client,
        identity,
        Duration::from_millis(100),
        state,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_keep_leases_across_a_controller_failover_and_a_silent_one_is_fenced() {
    let (_dirs, voters, mut controllers) = start_three().await;
    let mut brokers: BTreeMap<NodeId, _> = (1..=3)
        .map(|id| (id, spawn_broker(&voters, id, u128::from(id))))
        .collect();
    let live = |image: &MetadataImage, ids: &[NodeId]| ids.iter().all(|id| image.is_live(*id));
    let image = image_where(&controllers[&1], "three live brokers", |i| {
        live(i, &[1, 2, 3])
    })
    .await;
    let first_epoch_of_2 = image.brokers[&2].epoch;

    // A topic created through the controller client, as a broker would forward CreateTopics.
    let mut client = ControllerClient::new(&voters, Tcp::default());
    let assignment = assign_replicas(&image, 3, 3, 0).unwrap();
    let created = client
        .propose(MetadataRecord::CreateTopic {
            name: "orders".into(),
            id: 1,
            assignment,
            configs: BTreeMap::new(),
        })
        .await
        .unwrap();
    assert_eq!(created.1, Applied::Done);

    // The active controller stops; its successor starts leases afresh and fences nobody.
    let active = controllers[&1].current_leader().unwrap();
    controllers.remove(&active).unwrap().shutdown().await;
    let survivor = controllers.values().next().unwrap();
    survivor
        .raft()
        .wait(Some(PATIENCE))
        .metrics(
            |m| m.current_leader.is_some_and(|l| l != active),
            "a new active controller",
        )
        .await
        .unwrap();

    // Broker 2 goes silent: its lease lapses, it is fenced, its leadership moves.
    brokers.remove(&2).unwrap().abort();
    let image = image_where(survivor, "broker 2 fenced", |i| !i.is_live(2)).await;
    let partitions = &image.topics["orders"].partitions;
    assert_eq!(partitions[1].replicas[0], 2, "broker 2 led partition 1");
    assert_ne!(partitions[1].leader, Some(2));
    assert_eq!(partitions[1].leader_epoch, 1, "one leader change");
    assert!(partitions.iter().all(|p| !p.isr.contains(&2)));
    for p in [0, 2] {
        assert_eq!(
            partitions[p].leader_epoch, 0,
            "partition {p}'s leader kept its lease through the controller failover"
        );
    }

    // It comes back as a new incarnation: a new broker epoch, live again.
    brokers.insert(2, spawn_broker(&voters, 2, 22));
    let image = image_where(survivor, "broker 2 back", |i| i.is_live(2)).await;
    assert!(image.brokers[&2].epoch > first_epoch_of_2);

    for (_, b) in brokers {
        b.abort();
    }
    for (_, c) in controllers {
        c.shutdown().await;
    }
}
