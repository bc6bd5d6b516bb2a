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
        // The client key encrypted by `openssl pkcs8 -topk8 -v2 aes-256-cbc` (ssl.key.password).
        let mut encrypted_key = mutual_tls(&certs);
        encrypted_key[3].1 = certs.join("client-encrypted.key").display().to_string();
        encrypted_key.push(("ssl.key.password", "client-key-pass".into()));
        round_trip(
            "mtls-encrypted-key",
            config(&listeners["SSL"], &encrypted_key),
        )
        .await;
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

/// `pem` encrypted as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
fn openssl_encrypt(pem: &str, password: &str, dir: &Path, name: &str) -> String {
    let plain = dir.join(format!("{name}.plain"));
    let encrypted = dir.join(format!("{name}.encrypted"));
    std::fs::write(&plain, pem).unwrap();
    let status = std::process::Command::new("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout"])
        .arg(format!("pass:{password}"))
        .arg("-in")
        .arg(&plain)
        .arg("-out")
        .arg(&encrypted)
        .status()
        .expect("openssl (scripts/setup.d/40-debian.sh installs it)");
    assert!(status.success());
    std::fs::read_to_string(&encrypted).unwrap()
}

/// Mutual TLS with our broker where both private keys are encrypted PKCS#8: the broker opens
/// its keystore with `ssl.key.password`, the client its key; a wrong or missing password
/// fails at start naming the key file, never the password.
#[test]
fn encrypted_private_keys_with_our_broker() {
    use odradek_broker::security::test_pki::TestCa;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let ca = TestCa::new("encrypted keys").unwrap();
    let server = ca.server(&[]).unwrap();
    let client = ca.client("alice").unwrap();
    let (server_pw, client_pw) = ("server-key-pw-31", "client-key-pw-47");
    let server_key = openssl_encrypt(&server.key_pem, server_pw, dir.path(), "server");
    assert!(server_key.contains("BEGIN ENCRYPTED PRIVATE KEY"));
    let keystore = file("keystore.pem", &format!("{server_key}{}", server.cert_pem));
    let truststore = file("ca.pem", &ca.cert_pem());
    let broker_props = |password: &str| {
        vec![
            ("listeners", "SSL://127.0.0.1:0".to_string()),
            ("ssl.client.auth", "required".to_string()),
            ("ssl.keystore.type", "PEM".to_string()),
            ("ssl.keystore.location", keystore.clone()),
            ("ssl.key.password", password.to_string()),
            ("ssl.truststore.type", "PEM".to_string()),
            ("ssl.truststore.location", truststore.clone()),
        ]
    };
    let start = |props: Vec<(&str, String)>| {
        let refs: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        odradek_broker::EmbeddedBroker::start(&refs)
    };
    let e = start(broker_props("not-the-server-pw"))
        .expect_err("a wrong broker key password fails the start")
        .to_string();
    assert!(
        e.contains(&keystore) && e.contains("ssl.key.password"),
        "{e}"
    );
    assert!(!e.contains("not-the-server-pw"), "{e}");
    let mut broker = start(broker_props(server_pw)).unwrap();

    let client_key = file(
        "client.key",
        &openssl_encrypt(&client.key_pem, client_pw, dir.path(), "client"),
    );
    let client_config = |password: Option<&str>| {
        let mut pairs = vec![
            ("security.protocol", "SSL".to_string()),
            ("ssl.ca.location", truststore.clone()),
            ("ssl.certificate.pem", client.cert_pem.clone()),
            ("ssl.key.location", client_key.clone()),
        ];
        if let Some(p) = password {
            pairs.push(("ssl.key.password", p.to_string()));
        }
        config(broker.bootstrap_servers(), &pairs)
    };
    for (password, words) in [
        (None, "no ssl.key.password is set"),
        (Some("not-the-client-pw"), "ssl.key.password is wrong"),
    ] {
        let e = client_config(password).client().unwrap_err().to_string();
        assert!(e.contains(&client_key) && e.contains(words), "{e}");
        assert!(!e.contains("not-the-client-pw"), "{e}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(round_trip(
        "our-broker-encrypted-keys",
        client_config(Some(client_pw)),
    ));
    let debug = format!("{:?}", client_config(Some(client_pw)));
    assert!(!debug.contains(client_pw), "{debug}");
    broker.stop();
}

/// How the in-test OIDC provider answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Idp {
    /// ES256 tokens living `TOKEN_SECONDS`.
    Es256,
    /// RS256 tokens.
    Rs256,
    /// Tokens whose signature is from a key the broker does not know (same kid).
    BadSignature,
}

