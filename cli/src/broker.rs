//! `odradek broker`: the embedded broker, run through the `odradek-broker` library with the same
//! flags and defaults as the `odradek-broker` binary; `--nodes N` runs a local cluster of N
//! nodes in this process.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use odradek_broker::{Broker, BrokerConfig, BrokerHandle, BrokerProperties, ClusterConfig};

use crate::args::BrokerArgs;
use crate::failure::{CliResult, Failure};

pub async fn run(args: BrokerArgs) -> CliResult {
    let properties = match &args.config {
        Some(path) => BrokerProperties::load(path).map_err(Failure::usage)?,
        None => BrokerProperties::default(),
    };
    if let Some(nodes) = args.nodes {
        return run_local_cluster(&args, properties, nodes).await;
    }
    let cluster = args.cluster.config().map_err(Failure::usage)?;
    let config = BrokerConfig {
        listen: args.listen,
        advertised: args.advertised,
        data_dir: args.data_dir.clone(),
        fsync: args.fsync,
        properties,
        cluster,
    };
    let broker = Broker::start(config).await.map_err(|e| {
        Failure::runtime(format!(
            "cannot start the broker on {} with data dir {}: {e}",
            args.listen,
            args.data_dir.display()
        ))
    })?;
    {
        // One stdout line per listener, its bound address, for scripts that listen on port 0.
        let mut out = std::io::stdout().lock();
        for (_, addr) in broker.listeners() {
            let _ = writeln!(out, "{addr}");
        }
        let _ = out.flush();
    }
    wait_for_signal().await;
    broker.shutdown().await;
    Ok(())
}

/// N nodes on 127.0.0.1, each a controller and a broker; the client listeners are port 0.
async fn run_local_cluster(
    args: &BrokerArgs,
    properties: BrokerProperties,
    nodes: u16,
) -> CliResult {
    if nodes == 0 {
        return Err(Failure::usage("--nodes must be at least 1".to_string()));
    }
    let voters = local_quorum(&args.data_dir, nodes)?;
    let mut brokers: Vec<(u64, BrokerHandle)> = Vec::new();
    for id in 1..=u64::from(nodes) {
        let dir = args.data_dir.join(format!("node-{id}"));
        let mut config = BrokerConfig::cluster_node(
            id,
            &voters,
            ([127, 0, 0, 1], 0).into(),
            &dir,
            properties.clone(),
        );
        config.fsync = args.fsync;
        let broker = Broker::start(config).await.map_err(|e| {
            Failure::runtime(format!(
                "cannot start node {id} with data dir {}: {e}",
                dir.display()
            ))
        })?;
        brokers.push((id, broker));
    }
    {
        let mut out = std::io::stdout().lock();
        for (id, broker) in &brokers {
            let _ = writeln!(out, "{id} {}", broker.local_addr());
        }
        let _ = out.flush();
    }
    wait_for_signal().await;
    for (_, broker) in brokers {
        broker.shutdown().await;
    }
    Ok(())
}

/// The local cluster's controller quorum: free ports picked on the first start (every node must
/// know the whole quorum before any starts) and kept in `DATA_DIR/controller-quorum`, since the
/// quorum's log remembers its voters' addresses for the next start.
fn local_quorum(data_dir: &Path, nodes: u16) -> Result<BTreeMap<u64, String>, Failure> {
    let file = data_dir.join("controller-quorum");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let voters = ClusterConfig::parse_voters(text.trim())
            .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
        if voters.len() != usize::from(nodes) {
            return Err(Failure::usage(format!(
                "{} holds a cluster of {} nodes, not {nodes}",
                data_dir.display(),
                voters.len()
            )));
        }
        return Ok(voters);
    }
    let voters = ClusterConfig::local_voters(nodes).map_err(|e| Failure::runtime(e.to_string()))?;
    let text: Vec<String> = voters.iter().map(|(id, a)| format!("{id}@{a}")).collect();
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&file, text.join(",") + "\n"))
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", file.display())))?;
    Ok(voters)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without handlers the default actions still stop the process.
        _ => std::future::pending::<()>().await,
    }
}
