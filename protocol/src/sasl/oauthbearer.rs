//! OAUTHBEARER (RFC 7628) as Kafka uses it, and unsecured JWTs (`"alg":"none"`) for tests.
//!
//! The client sends one message, `n,,\x01auth=Bearer <token>\x01[key=value\x01...]\x01`. A
//! server that refuses the token answers with a JSON error; the client then sends a lone
//! `\x01` ([`CLIENT_ERROR_ACK`]) and the server fails the exchange.
//!
//! ```
//! use odradek_protocol::sasl::oauthbearer::{self, UnsecuredJwtConfig};
//!
//! let config = UnsecuredJwtConfig::parse("principal=alice scope=read lifeSeconds=60").unwrap();
//! let token = config.build(1_700_000_000_000);
//! let msg = oauthbearer::client_message(token.value.expose(), &[]);
//! let parsed = oauthbearer::parse_client_message(&msg).unwrap();
//! let claims = oauthbearer::parse_unsecured_jwt(parsed.token.expose(), "sub", 1_700_000_001_000).unwrap();
//! assert_eq!(claims.principal, "alice");
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::{Map, Value, json};

use super::{SaslError, Secret};

const MECHANISM: &str = "OAUTHBEARER";
const KVSEP: char = '\u{1}';

/// What the client sends after the server's error challenge, so the server can fail the
/// exchange (RFC 7628 §3.2.3).
pub const CLIENT_ERROR_ACK: &[u8] = &[1];

/// A bearer token with its lifetime, as a token provider hands it to the client.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The compact JWT (or any bearer token); `Debug` redacts it.
    pub value: Secret,
    /// The principal the token names (for logs).
    pub principal: String,
    /// When the token expires, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    /// SASL extensions to send with it (`extension_<name>=<value>` in the config).
    pub extensions: Vec<(String, String)>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &self.value)
            .field("principal", &self.principal)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// The client's initial response. Extension keys must be letters only and values printable, as
/// RFC 7628 requires; the caller's config checker enforces that ([`UnsecuredJwtConfig::parse`]).
pub fn client_message(token: &str, extensions: &[(String, String)]) -> Vec<u8> {
    let mut msg = format!("n,,{KVSEP}auth=Bearer {token}{KVSEP}");
    for (k, v) in extensions {
        msg.push_str(&format!("{k}={v}{KVSEP}"));
    }
    msg.push(KVSEP);
    msg.into_bytes()
}

/// What a server reads from the client's initial response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    /// The bearer token; `Debug` redacts it.
    pub token: Secret,
    /// The authorization id from the GS2 header, if any.
    pub authzid: Option<String>,
    /// Extensions, in order.
    pub extensions: Vec<(String, String)>,
}

/// Parses the client's initial response (RFC 7628 §3.1).
pub fn parse_client_message(msg: &[u8]) -> Result<ClientMessage, SaslError> {
    let malformed = |why: &str| SaslError::Malformed {
        mechanism: MECHANISM,
        what: "client message",
        why: why.to_string(),
    };
    let text = std::str::from_utf8(msg).map_err(|_| malformed("not UTF-8"))?;
    let (gs2, rest) = text
        .split_once(KVSEP)
        .ok_or_else(|| malformed("no GS2 header"))?;
    let mut gs2_parts = gs2.split(',');
    let (Some(cbind), Some(authzid), Some(""), None) = (
        gs2_parts.next(),
        gs2_parts.next(),
        gs2_parts.next(),
        gs2_parts.next(),
    ) else {
        return Err(malformed("bad GS2 header"));
    };
    if cbind != "n" && cbind != "y" {
        return Err(malformed("channel binding is not supported"));
    }
    let authzid = match authzid {
        "" => None,
        a => Some(
            a.strip_prefix("a=")
                .ok_or_else(|| malformed("bad authorization id"))?
                .to_string(),
        ),
    };
    let body = rest
        .strip_suffix(&format!("{KVSEP}{KVSEP}"))
        .ok_or_else(|| malformed("missing the closing separators"))?;
    let mut token = None;
    let mut extensions = Vec::new();
    for pair in body.split(KVSEP) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| malformed("a key without '='"))?;
        if k == "auth" {
            let t = v
                .strip_prefix("Bearer ")
                .ok_or_else(|| malformed("auth is not 'Bearer <token>'"))?;
            if t.is_empty() {
                return Err(malformed("empty token"));
            }
            token = Some(Secret::new(t));
        } else if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphabetic()) {
            extensions.push((k.to_string(), v.to_string()));
        } else {
            return Err(malformed("an extension key that is not letters only"));
        }
    }
    Ok(ClientMessage {
        token: token.ok_or_else(|| malformed("no auth=Bearer"))?,
        authzid,
        extensions,
    })
}

