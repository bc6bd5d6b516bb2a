//! Client-side TLS on rustls (ring provider): building the client config from PEM, the
//! handshake, and turning a failed handshake into words a user can act on.
//!
//! Trust comes from PEM CA certificates (a file, a directory of files, or inline text), or the
//! operating system's store when none is given. Hostname verification can be turned off
//! (`ssl.endpoint.identification.algorithm=none`) while the chain is still verified; both can be
//! turned off (`enable.ssl.certificate.verification=false`) for tests only.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

use crate::stream::NoSigPipe;

/// Where the client's trusted CA certificates come from.
#[derive(Debug, Clone, Default)]
pub enum Roots {
    /// The operating system's certificate store.
    #[default]
    System,
    /// PEM text holding one or more CA certificates.
    Pem(Vec<u8>),
}

/// The TLS settings of a client, independent of any Kafka config name.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// Trusted CAs.
    pub roots: Roots,
    /// The client certificate chain (PEM) for mutual TLS.
    pub certificate_pem: Option<Vec<u8>>,
    /// The client's private key (PEM: PKCS#8, PKCS#1 or SEC1, or encrypted PKCS#8).
    pub key_pem: Option<Vec<u8>>,
    /// Where `key_pem` came from (a file name or a config key), for error messages.
    pub key_origin: String,
    /// The password of an encrypted `key_pem`; `Debug` leaves it out.
    pub key_password: Option<String>,
    /// Check that the server's certificate names the host connected to.
    pub verify_hostname: bool,
    /// Check the server's certificate at all (off only for tests).
    pub verify_certificate: bool,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field(
                "roots",
                &match self.roots {
                    Roots::System => "system",
                    Roots::Pem(_) => "pem",
                },
            )
            .field("client_certificate", &self.certificate_pem.is_some())
            .field("verify_hostname", &self.verify_hostname)
            .field("verify_certificate", &self.verify_certificate)
            .finish_non_exhaustive()
    }
}

/// Reads CA certificates from a PEM file, or from every file in a directory (files that hold no
/// certificate are skipped, as OpenSSL's CA directories hold other things too).
pub fn read_ca_location(path: &Path) -> io::Result<Vec<u8>> {
    if path.is_dir() {
        let mut all = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<io::Result<_>>()?;
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let p = entry.path();
            if p.is_file() {
                let bytes = std::fs::read(&p)?;
                if CertificateDer::pem_slice_iter(&bytes).any(|c| c.is_ok()) {
                    all.extend_from_slice(&bytes);
                    all.push(b'\n');
                }
            }
        }
        Ok(all)
    } else {
        std::fs::read(path)
    }
}

/// A TLS client config that is wrong before any connection: unreadable PEM, no certificate in
/// it, a key that does not match.
#[derive(Debug, Clone)]
pub struct TlsSetupError(pub String);

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsSetupError {}

// ring rather than aws-lc-rs: it builds with a C compiler alone (no cmake/nasm), which the
// zig-built wheels need. Its provider lacks post-quantum key exchange, hence the deprecation.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError(format!("{what}: not valid PEM ({e})")))?;
    if certs.is_empty() {
        return Err(TlsSetupError(format!("{what}: no CERTIFICATE in the PEM")));
    }
    Ok(certs)
}

/// Builds the rustls client config: TLS 1.2 and 1.3, the given roots, client auth if a
/// certificate and key are given.
pub fn client_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    match &options.roots {
        Roots::Pem(pem) => {
            for cert in certificates(pem, "CA certificates")? {
                roots
                    .add(cert)
                    .map_err(|e| TlsSetupError(format!("CA certificate not usable: {e}")))?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system store may hold certificates rustls cannot parse; skip those.
                let _ = roots.add(cert);
            }
            if roots.is_empty() && options.verify_certificate {
                return Err(TlsSetupError(
                    "no system CA certificates found; set ssl.ca.location or ssl.ca.pem".into(),
                ));
            }
        }
    }
    let verifier: Arc<dyn ServerCertVerifier> = if options.verify_certificate {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsSetupError(format!("CA certificates not usable: {e}")))?;
        if options.verify_hostname {
            webpki
        } else {
            Arc::new(IgnoreHostname(webpki))
        }
    } else {
        Arc::new(AcceptAnything(provider.clone()))
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsSetupError(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&options.certificate_pem, &options.key_pem) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "client certificate")?;
            let key = crate::tls_key::private_key_from_pem(key, options.key_password.as_deref())
                .map_err(|e| TlsSetupError(format!("client key ({}): {e}", options.key_origin)))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsSetupError(format!("client certificate and key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(TlsSetupError(
                "a client certificate needs its key too".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(TlsSetupError(
                "a client key needs its certificate too".into(),
            ));
        }
    };
    Ok(Arc::new(config))
}

/// The TLS stream a client connection runs over.
pub type ClientTlsStream = tokio_rustls::client::TlsStream<NoSigPipe>;

/// Runs the TLS handshake over `tcp` for `host` (sent as SNI when it is a name, and checked
/// against the certificate unless hostname verification is off).
pub async fn connect(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> io::Result<ClientTlsStream> {
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{host}' is not a valid TLS server name"),
        )
    })?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, NoSigPipe::new(tcp))
        .await
}

/// Why a handshake failed, when the cause is a certificate or the peer's TLS alert: retrying
/// the same connection cannot help, so callers treat these as permanent.
pub fn certificate_problem(error: &io::Error) -> Option<String> {
    let inner = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(match inner {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "certificate verify failed: unknown issuer (the broker's certificate is not signed \
                 by a trusted CA: check ssl.ca.location / ssl.ca.pem)"
                    .to_string()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate verify failed: the broker's certificate has expired".to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate verify failed: the broker's certificate is not valid yet".to_string()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "certificate verify failed: hostname mismatch: {cert} (set \
                     ssl.endpoint.identification.algorithm=none to skip the name check)"
                )
            }
            CertificateError::Revoked => {
                "certificate verify failed: the broker's certificate is revoked".to_string()
            }
            other => format!("certificate verify failed: {other}"),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the broker refused the TLS handshake ({alert:?}): it may require a client \
             certificate (ssl.certificate.location / ssl.key.location) or not trust ours"
        ),
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateHandshakeMessage { .. }
        | rustls::Error::InappropriateMessage { .. } => {
            format!("TLS handshake failed ({inner}): is this a TLS listener?")
        }
        rustls::Error::NoCertificatesPresented => "the broker presented no certificate".to_string(),
        _ => return None,
    })
}

/// Verifies the chain but not the name (`ssl.endpoint.identification.algorithm=none`).
#[derive(Debug)]
struct IgnoreHostname(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts any certificate (`enable.ssl.certificate.verification=false`); signatures are still
/// checked so the handshake is with the holder of the presented key.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
