//! [`ServerError`]: what can go wrong serving an application.

use axum::http::StatusCode;

/// An error of the server crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A request was malformed: a key that does not parse as the store's key type, a time
    /// bound that is not a number.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The application refused or failed a query.
    #[error(transparent)]
    Streams(#[from] streams_dsl::Error),
    /// The instance owning a key could not be reached.
    #[error("forwarding to {host} failed: {reason}")]
    Forward {
        /// The instance the request was for.
        host: String,
        /// Why it failed.
        reason: String,
    },
    /// Binding or serving failed.
    #[error("I/O error: {context}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The server crate's result.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

impl ServerError {
    /// The HTTP status that answers this error: 400 for a bad request, 404 for an unknown
    /// store, 503 (retry) for a query that cannot be answered now or an owner that cannot
    /// be reached, 500 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServerError::Streams(streams_dsl::Error::UnknownStore(_)) => StatusCode::NOT_FOUND,
            ServerError::Streams(
                streams_dsl::Error::QueryUnavailable { .. }
                | streams_dsl::Error::Timeout(_)
                | streams_dsl::Error::Kafka { .. },
            )
            | ServerError::Forward { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
