//! Listeners, TLS and SASL on the broker, from a raw client: what is served before and after
//! authentication, what a bad handshake gets, and that the broker keeps serving others.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use kafka_protocol::messages::*;
use odradek_broker::security::test_pki::{Issued, TestCa};
use odradek_broker::{BrokerHandle, FsyncPolicy};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

struct Pki {
    ca: TestCa,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let ca = TestCa::new("test").unwrap();
        let server = ca.server(&[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let keystore = format!("{}{}", server.key_pem, server.cert_pem);
        std::fs::write(dir.path().join("server.pem"), keystore).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
        Self { ca, dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `ssl.*` properties for the broker's TLS listeners.
    fn broker_props(&self) -> String {
        format!(
            "ssl.keystore.type=PEM\nssl.keystore.location={}\nssl.truststore.type=PEM\nssl.truststore.location={}\n",
            self.path("server.pem"),
            self.path("ca.pem")
        )
    }

    fn client_config(&self, client_cert: Option<&Issued>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca.cert_pem().as_bytes()).unwrap())
            .unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client_cert {
            None => builder.with_no_client_auth(),
            Some(c) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(c.cert_pem.as_bytes()).unwrap()],
                    PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).unwrap(),
                )
                .unwrap(),
        };
        Arc::new(config)
    }

    async fn tls_client(
        &self,
        addr: SocketAddr,
        client_cert: Option<&Issued>,
    ) -> std::io::Result<Client> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let connector = tokio_rustls::TlsConnector::from(self.client_config(client_cert));
        let tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await?;
        Ok(Client::over(Box::new(tls)))
    }

    /// Whether the broker refuses a TLS session (TLS 1.3 clients may see the refusal of their
    /// certificate only when they read).
    async fn refused(&self, addr: SocketAddr, client_cert: Option<&Issued>) -> bool {
        match self.tls_client(addr, client_cert).await {
            Err(_) => true,
            Ok(mut c) => {
                let (_, req) = c.encode(&MetadataRequest::default(), 12);
                c.send_raw(&req).await;
                c.read_frame().await.is_none()
            }
        }
    }
}

async fn start_props(props: &str) -> (BrokerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let handle = start_in(dir.path(), props, FsyncPolicy::Never).await;
    (handle, dir)
}

async fn metadata(c: &mut Client) -> MetadataResponse {
    let mut all = MetadataRequest::default();
    all.topics = None;
    c.call(all, 12).await
}

const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\" user_bob=\"bob-secret\";";

async fn sasl_plain(c: &mut Client, user: &str, password: &str) -> SaslAuthenticateResponse {
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = s("PLAIN");
    let resp = c.call(hs, 1).await;
    assert_eq!(resp.error_code, 0, "handshake");
    let mut auth = SaslAuthenticateRequest::default();
    auth.auth_bytes = format!("\0{user}\0{password}").into_bytes().into();
    c.call(auth, 2).await
}

#[tokio::test]
async fn several_listeners_each_advertise_themselves() {
    let pki = Pki::new();
    let props = format!(
        "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0\n{}",
        pki.broker_props()
    );
    let (b, _dir) = start_props(&props).await;
    let plain = b.listener_addr("PLAINTEXT").unwrap();
    let ssl = b.listener_addr("ssl").unwrap();
    assert_ne!(plain, ssl);

    let mut c = Client::connect(plain).await;
    let m = metadata(&mut c).await;
    assert_eq!(m.brokers[0].port, plain.port() as i32);

    let mut t = pki.tls_client(ssl, None).await.unwrap();
    let m = metadata(&mut t).await;
    assert_eq!(
        m.brokers[0].port,
        ssl.port() as i32,
        "the TLS listener advertises itself"
    );
    // A topic created over TLS is seen over plaintext: one broker behind both.
    assert_eq!(create_topic(&mut t, "over-tls", 2, &[]).await, 0);
    let m = metadata(&mut c).await;
    assert!(
        m.topics
            .iter()
            .any(|t| t.name.as_ref().unwrap().0.as_str() == "over-tls")
    );
    b.shutdown().await;
}

