//! Failures and the exit codes scripts rely on (listed in `odradek --help` and the README).

use std::fmt;

use odradek::error::{Error, ErrorKind, ResponseError};

/// Why the command stopped; each maps to one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: the broker or the client reported an error while doing the work.
    Runtime = 1,
    /// 2: the command line (or a -X / -c value) is wrong, or asks for what is not supported.
    Usage = 2,
    /// 3: no broker could be reached.
    Unreachable = 3,
    /// 4: the topic does not exist.
    NoSuchTopic = 4,
}

/// A failure with the message printed on stderr.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(Exit::Usage, message)
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Failure::new(Exit::Runtime, message)
    }

    /// A client error, with what we were doing when it happened.
    pub fn client(doing: impl fmt::Display, err: &Error) -> Self {
        // The error's Display already says whether a retry can help.
        Failure::new(classify(err), format!("{doing}: {err}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code a client error maps to.
pub fn classify(err: &Error) -> Exit {
    match err.kind() {
        ErrorKind::Config | ErrorKind::InvalidArgument => Exit::Usage,
        ErrorKind::Io(_) | ErrorKind::NoBrokers => Exit::Unreachable,
        ErrorKind::Kafka(ResponseError::UnknownTopicOrPartition) if err.partition().is_none() => {
            Exit::NoSuchTopic
        }
        _ => Exit::Runtime,
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_exit_codes() {
        assert_eq!(
            classify(&Error::config("linger.msec", "unknown property")),
            Exit::Usage
        );
        assert_eq!(
            classify(&Error::network("connection refused")),
            Exit::Unreachable
        );
        assert_eq!(
            classify(&Error::kafka(ResponseError::UnknownTopicOrPartition).with_topic("t")),
            Exit::NoSuchTopic
        );
        assert_eq!(
            classify(&Error::kafka(ResponseError::UnknownTopicOrPartition).with_partition("t", 7)),
            Exit::Runtime
        );
        assert_eq!(
            classify(&Error::kafka(ResponseError::TopicAlreadyExists)),
            Exit::Runtime
        );
    }
}
