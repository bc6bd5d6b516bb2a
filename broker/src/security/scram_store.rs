//! SCRAM credentials, stored as Kafka stores them: per user and mechanism the salt, StoredKey,
//! ServerKey and iteration count — never the password nor the salted password. Durable in
//! `__security/scram-credentials.json` of the data directory (rewritten atomically on each
//! change), managed through AlterUserScramCredentials / DescribeUserScramCredentials.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use odradek_protocol::sasl::scram::{
    MAX_ITERATIONS, MIN_ITERATIONS, ScramCredential, ScramMechanism,
};
use serde::{Deserialize, Serialize};

use crate::log::index::write_file_atomically;

const FILE: &str = "scram-credentials.json";

/// Kafka error codes of the SCRAM admin APIs.
pub mod codes {
    pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
    pub const RESOURCE_NOT_FOUND: i16 = 91;
    pub const DUPLICATE_RESOURCE: i16 = 92;
    pub const UNACCEPTABLE_CREDENTIAL: i16 = 93;
}

/// A refusal: Kafka's error code and message.
pub type Refusal = (i16, String);

/// One credential to set: mechanism type, iterations, salt, salted password (as
/// AlterUserScramCredentials carries them).
pub type Upsert<'a> = (i8, i32, &'a [u8], &'a [u8]);

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    /// user → mechanism name → credential.
    users: BTreeMap<String, BTreeMap<String, StoredCredential>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredCredential {
    salt: String,
    stored_key: String,
    server_key: String,
    iterations: u32,
}

/// Every user's SCRAM credentials.
#[derive(Debug)]
pub struct ScramStore {
    path: PathBuf,
    users: Mutex<BTreeMap<String, BTreeMap<i8, ScramCredential>>>,
}