#[tokio::test]
async fn wrong_protocol_on_a_port_closes_only_that_connection() {
    let pki = Pki::new();
    let props = format!(
        "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0\n{}",
        pki.broker_props()
    );
    let (b, _dir) = start_props(&props).await;
    let plain = b.listener_addr("PLAINTEXT").unwrap();
    let ssl = b.listener_addr("SSL").unwrap();
    let mut good = pki.tls_client(ssl, None).await.unwrap();
    metadata(&mut good).await;

    // A TLS ClientHello on the plaintext port: its first bytes read as a ~370 MB frame size.
    assert!(
        pki.tls_client(plain, None).await.is_err(),
        "no TLS on the plaintext port"
    );
    // Plaintext Kafka on the TLS port: the handshake fails and the connection closes.
    let mut c = Client::connect(ssl).await;
    let (_, req) = c.encode(&ApiVersionsRequest::default(), 0);
    c.write(&req).await;
    assert!(c.closed_by_peer().await, "plaintext on the TLS port");
    metadata(&mut good).await;
    let mut c = Client::connect(plain).await;
    metadata(&mut c).await;
    b.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_names_the_principal_and_requires_a_certificate() {
    let pki = Pki::new();
    let props = format!(
        "listeners=SSL://127.0.0.1:0\nssl.client.auth=required\n{}",
        pki.broker_props()
    );
    let (b, _dir) = start_props(&props).await;
    let ssl = b.local_addr();
    let alice = pki.ca.client("alice").unwrap();
    let mut c = pki.tls_client(ssl, Some(&alice)).await.unwrap();
    metadata(&mut c).await;

    // Without a client certificate the server refuses; so it does a certificate from another CA.
    assert!(pki.refused(ssl, None).await, "no client certificate");
    let other = TestCa::new("other").unwrap().client("mallory").unwrap();
    assert!(
        pki.refused(ssl, Some(&other)).await,
        "a certificate signed by an unknown CA"
    );
    metadata(&mut c).await;
    b.shutdown().await;
}

/// `ssl.principal.mapping.rules`: a client certificate's DN mapped to a short name that the
/// authorizer knows (a super user), another mapped to a principal with no ACLs, and one no rule
/// matches refused.
#[tokio::test]
async fn principal_mapping_rules_name_certificate_principals() {
    let pki = Pki::new();
    let props = format!(
        "listeners=SSL://127.0.0.1:0\nssl.client.auth=required\n\
         ssl.principal.mapping.rules=RULE:^CN=(.*?),O=Odradek test$/$1/L, RULE:^CN=svc-(.*)$/$1/U\n\
         authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
         super.users=User:alice\n{}",
        pki.broker_props()
    );
    let (b, _dir) = start_props(&props).await;
    let ssl = b.local_addr();
    let alice = pki.ca.client("Alice").unwrap();
    let mut c = pki.tls_client(ssl, Some(&alice)).await.unwrap();
    assert_eq!(
        create_topic(&mut c, "mapped", 1, &[]).await,
        0,
        "User:alice is a super user"
    );
    let bob = pki.ca.client("Bob").unwrap();
    let mut c = pki.tls_client(ssl, Some(&bob)).await.unwrap();
    assert_eq!(
        create_topic(&mut c, "unmapped", 1, &[]).await,
        29,
        "User:bob has no ACL: TOPIC_AUTHORIZATION_FAILED"
    );
    b.shutdown().await;

    // A DN no rule matches is refused: the connection is closed.
    let props = props
        .replace(", RULE:^CN=svc-(.*)$/$1/U", "")
        .replace("O=Odradek test$", "O=Elsewhere$");
    let (b, _dir) = start_props(&props).await;
    assert!(pki.refused(b.local_addr(), Some(&alice)).await);
    b.shutdown().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = odradek_broker::BrokerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path());
    cfg.properties = odradek_broker::BrokerProperties::parse(&format!(
        "listeners=SSL://127.0.0.1:0\nssl.principal.mapping.rules=RULE:oops\n{}",
        pki.broker_props()
    ))
    .unwrap();
    let e = odradek_broker::Broker::start(cfg)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("ssl.principal.mapping.rules"), "{e}");
}

fn sasl_props(extra: &str) -> String {
    format!(
        "listeners=SASL_PLAINTEXT://127.0.0.1:0\nsasl.enabled.mechanisms=PLAIN\nlistener.name.sasl_plaintext.plain.sasl.jaas.config={PLAIN_JAAS}\n{extra}"
    )
}

