//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka uses them: no channel
//! binding (`n,,`), optional extensions in the client-first message (`tokenauth=true`),
//! iteration counts from 4096 (Kafka's minimum) to 16384 (Kafka's maximum).
//!
//! The client and the server half are state machines that take and return message bytes:
//!
//! ```
//! use odradek_protocol::sasl::scram::{ScramClient, ScramCredential, ScramMechanism, ScramServer};
//!
//! let mech = ScramMechanism::Sha512;
//! let stored = ScramCredential::new(mech, "s3cret", b"some salt", 4096).unwrap();
//! let mut client = ScramClient::new(mech, "alice", "s3cret");
//! let mut server = ScramServer::new(mech);
//!
//! let first = server.client_first(&client.client_first()).unwrap();
//! assert_eq!(first.username, "alice");
//! let server_first = server.server_first(&stored).unwrap();
//! let client_final = client.server_first(&server_first).unwrap();
//! let server_final = server.client_final(&client_final).unwrap();
//! client.server_final(&server_final).unwrap();
//! ```

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2};

use super::{BadProofDetail, SaslError, constant_time_eq, random_bytes};

/// Kafka's smallest accepted iteration count for SCRAM-SHA-256/512.
pub const MIN_ITERATIONS: u32 = 4096;
/// Kafka's largest accepted iteration count; a server asking for more is refused (it would make
/// the client burn CPU on the server's say-so).
pub const MAX_ITERATIONS: u32 = 16384;

/// The hash a SCRAM mechanism uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramMechanism {
    /// The wire name.
    pub fn name(self) -> &'static str {
        self.hash().name
    }

    /// The mechanism number Kafka's DescribeUserScramCredentials / AlterUserScramCredentials
    /// carry (1 = SHA-256, 2 = SHA-512).
    pub fn kafka_type(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    /// The mechanism for its wire name (`SCRAM-SHA-256`, `SCRAM-SHA-512`; any case).
    pub fn from_name(name: &str) -> Option<Self> {
        [ScramMechanism::Sha256, ScramMechanism::Sha512]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The mechanism for a Kafka mechanism number.
    pub fn from_kafka_type(t: i8) -> Option<Self> {
        match t {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    fn hash(self) -> Hash {
        match self {
            ScramMechanism::Sha256 => Hash::SHA256,
            ScramMechanism::Sha512 => Hash::SHA512,
        }
    }
}

/// The three primitives one SCRAM variant is built from. Kept separate from
/// [`ScramMechanism`] so the tests can run RFC 5802's SHA-1 vectors through the same code.
#[derive(Clone, Copy)]
struct Hash {
    name: &'static str,
    hmac: hmac::Algorithm,
    pbkdf2: pbkdf2::Algorithm,
    digest: &'static digest::Algorithm,
}

impl Hash {
    const SHA256: Hash = Hash {
        name: "SCRAM-SHA-256",
        hmac: hmac::HMAC_SHA256,
        pbkdf2: pbkdf2::PBKDF2_HMAC_SHA256,
        digest: &digest::SHA256,
    };
    const SHA512: Hash = Hash {
        name: "SCRAM-SHA-512",
        hmac: hmac::HMAC_SHA512,
        pbkdf2: pbkdf2::PBKDF2_HMAC_SHA512,
        digest: &digest::SHA512,
    };

    fn hmac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.hmac, key), data)
            .as_ref()
            .to_vec()
    }

    fn h(&self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest, data).as_ref().to_vec()
    }

    fn salted_password(&self, password: &str, salt: &[u8], iterations: NonZeroU32) -> Vec<u8> {
        let mut out = vec![0u8; self.digest.output_len()];
        pbkdf2::derive(self.pbkdf2, iterations, salt, password.as_bytes(), &mut out);
        out
    }

    fn error(&self, what: &'static str, why: impl Into<String>) -> SaslError {
        SaslError::Malformed {
            mechanism: self.name,
            what,
            why: why.into(),
        }
    }
}

/// `SaltedPassword := Hi(Normalize(password), salt, i)` (RFC 5802 §3), what Kafka's
/// AlterUserScramCredentials carries. The password is used as given (no SASLprep), as Kafka does.
pub fn salted_password(
    mechanism: ScramMechanism,
    password: &str,
    salt: &[u8],
    iterations: u32,
) -> Result<Vec<u8>, SaslError> {
    let hash = mechanism.hash();
    let iterations = check_iterations(hash, iterations)?;
    Ok(hash.salted_password(password, salt, iterations))
}

