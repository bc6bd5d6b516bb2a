//! Test clusters for the client suites: the same test bodies run against Apache Kafka 4.3.1
//! (started from the jars by `scripts/apache-kafka.sh`) and against our broker.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running broker for one test; stopped on drop.
pub struct TestCluster {
    pub bootstrap: String,
    pub kind: &'static str,
    dir: tempfile::TempDir,
    ours: Option<OurBroker>,
}

/// Our broker, in-process, on its own runtime so it outlives any one scenario's runtime.
struct OurBroker {
    runtime: tokio::runtime::Runtime,
    handle: Option<odradek_broker::BrokerHandle>,
    listen: std::net::SocketAddr,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl TestCluster {
    /// Apache Kafka 4.3.1 in KRaft mode. Panics (loudly) if the jars are missing: run
    /// `scripts/setup.sh` first.
    pub fn apache_kafka() -> TestCluster {
        Self::apache_kafka_with("")
    }

    /// Apache Kafka with extra broker properties (`k=v k2=v2`).
    pub fn apache_kafka_with(extra_props: &str) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = repo_root().join("scripts/apache-kafka.sh");
        let out = Command::new(&script)
            .arg("start")
            .arg(dir.path())
            .env("KAFKA_EXTRA_PROPS", extra_props)
            .output()
            .expect("run scripts/apache-kafka.sh");
        assert!(
            out.status.success(),
            "Apache Kafka did not start (are the jars installed? run scripts/setup.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bootstrap = String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or("")
            .to_owned();
        assert!(
            bootstrap.starts_with("127.0.0.1:"),
            "unexpected bootstrap {bootstrap:?}"
        );
        TestCluster {
            bootstrap,
            kind: "apache-kafka",
            dir,
            ours: None,
        }
    }

    /// Apache Kafka with secure listeners (`scripts/apache-kafka.sh secure-start`): returns the
    /// cluster (bootstrap = its PLAINTEXT listener), `NAME -> address` for SASL_SSL, SSL and
    /// SASL_PLAINTEXT, and the directory holding the test certificates.
    pub fn apache_kafka_secure(
        extra_env: &[(&str, &str)],
    ) -> (
        TestCluster,
        std::collections::HashMap<String, String>,
        PathBuf,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new(repo_root().join("scripts/apache-kafka.sh"))
            .arg("secure-start")
            .arg(dir.path())
            .envs(extra_env.iter().copied())
            .output()
            .expect("run scripts/apache-kafka.sh");
        assert!(
            out.status.success(),
            "secure Apache Kafka did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listeners: std::collections::HashMap<String, String> =
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let certs = dir.path().join("certs");
        let cluster = TestCluster {
            bootstrap: listeners["PLAINTEXT"].clone(),
            kind: "apache-kafka",
            dir,
            ours: None,
        };
        (cluster, listeners, certs)
    }

    /// Our broker (odradek-broker), in-process on 127.0.0.1 with an ephemeral port.
    pub fn odradek() -> TestCluster {
        Self::odradek_with(&[])
    }

    /// Our broker with broker properties (`key`, `value`).
    pub fn odradek_with(props: &[(&str, &str)]) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("broker runtime");
        let mut config = odradek_broker::BrokerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().join("data"),
        );
        for (k, v) in props {
            config.properties.set(k, v).expect("broker property");
        }
        let handle = runtime
            .block_on(odradek_broker::Broker::start(config))
            .expect("start our broker");
        let listen = handle.local_addr();
        TestCluster {
            bootstrap: listen.to_string(),
            kind: "odradek-broker",
            dir,
            ours: Some(OurBroker {
                runtime,
                handle: Some(handle),
                listen,
            }),
        }
    }

    /// Stops our broker (flushing its logs) and starts it again on the same port and data dir.
    pub fn restart(&mut self) {
        let data = self.dir.path().join("data");
        let ours = self.ours.as_mut().expect("restart is for our broker");
        if let Some(h) = ours.handle.take() {
            ours.runtime.block_on(h.shutdown());
        }
        let config = odradek_broker::BrokerConfig::new(ours.listen, data);
        // The port was just released; retry briefly if the OS has not freed it yet.
        let mut last = None;
        for _ in 0..50 {
            match ours
                .runtime
                .block_on(odradek_broker::Broker::start(config.clone()))
            {
                Ok(h) => {
                    ours.handle = Some(h);
                    return;
                }
                Err(e) => {
                    last = Some(e);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        }
        panic!("our broker did not restart: {last:?}");
    }

    /// Stops our broker without restarting it.
    pub fn stop(&mut self) {
        if let Some(ours) = self.ours.as_mut()
            && let Some(h) = ours.handle.take()
        {
            ours.runtime.block_on(h.shutdown());
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.stop();
        if self.kind == "apache-kafka" {
            let _ = Command::new(repo_root().join("scripts/apache-kafka.sh"))
                .arg("stop")
                .arg(self.dir.path())
                .output();
        }
    }
}

/// A unique topic name per test.
pub fn topic(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
