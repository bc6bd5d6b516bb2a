//! PLAIN (RFC 4616): one message, `authzid NUL authcid NUL password`.
//!
//! ```
//! use odradek_protocol::sasl::plain;
//!
//! let msg = plain::client_message("alice", "s3cret");
//! let parsed = plain::parse_client_message(&msg).unwrap();
//! assert_eq!(parsed.username, "alice");
//! assert_eq!(parsed.password.expose(), "s3cret");
//! ```

use super::{SaslError, Secret};

const MECHANISM: &str = "PLAIN";

/// The client's only message: an empty authorization id, the username and the password.
pub fn client_message(username: &str, password: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(username.len() + password.len() + 2);
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    out
}

/// What a broker reads from a PLAIN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The authentication identity (the user logging in).
    pub username: String,
    /// The password; `Debug` redacts it.
    pub password: Secret,
}

/// Parses a client's PLAIN message as Kafka's broker does: three NUL-separated UTF-8 fields,
/// username and password non-empty, an authorization id either empty or equal to the username
/// (Kafka does not let one user act as another).
pub fn parse_client_message(msg: &[u8]) -> Result<PlainCredentials, SaslError> {
    let malformed = |why: &str| SaslError::Malformed {
        mechanism: MECHANISM,
        what: "client message",
        why: why.to_string(),
    };
    let text = std::str::from_utf8(msg).map_err(|_| malformed("not UTF-8"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(username), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "expected authzid, username and password separated by NUL",
        ));
    };
    if username.is_empty() {
        return Err(malformed("empty username"));
    }
    if password.is_empty() {
        return Err(malformed("empty password"));
    }
    if !authzid.is_empty() && authzid != username {
        return Err(SaslError::Malformed {
            mechanism: MECHANISM,
            what: "client message",
            why: format!("authorization id '{authzid}' differs from the username '{username}'"),
        });
    }
    Ok(PlainCredentials {
        username: username.to_string(),
        password: Secret::new(password),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4616_layout() {
        assert_eq!(
            client_message("tim", "tanstaaftanstaaf"),
            b"\0tim\0tanstaaftanstaaf"
        );
    }

    #[test]
    fn parses_with_and_without_authzid() {
        let p = parse_client_message(b"tim\0tim\0pw").unwrap();
        assert_eq!(p.username, "tim");
        let p = parse_client_message(b"\0tim\0pw").unwrap();
        assert_eq!(p.password.expose(), "pw");
    }

    #[test]
    fn refuses_bad_messages_without_echoing_the_password() {
        for bad in [
            &b"\0tim"[..],
            b"\0\0pw",
            b"\0tim\0",
            b"\0tim\0pw\0extra",
            b"bob\0tim\0pw",
            b"\0tim\0\xff",
        ] {
            let err = parse_client_message(bad).unwrap_err();
            assert!(!err.to_string().contains("pw"), "{err}");
        }
    }

    #[test]
    fn debug_redacts_the_password() {
        let p = parse_client_message(b"\0tim\0hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
