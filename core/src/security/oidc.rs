//! OAUTHBEARER tokens from an OpenID Connect provider by the client credentials grant
//! (`sasl.oauthbearer.method=oidc`, librdkafka's keys): a POST to
//! `sasl.oauthbearer.token.endpoint.url` with `sasl.oauthbearer.client.id` and
//! `sasl.oauthbearer.client.secret` (HTTP Basic, RFC 6749 §2.3.1) and `sasl.oauthbearer.scope`;
//! `sasl.oauthbearer.extensions` go with the token to the broker.
//!
//! A token is reused until 80 % of its lifetime has passed, then fetched again. Connections
//! ask for a token at each login and re-authentication (KIP-368), which the broker schedules
//! before the token expires, so a fresh token is in use before the old one runs out.
//!
//! The client secret lives in a [`Secret`] and in the one request that sends it; no error,
//! log line or `Debug` output holds it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use odradek_protocol::sasl::Secret;
use odradek_protocol::sasl::oauthbearer::{self, Token};
use odradek_socket::rustls;
use serde_json::Value;

use super::https::{self, HttpsUrl};

/// How long one token request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The fraction of a token's lifetime after which a new one is fetched.
const REFRESH_AT: f64 = 0.8;

/// The OIDC settings of a client.
#[derive(Clone)]
pub(crate) struct OidcSettings {
    /// `sasl.oauthbearer.token.endpoint.url`.
    pub endpoint: HttpsUrl,
    /// `sasl.oauthbearer.client.id`.
    pub client_id: String,
    /// `sasl.oauthbearer.client.secret`.
    pub client_secret: Secret,
    /// `sasl.oauthbearer.scope`.
    pub scope: Option<String>,
    /// `sasl.oauthbearer.extensions`: SASL extensions sent with each token.
    pub extensions: Vec<(String, String)>,
    /// `sasl.oauthbearer.sub.claim.name`: the claim naming the principal (for logs).
    pub principal_claim: String,
    /// Trust for the endpoint's certificate (`https.ca.location` / `https.ca.pem`, else the
    /// system store).
    pub tls: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSettings")
            .field("endpoint", &self.endpoint.to_string())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .field("extensions", &self.extensions)
            .field("principal_claim", &self.principal_claim)
            .finish_non_exhaustive()
    }
}

/// Parses `sasl.oauthbearer.extensions`: `key=value` pairs separated by commas; keys are
/// letters only and not `auth`, values printable (RFC 7628 §3.1).
pub(crate) fn parse_extensions(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not key=value"))?;
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) || k == "auth" {
            return Err(format!(
                "extension key {k:?} must be letters only and not \"auth\""
            ));
        }
        if !v.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t') {
            return Err(format!("extension {k:?} has a non-printable value"));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// A token source fetching from the endpoint and caching the result.
pub struct OidcTokens {
    settings: OidcSettings,
    cached: tokio::sync::Mutex<Option<(Token, i64)>>,
}

impl fmt::Debug for OidcTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcTokens")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PartialEq for OidcTokens {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for OidcTokens {}

