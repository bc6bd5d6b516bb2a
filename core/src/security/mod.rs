//! A client's security settings, read once from its config: the transport (`security.protocol`),
//! the TLS client config built from `ssl.*` (PEM files and text are read here, so a bad path or
//! PEM fails when the client is created, naming the key), and the SASL mechanism with its
//! credentials or token source.
//!
//! Secrets stay inside [`Secret`] and the redacting `Debug` impls below; nothing here logs.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use odradek_protocol::sasl::oauthbearer::{Token, UnsecuredJwtConfig};
use odradek_protocol::sasl::{Mechanism, Secret};
use odradek_socket::rustls;
use odradek_socket::tls::{Roots, TlsOptions};

use crate::config::Config;
use crate::error::{Error, Result};

mod https;
pub mod oidc;

use oidc::{OidcSettings, OidcTokens};

pub use odradek_protocol::security::SecurityProtocol;

/// The future an OAUTHBEARER token provider returns.
pub type TokenFuture = Pin<Box<dyn Future<Output = std::result::Result<Token, String>> + Send>>;

/// An OAUTHBEARER token provider: called for the first token and again before each token
/// expires (re-authentication). An `Err` fails the login with the provider's message.
#[derive(Clone)]
pub struct TokenProvider(Arc<dyn Fn() -> TokenFuture + Send + Sync>);

impl TokenProvider {
    /// A provider from an async function or a closure returning a future.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Token, String>> + Send + 'static,
    {
        TokenProvider(Arc::new(move || Box::pin(f())))
    }

    /// A provider from a blocking function (run on the blocking pool).
    pub fn blocking<F>(f: F) -> Self
    where
        F: Fn() -> std::result::Result<Token, String> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        TokenProvider::new(move || {
            let f = f.clone();
            async move {
                tokio::task::spawn_blocking(move || f())
                    .await
                    .map_err(|e| format!("the token provider panicked: {e}"))?
            }
        })
    }

    pub(crate) fn call(&self) -> TokenFuture {
        (self.0)()
    }
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenProvider")
    }
}

impl PartialEq for TokenProvider {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TokenProvider {}

/// Where OAUTHBEARER tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The application's provider ([`Config::set_oauthbearer_token_provider`]).
    Provider(TokenProvider),
    /// An unsecured JWT built from `sasl.oauthbearer.config` (tests only).
    Unsecured(UnsecuredJwtConfig),
    /// OIDC client credentials (`sasl.oauthbearer.method=oidc`).
    Oidc(Arc<OidcTokens>),
}

