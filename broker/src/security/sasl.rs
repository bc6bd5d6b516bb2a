//! SASL on the broker: SaslHandshake v0/v1 and SaslAuthenticate v0–v2 as Kafka serves them,
//! one [`SaslSession`] per connection on a SASL listener.
//!
//! Until a session has authenticated, only ApiVersions, SaslHandshake and SaslAuthenticate
//! are served; anything else closes the connection (as Kafka). Frames are limited to
//! `sasl.server.max.receive.size` (512 KiB) until then, so a huge token is refused from its
//! size prefix before any of it is buffered. With `connections.max.reauth.ms` set, the session
//! lifetime is returned (KIP-368); after it runs out only re-authentication is served.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};

use odradek_protocol::sasl::Mechanism;
use odradek_protocol::sasl::scram::ScramServer;

use super::listeners::ListenerSpec;
use super::oauth::{self, OAuthValidator};
use super::plain::PlainUsers;
use super::scram_store::ScramStore;
use crate::config::BrokerProperties;
use crate::handlers::str_bytes;

pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
pub const ILLEGAL_SASL_STATE: i16 = 34;
pub const SASL_AUTHENTICATION_FAILED: i16 = 58;

/// Kafka's `sasl.server.max.receive.size` default.
const DEFAULT_MAX_RECEIVE: usize = 524_288;

/// The SASL settings of one listener.
#[derive(Debug)]
pub struct SaslConfig {
    pub mechanisms: Vec<Mechanism>,
    plain: PlainUsers,
    oauth: OAuthValidator,
    /// `connections.max.reauth.ms` (0: sessions do not expire).
    reauth: Option<Duration>,
    /// `sasl.server.max.receive.size`: the largest frame before authentication.
    pub max_receive: usize,
}

impl SaslConfig {
    pub fn new(spec: &ListenerSpec, props: &BrokerProperties) -> Result<Self, String> {
        let listener = &spec.name;
        let plain = PlainUsers::from_props(spec, props)?;
        // Kafka's default is GSSAPI, which this broker does not implement: SCRAM instead, and
        // PLAIN too when PLAIN users are configured.
        let default = if plain.is_empty() {
            "SCRAM-SHA-256,SCRAM-SHA-512"
        } else {
            "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
        };
        let list = spec
            .prop(props, "sasl.enabled.mechanisms")
            .unwrap_or(default);
        let mut mechanisms = Vec::new();
        for name in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let m = name
                .parse::<Mechanism>()
                .ok()
                .filter(|m| m.name() == name)
                .ok_or_else(|| {
                    format!(
                        "listener {listener}: sasl.enabled.mechanisms: {name} is not supported \
                         (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"
                    )
                })?;
            if !mechanisms.contains(&m) {
                mechanisms.push(m);
            }
        }
        if mechanisms.is_empty() {
            return Err(format!(
                "listener {listener}: sasl.enabled.mechanisms is empty"
            ));
        }
        if mechanisms.contains(&Mechanism::Plain) && plain.is_empty() {
            return Err(format!(
                "listener {listener}: PLAIN is enabled but no user is configured: set \
                 listener.name.{}.plain.sasl.jaas.config to \
                 `org.apache.kafka.common.security.plain.PlainLoginModule required \
                 user_NAME=\"PASSWORD\";`",
                listener.to_ascii_lowercase()
            ));
        }
        let oauth = OAuthValidator::from_props(spec, props)?;
        let reauth_ms: i64 = number(spec, props, "connections.max.reauth.ms", 0)?;
        let max_receive = number(
            spec,
            props,
            "sasl.server.max.receive.size",
            DEFAULT_MAX_RECEIVE,
        )?;
        Ok(Self {
            mechanisms,
            plain,
            oauth,
            reauth: (reauth_ms > 0).then(|| Duration::from_millis(reauth_ms as u64)),
            max_receive,
        })
    }

    fn names(&self) -> Vec<kafka_protocol::protocol::StrBytes> {
        self.mechanisms
            .iter()
            .map(|m| str_bytes(m.name()))
            .collect()
    }
}

/// A numeric key of the listener, or `default` when unset.
fn number<T: std::str::FromStr>(
    spec: &ListenerSpec,
    props: &BrokerProperties,
    key: &str,
    default: T,
) -> Result<T, String> {
    match spec.prop(props, key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("listener {}: {key}={v}: not a number", spec.name)),
    }
}

