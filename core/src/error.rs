//! The one error type of the client: a Kafka error code (when the broker sent one), a class that
//! says whether retrying can help, a message, and where it happened (topic, partition, broker).
//!
//! Every error has a stable name ([`Error::name`]) and numeric code ([`Error::numeric_code`]),
//! the same in every binding: Kafka's for a broker error code, librdkafka's for a local one:
//!
//! | name | code | kind | meaning |
//! |---|---|---|---|
//! | `_INVALID_CONFIG`, `_INVALID_ARG` | -186 | `Config`, `InvalidArgument` | a bad setting or argument; nothing was sent |
//! | `_BAD_MSG` | -199 | `Protocol`, `Records` | a frame or batch could not be encoded or decoded |
//! | `_TRANSPORT` | -195 | `Io` | a connection failed or was lost (retriable) |
//! | `_TIMED_OUT` | -185 | `Timeout` | no response within `request.timeout.ms` or a call's own deadline |
//! | `_MSG_TIMED_OUT` | -192 | `MessageTimedOut` | a record not delivered within `delivery.timeout.ms`, whatever held it up; [`Error::possibly_persisted`] says whether it may be in the log anyway |
//! | `_QUEUE_FULL` | -184 | `QueueFull` | the producer buffer is full (`max.block.ms` passed) |
//! | `_DESTROY` | -197 | `Closed` | the client or its connection was closed |
//! | `_UNSUPPORTED_FEATURE` | -165 | `UnsupportedVersion` | the broker lacks an API version the client needs |
//! | `_ALL_BROKERS_DOWN` | -187 | `NoBrokers` | no broker could be reached |
//! | `_AUTHENTICATION` | -169 | `Authentication` | SASL failed: wrong credentials, a mechanism the broker does not enable, a token refused (fatal) |
//! | `_SSL` | -181 | `Ssl` | the TLS handshake failed: a certificate not trusted, expired or for another name, or the broker refused ours (fatal) |
//!
//! ```
//! use odradek::error::{Error, ErrorClass};
//! use kafka_protocol::error::ResponseError;
//!
//! let err = Error::kafka(ResponseError::NotLeaderOrFollower).with_partition("orders", 3);
//! assert_eq!(err.class(), ErrorClass::Retriable);
//! assert_eq!(err.code(), Some(6));
//! assert!(err.to_string().contains("orders-3"));
//! ```

use std::fmt;

pub use kafka_protocol::error::ResponseError;

/// Result alias used across the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether, and how, an operation that failed can be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Transient: the same request may succeed later (leader moved, timeout, connection lost).
    /// The client retries these itself within `delivery.timeout.ms` / the request deadline.
    Retriable,
    /// This request can never succeed as sent (record too large, invalid config, topic exists),
    /// but the client stays usable.
    Permanent,
    /// The current transaction / producer epoch must be aborted; the client stays usable.
    Abortable,
    /// The client instance cannot continue (fenced producer, authorization, closed client).
    Fatal,
}

impl ErrorClass {
    /// The name every binding shows: `retriable`, `permanent`, `abortable`, `fatal`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Retriable => "retriable",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Abortable => "abortable",
            ErrorClass::Fatal => "fatal",
        }
    }

    /// Every class in the order of its number in the C ABI (`ODRADEK_CLASS_*`, .NET, Go).
    pub const ALL: [ErrorClass; 4] = [
        ErrorClass::Retriable,
        ErrorClass::Permanent,
        ErrorClass::Abortable,
        ErrorClass::Fatal,
    ];
}

/// Every local error (not sent by a broker) a binding can see: librdkafka's name and negative
/// code, defined here once. `_INTR` (a call interrupted by the application) and `_FAIL` (a
/// binding's own failure) come from the bindings, never from the core.
pub const LOCAL_ERRORS: [(&str, i32); 14] = [
    ("_INVALID_CONFIG", -186),
    ("_INVALID_ARG", -186),
    ("_BAD_MSG", -199),
    ("_TRANSPORT", -195),
    ("_TIMED_OUT", -185),
    ("_MSG_TIMED_OUT", -192),
    ("_QUEUE_FULL", -184),
    ("_DESTROY", -197),
    ("_UNSUPPORTED_FEATURE", -165),
    ("_ALL_BROKERS_DOWN", -187),
    ("_AUTHENTICATION", -169),
    ("_SSL", -181),
    ("_INTR", -163),
    ("_FAIL", -196),
];

