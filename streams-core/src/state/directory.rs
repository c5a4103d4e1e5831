//! The application's state directory and its lock.

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
        fs::create_dir_all(&app_dir)
            .map_err(|e| dir_error(&app_dir, "cannot create the application state directory", e))?;
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
        fs::create_dir_all(&dir)
            .map_err(|e| dir_error(&dir, "cannot create the task state directory", e))?;
        Ok(dir)
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

    /// Deletes `task`'s whole directory (stores and checkpoint).
    ///
    /// # Errors
    ///
    /// [`Error::StateDir`] when it exists and cannot be deleted.
    pub fn wipe_task(&self, task: TaskId) -> Result<()> {
        remove_dir_if_exists(&self.task_dir_path(task))
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
}
