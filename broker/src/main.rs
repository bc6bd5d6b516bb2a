//! `odradek-broker`: run the broker as a process.
//!
//! Stdout gets one line per listener, its bound address (`127.0.0.1:PORT`), in the order of
//! `listeners` (the first line is the `--listen` address without `listeners`), flushed, so
//! scripts can start it with port 0. Logs go to stderr (`RUST_LOG`, default info).
//! SIGTERM / SIGINT flush every log and exit 0.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use odradek_broker::{Broker, BrokerConfig, BrokerProperties, FsyncPolicy};

#[derive(Debug, Parser)]
#[command(
    name = "odradek-broker",
    version,
    about = "A single-node Kafka-compatible broker"
)]
struct Args {
    /// Address of the PLAINTEXT listener when the `listeners` property is not set; port 0
    /// picks a free port. Without authentication, keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:9092")]
    listen: SocketAddr,
    /// Directory for topic metadata and partition logs.
    #[arg(long, default_value = "./odradek-data")]
    data_dir: PathBuf,
    /// HOST:PORT given to clients in metadata (default: the bound address).
    #[arg(long)]
    advertised: Option<String>,
    /// When to fsync: always (before every ack), interval (flush.ms, default 1 s), never.
    #[arg(long, default_value = "interval")]
    fsync: FsyncPolicy,
    /// Kafka-style broker properties file (key=value).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    cluster: odradek_broker::config::ClusterArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let properties = match &args.config {
        Some(path) => match BrokerProperties::load(path) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("odradek-broker: {e}");
                return ExitCode::from(2);
            }
        },
        None => BrokerProperties::default(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("odradek-broker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cluster = match args.cluster.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("odradek-broker: {e}");
            return ExitCode::from(2);
        }
    };
    let config = BrokerConfig {
        listen: args.listen,
        advertised: args.advertised,
        data_dir: args.data_dir,
        fsync: args.fsync,
        properties,
        cluster,
    };
    runtime.block_on(async move {
        let broker = match Broker::start(config).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("odradek-broker: cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        {
            let mut out = std::io::stdout().lock();
            for (_, addr) in broker.listeners() {
                let _ = writeln!(out, "{addr}");
            }
            let _ = out.flush();
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        broker.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, Ctrl-C still works through the default action.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