/// The code of a local error's name in [`LOCAL_ERRORS`].
pub fn local_code(name: &str) -> i32 {
    LOCAL_ERRORS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(-196, |(_, c)| *c)
}

/// What went wrong, without context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The broker answered with this Kafka error code.
    Kafka(ResponseError),
    /// A configuration key or value is invalid.
    Config,
    /// An argument to an API call is invalid (e.g. a partition that does not exist).
    InvalidArgument,
    /// A frame or message could not be encoded or decoded.
    Protocol,
    /// A record batch is corrupt or could not be built.
    Records,
    /// An I/O error on a connection (connect refused, reset, EOF).
    Io(std::io::ErrorKind),
    /// No response within `request.timeout.ms` (or a call's own deadline).
    Timeout,
    /// A record was not delivered within `delivery.timeout.ms` (librdkafka's `_MSG_TIMED_OUT`),
    /// whatever held it up. `possibly_persisted` is true when its last attempt was sent and no
    /// answer came, so the broker may have written it; false means it is certainly not in the log.
    MessageTimedOut {
        /// The last attempt's outcome is unknown.
        possibly_persisted: bool,
    },
    /// The producer buffer (`queue.buffering.max.kbytes` / `.messages`) is full.
    QueueFull,
    /// The client, or the connection the request was on, was closed.
    Closed,
    /// The broker does not support a version of an API the client needs.
    UnsupportedVersion,
    /// No broker could be reached (all bootstrap servers failed).
    NoBrokers,
    /// SASL authentication failed (`_AUTHENTICATION`): the message names the mechanism and
    /// what the broker said.
    Authentication,
    /// TLS failed (`_SSL`): the message names the certificate problem.
    Ssl,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Context {
    topic: Option<String>,
    partition: Option<i32>,
    broker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    class: ErrorClass,
    message: String,
    context: Context,
}

/// The client's error: kind (with the Kafka code if any), class, message and context.
///
/// Boxed so that `Result<T, Error>` stays one word wide on hot paths.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Inner>);

