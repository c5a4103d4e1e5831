//! Routes what librdkafka says about a client (log lines, errors outside any call) to
//! `tracing`, naming the client.

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

/// Routes a client's librdkafka log lines and errors to `tracing`.
pub(crate) fn log_line(client: &str, level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(client, fac, "librdkafka: {message}"),
        RDKafkaLogLevel::Warning => tracing::warn!(client, fac, "librdkafka: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(client, fac, "librdkafka: {message}");
        }
        RDKafkaLogLevel::Debug => tracing::debug!(client, fac, "librdkafka: {message}"),
    }
}

/// A client error librdkafka reports outside any call. Transport errors while a broker is
/// down are expected and retried by librdkafka, so they are warnings.
pub(crate) fn client_error(client: &str, error: &KafkaError, reason: &str) {
    tracing::warn!(client, error = %error, "Kafka client error: {reason}");
}

/// A client context that only logs through `tracing`.
#[derive(Debug, Clone)]
pub(crate) struct LogContext {
    /// The client's name in the log lines.
    pub(crate) client: String,
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_line(&self.client, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.client, &error, reason);
    }
}

impl ConsumerContext for LogContext {}
