//! The log bridge: the client's `tracing` events at or above a chosen level, handed to one
//! callback that a binding forwards to its language's logging (Python `logging`, Node events,
//! Go `slog`, .NET, C++, C).
//!
//! The callback runs on a thread of its own (`odradek-log`), never on a runtime worker or
//! under a client lock, so it may take a foreign runtime's lock (the GIL, a JS thread-safe
//! function) without stalling I/O. Records wait in a bounded queue; when the callback falls
//! behind, new records are dropped and counted, and the next record delivered says how many
//! were lost. Rust applications that install their own `tracing` subscriber keep it: the bridge
//! is for bindings, and refuses to replace another subscriber.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::error::{Error, Result};

/// How many records may wait for the callback.
const QUEUE: usize = 1024;

/// Severity, most severe first (the order of `tracing` and of every binding's logging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum LogLevel {
    /// Something failed.
    Error = 1,
    /// Something will fail or needs attention (a broker unreachable, a commit failed).
    Warn = 2,
    /// Lifecycle: connections, group membership.
    Info = 3,
    /// Protocol decisions, retries.
    Debug = 4,
    /// Every request.
    Trace = 5,
}

impl LogLevel {
    fn of(level: &Level) -> Self {
        match *level {
            Level::ERROR => Self::Error,
            Level::WARN => Self::Warn,
            Level::INFO => Self::Info,
            Level::DEBUG => Self::Debug,
            _ => Self::Trace,
        }
    }

    /// Every level, most severe first.
    pub const ALL: [LogLevel; 5] = [
        Self::Error,
        Self::Warn,
        Self::Info,
        Self::Debug,
        Self::Trace,
    ];

    /// The level numbered `n` (1 error to 5 trace), as the C ABI and C++ number them.
    pub fn from_number(n: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|l| *l as i64 == n)
    }

    /// The level called `name` (`"warn"`), as `RUST_LOG` and Node name them.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The lower-case name (`"warn"`), as in `RUST_LOG`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// The Rust module that logged it (`odradek::net`).
    pub target: String,
    /// The message, then its fields as ` key=value` (`cannot connect to broker broker=...`).
    pub message: String,
}

/// The function records go to.
pub type LogCallback = Arc<dyn Fn(&LogRecord) + Send + Sync>;

/// 0: no callback; else the `LogLevel` threshold.
static THRESHOLD: AtomicU8 = AtomicU8::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static CALLBACK: Mutex<Option<LogCallback>> = Mutex::new(None);
static QUEUE_TX: OnceLock<SyncSender<LogRecord>> = OnceLock::new();
/// Whether our subscriber is the process's global one (`Err`: another was there first).
static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Sends the client's log records at `level` and above to `callback`, replacing any callback
/// set before. The first call installs the bridge as the process's `tracing` subscriber; it
/// fails (`_INVALID_ARG`) when the application installed another one, which then keeps every
/// record.
pub fn set_log_callback(level: LogLevel, callback: LogCallback) -> Result<()> {
    let installed = INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(Bridge);
        tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())
    });
    if let Err(e) = installed {
        return Err(Error::invalid_argument(format!(
            "cannot forward logs: another tracing subscriber is installed ({e})"
        )));
    }
    *CALLBACK.lock().unwrap_or_else(|e| e.into_inner()) = Some(callback);
    THRESHOLD.store(level as u8, Ordering::SeqCst);
    // The global subscriber caches which call sites are enabled; a new level changes that.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

/// Stops forwarding: records are no longer formatted, and the callback is released.
pub fn clear_log_callback() {
    THRESHOLD.store(0, Ordering::SeqCst);
    *CALLBACK.lock().unwrap_or_else(|e| e.into_inner()) = None;
    tracing::callsite::rebuild_interest_cache();
}

fn queue() -> &'static SyncSender<LogRecord> {
    QUEUE_TX.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE);
        let started = std::thread::Builder::new()
            .name("odradek-log".into())
            .spawn(move || deliver(rx));
        if let Err(e) = started {
            // Without the thread every record is dropped (and counted); nothing else breaks.
            eprintln!("odradek: cannot start the log thread: {e}");
        }
        tx
    })
}

fn deliver(rx: Receiver<LogRecord>) {
    while let Ok(record) = rx.recv() {
        let Some(callback) = CALLBACK.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            continue;
        };
        let dropped = DROPPED.swap(0, Ordering::SeqCst);
        if dropped > 0 {
            callback(&LogRecord {
                level: LogLevel::Warn,
                target: "odradek::logging".into(),
                message: format!(
                    "{dropped} log records dropped: the log callback is slower than the client"
                ),
            });
        }
        // A callback that panics loses its record, not the thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&record)));
    }
}

fn wanted(level: &Level, target: &str) -> bool {
    let threshold = THRESHOLD.load(Ordering::Relaxed);
    threshold != 0 && LogLevel::of(level) as u8 <= threshold && target.starts_with("odradek")
}

/// The `tracing` layer: formats enabled events and queues them.
struct Bridge;

impl<S: Subscriber> Layer<S> for Bridge {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        wanted(metadata.level(), metadata.target())
    }

    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if wanted(metadata.level(), metadata.target()) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !wanted(meta.level(), meta.target()) {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let mut message = text.message;
        message.push_str(&text.fields);
        let record = LogRecord {
            level: LogLevel::of(meta.level()),
            target: meta.target().to_owned(),
            message,
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = queue().try_send(record)
        {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// An event's `message` and its other fields as ` key=value`.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn forwards_records_at_and_above_the_level_with_their_fields() {
        let (tx, rx) = channel::<LogRecord>();
        let tx = Mutex::new(tx);
        set_log_callback(
            LogLevel::Info,
            Arc::new(move |r: &LogRecord| {
                let _ = tx.lock().unwrap().send(r.clone());
            }),
        )
        .unwrap();
        tracing::debug!(target: "odradek::test", "below the level");
        tracing::info!(target: "other_crate", "not ours");
        tracing::warn!(target: "odradek::test", broker = "127.0.0.1:9", "cannot connect");
        let r = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(r.level, LogLevel::Warn);
        assert_eq!(r.target, "odradek::test");
        assert_eq!(r.message, "cannot connect broker=127.0.0.1:9");

        clear_log_callback();
        tracing::warn!(target: "odradek::test", "after clear");
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    }
}
