//! Opening a window store's next segment ahead of need, on a thread of its own.
//!
//! A window store opens a RocksDB database for every new segment, each half retention
//! period of stream time, and an open costs milliseconds of file creation and syncs: a
//! stream-stream join within 5 minutes over two hours of input opens 192 of them, and the
//! opens took about a third of its stream thread's time. Segments come in order, so when a
//! store creates segment `n` it asks for `n + 1` here, and takes it when its first record
//! arrives. Expired segments are closed here too (a close takes about as long). One thread
//! serves every store of the process; a store that finds the thread unavailable opens and
//! closes its segments itself.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};

use rocksdb::DB;

use crate::error::StateError;
use crate::rocks::{KeyLayout, RocksDbConfigSetter, RocksDbResources, open_db};

type Job = Box<dyn FnOnce() + Send>;

/// The opener thread's queue, started on first use; `None` when it could not start.
fn queue() -> Option<Sender<Job>> {
    static QUEUE: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("segment-opener".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    });
    queue
        .as_ref()
        .and_then(|m| m.lock().ok().map(|tx| tx.clone()))
}

/// A segment database being opened on the opener thread.
pub(crate) struct OpenAhead {
    pub(crate) id: i64,
    pub(crate) path: PathBuf,
    result: Receiver<Result<DB, StateError>>,
}

/// What opening a segment needs.
pub(crate) struct SegmentSpec {
    pub(crate) store: String,
    pub(crate) id: i64,
    pub(crate) path: PathBuf,
    pub(crate) resources: Arc<RocksDbResources>,
    pub(crate) setter: Option<Arc<dyn RocksDbConfigSetter>>,
}

impl OpenAhead {
    /// Starts opening the segment `spec` describes (its directory must not exist yet), or
    /// `None` when the opener thread is unavailable.
    pub(crate) fn start(spec: SegmentSpec) -> Option<Self> {
        let (tx, rx): (SyncSender<Result<DB, StateError>>, _) = sync_channel(1);
        let SegmentSpec {
            store,
            id,
            path,
            resources,
            setter,
        } = spec;
        let job_path = path.clone();
        let job: Job = Box::new(move || {
            let db = open_db(
                &store,
                &job_path,
                &resources,
                setter.as_deref(),
                KeyLayout::WindowKeys,
            );
            // The store may have gone; then the database closes here.
            let _ = tx.send(db);
        });
        queue()?.send(job).ok()?;
        Some(OpenAhead {
            id,
            path,
            result: rx,
        })
    }

    /// The opened database, waiting for it if need be; `None` if the opener thread died.
    pub(crate) fn wait(self) -> Option<Result<DB, StateError>> {
        self.result.recv().ok()
    }
}

/// Closes `db` on the opener thread; the receiver hears when it is closed. `None` when the
/// thread is unavailable, and the database was closed here.
pub(crate) fn close_in_background(db: DB) -> Option<Receiver<()>> {
    let (tx, rx) = sync_channel(1);
    let Some(queue) = queue() else {
        drop(db);
        return None;
    };
    let job: Job = Box::new(move || {
        drop(db);
        let _ = tx.send(());
    });
    // A failed send hands the job back, and the database closes with it, here.
    queue.send(job).ok().map(|()| rx)
}
