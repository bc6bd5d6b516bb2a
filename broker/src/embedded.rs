//! The broker in-process for tests of users' own code (and for every binding's
//! `testing.Broker()`): an ephemeral port on 127.0.0.1, a temporary data directory removed on
//! stop, and a blocking API usable from any thread or language runtime. `start_sasl_ssl` makes
//! one with TLS (a fresh CA) and a SCRAM user in one call.

use std::path::PathBuf;

use crate::{Broker, BrokerConfig, BrokerHandle, FsyncPolicy};

/// A broker running on its own small tokio runtime, independent of the caller's.
#[derive(Debug)]
pub struct EmbeddedBroker {
    runtime: Option<tokio::runtime::Runtime>,
    handle: Option<BrokerHandle>,
    bootstrap: String,
    data_dir: PathBuf,
    /// The CA that signed the broker's certificate (`start_sasl_ssl`).
    ca_pem: Option<String>,
}

impl EmbeddedBroker {
    /// Starts a broker with these Kafka broker properties (`num.partitions`, ...).
    ///
    /// Errors say what failed: a property that does not parse, the temporary directory, the
    /// listener.
    pub fn start(properties: &[(&str, &str)]) -> std::io::Result<EmbeddedBroker> {
        Self::start_inner(properties, None)
    }

    /// Starts a broker whose one listener is SASL_SSL: a certificate for `localhost` /
    /// 127.0.0.1 signed by a CA made now ([`EmbeddedBroker::ca_pem`]), SCRAM-SHA-256 and
    /// SCRAM-SHA-512, and the user `username` with `password` for both. `properties` are added
    /// (`authorizer.class.name`, ...).
    ///
    /// A client connects with `security.protocol=SASL_SSL`, `sasl.mechanism=SCRAM-SHA-512`,
    /// the user and password, and `ssl.ca.pem` set to the CA.
    pub fn start_sasl_ssl(
        username: &str,
        password: &str,
        properties: &[(&str, &str)],
    ) -> std::io::Result<EmbeddedBroker> {
        let bad = |e: String| std::io::Error::other(e);
        let ca = crate::security::test_pki::TestCa::new("odradek embedded broker").map_err(bad)?;
        let server = ca.server(&[]).map_err(bad)?;
        let mut props: Vec<(&str, &str)> = vec![
            ("listeners", "SASL_SSL://127.0.0.1:0"),
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &server.cert_pem),
            ("ssl.keystore.key", &server.key_pem),
            ("sasl.enabled.mechanisms", "SCRAM-SHA-512,SCRAM-SHA-256"),
        ];
        props.extend_from_slice(properties);
        let users = [(username, password)];
        let mut broker = Self::start_inner(&props, Some(&users))?;
        broker.ca_pem = Some(ca.cert_pem());
        Ok(broker)
    }

    /// The CA certificate a client must trust, for a broker from `start_sasl_ssl`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    fn start_inner(
        properties: &[(&str, &str)],
        scram_users: Option<&[(&str, &str)]>,
    ) -> std::io::Result<EmbeddedBroker> {
        let data_dir = temp_data_dir("odradek-embedded")?;
        let mut config = BrokerConfig::new(([127, 0, 0, 1], 0).into(), &data_dir);
        // Tests want speed; durability across a process crash is not what they measure.
        config.fsync = FsyncPolicy::Never;
        if let Err(e) = set_properties(&mut config.properties, properties) {
            let _ = std::fs::remove_dir_all(&data_dir);
            return Err(e);
        }
        let runtime = broker_runtime("odradek-embedded-broker")?;
        let handle = match runtime.block_on(Broker::start(config)) {
            Ok(h) => h,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(e);
            }
        };
        for (user, password) in scram_users.unwrap_or(&[]) {
            use odradek_protocol::sasl::scram::ScramMechanism;
            for m in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
                if let Err(e) = handle.set_scram_password(user, m, password) {
                    runtime.block_on(handle.shutdown());
                    let _ = std::fs::remove_dir_all(&data_dir);
                    return Err(e);
                }
            }
        }
        Ok(EmbeddedBroker {
            bootstrap: handle.local_addr().to_string(),
            runtime: Some(runtime),
            handle: Some(handle),
            data_dir,
            ca_pem: None,
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

/// Sets each `(name, value)`; an error names the property.
pub(crate) fn set_properties(
    target: &mut crate::BrokerProperties,
    properties: &[(&str, &str)],
) -> std::io::Result<()> {
    for (k, v) in properties {
        target.set(k, v).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("embedded broker property {k}={v}: {e}"),
            )
        })?;
    }
    Ok(())
}

/// A small runtime of its own for one embedded broker (or one node of an embedded cluster).
pub(crate) fn broker_runtime(thread_name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(thread_name)
        .enable_all()
        .build()
}

/// A new directory under the system's temporary directory, named `PREFIX-PID-UNIQUE`.
pub(crate) fn temp_data_dir(prefix: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        unique_suffix()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
    })?;
    Ok(dir)
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