#[tokio::test]
async fn sasl_plain_gates_every_request() {
    let (b, _dir) = start_props(&sasl_props("")).await;
    let addr = b.local_addr();

    // ApiVersions is served before authentication and lists the SASL APIs.
    let mut c = Client::connect(addr).await;
    let v = c.call(ApiVersionsRequest::default(), 3).await;
    assert!(
        v.api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::SaslAuthenticate as i16)
    );
    // Anything else before authentication closes the connection.
    let (_, req) = c.encode(&MetadataRequest::default(), 12);
    c.send_raw(&req).await;
    assert!(c.closed_by_peer().await, "Metadata before SASL");

    // A mechanism not enabled: UNSUPPORTED_SASL_MECHANISM with the list, then closed.
    let mut c = Client::connect(addr).await;
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = s("SCRAM-SHA-512");
    let r = c.call(hs, 1).await;
    assert_eq!(r.error_code, 33);
    assert_eq!(
        r.mechanisms.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        ["PLAIN"]
    );
    assert!(c.closed_by_peer().await);

    // A wrong password: SASL_AUTHENTICATION_FAILED, then closed.
    let mut c = Client::connect(addr).await;
    let r = sasl_plain(&mut c, "alice", "wrong").await;
    assert_eq!(r.error_code, 58);
    let msg = r.error_message.unwrap().to_string();
    assert!(
        !msg.contains("wrong") && !msg.contains("alice-secret"),
        "{msg}"
    );
    assert!(c.closed_by_peer().await);

    // The right one: served, session without lifetime (no connections.max.reauth.ms).
    let mut c = Client::connect(addr).await;
    let r = sasl_plain(&mut c, "alice", "alice-secret").await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.session_lifetime_ms, 0);
    assert_eq!(create_topic(&mut c, "t", 1, &[]).await, 0);
    metadata(&mut c).await;
    b.shutdown().await;
}

#[tokio::test]
async fn sasl_handshake_v0_takes_a_bare_token() {
    let (b, _dir) = start_props(&sasl_props("")).await;
    let mut c = Client::connect(b.local_addr()).await;
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = s("PLAIN");
    assert_eq!(c.call(hs, 0).await.error_code, 0);
    let token = b"\0bob\0bob-secret";
    let mut frame = (token.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(token);
    c.send_raw(&frame).await;
    assert_eq!(c.read_frame().await.unwrap().len(), 0, "empty server token");
    metadata(&mut c).await;
    b.shutdown().await;
}

#[tokio::test]
async fn reauthentication_kip_368() {
    let (b, _dir) = start_props(&sasl_props("connections.max.reauth.ms=1000")).await;
    let mut c = Client::connect(b.local_addr()).await;
    let r = sasl_plain(&mut c, "alice", "alice-secret").await;
    assert!(
        r.session_lifetime_ms > 0 && r.session_lifetime_ms <= 1000,
        "{}",
        r.session_lifetime_ms
    );
    metadata(&mut c).await;
    // Re-authenticating on the same connection extends the session.
    let r = sasl_plain(&mut c, "alice", "alice-secret").await;
    assert_eq!(r.error_code, 0);
    // Re-authenticating as someone else is refused.
    let r = sasl_plain(&mut c, "bob", "bob-secret").await;
    assert_eq!(r.error_code, 58);
    assert!(c.closed_by_peer().await);

    // Past the lifetime without re-authentication, requests close the connection.
    let mut c = Client::connect(b.local_addr()).await;
    sasl_plain(&mut c, "alice", "alice-secret").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, req) = c.encode(&MetadataRequest::default(), 12);
    c.send_raw(&req).await;
    assert!(c.closed_by_peer().await, "expired session");
    b.shutdown().await;
}

