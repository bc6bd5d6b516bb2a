//! Who a connection is and what it may do: listeners and their security protocols
//! (`listeners`), TLS (`tls`), SASL authentication (`sasl`; PLAIN users in `plain`,
//! OAUTHBEARER tokens in `oauth`: unsecured, or signed and checked against a JWKS in `jwks`;
//! SCRAM credentials in `scram_store`), and ACLs with
//! the authorizer handlers ask (`acl`).
//!
//! A principal is written as Kafka writes it: `User:ANONYMOUS` for an unauthenticated
//! connection, `User:<name>` after SASL, `User:<subject DN>` for a client certificate, or
//! the name `ssl.principal.mapping.rules` make of the DN (`principal_mapping`).

pub mod acl;
pub mod jwks;
pub mod listeners;
pub mod oauth;
pub mod plain;
pub mod principal_mapping;
pub mod sasl;
pub mod scram_store;
pub mod test_pki;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::BrokerProperties;
use listeners::{ListenerSpec, SecurityProtocol};

/// Where the durable security state lives in the data directory (SCRAM credentials, ACLs).
pub const SECURITY_DIR: &str = "__security";

/// Kafka's principal of a connection nobody authenticated.
pub const ANONYMOUS: &str = "User:ANONYMOUS";

/// A bound listener as connections see it.
pub struct Listener {
    pub name: String,
    pub protocol: SecurityProtocol,
    pub local_addr: SocketAddr,
    /// What Metadata and FindCoordinator tell clients that connected here.
    pub advertised_host: String,
    pub advertised_port: i32,
    /// Set on SSL and SASL_SSL listeners.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// `ssl.principal.mapping.rules`: the principal a client certificate stands for.
    pub principal_mapper: principal_mapping::PrincipalMapper,
    /// Set on SASL listeners.
    pub sasl: Option<Arc<sasl::SaslConfig>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl Listener {
    /// Builds what a listener needs besides its socket (TLS config, SASL mechanisms); errors
    /// name the listener and the key.
    pub fn new(
        spec: &ListenerSpec,
        local_addr: SocketAddr,
        props: &BrokerProperties,
    ) -> Result<Self, String> {
        let tls = if spec.protocol.uses_tls() {
            Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
                spec, props,
            )?))
        } else {
            None
        };
        let sasl = if spec.protocol.uses_sasl() {
            Some(Arc::new(sasl::SaslConfig::new(spec, props)?))
        } else {
            None
        };
        let principal_mapper = match spec.prop(props, "ssl.principal.mapping.rules") {
            Some(rules) => principal_mapping::PrincipalMapper::parse(rules)
                .map_err(|e| format!("listener {}: ssl.principal.mapping.rules: {e}", spec.name))?,
            None => principal_mapping::PrincipalMapper::default(),
        };
        let (advertised_host, advertised_port) = match &spec.advertised {
            Some((h, p)) => (h.clone(), *p as i32),
            None => (local_addr.ip().to_string(), local_addr.port() as i32),
        };
        Ok(Self {
            name: spec.name.clone(),
            protocol: spec.protocol,
            local_addr,
            advertised_host,
            advertised_port,
            tls,
            principal_mapper,
            sasl,
        })
    }

    /// A PLAINTEXT listener on `addr` (handler tests).
    pub fn plaintext(addr: SocketAddr) -> Self {
        Self {
            name: "PLAINTEXT".to_string(),
            protocol: SecurityProtocol::Plaintext,
            local_addr: addr,
            advertised_host: addr.ip().to_string(),
            advertised_port: addr.port() as i32,
            tls: None,
            principal_mapper: principal_mapping::PrincipalMapper::default(),
            sasl: None,
        }
    }
}
