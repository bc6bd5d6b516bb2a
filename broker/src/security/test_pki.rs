//! A throw-away certificate authority for tests and the embedded test broker: a CA, a server
//! certificate for `localhost` / 127.0.0.1 / ::1 and client certificates, made at run time
//! (nothing that expires is checked in). Keys are unencrypted PKCS#8 PEM.

/// A CA that signs server and client certificates.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// A certificate with its private key, as PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    pub fn new(name: &str) -> Result<Self, String> {
        let err = |e: rcgen::Error| format!("test CA: {e}");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name = dn(name, "Odradek test CA");
        let key = rcgen::KeyPair::generate().map_err(err)?;
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).map_err(err)?;
        Ok(Self { issuer })
    }

    /// The CA certificate (what clients and the broker's truststore trust).
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost`, 127.0.0.1 and ::1 (plus `extra_names`).
    pub fn server(&self, extra_names: &[&str]) -> Result<Issued, String> {
        let mut names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        names.extend(extra_names.iter().map(|s| s.to_string()));
        self.issue(
            names,
            "localhost",
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate whose subject is `CN=<common_name>,O=Odradek test`.
    pub fn client(&self, common_name: &str) -> Result<Issued, String> {
        self.issue(
            Vec::new(),
            common_name,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    fn issue(
        &self,
        names: Vec<String>,
        common_name: &str,
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> Result<Issued, String> {
        let err = |e: rcgen::Error| format!("test certificate {common_name}: {e}");
        let mut params = rcgen::CertificateParams::new(names).map_err(err)?;
        params.distinguished_name = dn(common_name, "Odradek test");
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        let key = rcgen::KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(err)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn dn(common_name: &str, org: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, org);
    dn.push(rcgen::DnType::CommonName, common_name);
    dn
}
