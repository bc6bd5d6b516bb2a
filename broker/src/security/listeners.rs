//! Kafka's listener configuration: `listeners`, `listener.security.protocol.map`,
//! `advertised.listeners`, and the per-listener lookup of `listener.name.<name>.<key>`.
//!
//! Safe by default: a listener that authenticates nobody (PLAINTEXT, or SSL without client
//! certificates) binds loopback when its host is left empty, and one given a non-loopback
//! address explicitly is reported with a warning at start-up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::config::BrokerProperties;

pub use odradek_protocol::security::SecurityProtocol;

/// One configured listener, before it is bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The listener name as configured (`PLAINTEXT`, `SASL_SSL`, `CLIENT`...), upper case.
    pub name: String,
    pub protocol: SecurityProtocol,
    /// What to bind; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Whether the host was given (an empty host means "all interfaces" in Kafka; here all
    /// interfaces only for listeners that authenticate, else loopback).
    pub host_given: bool,
    /// `host:port` from `advertised.listeners`, if set for this listener.
    pub advertised: Option<(String, u16)>,
}

impl ListenerSpec {
    /// `listener.name.<name>.<key>` if set, else `<key>` (Kafka's per-listener override).
    pub fn prop<'a>(&self, props: &'a BrokerProperties, key: &str) -> Option<&'a str> {
        let prefixed = format!("listener.name.{}.{key}", self.name.to_ascii_lowercase());
        props.get(&prefixed).or_else(|| props.get(key))
    }

    /// Whether this listener identifies its clients: SASL, or TLS with client certificates
    /// required.
    pub fn authenticates(&self, props: &BrokerProperties) -> bool {
        self.protocol.uses_sasl()
            || (self.protocol.uses_tls()
                && self
                    .prop(props, "ssl.client.auth")
                    .is_some_and(|v| v.eq_ignore_ascii_case("required")))
    }
}

/// The listeners to start: from `listeners` when set, else one PLAINTEXT listener on
/// `default_bind` (the `--listen` address). Errors name the key and the entry.
pub fn parse(
    props: &BrokerProperties,
    default_bind: SocketAddr,
    default_advertised: Option<&str>,
) -> Result<Vec<ListenerSpec>, String> {
    let map = protocol_map(props)?;
    let mut specs = match props.get("listeners").filter(|v| !v.trim().is_empty()) {
        None => vec![ListenerSpec {
            name: "PLAINTEXT".to_string(),
            protocol: SecurityProtocol::Plaintext,
            bind: default_bind,
            host_given: true,
            advertised: None,
        }],
        Some(list) => {
            let mut out: Vec<ListenerSpec> = Vec::new();
            // A combined Kafka node's controller listener serves the quorum, not clients: a
            // stock KRaft server.properties names one, and this single node has no quorum.
            let controllers: Vec<String> = props
                .get("controller.listener.names")
                .unwrap_or("")
                .split(',')
                .map(|n| n.trim().to_ascii_uppercase())
                .filter(|n| !n.is_empty())
                .collect();
            for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (name, host, port) = split_listener(entry)
                    .ok_or_else(|| format!("listeners: {entry:?} is not NAME://HOST:PORT"))?;
                if controllers.contains(&name) {
                    continue;
                }
                let protocol = map
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, p)| *p)
                    .ok_or_else(|| {
                        format!(
                            "listeners: {entry:?}: listener {name} has no security protocol \
                             (name it PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, or map it \
                             in listener.security.protocol.map)"
                        )
                    })?;
                if out.iter().any(|l| l.name == name) {
                    return Err(format!("listeners: listener {name} is named twice"));
                }
                let (ip, host_given) = match host.as_str() {
                    "" => (IpAddr::V4(Ipv4Addr::LOCALHOST), false),
                    h => (
                        resolve_bind_host(h).map_err(|e| format!("listeners: {entry:?}: {e}"))?,
                        true,
                    ),
                };
                out.push(ListenerSpec {
                    name,
                    protocol,
                    bind: SocketAddr::new(ip, port),
                    host_given,
                    advertised: None,
                });
            }
            if out.is_empty() {
                return Err("listeners: no listener given".to_string());
            }
            out
        }
    };
    for spec in &mut specs {
        if !spec.host_given && spec.authenticates(props) {
            // Kafka's empty host: every interface, for a listener that checks who connects.
            spec.bind.set_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        }
    }
    if let Some(adv) = props
        .get("advertised.listeners")
        .filter(|v| !v.trim().is_empty())
    {
        for entry in adv.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, host, port) = split_listener(entry).ok_or_else(|| {
                format!("advertised.listeners: {entry:?} is not NAME://HOST:PORT")
            })?;
            let Some(spec) = specs.iter_mut().find(|s| s.name == name) else {
                if props
                    .get("controller.listener.names")
                    .is_some_and(|c| c.split(',').any(|n| n.trim().eq_ignore_ascii_case(&name)))
                {
                    continue;
                }
                return Err(format!(
                    "advertised.listeners: {entry:?} names no listener in listeners"
                ));
            };
            spec.advertised = (!host.is_empty()).then_some((host, port));
        }
    } else if let Some(a) = default_advertised {
        let (host, port) = a
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?)))
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| format!("--advertised {a:?}: expected HOST:PORT"))?;
        specs[0].advertised = Some((host, port));
    }
    Ok(specs)
}