fn check_iterations(hash: Hash, iterations: u32) -> Result<NonZeroU32, SaslError> {
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(hash.error(
            "iteration count",
            format!("{iterations} is outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"),
        ));
    }
    Ok(NonZeroU32::new(iterations).expect("checked above"))
}

/// What a server stores for one user and mechanism (Kafka's `ScramCredential`): never the
/// password, only what verifies a proof and signs the answer.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// The mechanism these keys are for.
    pub mechanism: ScramMechanism,
    /// The salt.
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
}

impl fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// Derives the credential from a password.
    pub fn new(
        mechanism: ScramMechanism,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, SaslError> {
        let salted = salted_password(mechanism, password, salt, iterations)?;
        Self::from_salted_password(mechanism, &salted, salt, iterations)
    }

    /// Derives the credential from a salted password (what AlterUserScramCredentials sends).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, SaslError> {
        let hash = mechanism.hash();
        check_iterations(hash, iterations)?;
        if salted_password.len() != hash.digest.output_len() {
            return Err(hash.error(
                "salted password",
                format!(
                    "{} bytes, expected {}",
                    salted_password.len(),
                    hash.digest.output_len()
                ),
            ));
        }
        if salt.is_empty() {
            return Err(hash.error("salt", "empty"));
        }
        let (stored_key, server_key) = keys(hash, salted_password);
        Ok(ScramCredential {
            mechanism,
            salt: salt.to_vec(),
            stored_key,
            server_key,
            iterations,
        })
    }

    /// A fresh random salt (32 bytes) for a new credential.
    pub fn random_salt() -> Vec<u8> {
        random_bytes(32)
    }
}

/// `(StoredKey, ServerKey)` from a salted password.
fn keys(hash: Hash, salted_password: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let client_key = hash.hmac(salted_password, b"Client Key");
    let stored_key = hash.h(&client_key);
    let server_key = hash.hmac(salted_password, b"Server Key");
    (stored_key, server_key)
}

/// A nonce of 24 random bytes as printable base64 (no `,`), as both sides send.
fn random_nonce() -> String {
    B64.encode(random_bytes(24))
}

/// `saslname`: `=` and `,` escaped as `=3D` and `=2C`.
fn escape_name(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn unescape_name(hash: Hash, name: &str) -> Result<String, SaslError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=3D") => out.push('='),
            Some("=2C") => out.push(','),
            _ => return Err(hash.error("client-first-message", "bad '=' escape in the username")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Splits `k=v,k=v` into pairs; each attribute is one letter or, for extensions, a word.
fn attributes<'a>(
    hash: Hash,
    what: &'static str,
    msg: &'a str,
) -> Result<Vec<(&'a str, &'a str)>, SaslError> {
    msg.split(',')
        .map(|part| {
            part.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| hash.error(what, format!("attribute without '=': '{part}'")))
        })
        .collect()
}

fn utf8<'a>(hash: Hash, what: &'static str, msg: &'a [u8]) -> Result<&'a str, SaslError> {
    std::str::from_utf8(msg).map_err(|_| hash.error(what, "not UTF-8"))
}

fn decode_b64(
    hash: Hash,
    what: &'static str,
    field: &str,
    value: &str,
) -> Result<Vec<u8>, SaslError> {
    B64.decode(value)
        .map_err(|_| hash.error(what, format!("'{field}' is not base64")))
}

/// The GS2 header Kafka's clients send: no channel binding, no authorization id.
const GS2_HEADER: &str = "n,,";

#[derive(Clone)]
enum ClientState {
    Initial,
    SentFirst { first_bare: String },
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// The client half. Call [`client_first`](Self::client_first), feed the server's first message
/// to [`server_first`](Self::server_first) (which returns the client-final message), then the
/// server's final message to [`server_final`](Self::server_final).
#[derive(Clone)]
pub struct ScramClient {
    hash: Hash,
    username: String,
    password: String,
    nonce: String,
    extensions: Vec<(String, String)>,
    state: ClientState,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.hash.name)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client with a random nonce.
    pub fn new(mechanism: ScramMechanism, username: &str, password: &str) -> Self {
        Self::with_nonce(mechanism, username, password, &random_nonce())
    }

    /// A client with a given nonce (test vectors). The nonce must be printable ASCII without `,`.
    pub fn with_nonce(
        mechanism: ScramMechanism,
        username: &str,
        password: &str,
        nonce: &str,
    ) -> Self {
        Self::with_hash(mechanism.hash(), username, password, nonce)
    }