impl OidcTokens {
    pub(crate) fn new(settings: OidcSettings) -> Self {
        OidcTokens {
            settings,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached token while it is fresh, else a new one. Concurrent logins wait for one
    /// request rather than each sending their own.
    pub async fn token(&self) -> Result<Token, String> {
        let mut cached = self.cached.lock().await;
        let now = super::now_ms();
        if let Some((token, refresh_at)) = cached.as_ref()
            && now < *refresh_at
        {
            return Ok(token.clone());
        }
        let token = self
            .fetch(now)
            .await
            .map_err(|e| format!("OIDC token endpoint {}: {e}", self.settings.endpoint))?;
        let refresh_at = now + ((token.expires_at_ms - now) as f64 * REFRESH_AT) as i64;
        tracing::debug!(
            endpoint = %self.settings.endpoint,
            principal = %token.principal,
            expires_in_ms = token.expires_at_ms - now,
            "OIDC token fetched"
        );
        *cached = Some((token.clone(), refresh_at));
        Ok(token)
    }

    async fn fetch(&self, now: i64) -> Result<Token, String> {
        let s = &self.settings;
        let mut form = "grant_type=client_credentials".to_string();
        if let Some(scope) = &s.scope {
            form.push_str("&scope=");
            form.push_str(&https::form_encode(scope));
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            https::form_encode(&s.client_id),
            https::form_encode(s.client_secret.expose())
        ));
        let authorization = format!("Basic {basic}");
        let response = https::post_form(
            s.tls.clone(),
            &s.endpoint,
            &[("Authorization", &authorization)],
            &form,
            REQUEST_TIMEOUT,
        )
        .await;
        drop(authorization);
        let response = response?;
        if response.status != 200 {
            return Err(format!(
                "HTTP {}: {}",
                response.status,
                error_summary(&response.body)
            ));
        }
        token_from_response(
            &response.body,
            &s.client_id,
            &s.principal_claim,
            &s.extensions,
            now,
        )
    }
}

/// What an error response says (RFC 6749 §5.2 `error` and `error_description`), shortened.
fn error_summary(body: &[u8]) -> String {
    if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
        let field = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
        let (error, description) = (field("error"), field("error_description"));
        if !error.is_empty() {
            return if description.is_empty() {
                error.to_string()
            } else {
                format!("{error}: {description}")
            };
        }
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(200).collect();
    if text.trim().is_empty() {
        "no body".to_string()
    } else {
        text
    }
}

/// The token of a successful response: `access_token`, its lifetime from the JWT's `exp` (or
/// `expires_in` for an opaque token), its principal from the principal claim (or the client
/// id).
fn token_from_response(
    body: &[u8],
    client_id: &str,
    principal_claim: &str,
    extensions: &[(String, String)],
    now_ms: i64,
) -> Result<Token, String> {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return Err("the response is not a JSON object".into());
    };
    let access = o
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("the response has no access_token")?;
    let expires_in_ms = o
        .get("expires_in")
        .and_then(Value::as_f64)
        .map(|s| now_ms + (s * 1000.0) as i64);
    let (principal, expires_at_ms) = match oauthbearer::decode_jwt(access) {
        Ok(jwt) => {
            let claims = oauthbearer::check_claims(&jwt.claims, principal_claim, now_ms)
                .map_err(|e| format!("the access token is not usable: {e}"))?;
            (claims.principal, claims.expires_at_ms)
        }
        Err(_) => (
            client_id.to_string(),
            expires_in_ms.ok_or("the access token is not a JWT and has no expires_in")?,
        ),
    };
    if expires_at_ms <= now_ms {
        return Err("the access token has already expired".into());
    }
    Ok(Token {
        value: Secret::new(access),
        principal,
        expires_at_ms,
        extensions: extensions.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn jwt(claims: &str) -> String {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", b(r#"{"alg":"RS256"}"#), b(claims))
    }

    #[test]
    fn responses_become_tokens() {
        let body = format!(
            r#"{{"access_token":"{}","token_type":"Bearer","expires_in":300}}"#,
            jwt(r#"{"sub":"svc-a","exp":1700000600}"#)
        );
        let ext = vec![("tenant".to_string(), "blue".to_string())];
        let t = token_from_response(body.as_bytes(), "id", "sub", &ext, NOW).unwrap();
        assert_eq!(t.principal, "svc-a");
        assert_eq!(t.expires_at_ms, 1_700_000_600_000);
        assert_eq!(t.extensions, ext);
        let t = token_from_response(
            br#"{"access_token":"opaque-123","expires_in":60}"#,
            "id",
            "sub",
            &[],
            NOW,
        )
        .unwrap();
        assert_eq!(
            (t.principal.as_str(), t.expires_at_ms),
            ("id", NOW + 60_000)
        );
        let e = token_from_response(br#"{"access_token":"opaque"}"#, "id", "sub", &[], NOW)
            .unwrap_err();
        assert!(e.contains("expires_in"), "{e}");
        let expired = format!(
            r#"{{"access_token":"{}"}}"#,
            jwt(r#"{"sub":"a","exp":1600000000}"#)
        );
        let e = token_from_response(expired.as_bytes(), "id", "sub", &[], NOW).unwrap_err();
        assert!(e.contains("expired"), "{e}");
        assert!(token_from_response(b"[]", "id", "sub", &[], NOW).is_err());
    }

    #[test]
    fn error_bodies_and_extensions() {
        assert_eq!(
            error_summary(br#"{"error":"invalid_client","error_description":"bad secret"}"#),
            "invalid_client: bad secret"
        );
        assert_eq!(error_summary(b""), "no body");
        assert_eq!(
            parse_extensions("supportFeatureX=true, organizationId=sales-emea").unwrap(),
            vec![
                ("supportFeatureX".to_string(), "true".to_string()),
                ("organizationId".to_string(), "sales-emea".to_string())
            ]
        );
        assert!(parse_extensions("auth=x").is_err());
        assert!(parse_extensions("a1=x").is_err());
        assert!(parse_extensions("novalue").is_err());
    }
}
