//! Interactive queries: a query of one store, run by each stream thread on its tasks that
//! have the store, between two batches of records.
//!
//! A task whose stores are still restoring answers no query: a partly restored store would
//! give wrong answers (a key not found that exists), so the query fails with
//! [`Error::QueryUnavailable`] instead, which callers retry (Java's
//! `InvalidStateStoreException`).

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::task_id::TaskId;

/// The store of one task, as a query finds it.
pub(crate) enum TaskStore<'a> {
    /// Restored and in use by the task.
    Ready(&'a Rc<dyn Any>),
    /// Still restoring from its changelog.
    Restoring,
}

/// What a query does with the store of one task.
pub(crate) type StoreVisitor = Box<dyn FnMut(TaskId, TaskStore<'_>) + Send>;

/// A query of one store of every task of a stream thread (or of one task): called with the
/// store of each task that has it, on the thread, between two batches of records.
pub(crate) struct StoreQuery {
    /// The store's name.
    pub(crate) store: String,
    /// Only this task, when set.
    pub(crate) task: Option<TaskId>,
    /// Called with each task's store.
    pub(crate) visit: StoreVisitor,
}

/// Runs `query` on the store `store` of every task (or of task `only`) of the stream threads
/// behind `threads` and returns the answers by task (see
/// [`StreamsHandle::query`](super::StreamsHandle::query)).
pub(crate) fn query_threads<S, R, F>(
    threads: &[Sender<StoreQuery>],
    store: &str,
    only: Option<TaskId>,
    query: F,
    timeout: Duration,
) -> Result<Vec<(TaskId, R)>>
where
    S: 'static,
    R: Send + 'static,
    F: Fn(&S) -> Result<R> + Send + Sync + 'static,
{
    let query = Arc::new(query);
    let (answers, answered) = std::sync::mpsc::channel::<Result<(TaskId, R)>>();
    for thread in threads {
        let query = Arc::clone(&query);
        let answers = answers.clone();
        let name = store.to_owned();
        let visit = move |task: TaskId, found: TaskStore<'_>| {
            let any = match found {
                TaskStore::Ready(any) => any,
                TaskStore::Restoring => {
                    let _ = answers.send(Err(Error::QueryUnavailable {
                        store: name.clone(),
                        reason: format!("task {task} is restoring"),
                    }));
                    return;
                }
            };
            let answer = match Rc::clone(any).downcast::<RefCell<S>>() {
                Ok(s) => match s.try_borrow() {
                    Ok(s) => query(&s).map(|r| (task, r)),
                    Err(_) => Err(Error::IllegalState(format!(
                        "store '{name}' of task {task} is in use"
                    ))),
                },
                Err(_) => Err(Error::StoreNotAvailable(format!(
                    "{name} (task {task} holds another store type)"
                ))),
            };
            // The caller may have timed out and gone: nothing left to tell.
            let _ = answers.send(answer);
        };
        // A thread that has stopped has no stores to answer for.
        let _ = thread.send(StoreQuery {
            store: store.to_owned(),
            task: only,
            visit: Box::new(visit),
        });
    }
    drop(answers);
    collect_answers(&answered, store, timeout)
}

/// Collects the answers until every query sent is answered and gone (each holds a sender),
/// sorted by task.
fn collect_answers<R>(
    answered: &Receiver<Result<(TaskId, R)>>,
    store: &str,
    timeout: Duration,
) -> Result<Vec<(TaskId, R)>> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match answered.recv_timeout(left) {
            Ok(answer) => out.push(answer?),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                return Err(Error::Timeout(format!(
                    "stream threads did not answer a query of store '{store}' within {timeout:?}"
                )));
            }
        }
    }
    out.sort_by_key(|(task, _)| *task);
    Ok(out)
}
