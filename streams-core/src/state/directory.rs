//! The application's state directory, its lock and the task directories' locks.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::task_id::TaskId;

const LOCK_FILE_NAME: &str = ".lock";

/// `<state.dir>/<application.id>/`, locked for as long as this value lives.
///
/// The lock is an OS advisory lock on `<application.id>/.lock`, so a second instance of
/// the application on the same directory (in this process or another) fails to open it
/// with an error naming the directory, instead of corrupting the stores. Dropping the value
/// releases the lock; so does the process exiting, however it exits.
///
/// Task directories are `<application.id>/<taskId>/`; key-value stores live in
/// `<taskId>/rocksdb/<store>`, segmented stores in `<taskId>/<store>/`.
///
/// The directories it creates (the application directory, the task directories, and
/// `state.dir` itself when it does not exist yet) are owner-only (`0700` on Unix), as Kafka
/// Streams makes them: stores hold the application's data, which other local users have no
/// business reading. An application directory found with wider permissions is narrowed;
/// an existing `state.dir` is left as it is, since it may be shared (`/tmp`, say).
///
/// A task must live in exactly one stream thread of one instance at a time: its stores,
/// checkpoint and changelog offsets assume a single writer. Whatever works on a task's
/// directory holds [`StateDirectory::lock_task_dir`]'s lock while it does, so that a task
/// that moved (to another thread, or to another instance on the same `state.dir`) before
/// its previous owner let go is refused instead of sharing the files.
///
/// # Examples
///
/// ```
/// use streams_core::TaskId;
/// use streams_core::state::StateDirectory;
///
/// let root = std::env::temp_dir().join(format!("state-dir-doc-{}", std::process::id()));
/// let dir = StateDirectory::open(&root, "app")?;
/// assert!(StateDirectory::open(&root, "app").is_err(), "already locked");
/// let task_dir = dir.task_dir(TaskId::new(0, 1))?;
/// assert!(task_dir.ends_with("app/0_1"));
/// drop(dir);
/// assert!(StateDirectory::open(&root, "app").is_ok(), "released");
/// # std::fs::remove_dir_all(&root)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StateDirectory {
    app_dir: PathBuf,
    _lock: File,
}

