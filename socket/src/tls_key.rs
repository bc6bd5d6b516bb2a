//! Private keys from PEM for the client's mutual TLS and the broker's listeners: unencrypted
//! (PKCS#8, PKCS#1, SEC1) or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, PBES2 with PBKDF2 or
//! scrypt and AES-CBC, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it) opened with
//! `ssl.key.password`.
//!
//! Errors never hold the password; callers add the file or key name they read the PEM from.

use std::fmt;

use pkcs8::der::Decode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// Why a private key could not be read. The text names `ssl.key.password` where it matters and
/// never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// An `ENCRYPTED PRIVATE KEY` and no password.
    PasswordMissing,
    /// The password does not open the key (or the key is damaged).
    WrongPassword,
    /// Encrypted with something other than PBES2 / AES-CBC (e.g. PBES1 with DES).
    UnsupportedEncryption(String),
    /// OpenSSL's traditional `Proc-Type: 4,ENCRYPTED` PEM, which is not PKCS#8.
    LegacyEncryption,
    /// No key in the PEM, or one that is not valid.
    NotFound(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::PasswordMissing => f.write_str(
                "the private key is encrypted (ENCRYPTED PRIVATE KEY) and no ssl.key.password is set",
            ),
            KeyError::WrongPassword => f.write_str(
                "cannot decrypt the private key: ssl.key.password is wrong (or the key is damaged)",
            ),
            KeyError::UnsupportedEncryption(why) => write!(
                f,
                "the private key's encryption is not supported ({why}); re-encrypt it with \
                 `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
            ),
            KeyError::LegacyEncryption => f.write_str(
                "the private key uses OpenSSL's legacy PEM encryption (Proc-Type: 4,ENCRYPTED); \
                 convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
            ),
            KeyError::NotFound(why) => write!(f, "no private key found: {why}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The first private key in `pem`, decrypted with `password` when it is encrypted. A password
/// given for an unencrypted key is ignored, as librdkafka and Kafka do.
pub fn private_key_from_pem(
    pem: &[u8],
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, KeyError> {
    let text = String::from_utf8_lossy(pem);
    if let Some(block) = encrypted_block(&text) {
        let password = password
            .filter(|p| !p.is_empty())
            .ok_or(KeyError::PasswordMissing)?;
        return decrypt(block, password);
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(KeyError::LegacyEncryption);
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| KeyError::NotFound(e.to_string()))
}

/// The `ENCRYPTED PRIVATE KEY` block of a PEM that may hold certificates too (a keystore file).
fn encrypted_block(text: &str) -> Option<&str> {
    let start = text.find(ENCRYPTED_BEGIN)?;
    let end = text[start..].find(ENCRYPTED_END)? + start + ENCRYPTED_END.len();
    Some(&text[start..end])
}

fn decrypt(block: &str, password: &str) -> Result<PrivateKeyDer<'static>, KeyError> {
    let (_, document) = pkcs8::Document::from_pem(block)
        .map_err(|e| KeyError::NotFound(format!("ENCRYPTED PRIVATE KEY is not valid PEM: {e}")))?;
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(document.as_bytes()).map_err(|e| {
        KeyError::NotFound(format!("ENCRYPTED PRIVATE KEY is not valid PKCS#8: {e}"))
    })?;
    let plain = info.decrypt(password).map_err(|e| match e {
        // pkcs5 0.7 reports bad CBC padding (a wrong password) as EncryptFailed.
        pkcs8::Error::EncryptedPrivateKey(
            pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
        ) => KeyError::WrongPassword,
        other => KeyError::UnsupportedEncryption(other.to_string()),
    })?;
    // CBC padding lets about one wrong password in 256 through; the structure check catches it.
    pkcs8::PrivateKeyInfo::from_der(plain.as_bytes()).map_err(|_| KeyError::WrongPassword)?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::der::pem::LineEnding;
    use pkcs8::pkcs5::pbes2;

    /// A fresh P-256 key as unencrypted PKCS#8 PEM and as PBES2 (PBKDF2-HMAC-SHA256,
    /// AES-256-CBC: OpenSSL 3's `-v2 aes-256-cbc`) encrypted PEM under `password`.
    fn key_pair(password: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let der = key.serialize_der();
        let info = pkcs8::PrivateKeyInfo::from_der(&der).unwrap();
        let params =
            pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &[7u8; 16], &[9u8; 16]).unwrap();
        let encrypted = info.encrypt_with_params(params, password).unwrap();
        let pem = encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .unwrap();
        (key.serialize_pem(), pem.to_string())
    }

    #[test]
    fn encrypted_pkcs8_opens_with_its_password_only() {
        let (plain, encrypted) = key_pair("key-pass-1");
        let expected = PrivateKeyDer::from_pem_slice(plain.as_bytes()).unwrap();
        // A keystore file: the key among certificates.
        let keystore =
            format!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n{encrypted}");
        let key = private_key_from_pem(keystore.as_bytes(), Some("key-pass-1")).unwrap();
        assert_eq!(key.secret_der(), expected.secret_der());

        let wrong = private_key_from_pem(encrypted.as_bytes(), Some("not-it")).unwrap_err();
        assert_eq!(wrong, KeyError::WrongPassword);
        assert!(!wrong.to_string().contains("not-it"));
        for missing in [None, Some("")] {
            let e = private_key_from_pem(encrypted.as_bytes(), missing).unwrap_err();
            assert_eq!(e, KeyError::PasswordMissing);
            assert!(e.to_string().contains("ssl.key.password"));
        }
        // An unencrypted key ignores a password.
        let key = private_key_from_pem(plain.as_bytes(), Some("unused")).unwrap();
        assert_eq!(key.secret_der(), expected.secret_der());
    }

    #[test]
    fn other_formats_are_named() {
        let legacy = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                      DEK-Info: AES-256-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert_eq!(
            private_key_from_pem(legacy.as_bytes(), Some("x")).unwrap_err(),
            KeyError::LegacyEncryption
        );
        let e = private_key_from_pem(b"nothing here", None).unwrap_err();
        assert!(matches!(e, KeyError::NotFound(_)), "{e}");
        let e = private_key_from_pem(
            format!("{ENCRYPTED_BEGIN}\n!!!\n{ENCRYPTED_END}\n").as_bytes(),
            Some("x"),
        )
        .unwrap_err();
        assert!(matches!(e, KeyError::NotFound(_)), "{e}");
    }
}
