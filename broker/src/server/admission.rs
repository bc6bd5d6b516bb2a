//! Who may connect: `max.connections` and `max.connections.per.ip`, and what to do at the
//! process's descriptor limit. Refused connections are accepted and closed at once, so the
//! client sees a closed connection immediately instead of waiting in the listen backlog.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::config::ConnectionLimits;

#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Total(usize),
    PerIp(IpAddr, usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Total(max) => write!(f, "{max} connections are open (max.connections)"),
            Refusal::PerIp(ip, max) => {
                write!(
                    f,
                    "{ip} has {max} connections open (max.connections.per.ip)"
                )
            }
        }
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    pub fn new(limits: &ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            max_total: limits.max_connections,
            max_per_ip: limits.max_connections_per_ip,
            open: Mutex::new(OpenConnections::default()),
        })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.max_total {
            return Err(Refusal::Total(self.max_total));
        }
        let from_ip = open.per_ip.entry(ip).or_insert(0);
        if *from_ip >= self.max_per_ip {
            return Err(Refusal::PerIp(ip, self.max_per_ip));
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Ticket {
            admission: self.clone(),
            ip,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        open.total -= 1;
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Whether an accept error means the process (or system) is out of file descriptors.
pub fn is_descriptor_limit(e: &std::io::Error) -> bool {
    // EMFILE and ENFILE have these numbers on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(24) | Some(23))
}

/// A descriptor kept open so that, at the limit, one can be freed to accept a waiting
/// connection and close it: the client then fails fast instead of hanging until its timeout.
#[derive(Debug)]
pub struct SpareDescriptor(Option<std::fs::File>);

/// Waiting connections closed per round at the limit.
const SHED_PER_ROUND: usize = 64;

impl SpareDescriptor {
    pub fn open() -> Self {
        Self(std::fs::File::open("/dev/null").ok())
    }

    /// Frees the spare, accepts and closes the connections waiting in the backlog, then takes
    /// the spare back. Returns how many were closed.
    pub async fn shed(&mut self, listener: &TcpListener) -> usize {
        self.0 = None;
        let mut closed = 0;
        while closed < SHED_PER_ROUND {
            let accepted = std::future::poll_fn(|cx| Poll::Ready(listener.poll_accept(cx))).await;
            match accepted {
                Poll::Ready(Ok((stream, _))) => {
                    drop(stream);
                    closed += 1;
                }
                _ => break,
            }
        }
        self.0 = std::fs::File::open("/dev/null").ok();
        closed
    }
}

/// Lets a repeated log line through at most once per interval and counts what it held back,
/// so a flood of hostile connections cannot flood the log.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogLimiter {
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(suppressed)` when this occurrence should be logged (with the number held back
    /// since the last one), `None` when it should be dropped.
    pub fn check(&self) -> Option<u64> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match st.0 {
            Some(last) if now.duration_since(last) < self.interval => {
                st.1 += 1;
                None
            }
            _ => {
                st.0 = Some(now);
                Some(std::mem::take(&mut st.1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> ConnectionLimits {
        let mut l = crate::config::BrokerProperties::default().connection_limits();
        l.max_connections = total;
        l.max_connections_per_ip = per_ip;
        l
    }

    #[test]
    fn per_ip_and_total_caps_free_their_place_on_drop() {
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let adm = Admission::new(&limits(3, 2));
        let t1 = adm.admit(a).unwrap();
        let _t2 = adm.admit(a).unwrap();
        assert_eq!(adm.admit(a).unwrap_err(), Refusal::PerIp(a, 2));
        let _t3 = adm.admit(b).unwrap();
        assert_eq!(adm.admit(b).unwrap_err(), Refusal::Total(3));
        drop(t1);
        adm.admit(a).expect("a place was freed");
    }

    #[test]
    fn limiter_counts_what_it_holds_back() {
        let l = LogLimiter::new(Duration::from_secs(3600));
        assert_eq!(l.check(), Some(0));
        assert_eq!(l.check(), None);
        assert_eq!(l.check(), None);
        let l0 = LogLimiter::new(Duration::ZERO);
        assert_eq!(l0.check(), Some(0));
        assert_eq!(l0.check(), Some(0));
    }
}
