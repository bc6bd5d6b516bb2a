//! TLS listeners on rustls (ring provider): the server configuration from Kafka's PEM-style
//! `ssl.*` keys and the principal a client certificate stands for.
//!
//! Keys (each also as `listener.name.<listener>.<key>`): `ssl.keystore.type=PEM` (the only type
//! read; JKS and PKCS12 are refused by name), `ssl.keystore.location` (a PEM file holding the
//! private key and the certificate chain) or `ssl.keystore.certificate.chain` +
//! `ssl.keystore.key` (PEM text), `ssl.truststore.location` / `ssl.truststore.certificates` (CA
//! certificates that sign client certificates), `ssl.client.auth=required|requested|none`,
//! `ssl.enabled.protocols` (TLSv1.2, TLSv1.3).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::listeners::ListenerSpec;
use crate::config::BrokerProperties;

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Required,
    Requested,
    None,
}

/// The rustls server configuration of one TLS listener. Errors name the key at fault.
pub fn server_config(
    spec: &ListenerSpec,
    props: &BrokerProperties,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let get = |key: &str| spec.prop(props, key).filter(|v| !v.trim().is_empty());
    let listener = &spec.name;
    if let Some(t) = get("ssl.keystore.type")
        && !t.eq_ignore_ascii_case("PEM")
    {
        return Err(format!(
            "listener {listener}: ssl.keystore.type={t} is not supported: use PEM"
        ));
    }
    if let Some(t) = get("ssl.truststore.type")
        && !t.eq_ignore_ascii_case("PEM")
    {
        return Err(format!(
            "listener {listener}: ssl.truststore.type={t} is not supported: use PEM"
        ));
    }
    let (chain, key) = match (
        get("ssl.keystore.location"),
        get("ssl.keystore.certificate.chain"),
        get("ssl.keystore.key"),
    ) {
        (Some(path), _, _) => {
            let text = std::fs::read(path)
                .map_err(|e| format!("listener {listener}: ssl.keystore.location {path}: {e}"))?;
            let what = format!("ssl.keystore.location {path}");
            (
                certs(&text, listener, &what)?,
                private_key(&text, listener, &what, get("ssl.key.password"))?,
            )
        }
        (None, Some(chain), Some(key)) => (
            certs(chain.as_bytes(), listener, "ssl.keystore.certificate.chain")?,
            private_key(
                key.as_bytes(),
                listener,
                "ssl.keystore.key",
                get("ssl.key.password"),
            )?,
        ),
        _ => {
            return Err(format!(
                "listener {listener} ({}) needs a certificate: set ssl.keystore.location (a PEM \
                 file with key and certificate chain) or ssl.keystore.certificate.chain and \
                 ssl.keystore.key",
                spec.protocol.name()
            ));
        }
    };
    let auth = match get("ssl.client.auth")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => ClientAuth::None,
        Some("required") => ClientAuth::Required,
        Some("requested") => ClientAuth::Requested,
        Some(other) => {
            return Err(format!(
                "listener {listener}: ssl.client.auth={other}: expected required, requested or none"
            ));
        }
    };
    let versions = protocol_versions(get("ssl.enabled.protocols"), listener)?;
    let provider = ring_provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("listener {listener}: TLS versions: {e}"))?;
    let builder = if auth == ClientAuth::None {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        let trust = match (
            get("ssl.truststore.location"),
            get("ssl.truststore.certificates"),
        ) {
            (Some(path), _) => {
                let text = std::fs::read(path).map_err(|e| {
                    format!("listener {listener}: ssl.truststore.location {path}: {e}")
                })?;
                certs(&text, listener, &format!("ssl.truststore.location {path}"))?
            }
            (None, Some(pem)) => certs(pem.as_bytes(), listener, "ssl.truststore.certificates")?,
            (None, None) => {
                return Err(format!(
                    "listener {listener}: ssl.client.auth needs the CA certificates that sign \
                     client certificates: set ssl.truststore.location or \
                     ssl.truststore.certificates"
                ));
            }
        };
        for cert in trust {
            roots
                .add(cert)
                .map_err(|e| format!("listener {listener}: truststore certificate: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if auth == ClientAuth::Requested {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        builder.with_client_cert_verifier(
            verifier
                .build()
                .map_err(|e| format!("listener {listener}: client certificate verifier: {e}"))?,
        )
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("listener {listener}: certificate and key do not fit: {e}"))?;
    Ok(Arc::new(config))
}

/// rustls with *ring*: no C toolchain beyond what ring needs, builds for every wheel target.
/// Deprecated in rustls 0.23.48 only because ring lacks post-quantum key exchange; the
/// classical groups it offers are what Kafka's JVM clients negotiate today.
#[allow(deprecated)]
fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn protocol_versions(
    enabled: Option<&str>,
    listener: &str,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let Some(list) = enabled else {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    };
    let mut out = Vec::new();
    for v in list.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        match v {
            "TLSv1.3" => out.push(&rustls::version::TLS13),
            "TLSv1.2" => out.push(&rustls::version::TLS12),
            other => {
                return Err(format!(
                    "listener {listener}: ssl.enabled.protocols: {other} is not supported \
                     (TLSv1.2, TLSv1.3)"
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "listener {listener}: ssl.enabled.protocols is empty"
        ));
    }
    Ok(out)
}

fn certs(pem: &[u8], listener: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("listener {listener}: {what}: bad PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "listener {listener}: {what}: no CERTIFICATE in the PEM"
        ));
    }
    Ok(certs)
}

