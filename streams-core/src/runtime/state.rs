//! The state of a [`KafkaStreams`](super::KafkaStreams) instance and the listener that
//! follows it.

use std::fmt;

/// The state of a [`KafkaStreams`](super::KafkaStreams) instance, as Kafka Streams'
/// `KafkaStreams.State`.
///
/// ```text
/// Created -> Rebalancing <-> Running -> PendingShutdown -> NotRunning
///                  \             \
///                   +-------------+-> Error
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Built, not started.
    Created,
    /// Joining the group, taking over partitions or restoring state.
    Rebalancing,
    /// Every stream thread is processing its assigned partitions.
    Running,
    /// Closing: threads are committing and closing their tasks.
    PendingShutdown,
    /// Closed.
    NotRunning,
    /// A stream thread failed; the instance has stopped processing.
    Error,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            State::Created => "CREATED",
            State::Rebalancing => "REBALANCING",
            State::Running => "RUNNING",
            State::PendingShutdown => "PENDING_SHUTDOWN",
            State::NotRunning => "NOT_RUNNING",
            State::Error => "ERROR",
        };
        f.write_str(s)
    }
}

/// Follows the state of a [`KafkaStreams`](super::KafkaStreams) instance. Every method has
/// an empty default; [`on_change`](StateListener::on_change) calls the one for the new
/// state.
///
/// Listeners run on the thread that caused the change (a stream thread, or the caller of
/// [`KafkaStreams::start`](super::KafkaStreams::start) or
/// [`KafkaStreams::close`](super::KafkaStreams::close)) and should return quickly.
pub trait StateListener: Send + Sync {
    /// The state changed from `old` to `new`.
    fn on_change(&self, new: State, old: State) {
        let _ = old;
        match new {
            State::Created => self.on_created(),
            State::Rebalancing => self.on_rebalancing(),
            State::Running => self.on_running(),
            State::PendingShutdown => self.on_pending_shutdown(),
            State::NotRunning => self.on_not_running(),
            State::Error => self.on_error(),
        }
    }

    /// The instance is back in the created state (never happens after `start`).
    fn on_created(&self) {}

    /// A rebalance or restore started.
    fn on_rebalancing(&self) {}

    /// Every thread is processing.
    fn on_running(&self) {}

    /// The instance is closing.
    fn on_pending_shutdown(&self) {}

    /// The instance has closed.
    fn on_not_running(&self) {}

    /// A stream thread failed; [`KafkaStreams::error`](super::KafkaStreams::error) tells why.
    fn on_error(&self) {}
}