const OIDC_SECRET: &str = "oidc-client-secret-5d1c";
const TOKEN_SECONDS: u64 = 3;

/// An OIDC provider's token endpoint over HTTPS: checks the client credentials grant and
/// answers with a JWT signed by the keys it publishes in its JWKS.
struct TokenEndpoint {
    url: String,
    jwks: String,
    mode: Arc<Mutex<Idp>>,
    requests: Arc<std::sync::atomic::AtomicUsize>,
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh RSA key (ring cannot make one) as PKCS#8 DER.
fn openssl_rsa_key() -> Vec<u8> {
    use tokio_rustls::rustls::pki_types::PrivateKeyDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl (scripts/setup.d/40-debian.sh installs it)");
    assert!(out.status.success());
    PrivateKeyDer::from_pem_slice(&out.stdout)
        .unwrap()
        .secret_der()
        .to_vec()
}

async fn token_endpoint(server: &odradek_broker::security::test_pki::Issued) -> TokenEndpoint {
    use ring::rand::SystemRandom;
    use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let rng = SystemRandom::new();
    let ec_alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let ec = |rng: &SystemRandom| {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(ec_alg, rng).unwrap();
        EcdsaKeyPair::from_pkcs8(ec_alg, pkcs8.as_ref(), rng).unwrap()
    };
    let (ec_key, stranger) = (ec(&rng), ec(&rng));
    let rsa_key = RsaKeyPair::from_pkcs8(&openssl_rsa_key()).unwrap();
    let point = ec_key.public_key().as_ref().to_vec();
    let rsa_public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(rsa_key.public());
    let jwks = format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"ec-1","alg":"ES256","use":"sig","x":"{}","y":"{}"}},{{"kty":"RSA","kid":"rsa-1","alg":"RS256","n":"{}","e":"{}"}}]}}"#,
        b64url(&point[1..33]),
        b64url(&point[33..]),
        b64url(&rsa_public.n),
        b64url(&rsa_public.e)
    );
    let mode = Arc::new(Mutex::new(Idp::Es256));
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let keys = Arc::new((ec_key, stranger, rsa_key));
    let sign = move |mode: Idp, principal: &str| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (alg, kid) = match mode {
            Idp::Rs256 => ("RS256", "rsa-1"),
            _ => ("ES256", "ec-1"),
        };
        let header = format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#);
        let claims = format!(
            r#"{{"sub":"{principal}","iss":"https://idp.test","aud":["kafka"],"iat":{now},"exp":{}}}"#,
            now + TOKEN_SECONDS
        );
        let input = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(claims.as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match mode {
            Idp::Es256 => keys
                .0
                .sign(&rng, input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Idp::BadSignature => keys
                .1
                .sign(&rng, input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Idp::Rs256 => {
                let mut sig = vec![0; keys.2.public().modulus_len()];
                keys.2
                    .sign(
                        &signature::RSA_PKCS1_SHA256,
                        &rng,
                        input.as_bytes(),
                        &mut sig,
                    )
                    .unwrap();
                sig
            }
        };
        format!("{input}.{}", b64url(&sig))
    };

    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(server.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}/oauth2/token",
        listener.local_addr().unwrap().port()
    );
    let (state, counter) = (mode.clone(), requests.clone());
    let sign = Arc::new(sign);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, state, counter, sign) = (
                acceptor.clone(),
                state.clone(),
                counter.clone(),
                sign.clone(),
            );
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then the form (small: one read after the headers is not assumed).
                let body = loop {
                    let n = tls.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        if body.len() >= length {
                            break (head.to_string(), body.to_string());
                        }
                    }
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (head, form) = body;
                use base64::Engine as _;
                let expected = base64::engine::general_purpose::STANDARD
                    .encode(format!("svc-orders:{OIDC_SECRET}"));
                let (status, json) = if !head.starts_with("POST /oauth2/token HTTP/1.1") {
                    ("404 Not Found", r#"{"error":"not_found"}"#.to_string())
                } else if !head.contains(&format!("Authorization: Basic {expected}")) {
                    (
                        "401 Unauthorized",
                        r#"{"error":"invalid_client","error_description":"client authentication failed"}"#
                            .to_string(),
                    )
                } else if form != "grant_type=client_credentials&scope=kafka.produce" {
                    (
                        "400 Bad Request",
                        r#"{"error":"invalid_request"}"#.to_string(),
                    )
                } else {
                    let mode = *state.lock().unwrap();
                    let token = sign(mode, "svc-orders");
                    (
                        "200 OK",
                        format!(
                            r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{TOKEN_SECONDS}}}"#
                        ),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TokenEndpoint {
        url,
        jwks,
        mode,
        requests,
    }
}