impl ScramStore {
    /// Loads the store of a data directory (empty when there is none yet).
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let path = data_dir.join(super::SECURITY_DIR).join(FILE);
        let mut users = BTreeMap::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bad = |why: String| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {why}", path.display()),
                    )
                };
                let disk: OnDisk =
                    serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
                for (user, mechs) in disk.users {
                    let mut by_type = BTreeMap::new();
                    for (name, c) in mechs {
                        let mechanism = mechanism_by_name(&name)
                            .ok_or_else(|| bad(format!("user {user}: unknown mechanism {name}")))?;
                        let decode = |what: &str, v: &str| {
                            B64.decode(v)
                                .map_err(|_| bad(format!("user {user}: {what} is not base64")))
                        };
                        by_type.insert(
                            mechanism.kafka_type(),
                            ScramCredential {
                                mechanism,
                                salt: decode("salt", &c.salt)?,
                                stored_key: decode("stored_key", &c.stored_key)?,
                                server_key: decode("server_key", &c.server_key)?,
                                iterations: c.iterations,
                            },
                        );
                    }
                    users.insert(user, by_type);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
        Ok(Self {
            path,
            users: Mutex::new(users),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeMap<i8, ScramCredential>>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The credential a user logs in with over `mechanism`.
    pub fn get(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.lock().get(user)?.get(&mechanism.kafka_type()).cloned()
    }

    /// Users and (mechanism, iterations) of their credentials; `None` lists every user, and
    /// a named user without credentials is absent from the answer.
    pub fn describe(&self, users: Option<&[String]>) -> Vec<(String, Vec<(i8, i32)>)> {
        let map = self.lock();
        let infos = |m: &BTreeMap<i8, ScramCredential>| {
            m.values()
                .map(|c| (c.mechanism.kafka_type(), c.iterations as i32))
                .collect::<Vec<_>>()
        };
        match users {
            None => map.iter().map(|(u, m)| (u.clone(), infos(m))).collect(),
            Some(names) => names
                .iter()
                .filter_map(|u| map.get(u).map(|m| (u.clone(), infos(m))))
                .collect(),
        }
    }

    /// Applies one user's deletions and upsertions together (all or none), then persists.
    /// `upserts`: (mechanism type, iterations, salt, salted password).
    pub fn alter(
        &self,
        user: &str,
        deletions: &[i8],
        upserts: &[Upsert<'_>],
    ) -> Result<(), Refusal> {
        if user.is_empty() {
            return Err((
                codes::UNACCEPTABLE_CREDENTIAL,
                "Username must not be empty".into(),
            ));
        }
        let mut seen = Vec::new();
        for t in deletions.iter().chain(upserts.iter().map(|u| &u.0)) {
            if seen.contains(t) {
                return Err((
                    codes::DUPLICATE_RESOURCE,
                    "A user credential cannot be altered twice in the same request".into(),
                ));
            }
            seen.push(*t);
        }
        let mut map = self.lock();
        let mut entry = map.get(user).cloned().unwrap_or_default();
        for t in deletions {
            mechanism(*t)?;
            if entry.remove(t).is_none() {
                return Err((
                    codes::RESOURCE_NOT_FOUND,
                    "Attempt to delete a user credential that does not exist".into(),
                ));
            }
        }
        for (t, iterations, salt, salted) in upserts {
            let m = mechanism(*t)?;
            if !(MIN_ITERATIONS as i32..=MAX_ITERATIONS as i32).contains(iterations) {
                return Err((
                    codes::UNACCEPTABLE_CREDENTIAL,
                    format!(
                        "Iterations {iterations} not in the range {MIN_ITERATIONS}..{MAX_ITERATIONS} for {}",
                        m.name()
                    ),
                ));
            }
            let c = ScramCredential::from_salted_password(m, salted, salt, *iterations as u32)
                .map_err(|e| (codes::UNACCEPTABLE_CREDENTIAL, e.to_string()))?;
            entry.insert(*t, c);
        }
        let previous = if entry.is_empty() {
            map.remove(user)
        } else {
            map.insert(user.to_string(), entry)
        };
        if let Err(e) = self.persist(&map) {
            // Keep memory and disk in agreement: undo, and say what failed.
            match previous {
                Some(p) => map.insert(user.to_string(), p),
                None => map.remove(user),
            };
            return Err((
                crate::handlers::codes::KAFKA_STORAGE_ERROR,
                format!("cannot write {}: {e}", self.path.display()),
            ));
        }
        Ok(())
    }

    /// Sets one credential directly (the embedded test broker's users), then persists.
    pub fn set(&self, user: &str, credential: ScramCredential) -> io::Result<()> {
        let mut map = self.lock();
        map.entry(user.to_string())
            .or_default()
            .insert(credential.mechanism.kafka_type(), credential);
        self.persist(&map)
    }

    fn persist(&self, map: &BTreeMap<String, BTreeMap<i8, ScramCredential>>) -> io::Result<()> {
        let disk = OnDisk {
            version: 1,
            users: map
                .iter()
                .map(|(u, m)| {
                    let creds = m
                        .values()
                        .map(|c| {
                            (
                                c.mechanism.name().to_string(),
                                StoredCredential {
                                    salt: B64.encode(&c.salt),
                                    stored_key: B64.encode(&c.stored_key),
                                    server_key: B64.encode(&c.server_key),
                                    iterations: c.iterations,
                                },
                            )
                        })
                        .collect();
                    (u.clone(), creds)
                })
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&disk).map_err(io::Error::other)?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_file_atomically(&self.path, &bytes)
    }
}

fn mechanism(t: i8) -> Result<ScramMechanism, Refusal> {
    ScramMechanism::from_kafka_type(t).ok_or((
        codes::UNSUPPORTED_SASL_MECHANISM,
        format!("Unknown SCRAM mechanism type {t}"),
    ))
}

fn mechanism_by_name(name: &str) -> Option<ScramMechanism> {
    [ScramMechanism::Sha256, ScramMechanism::Sha512]
        .into_iter()
        .find(|m| m.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use odradek_protocol::sasl::scram::salted_password;

    #[test]
    fn credentials_survive_a_restart_and_never_hold_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramStore::open(dir.path()).unwrap();
        let salt = b"0123456789abcdef";
        let salted = salted_password(ScramMechanism::Sha512, "alice-pw", salt, 4096).unwrap();
        store
            .alter("alice", &[], &[(2, 4096, salt, &salted)])
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("__security").join(FILE)).unwrap();
        assert!(!text.contains("alice-pw"));
        assert!(
            !text.contains(&B64.encode(&salted)),
            "no salted password on disk"
        );
        let again = ScramStore::open(dir.path()).unwrap();
        let c = again.get("alice", ScramMechanism::Sha512).unwrap();
        assert_eq!(
            c,
            ScramCredential::new(ScramMechanism::Sha512, "alice-pw", salt, 4096).unwrap()
        );
        assert!(again.get("alice", ScramMechanism::Sha256).is_none());
        assert_eq!(
            again.describe(None),
            vec![("alice".to_string(), vec![(2, 4096)])]
        );
        again.alter("alice", &[2], &[]).unwrap();
        assert!(
            ScramStore::open(dir.path())
                .unwrap()
                .describe(None)
                .is_empty()
        );
    }

    #[test]
    fn refusals_are_kafkas() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramStore::open(dir.path()).unwrap();
        let salted = [0u8; 64];
        assert_eq!(
            store.alter("a", &[2], &[]).unwrap_err().0,
            codes::RESOURCE_NOT_FOUND
        );
        assert_eq!(
            store
                .alter("a", &[], &[(2, 10, b"s", &salted)])
                .unwrap_err()
                .0,
            codes::UNACCEPTABLE_CREDENTIAL
        );
        assert_eq!(
            store
                .alter("a", &[], &[(9, 4096, b"s", &salted)])
                .unwrap_err()
                .0,
            codes::UNSUPPORTED_SASL_MECHANISM
        );
        assert_eq!(
            store
                .alter("a", &[2], &[(2, 4096, b"s", &salted)])
                .unwrap_err()
                .0,
            codes::DUPLICATE_RESOURCE
        );
        assert_eq!(
            store.alter("", &[], &[]).unwrap_err().0,
            codes::UNACCEPTABLE_CREDENTIAL
        );
    }
}
