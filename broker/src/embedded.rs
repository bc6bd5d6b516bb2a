//! The broker in-process for tests of users' own code (and for every binding's
//! `testing.Broker()`): an ephemeral port on 127.0.0.1, a temporary data directory removed on
//! stop, and a blocking API usable from any thread or language runtime.

use std::path::PathBuf;

use crate::{Broker, BrokerConfig, BrokerHandle, FsyncPolicy};

/// A broker running on its own small tokio runtime, independent of the caller's.
#[derive(Debug)]
pub struct EmbeddedBroker {
    runtime: Option<tokio::runtime::Runtime>,
    handle: Option<BrokerHandle>,
    bootstrap: String,
    data_dir: PathBuf,
}

impl EmbeddedBroker {
    /// Starts a broker with these Kafka broker properties (`num.partitions`, ...).
    ///
    /// Errors say what failed: a property that does not parse, the temporary directory, the
    /// listener.
    pub fn start(properties: &[(&str, &str)]) -> std::io::Result<EmbeddedBroker> {
        let data_dir = std::env::temp_dir().join(format!(
            "odradek-embedded-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        std::fs::create_dir_all(&data_dir)?;
        let mut config = BrokerConfig::new(([127, 0, 0, 1], 0).into(), &data_dir);
        // Tests want speed; durability across a process crash is not what they measure.
        config.fsync = FsyncPolicy::Never;
        for (k, v) in properties {
            config.properties.set(k, v).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("embedded broker property {k}={v}: {e}"),
                )
            })?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("odradek-embedded-broker")
            .enable_all()
            .build()?;
        let handle = match runtime.block_on(Broker::start(config)) {
            Ok(h) => h,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(e);
            }
        };
        Ok(EmbeddedBroker {
            bootstrap: handle.local_addr().to_string(),
            runtime: Some(runtime),
            handle: Some(handle),
            data_dir,
        })
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Stops the broker and removes its data directory. Idempotent.
    pub fn stop(&mut self) {
        if let (Some(rt), Some(h)) = (self.runtime.as_ref(), self.handle.take()) {
            rt.block_on(h.shutdown());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    (nanos << 16) | NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_an_ephemeral_port_and_cleans_up() {
        let mut b = EmbeddedBroker::start(&[("num.partitions", "3")]).unwrap();
        let addr: std::net::SocketAddr = b.bootstrap_servers().parse().unwrap();
        assert_ne!(addr.port(), 0);
        std::net::TcpStream::connect(addr).unwrap();
        let dir = b.data_dir.clone();
        assert!(dir.exists());
        b.stop();
        assert!(!dir.exists());
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
