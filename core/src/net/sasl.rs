//! SASL at connection setup (and again for KIP-368 re-authentication): SaslHandshake names
//! the mechanism, then SaslAuthenticate carries the mechanism's messages, built by the sans-io
//! state machines in `odradek_protocol::sasl`.
//!
//! Every failure here is fatal for the client ([`Error::authentication`]): a wrong password or
//! a mechanism the broker does not enable will not fix itself on reconnect. Messages name the
//! mechanism, the user and the broker's words, never the password or token.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;
use odradek_protocol::sasl::oauthbearer::{self, CLIENT_ERROR_ACK};
use odradek_protocol::sasl::scram::ScramClient;
use odradek_protocol::sasl::{Mechanism, plain};

use tokio::sync::watch;

use super::connection::Link;
use crate::error::{Error, ErrorKind, Result};
use crate::security::SaslSettings;

const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

/// Authenticates `conn` with `sasl`; returns the session lifetime the broker set (KIP-368),
/// if any.
pub(super) async fn authenticate(conn: &Link, sasl: &SaslSettings) -> Result<Option<Duration>> {
    let mechanism = sasl.mechanism;
    let who = match mechanism {
        Mechanism::OAuthBearer => String::new(),
        _ => format!(" as user '{}'", sasl.username),
    };
    let fail = |what: String| {
        Error::authentication(format!(
            "SASL {mechanism} authentication{who} failed: {what}"
        ))
        .with_broker(conn.address())
    };
    let handshake_version = conn.version(ApiKey::SaslHandshake).ok_or_else(|| {
        fail("the broker does not support SaslHandshake (is this a SASL listener?)".into())
    })?;
    let auth_version = conn.version(ApiKey::SaslAuthenticate).ok_or_else(|| {
        fail("the broker does not support SaslAuthenticate (Kafka 1.0 or later is needed)".into())
    })?;
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
    let response = conn.request_at(&handshake, handshake_version).await?;
    if response.error_code == UNSUPPORTED_SASL_MECHANISM {
        let enabled: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(fail(format!(
            "the broker does not enable {mechanism} (enabled: {})",
            if enabled.is_empty() {
                "none".to_string()
            } else {
                enabled.join(", ")
            }
        )));
    }
    if let Some(e) = Error::from_code(response.error_code) {
        return Err(fail(format!("SaslHandshake: {e}")));
    }

    let exchange = Exchange {
        conn,
        version: auth_version,
        fail: &fail,
    };
    let last = match mechanism {
        Mechanism::Plain => {
            let msg = plain::client_message(&sasl.username, sasl.password.expose());
            exchange.step(msg).await?
        }
        Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
            let scram = mechanism.scram().expect("a SCRAM mechanism");
            let mut client = ScramClient::new(scram, &sasl.username, sasl.password.expose());
            let first = exchange.step(client.client_first()).await?;
            let client_final = client
                .server_first(&first.auth_bytes)
                .map_err(|e| fail(e.to_string()))?;
            let last = exchange.step(client_final).await?;
            client
                .server_final(&last.auth_bytes)
                .map_err(|e| fail(e.to_string()))?;
            last
        }
        Mechanism::OAuthBearer => {
            let source = sasl
                .tokens
                .as_ref()
                .ok_or_else(|| fail("no token source".into()))?;
            let token = source
                .token()
                .await
                .map_err(|e| fail(format!("the token provider failed: {e}")))?;
            let msg = oauthbearer::client_message(token.value.expose(), &token.extensions);
            let reply = exchange.step(msg).await?;
            if !reply.auth_bytes.is_empty() {
                // An error challenge: acknowledge it so the broker ends the exchange, and
                // report what it said.
                let why = oauthbearer::describe_server_error(&reply.auth_bytes);
                // The broker's last answer may say why (ours does: bad signature, expired...).
                let said = exchange
                    .step_raw(CLIENT_ERROR_ACK.to_vec())
                    .await
                    .ok()
                    .and_then(|r| r.error_message)
                    .map(|m| m.to_string())
                    .filter(|m| !m.is_empty());
                return Err(fail(match said {
                    Some(said) => format!("the broker refused the token ({why}): {said}"),
                    None => format!("the broker refused the token ({why})"),
                }));
            }
            reply
        }
    };
    Ok((last.session_lifetime_ms > 0)
        .then(|| Duration::from_millis(last.session_lifetime_ms as u64)))
}

struct Exchange<'a, F: Fn(String) -> Error> {
    conn: &'a Link,
    version: i16,
    fail: &'a F,
}

impl<F: Fn(String) -> Error> Exchange<'_, F> {
    /// One SaslAuthenticate round trip; a broker error fails the login with its message.
    /// One SaslAuthenticate round trip, the broker's error code left to the caller.
    async fn step_raw(&self, bytes: Vec<u8>) -> Result<SaslAuthenticateResponse> {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes));
        self.conn.request_at(&request, self.version).await
    }

    async fn step(&self, bytes: Vec<u8>) -> Result<SaslAuthenticateResponse> {
        let response = self.step_raw(bytes).await?;
        if response.error_code != 0 {
            let code = Error::from_code(response.error_code)
                .map(|e| e.name())
                .unwrap_or_else(|| format!("error code {}", response.error_code));
            let message = response
                .error_message
                .as_ref()
                .map(|m| m.to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "no message".into());
            return Err((self.fail)(format!("{code}: {message}")));
        }
        Ok(response)
    }
}

/// KIP-368: logs in again on the same connection at 85–95 % of each session lifetime (as the
/// Java client does), holding ordinary requests in the writer's queue meanwhile (`paused`), so
/// none is lost or sent mid-exchange. A failed re-authentication closes the connection with
/// its error; the next connect reports it.
pub(super) async fn reauthenticate(
    link: Link,
    paused: watch::Sender<bool>,
    sasl: SaslSettings,
    mut lifetime: Duration,
) {
    loop {
        let wait = lifetime.mul_f64(0.85 + 0.10 * fastrand::f64());
        tokio::time::sleep(wait).await;
        if link.is_closed() {
            return;
        }
        let _ = paused.send(true);
        let result = authenticate(&link, &sasl).await;
        let _ = paused.send(false);
        match result {
            Ok(Some(next)) => {
                tracing::debug!(broker = link.address(), mechanism = %sasl.mechanism,
                    lifetime = ?next, "SASL re-authentication succeeded");
                lifetime = next;
            }
            Ok(None) => {
                tracing::debug!(broker = link.address(), mechanism = %sasl.mechanism,
                    "SASL re-authentication succeeded; the session no longer expires");
                return;
            }
            Err(e) => {
                tracing::warn!(broker = link.address(), error = %e, "SASL re-authentication failed");
                link.close(e);
                return;
            }
        }
    }
}

/// True for errors that end a client rather than one connection: SASL and TLS failures.
pub(crate) fn is_security_failure(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Authentication | ErrorKind::Ssl)
}