/// `listener.security.protocol.map`, Kafka's default when unset.
fn protocol_map(props: &BrokerProperties) -> Result<Vec<(String, SecurityProtocol)>, String> {
    let text = props
        .get("listener.security.protocol.map")
        .unwrap_or("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL");
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (name, proto) = entry.split_once(':').ok_or_else(|| {
                format!("listener.security.protocol.map: {entry:?} is not NAME:PROTOCOL")
            })?;
            let proto = SecurityProtocol::parse(proto.trim()).ok_or_else(|| {
                format!(
                    "listener.security.protocol.map: {entry:?}: unknown security protocol \
                     (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)"
                )
            })?;
            Ok((name.trim().to_ascii_uppercase(), proto))
        })
        .collect()
}

/// `NAME://HOST:PORT` → (upper-case name, host without brackets, port).
fn split_listener(entry: &str) -> Option<(String, String, u16)> {
    let (name, rest) = entry.split_once("://")?;
    let (host, port) = rest.rsplit_once(':')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((
        name.to_ascii_uppercase(),
        host.to_string(),
        port.parse().ok()?,
    ))
}

fn resolve_bind_host(host: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| format!("{host:?} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> BrokerProperties {
        let mut p = BrokerProperties::default();
        for (k, v) in kv {
            p.set(k, v).unwrap();
        }
        p
    }

    #[test]
    fn several_listeners_and_advertised() {
        let p = props(&[
            (
                "listeners",
                "PLAINTEXT://127.0.0.1:9092, SASL_SSL://:9093,CLIENT://[::1]:0",
            ),
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CLIENT:SSL",
            ),
            ("advertised.listeners", "SASL_SSL://kafka.example:19093"),
        ]);
        let l = parse(&p, "127.0.0.1:1".parse().unwrap(), None).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].protocol, SecurityProtocol::Plaintext);
        assert_eq!(
            l[1].bind,
            "0.0.0.0:9093".parse().unwrap(),
            "SASL listener: all interfaces"
        );
        assert_eq!(l[1].advertised, Some(("kafka.example".to_string(), 19093)));
        assert_eq!(l[2].name, "CLIENT");
        assert_eq!(l[2].protocol, SecurityProtocol::Ssl);
        assert_eq!(l[2].bind, "[::1]:0".parse().unwrap());
    }

    #[test]
    fn an_unauthenticated_listener_without_host_binds_loopback() {
        let p = props(&[("listeners", "PLAINTEXT://:9092,SSL://:9093")]);
        let l = parse(&p, "127.0.0.1:1".parse().unwrap(), None).unwrap();
        assert!(l[0].bind.ip().is_loopback());
        assert!(
            l[1].bind.ip().is_loopback(),
            "SSL without client auth authenticates nobody"
        );
        let p = props(&[
            ("listeners", "SSL://:9093"),
            ("ssl.client.auth", "required"),
        ]);
        let l = parse(&p, "127.0.0.1:1".parse().unwrap(), None).unwrap();
        assert!(l[0].bind.ip().is_unspecified());
    }

    #[test]
    fn errors_name_the_entry() {
        let p = props(&[("listeners", "WHAT://127.0.0.1:1")]);
        let e = parse(&p, "127.0.0.1:1".parse().unwrap(), None).unwrap_err();
        assert!(e.contains("WHAT"), "{e}");
        let p = props(&[("listeners", "PLAINTEXT://127.0.0.1")]);
        assert!(parse(&p, "127.0.0.1:1".parse().unwrap(), None).is_err());
        let p = props(&[
            ("listeners", "PLAINTEXT://127.0.0.1:1"),
            ("advertised.listeners", "SSL://h:1"),
        ]);
        assert!(parse(&p, "127.0.0.1:1".parse().unwrap(), None).is_err());
    }

    #[test]
    fn a_stock_kraft_file_serves_clients_on_its_broker_listener_only() {
        let p = props(&[
            ("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"),
            (
                "advertised.listeners",
                "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093",
            ),
            ("controller.listener.names", "CONTROLLER"),
            (
                "listener.security.protocol.map",
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            ),
        ]);
        let l = parse(&p, "127.0.0.1:1".parse().unwrap(), None).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].name, "PLAINTEXT");
        assert!(l[0].bind.ip().is_loopback());
        assert_eq!(l[0].advertised, Some(("localhost".to_string(), 9092)));
    }

    #[test]
    fn per_listener_override() {
        let p = props(&[
            ("listeners", "SASL_SSL://127.0.0.1:0"),
            ("ssl.client.auth", "none"),
            ("listener.name.sasl_ssl.ssl.client.auth", "required"),
        ]);
        let l = parse(&p, "127.0.0.1:1".parse().unwrap(), None).unwrap();
        assert_eq!(l[0].prop(&p, "ssl.client.auth"), Some("required"));
    }
}