impl Error {
    /// A new error of `kind` and `class` with a message.
    pub fn new(kind: ErrorKind, class: ErrorClass, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            class,
            message: message.into(),
            context: Context::default(),
        }))
    }

    /// An error for a Kafka error code returned by a broker; the class follows the protocol's
    /// retriable flag, with the producer-epoch and authorization codes classed as in the Java client.
    pub fn kafka(code: ResponseError) -> Self {
        let class = class_of(code);
        Error::new(ErrorKind::Kafka(code), class, describe(code))
    }

    /// An error for a raw Kafka error code; `None` when `code` is 0 (no error).
    pub fn from_code(code: i16) -> Option<Self> {
        ResponseError::try_from_code(code).map(Error::kafka)
    }

    /// Like [`Error::from_code`] but with the broker's error message appended, if any.
    pub fn from_code_msg(code: i16, message: Option<&str>) -> Option<Self> {
        let mut err = Error::from_code(code)?;
        if let Some(m) = message.filter(|m| !m.is_empty()) {
            err.0.message = format!("{}: {m}", err.0.message);
        }
        Some(err)
    }

    /// A configuration error naming the key.
    pub fn config(key: &str, message: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::Config,
            ErrorClass::Permanent,
            format!("config `{key}`: {message}"),
        )
    }

    /// An invalid-argument error.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, ErrorClass::Permanent, message)
    }

    /// A timeout (retriable by nature, but the deadline the caller set has passed).
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Timeout, ErrorClass::Retriable, message)
    }

    /// A record past `delivery.timeout.ms` (`_MSG_TIMED_OUT`), with the last error that held it
    /// up, if any. Retriable by class (a resend may succeed), but the client gave up on it.
    pub fn message_timed_out(
        delivery_timeout: std::time::Duration,
        last_error: Option<&Error>,
        possibly_persisted: bool,
    ) -> Self {
        let mut message =
            format!("record not delivered within delivery.timeout.ms ({delivery_timeout:?})");
        if possibly_persisted {
            message.push_str("; its last attempt got no answer, so it may have been written");
        }
        if let Some(e) = last_error {
            message.push_str(&format!("; last error: {e}"));
        }
        Error::new(
            ErrorKind::MessageTimedOut { possibly_persisted },
            ErrorClass::Retriable,
            message,
        )
    }

    /// True for `_MSG_TIMED_OUT` when the record may have been written after all.
    pub fn possibly_persisted(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::MessageTimedOut {
                possibly_persisted: true
            }
        )
    }

    /// A SASL failure: fatal, retrying with the same settings cannot help.
    pub fn authentication(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Authentication, ErrorClass::Fatal, message)
    }

    /// A TLS certificate or handshake failure: fatal, retrying cannot help.
    pub fn ssl(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Ssl, ErrorClass::Fatal, message)
    }

    /// The client or connection is closed.
    pub fn closed(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Closed, ErrorClass::Fatal, message)
    }

    /// A lost or refused connection: retriable.
    pub fn network(message: impl Into<String>) -> Self {
        Error::new(
            ErrorKind::Io(std::io::ErrorKind::ConnectionAborted),
            ErrorClass::Retriable,
            message,
        )
    }

    /// Adds the topic and partition this error is about.
    #[must_use]
    pub fn with_partition(mut self, topic: &str, partition: i32) -> Self {
        self.0.context.topic = Some(topic.to_owned());
        self.0.context.partition = Some(partition);
        self
    }

    /// Adds the topic this error is about.
    #[must_use]
    pub fn with_topic(mut self, topic: &str) -> Self {
        self.0.context.topic = Some(topic.to_owned());
        self
    }

    /// Adds the broker (address or node id) this error came from.
    #[must_use]
    pub fn with_broker(mut self, broker: impl fmt::Display) -> Self {
        self.0.context.broker = Some(broker.to_string());
        self
    }

    /// Overrides the class (e.g. a retriable error that ran out of retries stays retriable,
    /// but a protocol-level "retriable" code can be permanent for one request).
    #[must_use]
    pub fn with_class(mut self, class: ErrorClass) -> Self {
        self.0.class = class;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Whether a retry can help.
    pub fn class(&self) -> ErrorClass {
        self.0.class
    }

    /// True when the class is [`ErrorClass::Retriable`].
    pub fn is_retriable(&self) -> bool {
        self.0.class == ErrorClass::Retriable
    }

    /// The Kafka error code, if the broker sent one.
    pub fn code(&self) -> Option<i16> {
        match self.0.kind {
            ErrorKind::Kafka(e) => Some(e.code()),
            _ => None,
        }
    }

    /// The Kafka error, if the broker sent one.
    pub fn response_error(&self) -> Option<ResponseError> {
        match self.0.kind {
            ErrorKind::Kafka(e) => Some(e),
            _ => None,
        }
    }

    /// The human-readable message (without context).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// A stable name every binding exposes: Kafka's own name for a broker error code
    /// (`UNKNOWN_TOPIC_OR_PARTITION`), else librdkafka's name for the local error
    /// (`_TIMED_OUT`, `_QUEUE_FULL`, ...), so users of either recognize it.
    pub fn name(&self) -> String {
        match &self.0.kind {
            ErrorKind::Kafka(code) => upper_snake(&format!("{code:?}")),
            local => local_name(local).to_string(),
        }
    }

    /// The numeric code bindings expose: the Kafka error code for broker errors, else
    /// librdkafka's negative code for the same local condition.
    pub fn numeric_code(&self) -> i32 {
        match &self.0.kind {
            ErrorKind::Kafka(code) => i32::from(code.code()),
            local => local_code(local_name(local)),
        }
    }

    /// The topic this error is about, if known.
    pub fn topic(&self) -> Option<&str> {
        self.0.context.topic.as_deref()
    }

    /// The partition this error is about, if known.
    pub fn partition(&self) -> Option<i32> {
        self.0.context.partition
    }

    /// The broker this error came from, if known.
    pub fn broker(&self) -> Option<&str> {
        self.0.context.broker.as_deref()
    }

    /// The error as text, for bindings whose bridge carries errors as strings (Node's napi,
    /// C++'s cxx): name, numeric code, retriable (`true`/`false`), class, topic, partition,
    /// broker and the message, in that order, joined by [`FIELD_SEPARATOR`]. Unknown context is
    /// an empty field; the message comes last so it may hold anything.
    pub fn to_fields(&self) -> String {
        let s = FIELD_SEPARATOR;
        format!(
            "{}{s}{}{s}{}{s}{}{s}{}{s}{}{s}{}{s}{self}",
            self.name(),
            self.numeric_code(),
            self.is_retriable(),
            self.class().name(),
            self.topic().unwrap_or(""),
            self.partition().map_or(String::new(), |p| p.to_string()),
            self.broker().unwrap_or(""),
        )
    }
}