    fn with_hash(hash: Hash, username: &str, password: &str, nonce: &str) -> Self {
        ScramClient {
            hash,
            username: username.to_string(),
            password: password.to_string(),
            nonce: nonce.to_string(),
            extensions: Vec::new(),
            state: ClientState::Initial,
        }
    }

    /// Adds a SCRAM extension to the client-first message (Kafka: `tokenauth=true` for
    /// delegation tokens).
    pub fn extension(mut self, key: &str, value: &str) -> Self {
        self.extensions.push((key.to_string(), value.to_string()));
        self
    }

    /// The client-first message: `n,,n=<user>,r=<nonce>[,ext=value...]`.
    pub fn client_first(&mut self) -> Vec<u8> {
        let mut bare = format!("n={},r={}", escape_name(&self.username), self.nonce);
        for (k, v) in &self.extensions {
            bare.push_str(&format!(",{k}={v}"));
        }
        let msg = format!("{GS2_HEADER}{bare}");
        self.state = ClientState::SentFirst { first_bare: bare };
        msg.into_bytes()
    }

    /// Reads the server-first message and returns the client-final message (with the proof).
    pub fn server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, SaslError> {
        let hash = self.hash;
        let ClientState::SentFirst { first_bare } = &self.state else {
            return Err(SaslError::OutOfOrder {
                mechanism: hash.name,
                step: "server_first",
            });
        };
        const WHAT: &str = "server-first-message";
        let text = utf8(hash, WHAT, msg)?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(SaslError::ServerRefused {
                mechanism: hash.name,
                message: e.to_string(),
            });
        }
        let attrs = attributes(hash, WHAT, text)?;
        let (nonce, salt, iterations) = match attrs.as_slice() {
            [("r", r), ("s", s), ("i", i), ..] => (*r, *s, *i),
            _ => return Err(hash.error(WHAT, "expected r=, s= and i=")),
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(hash.error(WHAT, "the server nonce does not extend the client nonce"));
        }
        let salt = decode_b64(hash, WHAT, "s", salt)?;
        let iterations: u32 = iterations.parse().map_err(|_| {
            hash.error(
                WHAT,
                format!("iteration count '{iterations}' is not a number"),
            )
        })?;
        let iterations = check_iterations(hash, iterations)?;

        let salted = hash.salted_password(&self.password, &salt, iterations);
        let without_proof = format!("c={},r={nonce}", B64.encode(GS2_HEADER));
        let auth_message = format!("{first_bare},{text},{without_proof}");
        let client_key = hash.hmac(&salted, b"Client Key");
        let stored_key = hash.h(&client_key);
        let client_signature = hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hash.hmac(&salted, b"Server Key");
        let server_signature = hash.hmac(&server_key, auth_message.as_bytes());
        self.state = ClientState::SentFinal { server_signature };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Reads the server-final message: verifies the server's signature (mutual
    /// authentication) or reports the server's `e=` error.
    pub fn server_final(&mut self, msg: &[u8]) -> Result<(), SaslError> {
        let hash = self.hash;
        let ClientState::SentFinal { server_signature } = &self.state else {
            return Err(SaslError::OutOfOrder {
                mechanism: hash.name,
                step: "server_final",
            });
        };
        const WHAT: &str = "server-final-message";
        let text = utf8(hash, WHAT, msg)?;
        let attrs = attributes(hash, WHAT, text)?;
        match attrs.first() {
            Some(("e", e)) => Err(SaslError::ServerRefused {
                mechanism: hash.name,
                message: e.to_string(),
            }),
            Some(("v", v)) => {
                let got = decode_b64(hash, WHAT, "v", v)?;
                if !constant_time_eq(&got, server_signature) {
                    return Err(SaslError::BadProof {
                        mechanism: hash.name,
                        detail: BadProofDetail::ServerSignature,
                    });
                }
                self.state = ClientState::Done;
                Ok(())
            }
            _ => Err(hash.error(WHAT, "expected v= or e=")),
        }
    }
}

/// What the server learns from the client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The user logging in (unescaped).
    pub username: String,
    /// Extensions after the nonce (`tokenauth=true`), in order.
    pub extensions: Vec<(String, String)>,
}

#[derive(Clone)]
enum ServerState {
    Initial,
    GotFirst {
        first_bare: String,
        client_nonce: String,
    },
    SentFirst {
        auth_prefix: String,
        nonce: String,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
    },
    Done,
}