#[tokio::test]
async fn hostile_sasl_clients_do_not_disturb_others() {
    let pki = Pki::new();
    let props = format!(
        "{}listeners=SASL_SSL://127.0.0.1:0\nsasl.enabled.mechanisms=PLAIN\nlistener.name.sasl_ssl.plain.sasl.jaas.config={PLAIN_JAAS}\n",
        pki.broker_props()
    );
    let (b, _dir) = start_props(&props).await;
    let addr = b.local_addr();
    let mut good = pki.tls_client(addr, None).await.unwrap();
    assert_eq!(
        sasl_plain(&mut good, "alice", "alice-secret")
            .await
            .error_code,
        0
    );

    // A 100 MB token: refused from its size prefix (sasl.server.max.receive.size), before any
    // of it is buffered.
    let mut c = pki.tls_client(addr, None).await.unwrap();
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = s("PLAIN");
    assert_eq!(c.call(hs, 0).await.error_code, 0);
    c.send_raw(&100_000_000i32.to_be_bytes()).await;
    c.send_raw(&[0u8; 1024]).await;
    assert!(c.closed_by_peer().await, "100 MB token");
    metadata(&mut good).await;

    // The same as a SaslAuthenticate request.
    let mut c = pki.tls_client(addr, None).await.unwrap();
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = s("PLAIN");
    assert_eq!(c.call(hs, 1).await.error_code, 0);
    c.send_raw(&100_000_000i32.to_be_bytes()).await;
    assert!(c.closed_by_peer().await, "100 MB SaslAuthenticate");

    // Many failed logins in a row: each refused, the right password still works after.
    let started = std::time::Instant::now();
    let attempts = 300;
    for i in 0..attempts {
        let mut c = pki.tls_client(addr, None).await.unwrap();
        let r = sasl_plain(&mut c, "alice", &format!("guess-{i}")).await;
        assert_eq!(r.error_code, 58);
    }
    println!(
        "{attempts} failed logins over TLS in {:?}",
        started.elapsed()
    );
    metadata(&mut good).await;
    let mut c = pki.tls_client(addr, None).await.unwrap();
    assert_eq!(sasl_plain(&mut c, "bob", "bob-secret").await.error_code, 0);
    b.shutdown().await;
}

#[tokio::test]
async fn listener_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = odradek_broker::BrokerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path());
    cfg.properties
        .set("listeners", "SSL://127.0.0.1:0")
        .unwrap();
    let e = odradek_broker::Broker::start(cfg).await.unwrap_err();
    assert!(e.to_string().contains("ssl.keystore.location"), "{e}");
}

async fn scram_login(c: &mut Client, mech: &str, user: &str, password: &str) -> i16 {
    use odradek_protocol::sasl::scram::{ScramClient, ScramMechanism};
    let m = if mech == "SCRAM-SHA-512" {
        ScramMechanism::Sha512
    } else {
        ScramMechanism::Sha256
    };
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = s(mech);
    assert_eq!(c.call(hs, 1).await.error_code, 0);
    let mut client = ScramClient::new(m, user, password);
    let mut auth = SaslAuthenticateRequest::default();
    auth.auth_bytes = client.client_first().into();
    let r = c.call(auth, 2).await;
    if r.error_code != 0 {
        return r.error_code;
    }
    let last = client.server_first(&r.auth_bytes).unwrap();
    let mut auth = SaslAuthenticateRequest::default();
    auth.auth_bytes = last.into();
    let r = c.call(auth, 2).await;
    if r.error_code == 0 {
        client
            .server_final(&r.auth_bytes)
            .expect("the broker proves it knows the password");
    }
    r.error_code
}

fn upsert(user: &str, mech: i8, password: &str) -> AlterUserScramCredentialsRequest {
    use odradek_protocol::sasl::scram::{ScramMechanism, salted_password};
    let salt = b"some-salt-bytes!".to_vec();
    let m = ScramMechanism::from_kafka_type(mech).unwrap();
    let mut u = alter_user_scram_credentials_request::ScramCredentialUpsertion::default();
    u.name = s(user);
    u.mechanism = mech;
    u.iterations = 4096;
    u.salted_password = salted_password(m, password, &salt, 4096).unwrap().into();
    u.salt = salt.into();
    let mut req = AlterUserScramCredentialsRequest::default();
    req.upsertions.push(u);
    req
}

