//! SASL/OAUTHBEARER with signed JWTs, checked as Kafka's `OAuthBearerValidatorCallbackHandler`
//! checks them: the signature against a JSON Web Key Set, then `exp` (and `nbf`), the expected
//! issuer and audience, and the principal claim. Signatures are verified with ring (RS256/384/
//! 512, PS256/384/512, ES256, ES384); `alg: none` is refused.
//!
//! Keys (each also as `listener.name.<listener>.<key>`): `sasl.oauthbearer.jwks.endpoint.url`
//! (a `file://` URL, read once when the broker starts), `sasl.oauthbearer.expected.audience`
//! (comma-separated; the token's `aud` must hold one of them), `sasl.oauthbearer.expected.issuer`,
//! `sasl.oauthbearer.sub.claim.name` (default `sub`), `sasl.oauthbearer.clock.skew.seconds`
//! (default 30).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use odradek_protocol::sasl::oauthbearer;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::Value;

use super::listeners::ListenerSpec;
use crate::config::BrokerProperties;

/// A verification key of the set.
#[derive(Debug, Clone)]
struct Jwk {
    kid: Option<String>,
    /// The key's `alg`, when the set names it.
    alg: Option<String>,
    material: KeyMaterial,
}

#[derive(Debug, Clone)]
enum KeyMaterial {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed point (`04 || x || y`) on P-256 or P-384.
    Ec { curve: Curve, point: Vec<u8> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// The validator of one listener.
#[derive(Debug, Clone)]
pub struct JwksValidator {
    keys: Vec<Jwk>,
    audience: Vec<String>,
    issuer: Option<String>,
    principal_claim: String,
    clock_skew: Duration,
}

impl JwksValidator {
    /// The validator `props` configure for `spec`, or `None` when no JWKS is configured (the
    /// listener then takes unsecured JWTs).
    pub fn from_props(
        spec: &ListenerSpec,
        props: &BrokerProperties,
    ) -> Result<Option<Self>, String> {
        let get = |key: &str| spec.prop(props, key).filter(|v| !v.trim().is_empty());
        let url_key = "sasl.oauthbearer.jwks.endpoint.url";
        let Some(url) = get(url_key) else {
            return Ok(None);
        };
        let listener = &spec.name;
        let path = url.strip_prefix("file://").ok_or_else(|| {
            format!(
                "listener {listener}: {url_key}={url}: only file:// URLs are supported (fetching \
                 a JWKS over HTTPS is not implemented)"
            )
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("listener {listener}: {url_key}: cannot read {path}: {e}"))?;
        let keys = parse_jwks(&text)
            .map_err(|e| format!("listener {listener}: {url_key}: {path}: {e}"))?;
        let skew_key = "sasl.oauthbearer.clock.skew.seconds";
        let clock_skew = match get(skew_key) {
            Some(v) => Duration::from_secs(
                v.trim()
                    .parse()
                    .map_err(|_| format!("listener {listener}: {skew_key}={v} is not a number"))?,
            ),
            None => Duration::from_secs(30),
        };
        Ok(Some(JwksValidator {
            keys,
            audience: get("sasl.oauthbearer.expected.audience")
                .map(|a| {
                    a.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            issuer: get("sasl.oauthbearer.expected.issuer").map(str::to_string),
            principal_claim: get("sasl.oauthbearer.sub.claim.name")
                .unwrap_or("sub")
                .to_string(),
            clock_skew,
        }))
    }

    /// Checks the client's first message and its token; the principal and when the token
    /// expires (ms since the epoch). The error says what is wrong, never the token.
    pub fn validate(&self, message: &[u8]) -> Result<(String, i64), String> {
        let msg = oauthbearer::parse_client_message(message).map_err(|e| e.to_string())?;
        let jwt = oauthbearer::decode_jwt(msg.token.expose()).map_err(|e| e.to_string())?;
        let alg = jwt.header.get("alg").and_then(Value::as_str).unwrap_or("");
        let kid = jwt.header.get("kid").and_then(Value::as_str);
        let candidates: Vec<&Jwk> = self
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg))
            .collect();
        if candidates.is_empty() {
            return Err(match kid {
                Some(kid) => format!("no key with kid {kid:?} in the JWKS"),
                None => format!("no key for alg {alg:?} in the JWKS"),
            });
        }
        let input = jwt.signing_input.as_bytes();
        let mut verified = false;
        for key in candidates {
            verified |= verify(alg, &key.material, input, &jwt.signature)?;
        }
        if !verified {
            return Err("the token's signature does not verify".into());
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        let skew_ms = self.clock_skew.as_millis() as i64;
        let claims =
            oauthbearer::check_claims(&jwt.claims, &self.principal_claim, now_ms - skew_ms)
                .map_err(|e| e.to_string())?;
        if let Some(nbf) = jwt.claims.get("nbf").and_then(Value::as_f64)
            && (nbf * 1000.0) as i64 > now_ms + skew_ms
        {
            return Err("the token is not valid yet (nbf)".into());
        }
        if let Some(issuer) = &self.issuer
            && jwt.claims.get("iss").and_then(Value::as_str) != Some(issuer)
        {
            return Err(format!("the token's issuer is not {issuer:?}"));
        }
        if !self.audience.is_empty() {
            let aud: Vec<&str> = match jwt.claims.get("aud") {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !aud.iter().any(|a| self.audience.iter().any(|e| e == a)) {
                return Err(format!(
                    "the token's audience is not one of {:?}",
                    self.audience
                ));
            }
        }
        Ok((claims.principal, claims.expires_at_ms + skew_ms))
    }
}

/// Whether `signature` over `input` verifies with `key` under `alg`; an error for an `alg`
/// this broker does not accept.
fn verify(alg: &str, key: &KeyMaterial, input: &[u8], sig: &[u8]) -> Result<bool, String> {
    let rsa: Option<&'static signature::RsaParameters> = match alg {
        "RS256" => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
        "RS384" => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
        "RS512" => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
        "PS256" => Some(&signature::RSA_PSS_2048_8192_SHA256),
        "PS384" => Some(&signature::RSA_PSS_2048_8192_SHA384),
        "PS512" => Some(&signature::RSA_PSS_2048_8192_SHA512),
        _ => None,
    };
    let ec: Option<(Curve, &'static dyn VerificationAlgorithm)> = match alg {
        "ES256" => Some((Curve::P256, &signature::ECDSA_P256_SHA256_FIXED)),
        "ES384" => Some((Curve::P384, &signature::ECDSA_P384_SHA384_FIXED)),
        _ => None,
    };
    match (key, rsa, ec) {
        (KeyMaterial::Rsa { n, e }, Some(params), _) => Ok(signature::RsaPublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        }
        .verify(params, input, sig)
        .is_ok()),
        (KeyMaterial::Ec { curve, point }, _, Some((want, algorithm))) => Ok(*curve == want
            && UnparsedPublicKey::new(algorithm, point)
                .verify(input, sig)
                .is_ok()),
        (_, None, None) => Err(format!(
            "the token's alg {alg:?} is not accepted (RS256/384/512, PS256/384/512, ES256, ES384)"
        )),
        _ => Ok(false),
    }
}

/// The usable signing keys of a JWKS document (RFC 7517); keys of other types or uses are
/// skipped, a set without any usable key is an error.
fn parse_jwks(text: &str) -> Result<Vec<Jwk>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no \"keys\" array")?;
    let mut out = Vec::new();
    for key in keys {
        let field = |name: &str| key.get(name).and_then(Value::as_str);
        if field("use").is_some_and(|u| u != "sig") {
            continue;
        }
        let bytes = |name: &str| -> Result<Vec<u8>, String> {
            let text = field(name).ok_or_else(|| format!("a key lacks \"{name}\""))?;
            B64URL
                .decode(text.trim_end_matches('='))
                .map_err(|_| format!("a key's \"{name}\" is not base64url"))
        };
        let material = match (field("kty"), field("crv")) {
            (Some("RSA"), _) => KeyMaterial::Rsa {
                n: strip_zeros(bytes("n")?),
                e: strip_zeros(bytes("e")?),
            },
            (Some("EC"), Some(crv @ ("P-256" | "P-384"))) => {
                let (curve, width) = if crv == "P-256" {
                    (Curve::P256, 32)
                } else {
                    (Curve::P384, 48)
                };
                let mut point = vec![4u8];
                for coordinate in [bytes("x")?, bytes("y")?] {
                    if coordinate.len() > width {
                        return Err(format!(
                            "a {crv} key has a coordinate of {} bytes",
                            coordinate.len()
                        ));
                    }
                    point.extend(std::iter::repeat_n(0, width - coordinate.len()));
                    point.extend(coordinate);
                }
                KeyMaterial::Ec { curve, point }
            }
            _ => continue,
        };
        out.push(Jwk {
            kid: field("kid").map(str::to_string),
            alg: field("alg").map(str::to_string),
            material,
        });
    }
    if out.is_empty() {
        return Err("no RSA or EC (P-256, P-384) signing key in the set".into());
    }
    Ok(out)
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    fn b64(bytes: &[u8]) -> String {
        B64URL.encode(bytes)
    }

    fn es256_key() -> (EcdsaKeyPair, String) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let public = key.public_key().as_ref();
        let jwk = format!(
            r#"{{"kty":"EC","crv":"P-256","kid":"k1","use":"sig","x":"{}","y":"{}"}}"#,
            b64(&public[1..33]),
            b64(&public[33..])
        );
        (key, jwk)
    }

