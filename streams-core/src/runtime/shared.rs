//! What an instance and its threads share: the shutdown flag, the instance's state as the
//! threads' states make it, the first failure, and the threads' counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::Error;
use crate::runtime::metrics::ThreadMetrics;
use crate::runtime::state::{State, StateListener};

/// Where one of the instance's threads is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadState {
    /// Spawned, its clients not created yet.
    Starting,
    /// Joining the group, taking over partitions or restoring state.
    Rebalancing,
    /// Processing.
    Running,
    /// Stopped.
    Dead,
}

/// The instance's state and what its threads report.
pub(crate) struct SharedState {
    /// The instance's state.
    pub(crate) state: State,
    /// Each thread's state, by slot (the global thread after the stream threads).
    pub(crate) threads: Vec<ThreadState>,
    /// The first failure of a thread, with its causes.
    pub(crate) error: Option<String>,
    /// Each thread's counters, by slot.
    pub(crate) metrics: Vec<ThreadMetrics>,
}

/// What the application and its stream threads share.
pub(crate) struct Shared {
    /// Set when the instance closes or a thread fails: every thread stops.
    pub(crate) shutdown: AtomicBool,
    /// Changelog records the standby thread has applied.
    pub(crate) standby_applied: AtomicU64,
    inner: Mutex<SharedState>,
    /// Notified on every change of the state.
    pub(crate) changed: Condvar,
    /// Follows the instance's state.
    pub(crate) listener: Mutex<Option<Arc<dyn StateListener>>>,
}

impl Shared {
    /// The shared state of an instance just created.
    pub(crate) fn new() -> Self {
        Shared {
            shutdown: AtomicBool::new(false),
            standby_applied: AtomicU64::new(0),
            inner: Mutex::new(SharedState {
                state: State::Created,
                threads: Vec::new(),
                error: None,
                metrics: Vec::new(),
            }),
            changed: Condvar::new(),
            listener: Mutex::new(None),
        }
    }

    /// Locks the state.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SharedState> {
        // A panicking listener must not take the whole instance down with a poisoned lock.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes the waiters, and tells the listener when the state changed.
    pub(crate) fn notify(&self, new: State, old: State) {
        self.changed.notify_all();
        if new == old {
            return;
        }
        tracing::info!(from = %old, to = %new, "state transition");
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(l) = listener {
            l.on_change(new, old);
        }
    }

    /// Sets the instance's state.
    pub(crate) fn set_state(&self, state: State) {
        let old = {
            let mut s = self.lock();
            std::mem::replace(&mut s.state, state)
        };
        self.notify(state, old);
    }

    /// The instance's state as its threads' states make it.
    pub(crate) fn derive(s: &SharedState) -> State {
        match s.state {
            State::Created | State::NotRunning | State::Error => s.state,
            State::PendingShutdown => {
                if s.threads.iter().all(|t| *t == ThreadState::Dead) {
                    State::NotRunning
                } else {
                    State::PendingShutdown
                }
            }
            State::Rebalancing | State::Running => {
                if s.error.is_some() || s.threads.contains(&ThreadState::Dead) {
                    State::Error
                } else if s.threads.iter().all(|t| *t == ThreadState::Running) {
                    State::Running
                } else {
                    State::Rebalancing
                }
            }
        }
    }

    /// Thread `index` is now in `state`; the instance's state follows.
    pub(crate) fn set_thread_state(&self, index: usize, state: ThreadState) {
        let (new, old) = {
            let mut s = self.lock();
            if let Some(t) = s.threads.get_mut(index) {
                *t = state;
            }
            let new = Self::derive(&s);
            (new, std::mem::replace(&mut s.state, new))
        };
        self.notify(new, old);
    }

    /// A thread failed: the instance goes to [`State::Error`] and the other threads stop,
    /// as Kafka Streams' default uncaught-exception response (`SHUTDOWN_CLIENT`).
    pub(crate) fn fail(&self, index: usize, error: &Error) {
        let (new, old) = {
            let mut s = self.lock();
            if s.error.is_none() {
                s.error = Some(crate::context::error_chain(error));
            }
            if let Some(t) = s.threads.get_mut(index) {
                *t = ThreadState::Dead;
            }
            let new = match s.state {
                State::PendingShutdown => Self::derive(&s),
                State::NotRunning => State::NotRunning,
                _ => State::Error,
            };
            (new, std::mem::replace(&mut s.state, new))
        };
        self.shutdown.store(true, Ordering::Release);
        self.notify(new, old);
    }

    /// Thread `index`'s counters, its consumer lag aside.
    pub(crate) fn publish_metrics(&self, index: usize, metrics: &ThreadMetrics) {
        let mut s = self.lock();
        if let Some(m) = s.metrics.get_mut(index) {
            let lag = std::mem::take(&mut m.lag);
            *m = metrics.clone();
            m.lag = lag;
        }
    }

    /// Thread `index`'s consumer lag.
    pub(crate) fn publish_lag(&self, index: usize, lag: BTreeMap<(String, i32), i64>) {
        let mut s = self.lock();
        if let Some(m) = s.metrics.get_mut(index) {
            m.lag = lag;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_the_threads() {
        let shared = Shared::new();
        {
            let mut s = shared.lock();
            s.threads = vec![ThreadState::Starting; 2];
            s.metrics = vec![ThreadMetrics::default(); 2];
        }
        shared.set_state(State::Rebalancing);
        shared.set_thread_state(0, ThreadState::Running);
        assert_eq!(shared.lock().state, State::Rebalancing);
        shared.set_thread_state(1, ThreadState::Running);
        assert_eq!(shared.lock().state, State::Running);
        shared.set_thread_state(1, ThreadState::Rebalancing);
        assert_eq!(shared.lock().state, State::Rebalancing);
        shared.fail(0, &Error::IllegalState("boom".into()));
        assert_eq!(shared.lock().state, State::Error);
        assert!(shared.shutdown.load(Ordering::Acquire));
    }
}