#[derive(Debug)]
enum Stage {
    /// Waiting for SaslHandshake.
    Handshake,
    /// Mechanism chosen; `raw`: SaslHandshake v0, so tokens come as bare length-prefixed
    /// frames instead of SaslAuthenticate requests.
    Token {
        mech: Mechanism,
        raw: bool,
    },
    /// SCRAM: server-first sent, waiting for the client-final message.
    ScramFinal {
        server: Box<ScramServer>,
        user: String,
        raw: bool,
    },
    /// OAUTHBEARER told the client its token is bad (RFC 7628 error JSON) and waits for the
    /// client's `%x01` before failing.
    OAuthFailing {
        raw: bool,
        why: String,
    },
    Done,
}

/// What the connection does with a request on a SASL listener.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    /// Served as usual.
    Serve,
    /// SaslHandshake / SaslAuthenticate: handled by the session.
    Sasl,
    /// Closes the connection, with this reason (logged).
    Close(String),
}

/// The answer to a token.
#[derive(Debug)]
pub enum Step {
    /// Bytes for the client (a challenge, or the final server message); `done` when the
    /// session is now authenticated.
    Reply { bytes: Bytes, done: bool },
    /// Authentication failed: the client gets SASL_AUTHENTICATION_FAILED with this message and
    /// the connection is closed.
    Failed(String),
}

/// One connection's authentication state.
#[derive(Debug)]
pub struct SaslSession {
    config: std::sync::Arc<SaslConfig>,
    stage: Stage,
    /// `User:<name>` once authenticated (kept across re-authentication, which must not
    /// change it).
    principal: Option<String>,
    expires: Option<Instant>,
    /// The lifetime to report in the final SaslAuthenticate response.
    lifetime_ms: i64,
}

impl SaslSession {
    pub fn new(config: std::sync::Arc<SaslConfig>) -> Self {
        Self {
            config,
            stage: Stage::Handshake,
            principal: None,
            expires: None,
            lifetime_ms: 0,
        }
    }

