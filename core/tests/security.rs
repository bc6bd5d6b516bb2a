//! TLS and SASL against Apache Kafka 4.3.1 with secure listeners (`apache-kafka.sh
//! secure-start`: SASL_SSL with SCRAM-SHA-512/256 and PLAIN, SSL with mutual TLS,
//! SASL_PLAINTEXT with OAUTHBEARER), and certificate failures against a local rustls server.
//!
//! Every mode produces, consumes in a group and runs admin. Every failure must be the
//! documented fatal error (`_AUTHENTICATION` / `_SSL`) naming the mechanism or the certificate
//! problem; the time it took is printed, never asserted. Logs are captured at TRACE and, with
//! every `Debug` and error text, searched for the secrets.

mod client_support;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use client_support::{TestCluster, topic};
use odradek::admin::{Admin, NewTopic};
use odradek::config::Config;
use odradek::error::{Error, ErrorClass, ErrorKind};
use odradek::group::GroupConsumer;
use odradek::producer::{Producer, ProducerRecord};
use odradek::protocol::sasl::oauthbearer::UnsecuredJwtConfig;
use odradek::security::TokenProvider;

const PASSWORD: &str = "alice-secret";
const WRONG_PASSWORD: &str = "not-alices-password-7f3a";

/// Every log line of this test binary, at TRACE.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || SharedWriter(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        logs
    })
    .clone()
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn config(bootstrap: &str, pairs: &[(&str, String)]) -> Config {
    let mut c = Config::new();
    c.set("bootstrap.servers", bootstrap).unwrap();
    for (k, v) in pairs {
        c.set(k, v).unwrap();
    }
    c
}

fn ca(certs: &Path) -> (&'static str, String) {
    (
        "ssl.ca.location",
        certs.join("ca.pem").display().to_string(),
    )
}

fn sasl_ssl(certs: &Path, mechanism: &str, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SASL_SSL".into()),
        ca(certs),
        ("sasl.mechanism", mechanism.into()),
        ("sasl.username", "alice".into()),
        ("sasl.password", password.into()),
    ]
}

fn mutual_tls(certs: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SSL".into()),
        ca(certs),
        (
            "ssl.certificate.location",
            certs.join("client.pem").display().to_string(),
        ),
        (
            "ssl.key.location",
            certs.join("client.key").display().to_string(),
        ),
    ]
}

fn oauth_unsecured() -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SASL_PLAINTEXT".into()),
        ("sasl.mechanism", "OAUTHBEARER".into()),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true".into()),
        (
            "sasl.oauthbearer.config",
            "principal=admin scope=test lifeSeconds=600".into(),
        ),
    ]
}