/// Separates the fields of [`Error::to_fields`]: ASCII's unit separator, never in a name, a
/// topic or a broker address.
pub const FIELD_SEPARATOR: char = '\u{1f}';

fn class_of(code: ResponseError) -> ErrorClass {
    use ResponseError as E;
    match code {
        E::ProducerFenced
        | E::InvalidProducerEpoch
        | E::TransactionalIdAuthorizationFailed
        | E::ClusterAuthorizationFailed
        | E::UnsupportedVersion
        | E::UnsupportedForMessageFormat
        | E::InvalidProducerIdMapping => ErrorClass::Fatal,
        // Recoverable by bumping the producer epoch (KIP-360).
        E::OutOfOrderSequenceNumber | E::UnknownProducerId => ErrorClass::Abortable,
        E::TopicAuthorizationFailed | E::GroupAuthorizationFailed => ErrorClass::Permanent,
        c if c.is_retriable() => ErrorClass::Retriable,
        _ => ErrorClass::Permanent,
    }
}

fn local_name(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Kafka(_) => "KAFKA",
        ErrorKind::Config => "_INVALID_CONFIG",
        ErrorKind::InvalidArgument => "_INVALID_ARG",
        ErrorKind::Protocol | ErrorKind::Records => "_BAD_MSG",
        ErrorKind::Io(_) => "_TRANSPORT",
        ErrorKind::Timeout => "_TIMED_OUT",
        ErrorKind::MessageTimedOut { .. } => "_MSG_TIMED_OUT",
        ErrorKind::QueueFull => "_QUEUE_FULL",
        ErrorKind::Closed => "_DESTROY",
        ErrorKind::UnsupportedVersion => "_UNSUPPORTED_FEATURE",
        ErrorKind::NoBrokers => "_ALL_BROKERS_DOWN",
        ErrorKind::Authentication => "_AUTHENTICATION",
        ErrorKind::Ssl => "_SSL",
    }
}

/// `NotLeaderOrFollower` → `NOT_LEADER_OR_FOLLOWER`, Kafka's spelling of its error names.
fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn describe(code: ResponseError) -> String {
    // The kafka-protocol Display gives the variant name; add the numeric code for grepping logs.
    format!("{code} (Kafka error code {})", code.code())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        let c = &self.0.context;
        match (&c.topic, c.partition) {
            (Some(t), Some(p)) => write!(f, " [partition {t}-{p}]")?,
            (Some(t), None) => write!(f, " [topic {t}]")?,
            _ => {}
        }
        if let Some(b) = &c.broker {
            write!(f, " [broker {b}]")?;
        }
        let class = match self.0.class {
            ErrorClass::Permanent => "not retriable",
            other => other.name(),
        };
        write!(f, " ({class})")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("class", &self.0.class)
            .field("message", &self.0.message)
            .field("context", &self.0.context)
            .finish()
    }
}

impl std::error::Error for Error {}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Self {
        Error::kafka(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let class = match e.kind() {
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                ErrorClass::Permanent
            }
            _ => ErrorClass::Retriable,
        };
        Error::new(ErrorKind::Io(e.kind()), class, e.to_string())
    }
}

impl From<crate::protocol::ProtocolError> for Error {
    fn from(e: crate::protocol::ProtocolError) -> Self {
        use crate::protocol::ProtocolError as P;
        let kind = match e {
            P::UnsupportedVersion { .. } | P::NoCommonVersion { .. } => {
                ErrorKind::UnsupportedVersion
            }
            _ => ErrorKind::Protocol,
        };
        // A malformed frame poisons one connection, not the client: the caller reconnects.
        Error::new(kind, ErrorClass::Permanent, e.to_string())
    }
}

impl From<crate::records::RecordsError> for Error {
    fn from(e: crate::records::RecordsError) -> Self {
        let class = if e.is_retriable() {
            ErrorClass::Retriable
        } else {
            ErrorClass::Permanent
        };
        Error::new(ErrorKind::Records, class, e.to_string())
    }
}