/// The JSON error a server sends for a token it refuses (RFC 7628 §3.2.2).
pub fn server_error_message(status: &str, scope: Option<&str>) -> Vec<u8> {
    let mut v = json!({ "status": status });
    if let Some(scope) = scope {
        v["scope"] = Value::String(scope.to_string());
    }
    v.to_string().into_bytes()
}

/// Reads a server's error challenge into words for an error message.
pub fn describe_server_error(msg: &[u8]) -> String {
    match serde_json::from_slice::<Value>(msg) {
        Ok(Value::Object(o)) => {
            let field = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
            let mut s = format!("status {}", field("status").unwrap_or_else(|| "?".into()));
            if let Some(scope) = field("scope") {
                s.push_str(&format!(", scope {scope}"));
            }
            s
        }
        _ => format!("{} bytes that are not a JSON error", msg.len()),
    }
}

/// `sasl.oauthbearer.config` for the unsecured JWT librdkafka and Kafka's unsecured login
/// module build: space-separated `principalClaimName=`, `principal=` (required),
/// `scopeClaimName=`, `scope=` (comma-separated), `lifeSeconds=` and `extension_<name>=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredJwtConfig {
    /// The claim that names the principal (default `sub`).
    pub principal_claim: String,
    /// The principal.
    pub principal: String,
    /// The claim that holds the scope (default `scope`).
    pub scope_claim: String,
    /// Scope values.
    pub scope: Vec<String>,
    /// Token lifetime in seconds (default 3600).
    pub life_seconds: i64,
    /// SASL extensions.
    pub extensions: Vec<(String, String)>,
}

impl UnsecuredJwtConfig {
    /// Parses the config string.
    pub fn parse(config: &str) -> Result<Self, SaslError> {
        let bad = |why: String| SaslError::Config {
            mechanism: MECHANISM,
            why: format!("sasl.oauthbearer.config: {why}"),
        };
        let mut out = UnsecuredJwtConfig {
            principal_claim: "sub".into(),
            principal: String::new(),
            scope_claim: "scope".into(),
            scope: Vec::new(),
            life_seconds: 3600,
            extensions: Vec::new(),
        };
        for pair in config.split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("'{pair}' is not key=value")))?;
            match k {
                "principalClaimName" => out.principal_claim = v.to_string(),
                "principal" => out.principal = v.to_string(),
                "scopeClaimName" => out.scope_claim = v.to_string(),
                "scope" => {
                    out.scope = v
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                }
                "lifeSeconds" => {
                    out.life_seconds = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        bad(format!("lifeSeconds '{v}' is not a positive number"))
                    })?;
                }
                _ => {
                    let name = k
                        .strip_prefix("extension_")
                        .ok_or_else(|| bad(format!("unknown key '{k}'")))?;
                    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
                        return Err(bad(format!("extension name '{name}' must be letters only")));
                    }
                    if name == "auth" {
                        return Err(bad("extension name 'auth' is reserved".into()));
                    }
                    out.extensions.push((name.to_string(), v.to_string()));
                }
            }
        }
        if out.principal.is_empty() {
            return Err(bad("principal=... is required".into()));
        }
        if out.principal_claim.is_empty() || out.scope_claim.is_empty() {
            return Err(bad("claim names must not be empty".into()));
        }
        Ok(out)
    }

    /// An unsecured JWT issued at `now_ms`, expiring `lifeSeconds` later.
    pub fn build(&self, now_ms: i64) -> Token {
        let header = B64URL.encode(br#"{"alg":"none"}"#);
        let iat = now_ms / 1000;
        let exp = iat + self.life_seconds;
        let mut claims = Map::new();
        claims.insert(self.principal_claim.clone(), json!(self.principal));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(exp));
        if !self.scope.is_empty() {
            claims.insert(self.scope_claim.clone(), json!(self.scope));
        }
        let payload = B64URL.encode(Value::Object(claims).to_string());
        Token {
            value: Secret::new(format!("{header}.{payload}.")),
            principal: self.principal.clone(),
            expires_at_ms: exp * 1000,
            extensions: self.extensions.clone(),
        }
    }
}