impl StateDirectory {
    /// Creates `<state_dir>/<application_id>/` if needed and locks it.
    ///
    /// # Errors
    ///
    /// [`Error::StateDir`] when the directory cannot be created, or when another instance
    /// holds its lock.
    pub fn open(state_dir: impl AsRef<Path>, application_id: &str) -> Result<Self> {
        let app_dir = state_dir.as_ref().join(application_id);
        create_private_dir_all(&app_dir)
            .map_err(|e| dir_error(&app_dir, "cannot create the application state directory", e))?;
        restrict_to_owner(&app_dir);
        let lock_path = app_dir.join(LOCK_FILE_NAME);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| dir_error(&app_dir, "cannot open the lock file", e))?;
        match lock.try_lock() {
            Ok(()) => Ok(StateDirectory {
                app_dir,
                _lock: lock,
            }),
            Err(TryLockError::WouldBlock) => Err(Error::StateDir {
                path: app_dir.display().to_string(),
                reason: format!(
                    "the state directory is locked by another instance of application '{application_id}' \
                     (lock file {}); give each instance its own state.dir",
                    lock_path.display()
                ),
                source: None,
            }),
            Err(TryLockError::Error(e)) => {
                Err(dir_error(&app_dir, "cannot lock the state directory", e))
            }
        }
    }

    /// `<state.dir>/<application.id>`.
    pub fn app_dir(&self) -> &Path {
        &self.app_dir
    }

    /// The directory of `task`, created if needed.
    ///
    /// # Errors
    ///
    /// [`Error::StateDir`] when it cannot be created.
    pub fn task_dir(&self, task: TaskId) -> Result<PathBuf> {
        let dir = self.task_dir_path(task);
        create_private_dir_all(&dir)
            .map_err(|e| dir_error(&dir, "cannot create the task state directory", e))?;
        Ok(dir)
    }

    /// Locks the task directory `dir` (created owner-only if needed) for as long as the
    /// returned guard lives, as Kafka Streams' `StateDirectory.lock(taskId)`: an OS advisory
    /// lock on `<dir>/.lock`. A task must live in exactly one stream thread of one instance at
    /// a time, so whatever opens, restores, checkpoints or wipes a task's state holds this
    /// lock first; a thread that is refused should retry later (the previous owner is still
    /// closing the task) rather than touch the files.
    ///
    /// The lock is not reentrant: a second call for the same directory fails even from the
    /// thread that holds it, so keep the guard for as long as the task is owned. Dropping the
    /// guard releases it; so does the process exiting, however it exits. An associated
    /// function, since tasks know their directory rather than the [`StateDirectory`].
    ///
    /// # Errors
    ///
    /// [`Error::StateDir`] naming the task when another holder (another thread of this
    /// process, or another process) has the lock, or when the directory or its lock file
    /// cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::TaskId;
    /// use streams_core::state::StateDirectory;
    ///
    /// let root = std::env::temp_dir().join(format!("task-lock-doc-{}", std::process::id()));
    /// let dir = StateDirectory::open(&root, "app")?;
    /// let task_dir = dir.task_dir(TaskId::new(0, 1))?;
    /// let guard = StateDirectory::lock_task_dir(&task_dir)?;
    /// assert!(StateDirectory::lock_task_dir(&task_dir).is_err(), "already locked");
    /// drop(guard);
    /// assert!(StateDirectory::lock_task_dir(&task_dir).is_ok(), "released");
    /// # drop(dir);
    /// # std::fs::remove_dir_all(&root)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock_task_dir(dir: &Path) -> Result<TaskDirLock> {
        let task = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        create_private_dir_all(dir)
            .map_err(|e| dir_error(dir, "cannot create the task state directory", e))?;
        let lock_path = dir.join(LOCK_FILE_NAME);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| dir_error(dir, "cannot open the task's lock file", e))?;
        match file.try_lock() {
            Ok(()) => Ok(TaskDirLock {
                dir: dir.to_path_buf(),
                _file: file,
            }),
            Err(TryLockError::WouldBlock) => Err(Error::StateDir {
                path: dir.display().to_string(),
                reason: format!(
                    "task {task} is locked by another stream thread or instance (lock file {}); \
                     a task lives in one thread of one instance at a time, retry once it is released",
                    lock_path.display()
                ),
                source: None,
            }),
            Err(TryLockError::Error(e)) => Err(dir_error(
                dir,
                &format!("cannot lock the directory of task {task}"),
                e,
            )),
        }
    }

    /// The path of `task`'s directory, without creating it.
    pub fn task_dir_path(&self, task: TaskId) -> PathBuf {
        self.app_dir.join(task.to_string())
    }

    /// The tasks that have a directory, sorted.
    ///
    /// # Errors
    ///
    /// [`Error::StateDir`] when the application directory cannot be listed.
    pub fn task_dirs(&self) -> Result<Vec<TaskId>> {
        let entries =
            fs::read_dir(&self.app_dir).map_err(|e| dir_error(&self.app_dir, "cannot list", e))?;
        let mut tasks: Vec<TaskId> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        tasks.sort();
        Ok(tasks)
    }

    /// Deletes `task`'s state (stores and checkpoint): the whole directory, except its lock
    /// file when there is one. The lock file stays because whoever wipes a task normally
    /// holds its lock: deleting the file would let another thread create a new one and lock
    /// that while this holder still works on the directory.
    ///
    /// # Errors
    ///
    /// [`Error::StateDir`] when it exists and cannot be deleted.
    pub fn wipe_task(&self, task: TaskId) -> Result<()> {
        let dir = self.task_dir_path(task);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(dir_error(&dir, "cannot list", e)),
        };
        let mut kept_lock = false;
        for entry in entries {
            let entry = entry.map_err(|e| dir_error(&dir, "cannot list", e))?;
            let path = entry.path();
            if entry.file_name() == LOCK_FILE_NAME {
                kept_lock = true;
                continue;
            }
            let is_dir = entry
                .file_type()
                .map_err(|e| dir_error(&path, "cannot inspect", e))?
                .is_dir();
            if is_dir {
                remove_dir_if_exists(&path)?;
            } else {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(dir_error(&path, "cannot delete", e)),
                }
            }
        }
        if kept_lock {
            Ok(())
        } else {
            remove_dir_if_exists(&dir)
        }
    }

    /// Deletes the files of store `store` in the task directory `task_dir`: both
    /// `rocksdb/<store>` (key-value layout) and `<store>/` (segmented layout). Returns
    /// whether anything was there.
    ///
    /// # Errors
    ///
    /// [`Error::StateDir`] when a directory exists and cannot be deleted.
    pub fn wipe_store(task_dir: &Path, store: &str) -> Result<bool> {
        let mut existed = false;
        for dir in Self::store_dirs(task_dir, store) {
            existed |= dir.exists();
            remove_dir_if_exists(&dir)?;
        }
        Ok(existed)
    }

    /// The directories a store named `store` may occupy in `task_dir`.
    pub fn store_dirs(task_dir: &Path, store: &str) -> [PathBuf; 2] {
        [task_dir.join("rocksdb").join(store), task_dir.join(store)]
    }
}

