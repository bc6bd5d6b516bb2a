//! The `odradek` command: run the embedded broker, produce, consume, manage topics, measure.
//!
//! Exit codes (also in `odradek --help` and the README): 0 ok, 1 runtime or Kafka error,
//! 2 usage error, 3 broker unreachable, 4 no such topic.

mod args;
mod broker;
mod connect;
mod consume;
mod failure;
mod groups;
mod perf;
mod produce;
mod progress;
mod reassign;
mod security;
mod topics;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, PerfCommand};
use crate::failure::{Exit, Failure};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; real parse errors are usage errors (2).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(Exit::Usage as u8)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(matches!(cli.command, Command::Broker(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("odradek: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Runtime as u8);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Broker(a) => broker::run(a).await,
            Command::Produce(a) => produce::run(a).await,
            Command::Consume(a) => consume::run(a).await,
            Command::Topics { command } => topics::run(command).await,
            Command::Groups { command } => groups::run(command).await,
            Command::Acls { command } => security::acls(command).await,
            Command::Users { command } => security::users(command).await,
            Command::Perf { command } => match command {
                PerfCommand::Produce(a) => perf::produce(a).await,
                PerfCommand::Consume(a) => perf::consume(a).await,
            },
        }
    });
    // Background client tasks may still hold connections: do not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { exit, message }) => {
            eprintln!("odradek: {message}");
            ExitCode::from(exit as u8)
        }
    }
}

/// Logs go to stderr. The broker logs at info by default; client commands only warn, so their
/// stderr stays readable. `RUST_LOG` overrides both.
fn init_logging(broker: bool) {
    let default = if broker { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .init();
}