fn private_key(
    pem: &[u8],
    listener: &str,
    what: &str,
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, String> {
    odradek_socket::tls_key::private_key_from_pem(pem, password)
        .map_err(|e| format!("listener {listener}: {what}: {e}"))
}

/// Kafka's default principal for a client certificate (`ssl.principal.mapping.rules=DEFAULT`):
/// the subject's distinguished name as Java's `X500Principal.getName()` writes it (RFC 2253:
/// last RDN first, no spaces, special characters escaped).
pub fn subject_dn(cert: &CertificateDer<'_>) -> Result<String, String> {
    use x509_parser::prelude::FromDer;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref())
        .map_err(|e| format!("client certificate does not parse: {e}"))?;
    let rdns: Vec<String> = parsed
        .subject()
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let oid = attr.attr_type().to_id_string();
                    match (keyword(&oid), attr.as_str()) {
                        (Some(k), Ok(v)) => format!("{k}={}", escape_rfc2253(v)),
                        _ => format!("{oid}=#{}", hex(attr.attr_value().as_bytes())),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    Ok(rdns.into_iter().rev().collect::<Vec<_>>().join(","))
}

/// The attribute keywords RFC 2253 (and Java) write by name; others are written as OIDs.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_is_written_as_java_does() {
        let mut params = rcgen::CertificateParams::new(vec!["client".to_string()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "Odradek, Inc");
        dn.push(rcgen::DnType::CommonName, "alice");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_dn(cert.der()).unwrap(),
            "CN=alice,O=Odradek\\, Inc,C=DE"
        );
    }

    #[test]
    fn keystore_errors_name_the_key() {
        let spec = ListenerSpec {
            name: "SSL".into(),
            protocol: super::super::listeners::SecurityProtocol::Ssl,
            bind: "127.0.0.1:0".parse().unwrap(),
            host_given: true,
            advertised: None,
        };
        let mut p = BrokerProperties::default();
        let e = server_config(&spec, &p).unwrap_err();
        assert!(e.contains("ssl.keystore.location"), "{e}");
        p.set("ssl.keystore.type", "JKS").unwrap();
        let e = server_config(&spec, &p).unwrap_err();
        assert!(e.contains("JKS"), "{e}");
        p.set("ssl.keystore.type", "PEM").unwrap();
        p.set("ssl.keystore.location", "/nonexistent/key.pem")
            .unwrap();
        let e = server_config(&spec, &p).unwrap_err();
        assert!(e.contains("/nonexistent/key.pem"), "{e}");
    }
}
