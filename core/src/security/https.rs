//! One HTTPS POST of a form, for the OIDC token endpoint: HTTP/1.1 over rustls with
//! `Connection: close`, a bounded response (Content-Length, chunked, or up to EOF), and a time
//! limit.
//!
//! Hand-written rather than an HTTP client crate: the client needs one request shape to one
//! endpoint a few times an hour, and hyper/reqwest would add a second TLS and connection stack
//! (and dozens of crates) next to the rustls one the Kafka connections already use.

use std::sync::Arc;
use std::time::Duration;

use odradek_socket::rustls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The largest response read; token responses are a few kilobytes.
const MAX_RESPONSE: usize = 1 << 20;

/// An `https://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpsUrl {
    /// Parses `text`; only `https` is accepted, as the request carries a client secret.
    pub fn parse(text: &str) -> Result<HttpsUrl, String> {
        let rest = text.strip_prefix("https://").ok_or_else(|| {
            format!("{text:?} is not an https:// URL (the client secret is never sent in clear)")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("{text:?}: the port {p:?} is not a number"))?,
            ),
            _ => (authority, 443),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || authority.contains('@') {
            return Err(format!("{text:?}: no host (user info is not allowed)"));
        }
        Ok(HttpsUrl {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

impl std::fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "https://{}:{}{}", self.host, self.port, self.path)
    }
}

/// A response: status code and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs `form` (already `application/x-www-form-urlencoded`) with the extra `headers`
/// (`Authorization` among them: the caller's secret, sent and dropped here). Errors name the
/// URL and what failed, never a header value.
pub async fn post_form(
    tls: Arc<rustls::ClientConfig>,
    url: &HttpsUrl,
    headers: &[(&str, &str)],
    form: &str,
    timeout: Duration,
) -> Result<Response, String> {
    tokio::time::timeout(timeout, exchange(tls, url, headers, form))
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

async fn exchange(
    tls: Arc<rustls::ClientConfig>,
    url: &HttpsUrl,
    headers: &[(&str, &str)],
    form: &str,
) -> Result<Response, String> {
    let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut stream = odradek_socket::tls::connect(tls, &url.host, tcp)
        .await
        .map_err(|e| match odradek_socket::tls::certificate_problem(&e) {
            Some(problem) => problem.replace("broker", "token endpoint"),
            None => format!("TLS handshake failed: {e}"),
        })?;
    let host_header = if url.port == 443 {
        url.host.clone()
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\
         Accept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n",
        url.path,
        form.len()
    );
    for (name, value) in headers {
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(form);
    let written = stream.write_all(request.as_bytes()).await;
    drop(request);
    written.map_err(|e| format!("cannot send the request: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&chunk[..n]);
                if raw.len() > MAX_RESPONSE {
                    return Err(format!("the response exceeds {MAX_RESPONSE} bytes"));
                }
                if complete(&raw) {
                    break;
                }
            }
            // Servers that close without close_notify after a complete response are common.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(format!("cannot read the response: {e}")),
        }
    }
    parse_response(&raw)
}

/// Whether `raw` already holds a whole response with a Content-Length (so we need not wait
/// for the server to close).
fn complete(raw: &[u8]) -> bool {
    let Some(end) = find(raw, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    content_length(&head).is_some_and(|n| raw.len() >= end + 4 + n)
}

fn content_length(head: &str) -> Option<usize> {
    header(head, "content-length").and_then(|v| v.trim().parse().ok())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses an HTTP/1.1 response: status line, headers, and a body delimited by
/// Content-Length, chunked transfer coding, or the end of the stream.
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = find(raw, b"\r\n\r\n").ok_or("the response has no complete header")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the response header is not text")?;
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!("not an HTTP response ({status_line:?})"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x response ({status_line:?})"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| format!("bad status line {status_line:?}"))?;
    let rest = &raw[end + 4..];
    let chunked = header(head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = content_length(head) {
        rest.get(..n)
            .ok_or("the response ended before its Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").ok_or("a chunk size line is cut off")?;
        let line = std::str::from_utf8(&data[..line_end]).map_err(|_| "bad chunk size line")?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = data.get(..size).ok_or("a chunk is cut off")?;
        body.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("a chunk is cut off")?;
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 appendix B uses it for
/// client ids and secrets in Basic authentication too).
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpsUrl::parse("https://idp.example:8443/realms/x/token").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("idp.example", 8443, "/realms/x/token")
        );
        let u = HttpsUrl::parse("https://idp.example").unwrap();
        assert_eq!((u.port, u.path.as_str()), (443, "/"));
        let u = HttpsUrl::parse("https://[::1]:9000/t").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert!(
            HttpsUrl::parse("http://idp/token")
                .unwrap_err()
                .contains("https")
        );
        assert!(HttpsUrl::parse("https://u:p@idp/token").is_err());
        assert!(HttpsUrl::parse("https://idp:x/token").is_err());
    }

    #[test]
    fn responses() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let r = parse_response(
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (401, &b"abcde"[..]));
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nto the end").unwrap();
        assert_eq!(r.body, b"to the end");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}"));
    }

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode("a b&c=d/é~"), "a+b%26c%3Dd%2F%C3%A9%7E");
    }
}
