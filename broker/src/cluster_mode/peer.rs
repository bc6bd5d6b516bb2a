//! A connection from this broker to another one (a follower's fetches to the partition's
//! leader): Kafka requests over plain TCP, one at a time, through the node's network gate.

use std::io;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use odradek_cluster::NetworkGate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Responses above this are refused (a fetch asks for far less).
const MAX_RESPONSE: usize = 128 << 20;

pub struct Peer {
    stream: TcpStream,
    next_correlation: i32,
    client_id: StrBytes,
    gate: NetworkGate,
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Peer {
    pub async fn connect(
        address: &str,
        node_id: u64,
        timeout: Duration,
        gate: &NetworkGate,
    ) -> io::Result<Self> {
        if gate.is_isolated() {
            return Err(gate.refused());
        }
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, format!("connecting to {address}"))
            })??;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            next_correlation: 1,
            client_id: StrBytes::from_string(format!("odradek-broker-{node_id}")),
            gate: gate.clone(),
        })
    }

    /// Sends `req` and waits (at most `timeout`) for its response.
    pub async fn call<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> io::Result<R::Response> {
        let correlation = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        let mut h = RequestHeader::default();
        h.request_api_key = R::KEY;
        h.request_api_version = version;
        h.correlation_id = correlation;
        h.client_id = Some(self.client_id.clone());
        h.encode(&mut buf, R::header_version(version))
            .and_then(|()| req.encode(&mut buf, version))
            .map_err(|e| invalid(format!("encoding a request: {e}")))?;
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        let exchange = async {
            self.stream.write_all(&buf).await?;
            let mut len = [0u8; 4];
            self.stream.read_exact(&mut len).await?;
            let len = usize::try_from(i32::from_be_bytes(len))
                .ok()
                .filter(|l| *l <= MAX_RESPONSE)
                .ok_or_else(|| invalid("response frame of an invalid size".into()))?;
            let mut body = vec![0u8; len];
            self.stream.read_exact(&mut body).await?;
            Ok::<_, io::Error>(Bytes::from(body))
        };
        let gate = self.gate.clone();
        let mut body = tokio::time::timeout(timeout, gate.cut_on_isolation(exchange))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no response in time"))?
            .ok_or_else(|| gate.refused())??;
        let hv = <R::Response as HeaderVersion>::header_version(version);
        let h = ResponseHeader::decode(&mut body, hv)
            .map_err(|e| invalid(format!("decoding a response header: {e}")))?;
        if h.correlation_id != correlation {
            return Err(invalid(format!(
                "response for request {} while waiting for {correlation}",
                h.correlation_id
            )));
        }
        R::Response::decode(&mut body, version)
            .map_err(|e| invalid(format!("decoding a response: {e}")))
    }
}
