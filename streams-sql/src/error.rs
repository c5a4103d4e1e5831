//! The crate's error type.

use std::fmt;

/// A line and column in the statement text, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// The line.
    pub line: u64,
    /// The column.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}:{}", self.line, self.column)
    }
}

/// Errors of parsing, compiling and running SQL statements.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a statement of the dialect. `excerpt` shows the line with a caret
    /// under the column.
    #[error("{location}: {message}\n{excerpt}")]
    Parse {
        /// What was expected or found.
        message: String,
        /// Where.
        location: Location,
        /// The offending line and a caret.
        excerpt: String,
    },
    /// The statement parses but cannot be compiled: an unknown column or source (with the
    /// candidates), a type mismatch, an unsupported combination.
    #[error("{location}: {message}\n{excerpt}")]
    Compile {
        /// What is wrong.
        message: String,
        /// Where.
        location: Location,
        /// The offending line and a caret (empty when the statement has no position).
        excerpt: String,
    },
    /// The library failed to build or run a query.
    #[error("{context}")]
    Streams {
        /// What was being done.
        context: String,
        /// The library's error.
        #[source]
        source: streams_core::Error,
    },
    /// The Kafka client failed.
    #[error("{context}")]
    Kafka {
        /// What was being done.
        context: String,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A file could not be read or written.
    #[error("{context}")]
    Io {
        /// Which file, and what was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The statement is valid but cannot be run here (a missing source, a query that is not
    /// running, a timeout waiting for results).
    #[error("{0}")]
    Execution(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// The line of `text` at `location` with a caret under its column.
pub(crate) fn excerpt(text: &str, location: Location) -> String {
    let Some(line) = text.lines().nth(location.line.saturating_sub(1) as usize) else {
        return String::new();
    };
    let pad: String = line
        .chars()
        .take(location.column.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("  {line}\n  {pad}^")
}

impl Error {
    /// A parse error at `location` of `text`.
    pub(crate) fn parse(text: &str, location: Location, message: impl Into<String>) -> Self {
        Error::Parse {
            message: message.into(),
            location,
            excerpt: excerpt(text, location),
        }
    }

    /// A compile error at `location` of `text`.
    pub(crate) fn compile(text: &str, location: Location, message: impl Into<String>) -> Self {
        Error::Compile {
            message: message.into(),
            location,
            excerpt: excerpt(text, location),
        }
    }

    /// Wraps a library error.
    pub(crate) fn streams(context: impl Into<String>, source: streams_core::Error) -> Self {
        Error::Streams {
            context: context.into(),
            source,
        }
    }

    /// Wraps a Kafka client error.
    pub(crate) fn kafka(context: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Error::Kafka {
            context: context.into(),
            source,
        }
    }

    /// Where the error is in the statement text, for parse and compile errors.
    pub fn location(&self) -> Option<Location> {
        match self {
            Error::Parse { location, .. } | Error::Compile { location, .. } => Some(*location),
            _ => None,
        }
    }
}
