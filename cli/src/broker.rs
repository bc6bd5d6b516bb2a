//! `odradek broker`: the embedded broker, run through the `odradek-broker` library with the same
//! flags and defaults as the `odradek-broker` binary.

use std::io::Write;

use odradek_broker::{Broker, BrokerConfig, BrokerProperties};

use crate::args::BrokerArgs;
use crate::failure::{CliResult, Failure};

pub async fn run(args: BrokerArgs) -> CliResult {
    let properties = match &args.config {
        Some(path) => BrokerProperties::load(path).map_err(Failure::usage)?,
        None => BrokerProperties::default(),
    };
    let config = BrokerConfig {
        listen: args.listen,
        advertised: args.advertised,
        data_dir: args.data_dir.clone(),
        fsync: args.fsync,
        properties,
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
