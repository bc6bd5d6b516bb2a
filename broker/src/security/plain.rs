//! SASL/PLAIN (RFC 4616) on the broker: the users come from Kafka's JAAS text,
//! `listener.name.<listener>.plain.sasl.jaas.config` (or `sasl.jaas.config` for every
//! listener), whose `user_<name>="<password>"` options list who may log in.

use std::collections::HashMap;

use odradek_protocol::sasl::plain;

use super::listeners::ListenerSpec;
use crate::config::BrokerProperties;

/// The PLAIN users of one listener.
#[derive(Clone, Default)]
pub struct PlainUsers {
    users: HashMap<String, String>,
}

impl std::fmt::Debug for PlainUsers {
    // Passwords never reach logs: only the user names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.users.keys().collect();
        names.sort();
        f.debug_struct("PlainUsers").field("users", &names).finish()
    }
}

impl PlainUsers {
    pub fn from_props(spec: &ListenerSpec, props: &BrokerProperties) -> Result<Self, String> {
        let key = format!(
            "listener.name.{}.plain.sasl.jaas.config",
            spec.name.to_ascii_lowercase()
        );
        let Some((key, text)) = props.get(&key).map(|t| (key.as_str(), t)).or_else(|| {
            props
                .get("sasl.jaas.config")
                .map(|t| ("sasl.jaas.config", t))
        }) else {
            return Ok(Self::default());
        };
        let options = jaas_options(text).map_err(|e| format!("{key}: {e}"))?;
        let users = options
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("user_")?.to_string(), v)))
            .collect();
        Ok(Self { users })
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Checks a PLAIN client message (`authzid NUL authcid NUL password`, parsed by the
    /// protocol crate); the user name on success. The error is what the client is told (never
    /// the password).
    pub fn authenticate(&self, message: &[u8]) -> Result<String, String> {
        let creds = plain::parse_client_message(message).map_err(|e| e.to_string())?;
        match self.users.get(&creds.username) {
            Some(expected)
                if constant_time_eq(expected.as_bytes(), creds.password.expose().as_bytes()) =>
            {
                Ok(creds.username)
            }
            _ => Err("Authentication failed: Invalid username or password".into()),
        }
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `name="value"` options of a one-module JAAS entry
/// (`Module required name="value" ...;`). Values may hold escaped quotes.
pub fn jaas_options(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.trim().trim_end_matches(';').trim();
    let mut words = text.splitn(3, char::is_whitespace);
    let _module = words
        .next()
        .filter(|m| !m.is_empty())
        .ok_or("empty JAAS config")?;
    let flag = words.next().unwrap_or("");
    if !matches!(flag, "required" | "requisite" | "sufficient" | "optional") {
        return Err(format!(
            "expected `LoginModule required name=\"value\" ...;`, got control flag {flag:?}"
        ));
    }
    let mut rest = words.next().unwrap_or("").trim_start();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("option without value near {:?}", short(rest)))?;
        let after = after.trim_start();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated quote in option {}", name.trim()))?;
            (value, &quoted[end..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.push((name.trim().to_string(), value));
        rest = after.trim_start();
    }
    Ok(out)
}

fn short(s: &str) -> &str {
    &s[..s.char_indices().nth(20).map(|(i, _)| i).unwrap_or(s.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_jaas_text() {
        let opts = jaas_options(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a\"b" user_admin="admin-secret" user_alice=alice-pw;"#,
        )
        .unwrap();
        assert_eq!(opts[1], ("password".to_string(), "a\"b".to_string()));
        assert_eq!(opts[3], ("user_alice".to_string(), "alice-pw".to_string()));
        assert!(jaas_options("Module please user_a=\"b\";").is_err());
        assert!(jaas_options("Module required user_a=\"b;").is_err());
    }

    #[test]
    fn plain_messages() {
        let users = PlainUsers {
            users: [("alice".to_string(), "pw".to_string())].into(),
        };
        assert_eq!(users.authenticate(b"\0alice\0pw").unwrap(), "alice");
        assert_eq!(users.authenticate(b"alice\0alice\0pw").unwrap(), "alice");
        assert!(users.authenticate(b"\0alice\0pX").is_err());
        assert!(users.authenticate(b"bob\0alice\0pw").is_err());
        assert!(users.authenticate(b"\0mallory\0pw").is_err());
        assert!(users.authenticate(b"\0alice").is_err());
        assert!(!format!("{users:?}").contains("pw"), "no password in Debug");
    }
}
