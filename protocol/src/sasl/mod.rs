//! SASL mechanisms, sans-io: the messages a client and a broker exchange inside
//! SaslAuthenticate, as pure functions and small state machines. No sockets, clocks or
//! randomness the caller cannot replace (every nonce has a `with_nonce` form for test vectors).
//!
//! - [`plain`]: PLAIN (RFC 4616), both directions.
//! - [`scram`]: SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the client and the server
//!   half, and the stored credential Kafka keeps (salt, StoredKey, ServerKey, iterations).
//! - [`oauthbearer`]: OAUTHBEARER (RFC 7628) client message, and the unsecured JWT (`alg:none`)
//!   Kafka uses for tests: built from `sasl.oauthbearer.config`, parsed and checked.
//!
//! Secrets (passwords, tokens, salted passwords) never appear in `Debug` output or in a
//! [`SaslError`]: errors name the mechanism and the step that failed.

pub mod oauthbearer;
pub mod plain;
pub mod scram;

use std::fmt;
use std::str::FromStr;

/// A SASL mechanism Kafka speaks, by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `PLAIN`: username and password in the clear (use it over TLS only).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER`: a bearer token (a JWT).
    OAuthBearer,
}

impl Mechanism {
    /// Every mechanism, in the order they are documented.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
        Mechanism::OAuthBearer,
    ];

    /// The name sent in SaslHandshake (`PLAIN`, `SCRAM-SHA-256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The SCRAM variant, if this is one.
    pub fn scram(self) -> Option<scram::ScramMechanism> {
        match self {
            Mechanism::ScramSha256 => Some(scram::ScramMechanism::Sha256),
            Mechanism::ScramSha512 => Some(scram::ScramMechanism::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mechanism {
    type Err = SaslError;

    /// Mechanism names are matched without regard to case, as Kafka's brokers do not; the
    /// canonical spelling is [`Mechanism::name`].
    fn from_str(s: &str) -> Result<Self, SaslError> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| SaslError::UnknownMechanism(s.trim().to_string()))
    }
}

/// Why a SASL exchange failed. Messages name the mechanism and the step, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The mechanism name is not one of [`Mechanism::ALL`].
    #[error(
        "unknown SASL mechanism '{0}' (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"
    )]
    UnknownMechanism(String),
    /// A message from the peer does not follow the mechanism's grammar.
    #[error("{mechanism}: malformed {what}: {why}")]
    Malformed {
        /// The mechanism name.
        mechanism: &'static str,
        /// Which message (`server-first-message`, `client-final-message`, ...).
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The peer's proof or signature did not verify: a wrong password on the server side, a
    /// server that does not know the password on the client side.
    #[error("{mechanism}: {detail}")]
    BadProof {
        /// The mechanism name.
        mechanism: &'static str,
        /// Which side's proof failed.
        detail: BadProofDetail,
    },
    /// The server ended the exchange with an error (SCRAM `e=`, OAUTHBEARER JSON status).
    #[error("{mechanism}: the server refused: {message}")]
    ServerRefused {
        /// The mechanism name.
        mechanism: &'static str,
        /// The server's own words.
        message: String,
    },
    /// A step was called out of order (a bug in the caller).
    #[error("{mechanism}: {step} called in the wrong state")]
    OutOfOrder {
        /// The mechanism name.
        mechanism: &'static str,
        /// The step that was called.
        step: &'static str,
    },
    /// A token failed validation (OAUTHBEARER): expired, no subject, wrong algorithm.
    #[error("{mechanism}: invalid token: {why}")]
    InvalidToken {
        /// The mechanism name.
        mechanism: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A config value the mechanism needs is missing or wrong (`sasl.oauthbearer.config`).
    #[error("{mechanism}: {why}")]
    Config {
        /// The mechanism name.
        mechanism: &'static str,
        /// What is missing or wrong.
        why: String,
    },
}

/// Which proof did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadProofDetail {
    /// The client's proof does not match the stored key: wrong password (or unknown user).
    #[error("authentication failed: invalid credentials")]
    ClientProof,
    /// The server's signature does not match: the server does not hold this password.
    #[error("server signature mismatch: the server does not know this user's password")]
    ServerSignature,
}

/// A secret string that never prints: `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

/// Compares two byte strings in time that depends on their length only, so a proof check does
/// not tell an attacker how many leading bytes were right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `len` random bytes from the operating system's generator.
pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut out = vec![0u8; len];
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random generator failed");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(m.name().parse::<Mechanism>(), Ok(m));
        }
        assert_eq!(
            "scram-sha-512".parse::<Mechanism>(),
            Ok(Mechanism::ScramSha512)
        );
        let err = "GSSAPI".parse::<Mechanism>().unwrap_err();
        assert!(err.to_string().contains("GSSAPI"), "{err}");
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