/// OIDC client credentials end to end: our client fetches signed JWTs (ES256, RS256) from an
/// HTTPS token endpoint, our broker checks them against the endpoint's JWKS file, and tokens
/// living 3 s are refreshed through re-authentication while a producer keeps sending. A token
/// with a bad signature and a wrong client secret each fail fast with `_AUTHENTICATION`; the
/// client secret is in no error, Debug output or log line.
#[test]
fn oidc_client_credentials_with_our_broker_checking_jwks() {
    use odradek_broker::security::test_pki::TestCa;
    let logs = captured_logs();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("oidc").unwrap();
    let server = ca.server(&[]).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let idp = rt.block_on(token_endpoint(&server));
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, &idp.jwks).unwrap();
    let jwks_url = format!("file://{}", jwks.display());
    let mut broker = odradek_broker::EmbeddedBroker::start(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.enabled.mechanisms", "OAUTHBEARER"),
        ("sasl.oauthbearer.jwks.endpoint.url", &jwks_url),
        ("sasl.oauthbearer.expected.audience", "kafka"),
        ("sasl.oauthbearer.expected.issuer", "https://idp.test"),
        ("sasl.oauthbearer.clock.skew.seconds", "0"),
        ("connections.max.reauth.ms", "60000"),
    ])
    .unwrap();
    let client = |secret: &str| {
        config(
            broker.bootstrap_servers(),
            &[
                ("security.protocol", "SASL_PLAINTEXT".into()),
                ("sasl.mechanism", "OAUTHBEARER".into()),
                ("sasl.oauthbearer.method", "oidc".into()),
                ("sasl.oauthbearer.token.endpoint.url", idp.url.clone()),
                ("sasl.oauthbearer.client.id", "svc-orders".into()),
                ("sasl.oauthbearer.client.secret", secret.into()),
                ("sasl.oauthbearer.scope", "kafka.produce".into()),
                ("sasl.oauthbearer.extensions", "tenant=blue".into()),
                ("https.ca.pem", ca.cert_pem()),
            ],
        )
    };
    let set_mode = |m: Idp| *idp.mode.lock().unwrap() = m;
    rt.block_on(async {
        // ES256, with tokens that expire every 3 s under a producer that runs for 4 s.
        let good = client(OIDC_SECRET);
        let t = topic("oidc");
        let admin = Admin::new(good.client().unwrap());
        admin.create_topics(&[NewTopic::new(&t, 1)]).await.unwrap();
        let producer = Producer::new(good.producer().unwrap()).unwrap();
        let started = Instant::now();
        let mut sent = 0;
        while started.elapsed() < Duration::from_secs(TOKEN_SECONDS + 1) {
            producer
                .send(ProducerRecord::new(&t).value(format!("r{sent}").as_bytes()))
                .await
                .expect("delivered across token refreshes");
            sent += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        producer.close().await.unwrap();
        let fetched = idp.requests.load(std::sync::atomic::Ordering::SeqCst);
        eprintln!(
            "[security] oidc: {sent} records over {started:?} with {fetched} token requests",
            started = started.elapsed()
        );
        assert!(
            fetched >= 2,
            "the token was not refreshed ({fetched} requests)"
        );

        set_mode(Idp::Rs256);
        let rs256 = client(OIDC_SECRET);
        Admin::new(rs256.client().unwrap())
            .list_topics()
            .await
            .unwrap();

        set_mode(Idp::BadSignature);
        let forged = client(OIDC_SECRET);
        expect_failure(
            "OIDC token with a bad signature",
            ErrorKind::Authentication,
            &["OAUTHBEARER", "signature"],
            || async { Admin::new(forged.client().unwrap()).list_topics().await },
        )
        .await;
        set_mode(Idp::Es256);
        let wrong = client("not-the-oidc-secret-93b");
        expect_failure(
            "OIDC wrong client secret",
            ErrorKind::Authentication,
            &["invalid_client", "/oauth2/token"],
            || async { Admin::new(wrong.client().unwrap()).list_topics().await },
        )
        .await;
        let debug = format!("{good:?} {:?} {wrong:?}", good.client().unwrap());
        let errors = SEEN_ERRORS.lock().unwrap().join("\n");
        let logs = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
        assert!(
            logs.contains("OIDC token fetched"),
            "logs were not captured"
        );
        for secret in [OIDC_SECRET, "not-the-oidc-secret-93b"] {
            assert!(!debug.contains(secret), "a secret in Debug output: {debug}");
            assert!(!errors.contains(secret), "a secret in an error: {errors}");
            assert!(!logs.contains(secret), "a secret in the logs");
        }
    });
    broker.stop();
}