impl From<crate::compression::CompressionError> for Error {
    fn from(e: crate::compression::CompressionError) -> Self {
        Error::new(ErrorKind::Records, ErrorClass::Permanent, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_carry_the_context_and_leave_unknown_context_empty() {
        let fields = |e: Error| -> Vec<String> {
            e.to_fields()
                .split(FIELD_SEPARATOR)
                .map(String::from)
                .collect()
        };
        let f = fields(Error::config("linger.msec", "unknown property"));
        assert_eq!(
            f[..7],
            ["_INVALID_CONFIG", "-186", "false", "permanent", "", "", ""]
        );
        assert!(f[7].contains("linger.msec"), "{f:?}");

        let f = fields(
            Error::timeout("the broker did not answer")
                .with_partition("orders", 3)
                .with_broker("127.0.0.1:9092"),
        );
        assert_eq!(
            f[..7],
            [
                "_TIMED_OUT",
                "-185",
                "true",
                "retriable",
                "orders",
                "3",
                "127.0.0.1:9092"
            ]
        );
        assert_eq!(f.len(), 8);
    }

    #[test]
    fn every_local_error_has_one_code_in_the_table() {
        let kinds = [
            ErrorKind::Config,
            ErrorKind::InvalidArgument,
            ErrorKind::Protocol,
            ErrorKind::Records,
            ErrorKind::Timeout,
            ErrorKind::QueueFull,
            ErrorKind::Closed,
            ErrorKind::UnsupportedVersion,
            ErrorKind::NoBrokers,
            ErrorKind::Authentication,
            ErrorKind::Ssl,
        ];
        for kind in &kinds {
            let name = local_name(kind);
            assert!(
                LOCAL_ERRORS.iter().any(|(n, _)| *n == name),
                "{name} is missing from LOCAL_ERRORS"
            );
        }
        let names: std::collections::HashSet<_> = LOCAL_ERRORS.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), LOCAL_ERRORS.len(), "a name is listed twice");
        assert_eq!(Error::timeout("t").numeric_code(), -185);
        assert_eq!(Error::closed("c").numeric_code(), -197);
    }

    #[test]
    fn classes_follow_the_protocol_and_the_java_client() {
        assert_eq!(
            Error::kafka(ResponseError::NotLeaderOrFollower).class(),
            ErrorClass::Retriable
        );
        assert_eq!(
            Error::kafka(ResponseError::MessageTooLarge).class(),
            ErrorClass::Permanent
        );
        assert_eq!(
            Error::kafka(ResponseError::RecordListTooLarge).class(),
            ErrorClass::Permanent
        );
        assert_eq!(
            Error::kafka(ResponseError::ProducerFenced).class(),
            ErrorClass::Fatal
        );
        assert_eq!(
            Error::kafka(ResponseError::OutOfOrderSequenceNumber).class(),
            ErrorClass::Abortable
        );
        assert!(Error::from_code(0).is_none());
        assert_eq!(Error::from_code(3).unwrap().code(), Some(3));
    }

    #[test]
    fn display_names_context_and_class() {
        let e = Error::kafka(ResponseError::MessageTooLarge)
            .with_partition("t", 2)
            .with_broker("127.0.0.1:9092");
        let s = e.to_string();
        assert!(s.contains("MessageTooLarge"), "{s}");
        assert!(
            s.contains("t-2") && s.contains("127.0.0.1:9092") && s.contains("not retriable"),
            "{s}"
        );
        let c = Error::config("linger.ms", "expected an integer, got \"x\"");
        assert!(c.to_string().contains("linger.ms"));
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn names_are_kafkas_and_librdkafkas() {
        let e = Error::kafka(ResponseError::UnknownTopicOrPartition);
        assert_eq!(e.name(), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(e.numeric_code(), 3);
        assert_eq!(
            Error::kafka(ResponseError::NotLeaderOrFollower).name(),
            "NOT_LEADER_OR_FOLLOWER"
        );
        assert_eq!(
            Error::kafka(ResponseError::MessageTooLarge).name(),
            "MESSAGE_TOO_LARGE"
        );
        assert_eq!(Error::timeout("x").name(), "_TIMED_OUT");
        let late = Error::message_timed_out(std::time::Duration::from_secs(8), None, false);
        assert_eq!(
            (late.name().as_str(), late.numeric_code()),
            ("_MSG_TIMED_OUT", -192)
        );
        assert!(!late.possibly_persisted());
        assert_eq!(Error::timeout("x").numeric_code(), -185);
        assert_eq!(Error::config("k", "v").name(), "_INVALID_CONFIG");
    }
}