#[tokio::test]
async fn scram_users_managed_by_the_admin_apis_and_durable() {
    let pki = Pki::new();
    let props = format!(
        "{}listeners=PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0\nsasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n",
        pki.broker_props()
    );
    let dir = tempfile::tempdir().unwrap();
    let b = start_in(dir.path(), &props, FsyncPolicy::Never).await;
    let mut admin = Client::connect(b.listener_addr("PLAINTEXT").unwrap()).await;
    let r = admin.call(upsert("alice", 2, "alice-pw"), 0).await;
    assert_eq!(
        r.results[0].error_code, 0,
        "{:?}",
        r.results[0].error_message
    );
    let r = admin.call(upsert("bob", 1, "bob-pw"), 0).await;
    assert_eq!(r.results[0].error_code, 0);
    let mut d = DescribeUserScramCredentialsRequest::default();
    d.users = None;
    let r = admin.call(d, 0).await;
    let listed: Vec<(String, Vec<(i8, i32)>)> = r
        .results
        .iter()
        .map(|u| {
            (
                u.user.to_string(),
                u.credential_infos
                    .iter()
                    .map(|i| (i.mechanism, i.iterations))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("alice".into(), vec![(2, 4096)]),
            ("bob".into(), vec![(1, 4096)])
        ]
    );
    let mut d = DescribeUserScramCredentialsRequest::default();
    let mut nobody = describe_user_scram_credentials_request::UserName::default();
    nobody.name = s("nobody");
    d.users = Some(vec![nobody]);
    assert_eq!(
        admin.call(d, 0).await.results[0].error_code,
        91,
        "RESOURCE_NOT_FOUND"
    );

    let sasl = b.listener_addr("SASL_SSL").unwrap();
    let mut c = pki.tls_client(sasl, None).await.unwrap();
    assert_eq!(
        scram_login(&mut c, "SCRAM-SHA-512", "alice", "alice-pw").await,
        0
    );
    metadata(&mut c).await;
    // A proof made from the wrong password: refused, connection closed.
    let mut c = pki.tls_client(sasl, None).await.unwrap();
    assert_eq!(
        scram_login(&mut c, "SCRAM-SHA-512", "alice", "forged").await,
        58
    );
    assert!(c.closed_by_peer().await);
    // The right password over the other mechanism (no credential there), an unknown user.
    let mut c = pki.tls_client(sasl, None).await.unwrap();
    assert_eq!(
        scram_login(&mut c, "SCRAM-SHA-256", "alice", "alice-pw").await,
        58
    );
    let mut c = pki.tls_client(sasl, None).await.unwrap();
    assert_eq!(
        scram_login(&mut c, "SCRAM-SHA-256", "mallory", "x").await,
        58
    );
    b.shutdown().await;

    // Credentials survive a restart; a deletion takes effect.
    let b = start_in(dir.path(), &props, FsyncPolicy::Never).await;
    let sasl = b.listener_addr("SASL_SSL").unwrap();
    let mut c = pki.tls_client(sasl, None).await.unwrap();
    assert_eq!(
        scram_login(&mut c, "SCRAM-SHA-256", "bob", "bob-pw").await,
        0
    );
    let mut admin = Client::connect(b.listener_addr("PLAINTEXT").unwrap()).await;
    let mut del = alter_user_scram_credentials_request::ScramCredentialDeletion::default();
    del.name = s("bob");
    del.mechanism = 1;
    let mut req = AlterUserScramCredentialsRequest::default();
    req.deletions.push(del);
    assert_eq!(admin.call(req, 0).await.results[0].error_code, 0);
    let mut c = pki.tls_client(sasl, None).await.unwrap();
    assert_eq!(
        scram_login(&mut c, "SCRAM-SHA-256", "bob", "bob-pw").await,
        58
    );
    b.shutdown().await;
}

/// The embedded test broker with TLS and SCRAM in one call: a client that trusts its CA logs in
/// with the user it was given, and no other password works.
#[test]
fn embedded_broker_with_sasl_ssl_in_one_call() {
    let mut b = odradek_broker::EmbeddedBroker::start_sasl_ssl("tester", "tester-pw", &[]).unwrap();
    let addr: SocketAddr = b.bootstrap_servers().parse().unwrap();
    let ca = b.ca_pem().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
            .unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let connect = || async {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let tls = connector
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .unwrap();
            Client::over(Box::new(tls))
        };
        let mut c = connect().await;
        assert_eq!(
            scram_login(&mut c, "SCRAM-SHA-512", "tester", "tester-pw").await,
            0
        );
        metadata(&mut c).await;
        let mut c = connect().await;
        assert_eq!(
            scram_login(&mut c, "SCRAM-SHA-256", "tester", "tester-pw").await,
            0
        );
        let mut c = connect().await;
        assert_eq!(
            scram_login(&mut c, "SCRAM-SHA-512", "tester", "wrong").await,
            58
        );
    });
    b.stop();
}