/// A task directory's lock, from [`StateDirectory::lock_task_dir`]; released when dropped.
#[derive(Debug)]
#[must_use = "the task directory is unlocked as soon as the guard is dropped"]
pub struct TaskDirLock {
    dir: PathBuf,
    _file: File,
}

impl TaskDirLock {
    /// The locked task directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Creates `dir` and any missing parents, owner-only on Unix.
fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Narrows an existing directory to owner-only on Unix, as Kafka Streams does for the
/// application directory: one created by an older version, or under a wide umask, would
/// otherwise stay readable by other users. A failure (a directory owned by someone else) is
/// logged, not fatal, as in Kafka Streams.
fn restrict_to_owner(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let result = fs::metadata(dir).and_then(|m| {
            if m.permissions().mode() & 0o077 == 0 {
                Ok(())
            } else {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            }
        });
        if let Err(e) = result {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot make the state directory owner-only");
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(dir_error(dir, "cannot delete", e)),
    }
}

fn dir_error(path: &Path, reason: &str, source: io::Error) -> Error {
    Error::StateDir {
        path: path.display().to_string(),
        reason: reason.to_owned(),
        source: Some(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("streams-core-dir-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn second_instance_is_refused_until_the_first_releases() -> Result<()> {
        let root = root("lock");
        let first = StateDirectory::open(&root, "app")?;
        let err = StateDirectory::open(&root, "app")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("locked"), "{err}");
        assert!(
            err.contains(&root.join("app").display().to_string()),
            "{err}"
        );
        // Another application id is another directory, with its own lock.
        let other = StateDirectory::open(&root, "other")?;
        drop(first);
        let again = StateDirectory::open(&root, "app")?;
        drop((again, other));
        let _ = fs::remove_dir_all(&root);
        Ok(())
    }

    #[test]
    fn task_dirs_and_wipes() -> Result<()> {
        let root = root("tasks");
        let dir = StateDirectory::open(&root, "app")?;
        let t = TaskId::new(1, 2);
        let td = dir.task_dir(t)?;
        fs::create_dir_all(td.join("rocksdb").join("s")).ok();
        fs::create_dir_all(td.join("w").join("w.0")).ok();
        fs::create_dir_all(dir.app_dir().join("not-a-task")).ok();
        assert_eq!(dir.task_dirs()?, vec![t]);
        assert!(StateDirectory::wipe_store(&td, "s")?);
        assert!(!td.join("rocksdb").join("s").exists());
        assert!(td.join("w").exists());
        assert!(StateDirectory::wipe_store(&td, "w")?);
        assert!(
            !StateDirectory::wipe_store(&td, "w")?,
            "nothing left to wipe"
        );
        dir.wipe_task(t)?;
        assert!(!td.exists());
        drop(dir);
        let _ = fs::remove_dir_all(&root);
        Ok(())
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[cfg(unix)]
    #[test]
    fn directories_are_owner_only() -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let root = root("perms");
        // A state.dir that does not exist yet is created owner-only too.
        let state_dir = root.join("state");
        let dir = StateDirectory::open(&state_dir, "app")?;
        assert_eq!(mode(&state_dir), 0o700, "state.dir");
        assert_eq!(mode(dir.app_dir()), 0o700, "application directory");
        let task_dir = dir.task_dir(TaskId::new(0, 3))?;
        assert_eq!(mode(&task_dir), 0o700, "task directory");
        let locked = dir.app_dir().join("1_0");
        let guard = StateDirectory::lock_task_dir(&locked)?;
        assert_eq!(mode(&locked), 0o700, "task directory created by its lock");
        drop((guard, dir));

        // An application directory left readable (an older version, a wide umask) is
        // narrowed; an existing state.dir, which may be shared, is left alone.
        let set = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m));
        set(&state_dir, 0o755).map_err(|e| dir_error(&state_dir, "chmod", e))?;
        set(&state_dir.join("app"), 0o755).map_err(|e| dir_error(&state_dir, "chmod", e))?;
        let dir = StateDirectory::open(&state_dir, "app")?;
        assert_eq!(mode(dir.app_dir()), 0o700);
        assert_eq!(mode(&state_dir), 0o755);
        drop(dir);
        let _ = fs::remove_dir_all(&root);
        Ok(())
    }

