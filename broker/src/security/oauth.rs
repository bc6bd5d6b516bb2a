//! SASL/OAUTHBEARER (RFC 7628): signed JWTs checked against a JWKS when
//! `sasl.oauthbearer.jwks.endpoint.url` is set ([`super::jwks`]), else Kafka's default
//! broker-side validator: unsecured JWTs (`alg: none`), for development and tests only —
//! anyone can mint such a token. The unsecured validator's options
//! are those of Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler`, read from
//! `listener.name.<listener>.oauthbearer.sasl.jaas.config`:
//! `unsecuredValidatorPrincipalClaimName` (default `sub`),
//! `unsecuredValidatorRequiredScope`, `unsecuredValidatorAllowableClockSkewMs`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use odradek_protocol::sasl::oauthbearer;

use super::jwks::JwksValidator;
use super::listeners::ListenerSpec;
use super::plain::jaas_options;
use crate::config::BrokerProperties;

/// The OAUTHBEARER validator of a listener.
#[derive(Debug, Clone)]
pub enum OAuthValidator {
    Unsecured(UnsecuredJwtValidator),
    Signed(JwksValidator),
}

impl OAuthValidator {
    pub fn from_props(spec: &ListenerSpec, props: &BrokerProperties) -> Result<Self, String> {
        Ok(match JwksValidator::from_props(spec, props)? {
            Some(signed) => OAuthValidator::Signed(signed),
            None => OAuthValidator::Unsecured(UnsecuredJwtValidator::from_props(spec, props)?),
        })
    }

    pub fn validate(&self, message: &[u8]) -> Result<Validated, String> {
        match self {
            OAuthValidator::Unsecured(v) => v.validate(message),
            OAuthValidator::Signed(v) => {
                let (principal, expires_at_ms) = v.validate(message)?;
                let now_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis() as i64;
                let left_ms = (expires_at_ms - now_ms).max(0) as u64;
                Ok(Validated {
                    principal,
                    expires: Instant::now() + Duration::from_millis(left_ms),
                })
            }
        }
    }
}

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

    /// Checks the client's first message (RFC 7628) and its unsecured JWT with the protocol
    /// crate's parser, then the scope this listener requires. The error says what is wrong
    /// with the token (never the token).
    pub fn validate(&self, message: &[u8]) -> Result<Validated, String> {
        let msg = oauthbearer::parse_client_message(message).map_err(|e| e.to_string())?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        let skew = self.clock_skew.as_millis() as i64;
        let claims = oauthbearer::parse_unsecured_jwt(
            msg.token.expose(),
            &self.principal_claim,
            now_ms - skew,
        )
        .map_err(|e| e.to_string())?;
        if let Some(missing) = self
            .required_scope
            .iter()
            .find(|s| !claims.scope.contains(s))
        {
            return Err(format!("the token lacks the required scope {missing:?}"));
        }
        let left_ms = (claims.expires_at_ms + skew - now_ms).max(0) as u64;
        Ok(Validated {
            principal: claims.principal,
            expires: Instant::now() + Duration::from_millis(left_ms),
        })
    }
}

/// The RFC 7628 error a server sends for a token it refuses; the client answers `%x01`.
pub fn invalid_token_challenge() -> bytes::Bytes {
    oauthbearer::server_error_message("invalid_token", None).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

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
