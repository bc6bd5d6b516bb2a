//! SASL/OAUTHBEARER (RFC 7628) with Kafka's default broker-side validator: unsecured JWTs
//! (`alg: none`), for development and tests only — anyone can mint such a token. The options
//! are those of Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler`, read from
//! `listener.name.<listener>.oauthbearer.sasl.jaas.config`:
//! `unsecuredValidatorPrincipalClaimName` (default `sub`),
//! `unsecuredValidatorRequiredScope`, `unsecuredValidatorAllowableClockSkewMs`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;

use super::listeners::ListenerSpec;
use super::plain::jaas_options;
use crate::config::BrokerProperties;

/// The RFC 7628 error a server sends for a token it refuses; the client answers `%x01`.
pub const INVALID_TOKEN_JSON: &[u8] = br#"{"status":"invalid_token"}"#;

#[derive(Debug, Clone)]
pub struct UnsecuredJwtValidator {
    principal_claim: String,
    required_scope: Vec<String>,
    clock_skew: Duration,
}

/// A token that passed.
#[derive(Debug)]
pub struct Validated {
    pub principal: String,
    pub expires: Instant,
}

impl UnsecuredJwtValidator {
    pub fn from_props(spec: &ListenerSpec, props: &BrokerProperties) -> Result<Self, String> {
        let key = format!(
            "listener.name.{}.oauthbearer.sasl.jaas.config",
            spec.name.to_ascii_lowercase()
        );
        let options = match props.get(&key) {
            Some(text) => jaas_options(text).map_err(|e| format!("{key}: {e}"))?,
            None => Vec::new(),
        };
        let opt = |name: &str| {
            options
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let clock_skew = match opt("unsecuredValidatorAllowableClockSkewMs") {
            Some(v) => Duration::from_millis(v.parse().map_err(|_| {
                format!("{key}: unsecuredValidatorAllowableClockSkewMs={v} is not a number")
            })?),
            None => Duration::ZERO,
        };
        Ok(Self {
            principal_claim: opt("unsecuredValidatorPrincipalClaimName")
                .unwrap_or("sub")
                .to_string(),
            required_scope: opt("unsecuredValidatorRequiredScope")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            clock_skew,
        })
    }

    /// Checks the client's first message (`gs2-header %x01 auth=Bearer <jwt> %x01 %x01`).
    /// The error says what is wrong with the token (never the token).
    pub fn validate(&self, message: &[u8]) -> Result<Validated, String> {
        let text = std::str::from_utf8(message)
            .map_err(|_| "OAUTHBEARER message is not UTF-8".to_string())?;
        let mut parts = text.split('\u{1}');
        let gs2 = parts.next().unwrap_or("");
        if !gs2.starts_with("n,") {
            return Err("OAUTHBEARER message lacks the GS2 header".to_string());
        }
        let token = parts
            .find_map(|kv| kv.strip_prefix("auth="))
            .and_then(|a| {
                a.strip_prefix("Bearer ")
                    .or_else(|| a.strip_prefix("bearer "))
            })
            .ok_or_else(|| "OAUTHBEARER message has no auth=Bearer token".to_string())?
            .trim();
        let mut sections = token.split('.');
        let (Some(header), Some(payload), Some(_sig), None) = (
            sections.next(),
            sections.next(),
            sections.next(),
            sections.next(),
        ) else {
            return Err("the token is not a JWT (three dot-separated parts)".to_string());
        };
        let header = decode_json(header, "header")?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("none") {
            return Err(
                "the token is signed; this listener validates unsecured JWTs (alg none) only"
                    .to_string(),
            );
        }
        let claims = decode_json(payload, "payload")?;
        let principal = claims
            .get(&self.principal_claim)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("the token has no {:?} claim", self.principal_claim))?
            .to_string();
        let exp = claims
            .get("exp")
            .and_then(|v| v.as_f64())
            .ok_or_else(|| "the token has no exp claim".to_string())?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let left = exp - now + self.clock_skew.as_secs_f64();
        if left <= 0.0 {
            return Err("the token has expired".to_string());
        }
        if !self.required_scope.is_empty() {
            let scope: Vec<&str> = match claims.get("scope") {
                Some(serde_json::Value::String(s)) => s.split_whitespace().collect(),
                Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).collect(),
                _ => Vec::new(),
            };
            if let Some(missing) = self
                .required_scope
                .iter()
                .find(|s| !scope.contains(&s.as_str()))
            {
                return Err(format!("the token lacks the required scope {missing:?}"));
            }
        }
        Ok(Validated {
            principal,
            expires: Instant::now() + Duration::from_secs_f64(left.min(1e9)),
        })
    }
}

fn decode_json(part: &str, what: &str) -> Result<serde_json::Value, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| format!("the token {what} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("the token {what} is not JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &str) -> Vec<u8> {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "n,,\u{1}auth=Bearer {}.{}.\u{1}\u{1}",
            b(r#"{"alg":"none"}"#),
            b(claims)
        )
        .into_bytes()
    }

    #[test]
    fn unsecured_tokens() {
        let v = UnsecuredJwtValidator {
            principal_claim: "sub".into(),
            required_scope: vec!["kafka".into()],
            clock_skew: Duration::ZERO,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ok = v
            .validate(&token(&format!(
                r#"{{"sub":"alice","exp":{},"scope":"a kafka"}}"#,
                now + 60
            )))
            .unwrap();
        assert_eq!(ok.principal, "alice");
        let e = v
            .validate(&token(&format!(
                r#"{{"sub":"alice","exp":{},"scope":"kafka"}}"#,
                now - 60
            )))
            .unwrap_err();
        assert!(e.contains("expired"), "{e}");
        let e = v
            .validate(&token(&format!(r#"{{"sub":"alice","exp":{}}}"#, now + 60)))
            .unwrap_err();
        assert!(e.contains("scope"), "{e}");
        assert!(v.validate(b"n,,\x01auth=Bearer abc\x01\x01").is_err());
        assert!(v.validate(b"garbage").is_err());
    }
}