    fn sign(key: &EcdsaKeyPair, header: &str, claims: &str) -> Vec<u8> {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!(
            "n,,\u{1}auth=Bearer {input}.{}\u{1}\u{1}",
            b64(sig.as_ref())
        )
        .into_bytes()
    }

    #[test]
    fn es256_tokens_are_checked() {
        let (key, jwk) = es256_key();
        let v = JwksValidator {
            keys: parse_jwks(&format!(r#"{{"keys":[{{"kty":"oct","k":"x"}},{jwk}]}}"#)).unwrap(),
            audience: vec!["kafka".into()],
            issuer: Some("https://idp".into()),
            principal_claim: "sub".into(),
            clock_skew: Duration::ZERO,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = r#"{"alg":"ES256","kid":"k1"}"#;
        let claims = |exp: u64, aud: &str, iss: &str| {
            format!(r#"{{"sub":"svc","exp":{exp},"aud":{aud},"iss":"{iss}"}}"#)
        };
        let good = claims(now + 60, r#"["x","kafka"]"#, "https://idp");
        let (principal, _) = v.validate(&sign(&key, header, &good)).unwrap();
        assert_eq!(principal, "svc");
        let cases = [
            (
                header,
                claims(now - 60, r#""kafka""#, "https://idp"),
                "expired",
            ),
            (
                header,
                claims(now + 60, r#""other""#, "https://idp"),
                "audience",
            ),
            (
                header,
                claims(now + 60, r#""kafka""#, "https://evil"),
                "issuer",
            ),
            (r#"{"alg":"ES256","kid":"k2"}"#, good.clone(), "kid"),
            (r#"{"alg":"none","kid":"k1"}"#, good.clone(), "not accepted"),
        ];
        for (header, claims, words) in cases {
            let e = v.validate(&sign(&key, header, &claims)).unwrap_err();
            assert!(e.contains(words), "{words}: {e}");
        }
        // A token signed by another key with the same kid.
        let (other, _) = es256_key();
        let e = v.validate(&sign(&other, header, &good)).unwrap_err();
        assert!(e.contains("signature"), "{e}");
        assert!(parse_jwks(r#"{"keys":[{"kty":"oct"}]}"#).is_err());
        assert!(parse_jwks("[]").is_err());
    }
}