/// The server half. Call [`client_first`](Self::client_first) (which names the user), look the
/// user's [`ScramCredential`] up, call [`server_first`](Self::server_first), then feed the
/// client's final message to [`client_final`](Self::client_final), which verifies the proof and
/// returns the server-final message.
#[derive(Clone)]
pub struct ScramServer {
    hash: Hash,
    state: ServerState,
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramServer")
            .field("mechanism", &self.hash.name)
            .finish_non_exhaustive()
    }
}

impl ScramServer {
    /// A server for one exchange.
    pub fn new(mechanism: ScramMechanism) -> Self {
        ScramServer {
            hash: mechanism.hash(),
            state: ServerState::Initial,
        }
    }

    /// Reads the client-first message. Refuses channel binding (`p=`) and an authorization id
    /// that differs from the username, as Kafka does.
    pub fn client_first(&mut self, msg: &[u8]) -> Result<ClientFirst, SaslError> {
        let hash = self.hash;
        if !matches!(self.state, ServerState::Initial) {
            return Err(SaslError::OutOfOrder {
                mechanism: hash.name,
                step: "client_first",
            });
        }
        const WHAT: &str = "client-first-message";
        let text = utf8(hash, WHAT, msg)?;
        let (cbind, rest) = text
            .split_once(',')
            .ok_or_else(|| hash.error(WHAT, "no GS2 header"))?;
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or_else(|| hash.error(WHAT, "no GS2 header"))?;
        match cbind {
            "n" | "y" => {}
            _ if cbind.starts_with("p=") => {
                return Err(hash.error(WHAT, "channel binding is not supported"));
            }
            _ => return Err(hash.error(WHAT, "bad GS2 channel-binding flag")),
        }
        let attrs = attributes(hash, WHAT, bare)?;
        let (name, nonce, extensions) = match attrs.as_slice() {
            [("n", n), ("r", r), ext @ ..] => (*n, *r, ext),
            _ => return Err(hash.error(WHAT, "expected n= and r=")),
        };
        let username = unescape_name(hash, name)?;
        if username.is_empty() {
            return Err(hash.error(WHAT, "empty username"));
        }
        if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(hash.error(WHAT, "the nonce must be printable ASCII"));
        }
        if !authzid.is_empty() {
            let authzid = authzid
                .strip_prefix("a=")
                .ok_or_else(|| hash.error(WHAT, "bad authorization id"))?;
            if unescape_name(hash, authzid)? != username {
                return Err(hash.error(WHAT, "the authorization id differs from the username"));
            }
        }
        let extensions = extensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.state = ServerState::GotFirst {
            first_bare: bare.to_string(),
            client_nonce: nonce.to_string(),
        };
        Ok(ClientFirst {
            username,
            extensions,
        })
    }

    /// The server-first message for the user's credential, with a random server nonce.
    pub fn server_first(&mut self, credential: &ScramCredential) -> Result<Vec<u8>, SaslError> {
        self.server_first_with_nonce(credential, &random_nonce())
    }

    /// The server-first message with a given server nonce (test vectors).
    pub fn server_first_with_nonce(
        &mut self,
        credential: &ScramCredential,
        server_nonce: &str,
    ) -> Result<Vec<u8>, SaslError> {
        let hash = self.hash;
        if credential.mechanism.hash().name != hash.name {
            return Err(SaslError::Config {
                mechanism: hash.name,
                why: format!("the credential is for {}", credential.mechanism.name()),
            });
        }
        self.server_first_keys(
            &credential.salt,
            credential.iterations,
            &credential.stored_key,
            &credential.server_key,
            server_nonce,
        )
    }

    fn server_first_keys(
        &mut self,
        salt: &[u8],
        iterations: u32,
        stored_key: &[u8],
        server_key: &[u8],
        server_nonce: &str,
    ) -> Result<Vec<u8>, SaslError> {
        let hash = self.hash;
        let ServerState::GotFirst {
            first_bare,
            client_nonce,
        } = &self.state
        else {
            return Err(SaslError::OutOfOrder {
                mechanism: hash.name,
                step: "server_first",
            });
        };
        let nonce = format!("{client_nonce}{server_nonce}");
        let msg = format!("r={nonce},s={},i={iterations}", B64.encode(salt));
        self.state = ServerState::SentFirst {
            auth_prefix: format!("{first_bare},{msg}"),
            nonce,
            stored_key: stored_key.to_vec(),
            server_key: server_key.to_vec(),
        };
        Ok(msg.into_bytes())
    }

    /// Reads the client-final message, verifies the proof, and returns the server-final
    /// message. A wrong proof is [`SaslError::BadProof`] with
    /// [`BadProofDetail::ClientProof`]; the exchange is over either way.
    pub fn client_final(&mut self, msg: &[u8]) -> Result<Vec<u8>, SaslError> {
        let hash = self.hash;
        let ServerState::SentFirst {
            auth_prefix,
            nonce,
            stored_key,
            server_key,
        } = std::mem::replace(&mut self.state, ServerState::Done)
        else {
            return Err(SaslError::OutOfOrder {
                mechanism: hash.name,
                step: "client_final",
            });
        };
        const WHAT: &str = "client-final-message";
        let text = utf8(hash, WHAT, msg)?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or_else(|| hash.error(WHAT, "no proof"))?;
        let attrs = attributes(hash, WHAT, without_proof)?;
        let (cbind, got_nonce) = match attrs.as_slice() {
            [("c", c), ("r", r), ..] => (*c, *r),
            _ => return Err(hash.error(WHAT, "expected c= and r=")),
        };
        let cbind = decode_b64(hash, WHAT, "c", cbind)?;
        if !cbind.starts_with(b"n,") && !cbind.starts_with(b"y,") {
            return Err(hash.error(WHAT, "channel binding is not supported"));
        }
        if got_nonce != nonce {
            return Err(hash.error(WHAT, "the nonce does not match"));
        }
        let proof = decode_b64(hash, WHAT, "p", proof)?;
        let auth_message = format!("{auth_prefix},{without_proof}");
        let client_signature = hash.hmac(&stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(SaslError::BadProof {
                mechanism: hash.name,
                detail: BadProofDetail::ClientProof,
            });
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        if !constant_time_eq(&hash.h(&client_key), &stored_key) {
            return Err(SaslError::BadProof {
                mechanism: hash.name,
                detail: BadProofDetail::ClientProof,
            });
        }
        let server_signature = hash.hmac(&server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1: Hash = Hash {
        name: "SCRAM-SHA-1",
        hmac: hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        pbkdf2: pbkdf2::PBKDF2_HMAC_SHA1,
        digest: &digest::SHA1_FOR_LEGACY_USE_ONLY,
    };

    /// Runs one RFC exchange through both halves and checks every message byte for byte.
    #[allow(clippy::too_many_arguments)]
    fn rfc_vector(
        hash: Hash,
        client_nonce: &str,
        client_first: &str,
        server_nonce: &str,
        server_first: &str,
        client_final: &str,
        server_final: &str,
    ) {
        let mut client = ScramClient::with_hash(hash, "user", "pencil", client_nonce);
        assert_eq!(client.client_first(), client_first.as_bytes());
        let cf = client.server_first(server_first.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(cf).unwrap(), client_final);
        client.server_final(server_final.as_bytes()).unwrap();

        // The server half, from the same salt and iteration count.
        let attrs = attributes(hash, "t", server_first).unwrap();
        let salt = B64.decode(attrs[1].1).unwrap();
        let salted = hash.salted_password("pencil", &salt, NonZeroU32::new(4096).unwrap());
        let (stored, server_key) = keys(hash, &salted);
        let mut server = ScramServer {
            hash,
            state: ServerState::Initial,
        };
        let first = server.client_first(client_first.as_bytes()).unwrap();
        assert_eq!(first.username, "user");
        let sf = server
            .server_first_keys(&salt, 4096, &stored, &server_key, server_nonce)
            .unwrap();
        assert_eq!(String::from_utf8(sf).unwrap(), server_first);
        let sfin = server.client_final(client_final.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(sfin).unwrap(), server_final);
    }

    #[test]
    fn rfc_5802_sha1_vector() {
        rfc_vector(
            SHA1,
            "fyko+d2lbbFgONRv9qkxdawL",
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            "3rfcNHYJY1ZVvWVs7j",
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        );
    }

    #[test]
    fn rfc_7677_sha256_vector() {
        rfc_vector(
            Hash::SHA256,
            "rOprNGfwEbeRWgbNEkqO",
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
    }

    fn exchange(
        mech: ScramMechanism,
        client_password: &str,
        stored: &ScramCredential,
    ) -> Result<(), SaslError> {
        let mut client = ScramClient::new(mech, "al=ice,x", client_password);
        let mut server = ScramServer::new(mech);
        let first = server.client_first(&client.client_first())?;
        assert_eq!(first.username, "al=ice,x");
        let client_final = client.server_first(&server.server_first(stored)?)?;
        let server_final = server.client_final(&client_final)?;
        client.server_final(&server_final)
    }

    #[test]
    fn sha512_round_trip_and_wrong_password() {
        let mech = ScramMechanism::Sha512;
        let stored =
            ScramCredential::new(mech, "right", &ScramCredential::random_salt(), 4096).unwrap();
        exchange(mech, "right", &stored).unwrap();
        let err = exchange(mech, "wrong", &stored).unwrap_err();
        assert_eq!(
            err,
            SaslError::BadProof {
                mechanism: "SCRAM-SHA-512",
                detail: BadProofDetail::ClientProof
            }
        );
        assert!(!err.to_string().contains("wrong") && !err.to_string().contains("right"));
    }

    #[test]
    fn credential_from_salted_password_matches_derivation() {
        let mech = ScramMechanism::Sha256;
        let salted = salted_password(mech, "pw", b"salt", 8192).unwrap();
        let a = ScramCredential::from_salted_password(mech, &salted, b"salt", 8192).unwrap();
        let b = ScramCredential::new(mech, "pw", b"salt", 8192).unwrap();
        assert_eq!(a, b);
        assert!(!format!("{a:?}").contains("stored_key"));
        assert!(ScramCredential::from_salted_password(mech, b"short", b"salt", 8192).is_err());
    }

    #[test]
    fn client_refuses_a_server_that_does_not_know_the_password() {
        let mech = ScramMechanism::Sha256;
        let wrong = ScramCredential::new(mech, "other", b"salt", 4096).unwrap();
        let mut client = ScramClient::new(mech, "u", "pw");
        let mut server = ScramServer::new(mech);
        server.client_first(&client.client_first()).unwrap();
        let sf = server.server_first(&wrong).unwrap();
        let cf = client.server_first(&sf).unwrap();
        assert!(server.client_final(&cf).is_err());
        // A forged server-final message.
        let err = client
            .server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert!(matches!(
            err,
            SaslError::BadProof {
                detail: BadProofDetail::ServerSignature,
                ..
            }
        ));
    }

    #[test]
    fn client_refuses_bad_server_first_messages() {
        let mech = ScramMechanism::Sha256;
        let cases: [(&str, &str); 6] = [
            ("r=OTHERnonce,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abc,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abcdef,s=c2FsdA==,i=1000", "outside"),
            ("r=abcdef,s=c2FsdA==,i=99999999", "outside"),
            ("r=abcdef,s=!!!,i=4096", "not base64"),
            ("e=unknown-user", "refused"),
        ];
        for (msg, want) in cases {
            let mut client = ScramClient::with_nonce(mech, "u", "pw", "abc");
            client.client_first();
            let err = client.server_first(msg.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(want), "{msg}: {err}");
        }
        let mut client = ScramClient::new(mech, "u", "pw");
        assert!(matches!(
            client.server_first(b"r=x,s=c2FsdA==,i=4096"),
            Err(SaslError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn server_refuses_bad_client_messages() {
        let mech = ScramMechanism::Sha256;
        for msg in [
            "p=tls-unique,,n=u,r=abc",
            "n,,r=abc",
            "n,,n=,r=abc",
            "n,,n=u=2X,r=abc",
            "n,a=other,n=u,r=abc",
            "garbage",
        ] {
            let mut server = ScramServer::new(mech);
            assert!(server.client_first(msg.as_bytes()).is_err(), "{msg}");
        }
        let mut server = ScramServer::new(mech);
        let first = server
            .client_first(b"n,a=u,n=u,r=abc,tokenauth=true")
            .unwrap();
        assert_eq!(first.extensions, vec![("tokenauth".into(), "true".into())]);
        let stored = ScramCredential::new(mech, "pw", b"salt", 4096).unwrap();
        server.server_first_with_nonce(&stored, "XYZ").unwrap();
        // A final message with another nonce is refused before any proof check.
        let err = server
            .client_final(b"c=biws,r=abcOTHER,p=AAAA")
            .unwrap_err();
        assert!(err.to_string().contains("nonce"), "{err}");
        // The exchange is over: nothing more is accepted.
        assert!(server.client_final(b"c=biws,r=abcXYZ,p=AAAA").is_err());
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let mut client = ScramClient::new(ScramMechanism::Sha512, "u", "hunter2");
        client.client_first();
        assert!(!format!("{client:?}").contains("hunter2"));
    }
}