/// The claims a JWT was checked for (unsecured or signed).
#[derive(Debug, Clone, PartialEq)]
pub struct JwtClaims {
    /// The principal (the value of the principal claim).
    pub principal: String,
    /// `exp`, in milliseconds since the epoch.
    pub expires_at_ms: i64,
    /// `iat`, in milliseconds since the epoch, if present.
    pub issued_at_ms: Option<i64>,
    /// The scope claim (`scope`): a space-separated string or an array.
    pub scope: Vec<String>,
}

/// A compact JWS taken apart, nothing checked yet.
#[derive(Debug, Clone)]
pub struct DecodedJwt<'a> {
    /// The header (`alg`, `kid`, ...).
    pub header: Map<String, Value>,
    /// The payload's claims.
    pub claims: Map<String, Value>,
    /// `<header>.<payload>` as sent: what the signature covers.
    pub signing_input: &'a str,
    /// The signature, base64url-decoded (empty for an unsecured JWT).
    pub signature: Vec<u8>,
}

fn invalid_token(why: &str) -> SaslError {
    SaslError::InvalidToken {
        mechanism: MECHANISM,
        why: why.to_string(),
    }
}

/// Splits and decodes a compact JWT (three base64url parts, the first two JSON objects).
pub fn decode_jwt(token: &str) -> Result<DecodedJwt<'_>, SaslError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid_token(
            "not a compact JWT (three dot-separated parts)",
        ));
    };
    let json_part = |part: &str, what: &str| -> Result<Map<String, Value>, SaslError> {
        let bytes = B64URL
            .decode(part.trim_end_matches('='))
            .map_err(|_| invalid_token(&format!("the {what} is not base64url")))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err(invalid_token(&format!("the {what} is not a JSON object"))),
        }
    };
    Ok(DecodedJwt {
        header: json_part(header, "header")?,
        claims: json_part(payload, "payload")?,
        signing_input: &token[..header.len() + 1 + payload.len()],
        signature: B64URL
            .decode(signature.trim_end_matches('='))
            .map_err(|_| invalid_token("the signature is not base64url"))?,
    })
}

/// Checks the claims every Kafka validator requires: a numeric `exp` after `now_ms` and a
/// non-blank string principal claim; reads `iat` and `scope`.
pub fn check_claims(
    claims: &Map<String, Value>,
    principal_claim: &str,
    now_ms: i64,
) -> Result<JwtClaims, SaslError> {
    let millis = |name: &str| -> Result<Option<i64>, SaslError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(|s| Some((s * 1000.0) as i64))
                .ok_or_else(|| invalid_token(&format!("the '{name}' claim is not a number"))),
        }
    };
    let expires_at_ms = millis("exp")?.ok_or_else(|| invalid_token("no 'exp' claim"))?;
    if expires_at_ms <= now_ms {
        return Err(invalid_token("the token has expired"));
    }
    let issued_at_ms = millis("iat")?;
    let principal = match claims.get(principal_claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(invalid_token(&format!(
                "no string '{principal_claim}' claim naming the principal"
            )));
        }
    };
    let scope = match claims.get("scope") {
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    Ok(JwtClaims {
        principal,
        expires_at_ms,
        issued_at_ms,
        scope,
    })
}

