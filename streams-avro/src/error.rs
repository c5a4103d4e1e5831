//! The crate's error type.

use streams_core::BoxError;

/// Everything that can go wrong talking to a schema registry or reading and writing
/// Confluent-framed Avro.
///
/// Each variant says which of the failures a dead-letter reason must tell apart it is: a
/// record that is not framed, a schema id the registry does not know, a body that does not
/// match its schema, a registry that does not answer. Where it crosses the
/// [`Serde`](streams_core::Serde) trait it becomes the `source` of a
/// [`streams_core::Error::Serialization`] or [`streams_core::Error::Deserialization`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AvroError {
    /// The record is shorter than the 5-byte header of the wire format.
    #[error(
        "no Confluent header: the record is {len} bytes long, shorter than the magic byte and \
         4-byte schema id that start Confluent's wire format"
    )]
    FrameTooShort {
        /// The record's length.
        len: usize,
    },

    /// The record does not start with the magic byte 0.
    #[error(
        "no magic byte: the record starts with {found:#04x}, not with the magic byte 0x00 of \
         Confluent's wire format"
    )]
    UnknownMagicByte {
        /// The first byte of the record.
        found: u8,
    },

    /// The registry has no schema with the record's id.
    #[error("unknown schema id {id}: the schema registry at {url} has no schema with this id")]
    UnknownSchemaId {
        /// The id from the record's header.
        id: u32,
        /// The registry asked.
        url: String,
    },

    /// The Avro body could not be read with its writer schema.
    #[error("the body does not match its writer schema (id {id})")]
    BodyMismatch {
        /// The writer schema's id.
        id: u32,
        /// What the Avro decoder reported.
        #[source]
        source: apache_avro::Error,
    },

    /// The Avro body was read, but bytes were left over: it was written with another schema.
    #[error(
        "the body does not match its writer schema (id {id}): {extra} bytes left over after \
         the record"
    )]
    TrailingBytes {
        /// The writer schema's id.
        id: u32,
        /// How many bytes were left.
        extra: usize,
    },

    /// The record's writer schema cannot be resolved to the application's schema (a field
    /// the application needs that the writer lacks and has no default, say).
    #[error(
        "the record's writer schema (id {id}) cannot be read as the application's schema {reader}"
    )]
    Unresolvable {
        /// The writer schema's id.
        id: u32,
        /// The application's schema.
        reader: String,
        /// What schema resolution reported.
        #[source]
        source: BoxError,
    },

    /// The registry could not be reached, or did not answer in time.
    #[error("the schema registry at {url} did not answer {what}")]
    Unreachable {
        /// The registry's URL.
        url: String,
        /// The request.
        what: String,
        /// The HTTP client's error.
        #[source]
        source: BoxError,
    },

    /// The registry answered a request with an error.
    #[error(
        "the schema registry at {url} refused {what}: HTTP {status}, error code {code}: {message}"
    )]
    Registry {
        /// The registry's URL.
        url: String,
        /// The request.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's `error_code` (Confluent's, such as 40401 for an unknown subject).
        code: i64,
        /// The registry's message.
        message: String,
    },

    /// The registry refused a schema as incompatible with the subject's earlier ones.
    #[error("schema refused for subject '{subject}' under compatibility mode {mode}: {reason}")]
    Incompatible {
        /// The subject.
        subject: String,
        /// The subject's compatibility mode, as the registry reports it.
        mode: String,
        /// The registry's reason.
        reason: String,
    },

    /// A schema could not be parsed.
    #[error("invalid Avro schema {what}")]
    InvalidSchema {
        /// Which schema.
        what: String,
        /// The parser's error.
        #[source]
        source: apache_avro::Error,
    },

    /// A value could not be encoded with the schema it is written with.
    #[error("the value does not match the schema {schema}")]
    Encode {
        /// The schema's name.
        schema: String,
        /// The encoder's error.
        #[source]
        source: apache_avro::Error,
    },

    /// A record read from Avro could not be turned into the application's Rust type.
    #[error("the record does not convert into {type_name}")]
    Convert {
        /// The Rust type.
        type_name: &'static str,
        /// The converter's error.
        #[source]
        source: apache_avro::Error,
    },

    /// A configuration key is unknown or its value is invalid.
    #[error("invalid configuration '{key}': {reason}")]
    Config {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The registry answered with something that is not what its API promises.
    #[error("unexpected answer from the schema registry at {url} to {what}: {reason}")]
    BadResponse {
        /// The registry's URL.
        url: String,
        /// The request.
        what: String,
        /// What was wrong with the answer.
        reason: String,
    },

    /// A file named by the configuration (a TLS certificate or key) could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl AvroError {
    /// A configuration error.
    pub(crate) fn config(key: &str, reason: impl Into<String>) -> Self {
        AvroError::Config {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

/// `Result` with this crate's [`AvroError`].
pub type Result<T, E = AvroError> = std::result::Result<T, E>;