    /// The authenticated principal, if the session has one that has not expired.
    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }

    fn live(&self, now: Instant) -> bool {
        self.principal.is_some() && self.expires.is_none_or(|e| now < e)
    }

    /// The largest frame to accept next: small until authenticated.
    pub fn max_frame(&self, authenticated_max: usize) -> usize {
        if self.live(Instant::now()) && matches!(self.stage, Stage::Done) {
            authenticated_max
        } else {
            self.config.max_receive.min(authenticated_max)
        }
    }

    /// Whether the next frame is a bare token (after SaslHandshake v0).
    pub fn expects_raw_token(&self) -> bool {
        matches!(
            self.stage,
            Stage::Token { raw: true, .. }
                | Stage::ScramFinal { raw: true, .. }
                | Stage::OAuthFailing { raw: true, .. }
        )
    }

    /// How a request of `api` is treated in the current state.
    pub fn gate(&self, api: kafka_protocol::messages::ApiKey) -> Gate {
        use kafka_protocol::messages::ApiKey;
        match api {
            ApiKey::ApiVersions => Gate::Serve,
            ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => Gate::Sasl,
            _ if self.live(Instant::now()) && matches!(self.stage, Stage::Done) => Gate::Serve,
            _ if self.principal.is_some() && matches!(self.stage, Stage::Done) => {
                Gate::Close(format!(
                    "{api:?} after the session expired (connections.max.reauth.ms) without re-authentication"
                ))
            }
            _ => Gate::Close(format!("{api:?} before SASL authentication completed")),
        }
    }

    /// SaslHandshake: picks the mechanism. An unknown one is answered with
    /// UNSUPPORTED_SASL_MECHANISM and the list; `Err` then means "close after answering".
    pub fn handshake(
        &mut self,
        version: i16,
        req: &SaslHandshakeRequest,
    ) -> (SaslHandshakeResponse, Result<(), String>) {
        let mut resp = SaslHandshakeResponse::default();
        resp.mechanisms = self.config.names();
        let reauthenticating = self.principal.is_some();
        if !matches!(self.stage, Stage::Handshake | Stage::Done)
            || (reauthenticating && version == 0)
        {
            resp.error_code = ILLEGAL_SASL_STATE;
            return (resp, Err("SaslHandshake out of order".to_string()));
        }
        match req.mechanism.as_str().parse::<Mechanism>() {
            Ok(m) if m.name() == req.mechanism.as_str() && self.config.mechanisms.contains(&m) => {
                self.stage = Stage::Token {
                    mech: m,
                    raw: version == 0,
                };
                (resp, Ok(()))
            }
            _ => {
                resp.error_code = UNSUPPORTED_SASL_MECHANISM;
                let why = format!(
                    "SASL mechanism {:?} is not enabled on this listener",
                    req.mechanism.as_str()
                );
                (resp, Err(why))
            }
        }
    }

    /// A token from SaslAuthenticate (or a bare frame after SaslHandshake v0).
    pub fn authenticate(&mut self, token: &[u8], scram: &ScramStore) -> Step {
        let now = Instant::now();
        match std::mem::replace(&mut self.stage, Stage::Handshake) {
            Stage::Token { mech, raw } => match mech {
                Mechanism::Plain => match self.config.plain.authenticate(token) {
                    Ok(user) => self.finish(user, None, Bytes::new(), now),
                    Err(why) => Step::Failed(why),
                },
                Mechanism::OAuthBearer => match self.config.oauth.validate(token) {
                    Ok(v) => self.finish(v.principal, Some(v.expires), Bytes::new(), now),
                    Err(why) => {
                        self.stage = Stage::OAuthFailing { raw, why };
                        Step::Reply {
                            bytes: oauth::invalid_token_challenge(),
                            done: false,
                        }
                    }
                },
                Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
                    let Some(m) = mech.scram() else {
                        return Step::Failed("not a SCRAM mechanism".to_string());
                    };
                    let mut server = Box::new(ScramServer::new(m));
                    let first = match server.client_first(token) {
                        Ok(f) => f,
                        Err(e) => return Step::Failed(e.to_string()),
                    };
                    if first.extensions.iter().any(|(k, _)| k == "tokenauth") {
                        return Step::Failed(
                            "Authentication failed: delegation tokens are not supported".into(),
                        );
                    }
                    // Kafka's words for an unknown user, the same as for a wrong password.
                    let Some(credential) = scram.get(&first.username, m) else {
                        return Step::Failed(
                            "Authentication failed: Invalid user credentials".to_string(),
                        );
                    };
                    match server.server_first(&credential) {
                        Ok(msg) => {
                            self.stage = Stage::ScramFinal {
                                server,
                                user: first.username,
                                raw,
                            };
                            Step::Reply {
                                bytes: msg.into(),
                                done: false,
                            }
                        }
                        Err(e) => Step::Failed(e.to_string()),
                    }
                }
            },
            Stage::ScramFinal {
                mut server, user, ..
            } => match server.client_final(token) {
                Ok(last) => self.finish(user, None, last.into(), now),
                Err(_) => Step::Failed("Authentication failed: Invalid user credentials".into()),
            },
            // Kafka ends the exchange with the RFC 7628 status it sent; the reason follows.
            Stage::OAuthFailing { why, .. } => {
                Step::Failed(format!("{{\"status\":\"invalid_token\"}}: {why}"))
            }
            _ => Step::Failed("SaslAuthenticate without a SaslHandshake first".to_string()),
        }
    }

    fn finish(
        &mut self,
        user: String,
        token_expiry: Option<Instant>,
        last: Bytes,
        now: Instant,
    ) -> Step {
        let principal = format!("User:{user}");
        if let Some(previous) = &self.principal
            && *previous != principal
        {
            return Step::Failed(format!(
                "re-authentication as {principal} on a connection authenticated as {previous}"
            ));
        }
        self.principal = Some(principal);
        self.stage = Stage::Done;
        // KIP-368: a lifetime only when re-authentication is configured; a token that
        // expires sooner shortens it.
        self.expires = self.config.reauth.map(|d| {
            let by_config = now + d;
            token_expiry.map_or(by_config, |t| t.min(by_config))
        });
        self.lifetime_ms = self
            .expires
            .map_or(0, |e| e.saturating_duration_since(now).as_millis() as i64);
        Step::Reply {
            bytes: last,
            done: true,
        }
    }

    /// The SaslAuthenticate response for a step.
    pub fn response(&self, step: &Step) -> SaslAuthenticateResponse {
        let mut r = SaslAuthenticateResponse::default();
        match step {
            Step::Reply { bytes, done } => {
                r.auth_bytes = bytes.clone();
                if *done {
                    r.session_lifetime_ms = self.lifetime_ms;
                }
            }
            Step::Failed(why) => {
                r.error_code = SASL_AUTHENTICATION_FAILED;
                r.error_message = Some(str_bytes(why.clone()));
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ApiKey;

    fn config(kv: &[(&str, &str)]) -> std::sync::Arc<SaslConfig> {
        let mut p = BrokerProperties::default();
        for (k, v) in kv {
            p.set(k, v).unwrap();
        }
        let spec = super::super::listeners::parse(&p, "127.0.0.1:0".parse().unwrap(), None)
            .unwrap()
            .remove(0);
        std::sync::Arc::new(SaslConfig::new(&spec, &p).unwrap())
    }

    fn plain_config(extra: &[(&str, &str)]) -> std::sync::Arc<SaslConfig> {
        let mut kv = vec![
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
            ("sasl.enabled.mechanisms", "PLAIN,OAUTHBEARER"),
            (
                "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"pw\";",
            ),
        ];
        kv.extend_from_slice(extra);
        config(&kv)
    }

    fn store() -> ScramStore {
        ScramStore::open(std::path::Path::new("/nonexistent-odradek-test")).unwrap()
    }

    fn handshake(s: &mut SaslSession, version: i16, mech: &str) -> i16 {
        let mut req = SaslHandshakeRequest::default();
        req.mechanism = str_bytes(mech);
        s.handshake(version, &req).0.error_code
    }

    #[test]
    fn only_sasl_before_authentication() {
        let mut s = SaslSession::new(plain_config(&[]));
        assert_eq!(s.gate(ApiKey::ApiVersions), Gate::Serve);
        assert!(matches!(s.gate(ApiKey::Metadata), Gate::Close(_)));
        assert_eq!(s.max_frame(100 << 20), 524_288);
        assert_eq!(handshake(&mut s, 1, "PLAIN"), 0);
        assert!(matches!(s.gate(ApiKey::Produce), Gate::Close(_)));
        let step = s.authenticate(b"\0alice\0pw", &store());
        assert!(matches!(step, Step::Reply { done: true, .. }), "{step:?}");
        assert_eq!(s.gate(ApiKey::Produce), Gate::Serve);
        assert_eq!(s.principal(), Some("User:alice"));
        assert_eq!(s.max_frame(100 << 20), 100 << 20);
        assert_eq!(s.response(&step).session_lifetime_ms, 0);
    }

    #[test]
    fn wrong_password_and_unknown_mechanism() {
        let mut s = SaslSession::new(plain_config(&[]));
        assert_eq!(handshake(&mut s, 1, "GSSAPI"), UNSUPPORTED_SASL_MECHANISM);
        let mut s = SaslSession::new(plain_config(&[]));
        assert_eq!(handshake(&mut s, 1, "PLAIN"), 0);
        let step = s.authenticate(b"\0alice\0nope", &store());
        assert_eq!(s.response(&step).error_code, SASL_AUTHENTICATION_FAILED);
        assert!(s.principal().is_none());
    }

    #[test]
    fn reauthentication_keeps_the_principal() {
        let mut s = SaslSession::new(plain_config(&[("connections.max.reauth.ms", "60000")]));
        assert_eq!(handshake(&mut s, 1, "PLAIN"), 0);
        let step = s.authenticate(b"\0alice\0pw", &store());
        let lifetime = s.response(&step).session_lifetime_ms;
        assert!(lifetime > 59_000 && lifetime <= 60_000, "{lifetime}");
        assert_eq!(handshake(&mut s, 1, "PLAIN"), 0);
        assert!(matches!(
            s.authenticate(b"\0alice\0pw", &store()),
            Step::Reply { done: true, .. }
        ));
        s.expires = Some(Instant::now() - Duration::from_millis(1));
        assert!(matches!(s.gate(ApiKey::Produce), Gate::Close(_)), "expired");
        assert_eq!(s.gate(ApiKey::SaslHandshake), Gate::Sasl);
        assert_eq!(handshake(&mut s, 1, "PLAIN"), 0);
        assert!(matches!(
            s.authenticate(b"\0alice\0pw", &store()),
            Step::Reply { done: true, .. }
        ));
        assert_eq!(s.gate(ApiKey::Produce), Gate::Serve);
    }

    #[test]
    fn handshake_v0_means_raw_tokens() {
        let mut s = SaslSession::new(plain_config(&[]));
        assert_eq!(handshake(&mut s, 0, "PLAIN"), 0);
        assert!(s.expects_raw_token());
        assert!(matches!(
            s.authenticate(b"\0alice\0pw", &store()),
            Step::Reply { done: true, .. }
        ));
        assert!(!s.expects_raw_token());
    }

    #[test]
    fn plain_needs_users() {
        let mut p = BrokerProperties::default();
        p.set("listeners", "SASL_SSL://127.0.0.1:0").unwrap();
        p.set("sasl.enabled.mechanisms", "PLAIN").unwrap();
        let spec = super::super::listeners::parse(&p, "127.0.0.1:0".parse().unwrap(), None)
            .unwrap()
            .remove(0);
        let e = SaslConfig::new(&spec, &p).unwrap_err();
        assert!(e.contains("plain.sasl.jaas.config"), "{e}");
        p.set("sasl.enabled.mechanisms", "GSSAPI").unwrap();
        assert!(SaslConfig::new(&spec, &p).unwrap_err().contains("GSSAPI"));
    }
}