/// Admin (create, list), produce 20 records, consume them in a group.
async fn round_trip(name: &str, config: Config) {
    let started = Instant::now();
    let t = topic(&format!("sec-{name}"));
    let admin = Admin::new(config.client().unwrap());
    admin.create_topics(&[NewTopic::new(&t, 2)]).await.unwrap();
    let listed = admin.list_topics().await.unwrap();
    assert!(listed.iter().any(|(n, p)| n == &t && *p == 2), "{listed:?}");

    let producer = Producer::new(config.producer().unwrap()).unwrap();
    let mut acks = Vec::new();
    for i in 0..20 {
        acks.push(producer.send(ProducerRecord::new(&t).value(format!("{name}-{i}").as_bytes())));
    }
    for a in acks {
        a.await.expect("delivered");
    }
    producer.close().await.unwrap();

    let mut group = config.clone();
    group.set("group.id", &format!("g-{t}")).unwrap();
    group.set("auto.offset.reset", "earliest").unwrap();
    let consumer = GroupConsumer::new(&group).unwrap();
    consumer.subscribe(&[&t]).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 20 && Instant::now() < deadline {
        if let Some(r) = consumer.recv_timeout(Duration::from_secs(1)).await.unwrap() {
            seen.insert(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
    }
    assert_eq!(seen.len(), 20, "{name}: consumed {seen:?}");
    consumer.commit().await.unwrap();
    consumer.close().await.unwrap();
    eprintln!(
        "[security] {name}: admin + produce + group consume in {:?}",
        started.elapsed()
    );
}

/// A producer and a group consumer busy across several 4 s sessions: every record is
/// delivered once and read, no request fails, no connection is replaced.
async fn reauthentication_loses_nothing(config: Config) {
    let t = topic("sec-reauth");
    let admin = Admin::new(config.client().unwrap());
    admin.create_topics(&[NewTopic::new(&t, 1)]).await.unwrap();
    let mut group = config.clone();
    group.set("group.id", &format!("g-{t}")).unwrap();
    group.set("auto.offset.reset", "earliest").unwrap();
    let consumer = GroupConsumer::new(&group).unwrap();
    consumer.subscribe(&[&t]).unwrap();
    let producer = Producer::new(config.producer().unwrap()).unwrap();
    let started = Instant::now();
    let mut sent = 0usize;
    let mut read = 0usize;
    while started.elapsed() < Duration::from_secs(10) {
        let ack = producer.send(ProducerRecord::new(&t).value(format!("r{sent}").as_bytes()));
        ack.await.expect("delivered across re-authentication");
        sent += 1;
        while let Some(r) = consumer
            .recv_timeout(Duration::from_millis(20))
            .await
            .expect("consumed across re-authentication")
        {
            assert_eq!(r.offset as usize, read, "records in order, none lost");
            read += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while read < sent && Instant::now() < deadline {
        if consumer
            .recv_timeout(Duration::from_secs(1))
            .await
            .unwrap()
            .is_some()
        {
            read += 1;
        }
    }
    assert_eq!(read, sent);
    admin.list_topics().await.unwrap();
    producer.close().await.unwrap();
    consumer.close().await.unwrap();
    eprintln!("[security] re-authentication: {sent} records sent and read over 10 s");
}

/// Runs `attempt` (an admin call, a send, a recv) and checks it fails with `kind`, fatal, and
/// a message holding every one of `words`.
async fn expect_failure<F, Fut, T>(name: &str, kind: ErrorKind, words: &[&str], attempt: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
    T: std::fmt::Debug,
{
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(60), attempt())
        .await
        .unwrap_or_else(|_| panic!("{name}: no error within 60 s (an endless retry loop?)"));
    let err = outcome.expect_err(name);
    eprintln!("[security] {name}: {err} after {:?}", started.elapsed());
    assert_eq!(err.kind(), &kind, "{name}: {err}");
    assert_eq!(err.class(), ErrorClass::Fatal, "{name}: {err}");
    for w in words {
        assert!(err.to_string().contains(w), "{name}: {err} lacks {w:?}");
    }
    SEEN_ERRORS.lock().unwrap().push(format!("{err} {err:?}"));
}

static SEEN_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[test]
fn secure_listeners_of_apache_kafka() {
    let logs = captured_logs();
    // Sessions of 4 s (KIP-368): every connection here must re-authenticate, often.
    let (_cluster, listeners, certs) =
        TestCluster::apache_kafka_secure(&[("KAFKA_REAUTH_MS", "4000")]);
    let sasl_ssl_addr = &listeners["SASL_SSL"];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let token_value = Arc::new(Mutex::new(String::new()));
    rt.block_on(async {
        for mech in ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] {
            round_trip(
                mech,
                config(sasl_ssl_addr, &sasl_ssl(&certs, mech, PASSWORD)),
            )
            .await;
        }
        round_trip("mtls", config(&listeners["SSL"], &mutual_tls(&certs))).await;
        round_trip(
            "oauthbearer-unsecured",
            config(&listeners["SASL_PLAINTEXT"], &oauth_unsecured()),
        )
        .await;
        // The application's token provider, an async closure.
        let mut with_provider = config(
            &listeners["SASL_PLAINTEXT"],
            &[
                ("security.protocol", "SASL_PLAINTEXT".into()),
                ("sasl.mechanism", "OAUTHBEARER".into()),
            ],
        );
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (counter, remember) = (calls.clone(), token_value.clone());
        with_provider.set_oauthbearer_token_provider(TokenProvider::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let remember = remember.clone();
            async move {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as i64;
                let token = UnsecuredJwtConfig::parse("principal=admin")
                    .map_err(|e| e.to_string())?
                    .build(now);
                *remember.lock().unwrap() = token.value.expose().to_string();
                Ok(token)
            }
        }));
        round_trip("oauthbearer-provider", with_provider).await;
        assert!(calls.load(std::sync::atomic::Ordering::SeqCst) > 0);
        reauthentication_loses_nothing(config(
            sasl_ssl_addr,
            &sasl_ssl(&certs, "SCRAM-SHA-512", PASSWORD),
        ))
        .await;
        let log_text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
        let reauths = log_text.matches("SASL re-authentication succeeded").count();
        eprintln!("[security] {reauths} re-authentications logged");
        assert!(reauths >= 2, "no re-authentication within the 4 s sessions");
        assert!(
            !log_text.contains("broker connection lost"),
            "a connection was dropped instead of re-authenticated"
        );

        // Failures: each fatal and named, each without a retry loop.
        let wrong = config(
            sasl_ssl_addr,
            &sasl_ssl(&certs, "SCRAM-SHA-512", WRONG_PASSWORD),
        );
        expect_failure(
            "wrong password (SCRAM-SHA-512, admin)",
            ErrorKind::Authentication,
            &["SCRAM-SHA-512", "alice", "SASL_AUTHENTICATION_FAILED"],
            || async { Admin::new(wrong.client().unwrap()).list_topics().await },
        )
        .await;
        let producer = Producer::new(wrong.producer().unwrap()).unwrap();
        let t = topic("sec-wrong");
        expect_failure(
            "wrong password (SCRAM-SHA-512, producer)",
            ErrorKind::Authentication,
            &["SCRAM-SHA-512"],
            || producer.send(ProducerRecord::new(&t).value(b"x")),
        )
        .await;
        let mut wrong_group = wrong.clone();
        wrong_group.set("group.id", "g-wrong").unwrap();
        let consumer = GroupConsumer::new(&wrong_group).unwrap();
        consumer.subscribe(&[&t]).unwrap();
        expect_failure(
            "wrong password (SCRAM-SHA-512, group consumer)",
            ErrorKind::Authentication,
            &["SCRAM-SHA-512"],
            || consumer.recv(),
        )
        .await;
        let wrong_plain = config(sasl_ssl_addr, &sasl_ssl(&certs, "PLAIN", WRONG_PASSWORD));
        expect_failure(
            "wrong password (PLAIN)",
            ErrorKind::Authentication,
            &["PLAIN", "alice"],
            || async {
                Admin::new(wrong_plain.client().unwrap())
                    .list_topics()
                    .await
            },
        )
        .await;
        let mut untrusted = sasl_ssl(&certs, "PLAIN", PASSWORD);
        untrusted[1].1 = certs.join("other-ca.pem").display().to_string();
        let untrusted = config(sasl_ssl_addr, &untrusted);
        expect_failure(
            "untrusted certificate",
            ErrorKind::Ssl,
            &["unknown issuer"],
            || async { Admin::new(untrusted.client().unwrap()).list_topics().await },
        )
        .await;
        let unknown_mechanism = config(
            &listeners["SASL_PLAINTEXT"],
            &[
                ("security.protocol", "SASL_PLAINTEXT".into()),
                ("sasl.mechanism", "SCRAM-SHA-256".into()),
                ("sasl.username", "alice".into()),
                ("sasl.password", PASSWORD.into()),
            ],
        );
        expect_failure(
            "mechanism not enabled",
            ErrorKind::Authentication,
            &["SCRAM-SHA-256", "does not enable", "OAUTHBEARER"],
            || async {
                Admin::new(unknown_mechanism.client().unwrap())
                    .list_topics()
                    .await
            },
        )
        .await;
        let mut no_client_cert = mutual_tls(&certs);
        no_client_cert.truncate(2);
        let no_client_cert = config(&listeners["SSL"], &no_client_cert);
        expect_failure(
            "no client certificate on a mutual-TLS listener",
            ErrorKind::Ssl,
            &["client certificate"],
            || async {
                Admin::new(no_client_cert.client().unwrap())
                    .list_topics()
                    .await
            },
        )
        .await;

        // Secrets: not in Debug output of configs, not in errors, not in any log line.
        let debug = format!(
            "{wrong:?} {:?} {wrong_plain:?} {:?}",
            wrong.client().unwrap(),
            wrong.producer().unwrap()
        );
        let token = token_value.lock().unwrap().clone();
        assert!(!token.is_empty());
        let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
        let errors = SEEN_ERRORS.lock().unwrap().join("\n");
        assert!(
            logs.contains("SASL_AUTHENTICATION_FAILED"),
            "logs were not captured"
        );
        for secret in [PASSWORD, WRONG_PASSWORD, token.as_str()] {
            assert!(!debug.contains(secret), "a secret in Debug output: {debug}");
            assert!(!errors.contains(secret), "a secret in an error: {errors}");
            assert!(!logs.contains(secret), "a secret in the logs");
        }
        assert!(debug.contains("[redacted]"), "{debug}");
    });
}

/// A TLS server on 127.0.0.1 presenting `chain`/`key`; accepts and handshakes forever.
async fn tls_server(chain: Vec<String>, key: String) -> String {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = chain
        .iter()
        .map(|p| CertificateDer::from_pem_slice(p.as_bytes()).unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    address
}

/// A certificate case: name, the leaf's names, expired, words the error must hold (none: the
/// handshake must succeed), extra config.
type CertCase = (
    &'static str,
    Vec<String>,
    bool,
    &'static [&'static str],
    HashMap<&'static str, &'static str>,
);

#[test]
fn certificate_problems_are_named() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, expired: bool| {
        let mut params = CertificateParams::new(names).unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        (vec![cert.pem(), ca.pem()], key.serialize_pem())
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cases: [CertCase; 4] = [
            (
                "hostname mismatch",
                vec!["kafka.invalid".into()],
                false,
                &["hostname mismatch", "127.0.0.1"],
                HashMap::new(),
            ),
            (
                "expired certificate",
                vec!["127.0.0.1".into()],
                true,
                &["expired"],
                HashMap::new(),
            ),
            (
                "hostname check off",
                vec!["kafka.invalid".into()],
                false,
                &[],
                HashMap::from([("ssl.endpoint.identification.algorithm", "none")]),
            ),
            (
                "verification off",
                vec!["kafka.invalid".into()],
                true,
                &[],
                HashMap::from([("enable.ssl.certificate.verification", "false")]),
            ),
        ];
        for (name, names, expired, words, extra) in cases {
            let (chain, key) = leaf(names, expired);
            let address = tls_server(chain, key).await;
            let mut pairs = vec![
                ("security.protocol", "SSL".to_string()),
                ("ssl.ca.pem", ca.pem()),
                ("socket.connection.setup.timeout.ms", "3000".to_string()),
                ("request.timeout.ms", "3000".to_string()),
            ];
            pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            let c = config(&address, &pairs);
            let admin = Admin::new(c.client().unwrap());
            if words.is_empty() {
                // The name is not checked, so the handshake succeeds; the server then closes
                // without speaking Kafka, which is a retriable network error, not _SSL.
                let err = admin.list_topics().await.unwrap_err();
                eprintln!("[security] {name}: {err}");
                assert!(!matches!(err.kind(), ErrorKind::Ssl), "{name}: {err}");
                continue;
            }
            expect_failure(name, ErrorKind::Ssl, words, || admin.list_topics()).await;
        }
    });
}