    #[test]
    fn a_task_dir_has_one_holder_at_a_time() -> Result<()> {
        let root = root("task-lock");
        let dir = StateDirectory::open(&root, "app")?;
        let task_dir = dir.task_dir(TaskId::new(2, 5))?;
        let guard = StateDirectory::lock_task_dir(&task_dir)?;
        assert_eq!(guard.dir(), task_dir.as_path());
        assert!(task_dir.join(".lock").exists());

        // Not reentrant, even on the holding thread.
        let again = StateDirectory::lock_task_dir(&task_dir);
        assert!(
            matches!(&again, Err(Error::StateDir { reason, .. }) if reason.contains("task 2_5")),
            "{again:?}"
        );
        // Another thread is refused, naming the task.
        let from_thread = std::thread::scope(|s| {
            s.spawn(|| StateDirectory::lock_task_dir(&task_dir).map(drop))
                .join()
                .map_err(|_| Error::IllegalState("locking thread panicked".into()))
        })?;
        let msg = from_thread
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(msg.contains("task 2_5") && msg.contains("locked"), "{msg}");

        // Other tasks are independent.
        let other = StateDirectory::lock_task_dir(&dir.task_dir(TaskId::new(2, 6))?)?;

        // Wiping the task's state keeps the lock file, so the lock still means something.
        fs::create_dir_all(task_dir.join("rocksdb").join("s"))
            .map_err(|e| dir_error(&task_dir, "mkdir", e))?;
        dir.wipe_task(TaskId::new(2, 5))?;
        assert!(!task_dir.join("rocksdb").exists());
        assert!(
            StateDirectory::lock_task_dir(&task_dir).is_err(),
            "still held"
        );

        drop(guard);
        let after = std::thread::scope(|s| {
            s.spawn(|| StateDirectory::lock_task_dir(&task_dir).map(drop))
                .join()
                .map_err(|_| Error::IllegalState("locking thread panicked".into()))
        })?;
        assert!(after.is_ok(), "released on drop: {after:?}");
        drop((other, dir));
        let _ = fs::remove_dir_all(&root);
        Ok(())
    }
}