/// Parses and checks an unsecured JWT as Kafka's unsecured validator does: header
/// `"alg":"none"`, empty signature, a string principal claim, a numeric `exp` in the future.
pub fn parse_unsecured_jwt(
    token: &str,
    principal_claim: &str,
    now_ms: i64,
) -> Result<JwtClaims, SaslError> {
    let jwt = decode_jwt(token)?;
    if !jwt.signature.is_empty() {
        return Err(invalid_token(
            "an unsecured JWT must have an empty signature",
        ));
    }
    if jwt.header.get("alg").and_then(Value::as_str) != Some("none") {
        return Err(invalid_token("the header's alg is not \"none\""));
    }
    check_claims(&jwt.claims, principal_claim, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn client_message_layout() {
        let msg = client_message("abc.def.", &[("traceId".into(), "42".into())]);
        assert_eq!(msg, b"n,,\x01auth=Bearer abc.def.\x01traceId=42\x01\x01");
        let parsed = parse_client_message(&msg).unwrap();
        assert_eq!(parsed.token.expose(), "abc.def.");
        assert_eq!(parsed.extensions, vec![("traceId".into(), "42".into())]);
        assert_eq!(parsed.authzid, None);
        let parsed = parse_client_message(b"n,a=bob,\x01auth=Bearer t\x01\x01").unwrap();
        assert_eq!(parsed.authzid.as_deref(), Some("bob"));
    }

    #[test]
    fn malformed_client_messages_are_refused() {
        for bad in [
            &b"n,,\x01auth=Bearer t\x01"[..],
            b"n,,\x01auth=Basic t\x01\x01",
            b"n,,\x01\x01",
            b"p=x,,\x01auth=Bearer t\x01\x01",
            b"n,,\x01auth=Bearer t\x01bad-key=1\x01\x01",
            b"n,,\x01auth=Bearer \x01\x01",
        ] {
            assert!(parse_client_message(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unsecured_jwt_round_trip() {
        let cfg = UnsecuredJwtConfig::parse(
            "principalClaimName=azp principal=admin scope=a,b lifeSeconds=600 extension_traceId=7",
        )
        .unwrap();
        let token = cfg.build(NOW);
        assert_eq!(token.expires_at_ms, NOW + 600_000);
        assert_eq!(token.extensions, vec![("traceId".into(), "7".into())]);
        let claims = parse_unsecured_jwt(token.value.expose(), "azp", NOW).unwrap();
        assert_eq!(claims.principal, "admin");
        assert_eq!(claims.issued_at_ms, Some(NOW));
        assert_eq!(claims.scope, vec!["a", "b"]);
        // Expired, and the wrong principal claim.
        let err = parse_unsecured_jwt(token.value.expose(), "azp", NOW + 600_000).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        assert!(parse_unsecured_jwt(token.value.expose(), "sub", NOW).is_err());
        assert!(!format!("{token:?}").contains(token.value.expose()));
    }

    #[test]
    fn signed_or_broken_tokens_are_refused() {
        let header = B64URL.encode(br#"{"alg":"RS256"}"#);
        let payload = B64URL.encode(br#"{"sub":"a","exp":99999999999}"#);
        let none = B64URL.encode(br#"{"alg":"none"}"#);
        for (token, want) in [
            (format!("{header}.{payload}."), "alg"),
            (format!("{none}.{payload}.sig"), "signature"),
            (format!("{none}.{payload}"), "compact"),
            (format!("{none}.!!.",), "base64url"),
            (
                format!("{none}.{}.", B64URL.encode(br#"{"sub":"a"}"#)),
                "exp",
            ),
            (
                format!("{none}.{}.", B64URL.encode(br#"{"exp":99999999999}"#)),
                "principal",
            ),
        ] {
            let err = parse_unsecured_jwt(&token, "sub", NOW).unwrap_err();
            assert!(err.to_string().contains(want), "{token}: {err}");
        }
    }

    #[test]
    fn config_errors() {
        for bad in [
            "scope=x",
            "principal=a lifeSeconds=-1",
            "principal=a bogus=1",
            "principal=a extension_a-b=1",
            "principal=a extension_auth=1",
            "principal",
        ] {
            assert!(UnsecuredJwtConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_error_is_described() {
        let msg = server_error_message("invalid_token", Some("read"));
        assert_eq!(
            describe_server_error(&msg),
            "status invalid_token, scope read"
        );
        assert!(describe_server_error(b"junk").contains("not a JSON"));
    }
}
