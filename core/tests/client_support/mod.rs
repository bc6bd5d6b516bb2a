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
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
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