impl TokenSource {
    /// A fresh token.
    pub(crate) async fn token(&self) -> std::result::Result<Token, String> {
        match self {
            TokenSource::Provider(p) => p.call().await,
            TokenSource::Unsecured(cfg) => Ok(cfg.build(now_ms())),
            TokenSource::Oidc(oidc) => oidc.token().await,
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The SASL side of the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslSettings {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// `sasl.username` (PLAIN, SCRAM).
    pub username: String,
    /// `sasl.password` (PLAIN, SCRAM); `Debug` redacts it.
    pub password: Secret,
    /// OAUTHBEARER's token source.
    pub tokens: Option<TokenSource>,
}

/// Everything a connection needs to secure itself.
#[derive(Clone)]
pub struct Security {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// The TLS client config (SSL, SASL_SSL).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// SASL (SASL_PLAINTEXT, SASL_SSL).
    pub sasl: Option<SaslSettings>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            protocol: SecurityProtocol::Plaintext,
            tls: None,
            sasl: None,
        }
    }
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Security")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl PartialEq for Security {
    fn eq(&self, other: &Self) -> bool {
        self.protocol == other.protocol
            && self.sasl == other.sasl
            && match (&self.tls, &other.tls) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Eq for Security {}

impl Security {
    /// Reads and checks the security properties of `config`.
    pub fn from_config(config: &Config) -> Result<Security> {
        // The config checker has already refused any other spelling.
        let protocol = config
            .get("security.protocol")
            .and_then(SecurityProtocol::parse)
            .unwrap_or(SecurityProtocol::Plaintext);
        let tls = if protocol.uses_tls() {
            Some(tls_config(config)?)
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            Some(sasl_settings(config)?)
        } else {
            None
        };
        Ok(Security {
            protocol,
            tls,
            sasl,
        })
    }
}

/// A PEM value given as a file (`<name>.location`) or as text (`<name>.pem`), not both.
fn pem(config: &Config, name: &str) -> Result<Option<Vec<u8>>> {
    let location_key = format!("{name}.location");
    let pem_key = format!("{name}.pem");
    match (config.get(&location_key), config.get(&pem_key)) {
        (Some(_), Some(_)) => Err(Error::config(
            &pem_key,
            format!("set either {location_key} or {pem_key}, not both"),
        )),
        (Some(path), None) => {
            let read = if name.ends_with(".ca") {
                odradek_socket::tls::read_ca_location(Path::new(path))
            } else {
                std::fs::read(path)
            };
            read.map(Some)
                .map_err(|e| Error::config(&location_key, format!("cannot read {path:?}: {e}")))
        }
        (None, Some(text)) => Ok(Some(text.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn tls_config(config: &Config) -> Result<Arc<rustls::ClientConfig>> {
    let roots = match pem(config, "ssl.ca")? {
        Some(pem) => Roots::Pem(pem),
        None => Roots::System,
    };
    let key_origin = match config.get("ssl.key.location") {
        Some(path) => format!("ssl.key.location {path}"),
        None => "ssl.key.pem".to_string(),
    };
    let options = TlsOptions {
        roots,
        certificate_pem: pem(config, "ssl.certificate")?,
        key_pem: pem(config, "ssl.key")?,
        key_origin,
        key_password: config.get("ssl.key.password").map(str::to_string),
        verify_hostname: config.get("ssl.endpoint.identification.algorithm") == Some("https"),
        verify_certificate: config.get("enable.ssl.certificate.verification") == Some("true"),
    };
    odradek_socket::tls::client_config(&options)
        .map_err(|e| Error::config("security.protocol", format!("TLS setup: {e}")))
}

fn sasl_settings(config: &Config) -> Result<SaslSettings> {
    let word = config.get("sasl.mechanism").unwrap_or("GSSAPI");
    let mechanism: Mechanism = word.parse().map_err(|_| {
        Error::config(
            "sasl.mechanism",
            format!(
                "{word} is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
            ),
        )
    })?;
    let username = config.get("sasl.username").unwrap_or("").to_string();
    let password = Secret::new(config.get("sasl.password").unwrap_or(""));
    let mut tokens = None;
    match mechanism {
        Mechanism::Plain | Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
            if username.is_empty() {
                return Err(Error::config(
                    "sasl.username",
                    format!("is required for {mechanism}"),
                ));
            }
            if password.expose().is_empty() {
                return Err(Error::config(
                    "sasl.password",
                    format!("is required for {mechanism}"),
                ));
            }
        }
        Mechanism::OAuthBearer => {
            let oidc = config.get("sasl.oauthbearer.method") == Some("oidc");
            if oidc && config.oauthbearer_token_provider().is_some() {
                return Err(Error::config(
                    "sasl.oauthbearer.method",
                    "oidc fetches tokens itself: set either a token provider or \
                     sasl.oauthbearer.method=oidc, not both",
                ));
            }
            tokens = Some(if oidc {
                TokenSource::Oidc(Arc::new(OidcTokens::new(oidc_settings(config)?)))
            } else if let Some(provider) = config.oauthbearer_token_provider() {
                TokenSource::Provider(provider.clone())
            } else if config.get("enable.sasl.oauthbearer.unsecure.jwt") == Some("true") {
                let text = config.get("sasl.oauthbearer.config").unwrap_or("");
                TokenSource::Unsecured(
                    UnsecuredJwtConfig::parse(text)
                        .map_err(|e| Error::config("sasl.oauthbearer.config", e))?,
                )
            } else {
                return Err(Error::config(
                    "sasl.mechanism",
                    "OAUTHBEARER needs a token provider, or enable.sasl.oauthbearer.unsecure.jwt=true \
                     with sasl.oauthbearer.config for an unsecured test token",
                ));
            });
        }
    }
    Ok(SaslSettings {
        mechanism,
        username,
        password,
        tokens,
    })
}

/// The OIDC settings of `config` (`sasl.oauthbearer.method=oidc`).
fn oidc_settings(config: &Config) -> Result<OidcSettings> {
    let required = |key: &str| {
        config
            .get(key)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| Error::config(key, "is required for sasl.oauthbearer.method=oidc"))
    };
    let url_key = "sasl.oauthbearer.token.endpoint.url";
    let endpoint =
        https::HttpsUrl::parse(required(url_key)?).map_err(|e| Error::config(url_key, e))?;
    let client_id = required("sasl.oauthbearer.client.id")?.to_string();
    let client_secret = Secret::new(required("sasl.oauthbearer.client.secret")?);
    let extensions =
        oidc::parse_extensions(config.get("sasl.oauthbearer.extensions").unwrap_or(""))
            .map_err(|e| Error::config("sasl.oauthbearer.extensions", e))?;
    let roots = match pem(config, "https.ca")? {
        Some(pem) => Roots::Pem(pem),
        None => Roots::System,
    };
    let tls = odradek_socket::tls::client_config(&TlsOptions {
        roots,
        verify_hostname: true,
        verify_certificate: true,
        ..TlsOptions::default()
    })
    .map_err(|e| {
        Error::config(
            "https.ca.location",
            format!("the token endpoint's TLS: {e}"),
        )
    })?;
    Ok(OidcSettings {
        endpoint,
        client_id,
        client_secret,
        scope: config
            .get("sasl.oauthbearer.scope")
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string),
        extensions,
        principal_claim: config
            .get("sasl.oauthbearer.sub.claim.name")
            .unwrap_or("sub")
            .to_string(),
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut c = Config::new();
        c.set("bootstrap.servers", "127.0.0.1:9092").unwrap();
        for (k, v) in pairs {
            c.set(k, v).unwrap();
        }
        c
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        Security::from_config(&config(pairs))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn plaintext_by_default_and_names_any_case() {
        let s = Security::from_config(&config(&[])).unwrap();
        assert_eq!(s.protocol, SecurityProtocol::Plaintext);
        assert!(s.tls.is_none() && s.sasl.is_none());
        let s = Security::from_config(&config(&[
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanisms", "scram-sha-256"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
        ]))
        .unwrap();
        assert_eq!(s.protocol, SecurityProtocol::SaslPlaintext);
        assert_eq!(s.sasl.unwrap().mechanism, Mechanism::ScramSha256);
    }

    #[test]
    fn bad_settings_name_the_key_and_never_the_password() {
        let sasl = [
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.password", "hunter2"),
        ];
        let e = error(&sasl);
        assert!(e.contains("sasl.mechanism") && e.contains("GSSAPI"), "{e}");
        let e = error(&[sasl[0], sasl[1], ("sasl.mechanism", "PLAIN")]);
        assert!(e.contains("sasl.username"), "{e}");
        let e = error(&[
            sasl[0],
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "u"),
        ]);
        assert!(e.contains("sasl.password"), "{e}");
        let e = error(&[sasl[0], ("sasl.mechanism", "OAUTHBEARER")]);
        assert!(e.contains("token provider"), "{e}");
        let oidc = [
            sasl[0],
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.oauthbearer.method", "oidc"),
        ];
        let e = error(&oidc);
        assert!(e.contains("sasl.oauthbearer.token.endpoint.url"), "{e}");
        let url = ("sasl.oauthbearer.token.endpoint.url", "http://idp/token");
        let e = error(&[oidc[0], oidc[1], oidc[2], url]);
        assert!(e.contains("https"), "{e}");
        let url = ("sasl.oauthbearer.token.endpoint.url", "https://idp/token");
        let id = ("sasl.oauthbearer.client.id", "svc");
        let e = error(&[oidc[0], oidc[1], oidc[2], url, id]);
        assert!(e.contains("sasl.oauthbearer.client.secret"), "{e}");
        let mut full = vec![
            oidc[0],
            oidc[1],
            oidc[2],
            url,
            id,
            ("sasl.oauthbearer.client.secret", "hunter4"),
        ];
        let e = error(
            &[
                full.as_slice(),
                &[("sasl.oauthbearer.extensions", "auth=x")],
            ]
            .concat(),
        );
        assert!(
            e.contains("sasl.oauthbearer.extensions") && !e.contains("hunter4"),
            "{e}"
        );
        let ca = rcgen::CertificateParams::new(vec!["idp".to_string()])
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .pem();
        full.push(("https.ca.pem", &ca));
        let s = Security::from_config(&config(&full)).unwrap();
        let debug = format!("{s:?}");
        assert!(
            debug.contains("Oidc") && !debug.contains("hunter4"),
            "{debug}"
        );
        let e = error(&[
            sasl[0],
            ("sasl.mechanism", "OAUTHBEARER"),
            ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            ("sasl.oauthbearer.config", "scope=x"),
        ]);
        assert!(e.contains("principal"), "{e}");
        let e = error(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/nonexistent/ca.pem"),
            ("ssl.ca.pem", "x"),
        ]);
        assert!(e.contains("not both"), "{e}");
        let e = error(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/nonexistent/ca.pem"),
        ]);
        assert!(
            e.contains("ssl.ca.location") && e.contains("cannot read"),
            "{e}"
        );
        let e = error(&[("security.protocol", "SSL"), ("ssl.ca.pem", "not a pem")]);
        assert!(e.contains("CERTIFICATE"), "{e}");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("client.key");
        std::fs::write(
            &key_file,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let key_path = key_file.display().to_string();
        let mtls = [
            ("security.protocol", "SSL"),
            ("ssl.certificate.pem", cert.as_str()),
            ("ssl.key.location", key_path.as_str()),
        ];
        let e = error(&mtls);
        assert!(
            e.contains(&key_path) && e.contains("no ssl.key.password is set"),
            "{e}"
        );
        let e = error(&[mtls[0], mtls[1], mtls[2], ("ssl.key.password", "hunter2")]);
        assert!(e.contains(&key_path) && e.contains("not valid"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(!error(&sasl).contains("hunter2"));
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let c = config(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
            ("sasl.password", "hunter2"),
            ("ssl.key.password", "hunter3"),
        ]);
        let security = Security::from_config(&c).unwrap();
        for text in [format!("{c:?}"), format!("{security:?}")] {
            assert!(
                !text.contains("hunter2") && !text.contains("hunter3"),
                "{text}"
            );
        }
        assert!(format!("{c:?}").contains("[redacted]"));
        assert!(crate::config::is_secret("sasl.password"));
        assert!(!crate::config::is_secret("sasl.username"));
    }
}
