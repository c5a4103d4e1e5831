//! Kafka Streams' `.checkpoint` files.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The name of a task's checkpoint file inside its state directory.
pub const CHECKPOINT_FILE_NAME: &str = ".checkpoint";

const VERSION: i32 = 0;

/// A checkpoint file: the changelog offset each store of a task has applied, in Kafka
/// Streams' text format (`0`, the entry count, then one `topic partition offset` line per
/// changelog partition).
///
/// Writes go to a temporary file that is synced and renamed over the old one, then the
/// directory is synced, so a crash leaves either the old or the new checkpoint.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use streams_core::state::OffsetCheckpoint;
///
/// let dir = std::env::temp_dir().join(format!("ckpt-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let ckpt = OffsetCheckpoint::new(dir.join(".checkpoint"));
/// let offsets = HashMap::from([(("app-s-changelog".to_owned(), 0), 41)]);
/// ckpt.write(&offsets)?;
/// assert_eq!(ckpt.read()?, offsets);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OffsetCheckpoint {
    path: PathBuf,
}

impl OffsetCheckpoint {
    /// A checkpoint stored at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        OffsetCheckpoint { path: path.into() }
    }

    /// The checkpoint of the task whose state directory is `task_dir`.
    pub fn in_dir(task_dir: &Path) -> Self {
        Self::new(task_dir.join(CHECKPOINT_FILE_NAME))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file exists.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Reads the offsets. A missing file reads as no offsets; negative offsets are skipped,
    /// as Kafka Streams does.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, or [`Error::StateDir`] when its content is
    /// not a valid checkpoint (bad version, malformed line, wrong count). Callers treat both
    /// as "no valid checkpoint": wipe and restore in full.
    pub fn read(&self) -> Result<HashMap<(String, i32), i64>> {
        let text = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => {
                return Err(Error::Io {
                    context: format!("reading checkpoint {}", self.path.display()),
                    source: e,
                });
            }
        };
        let text = String::from_utf8(text).map_err(|_| self.corrupt("not UTF-8"))?;
        let mut lines = text.lines();
        let version: i32 = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| self.corrupt("missing or malformed version line"))?;
        if version != VERSION {
            return Err(self.corrupt(&format!("unknown checkpoint version {version}")));
        }
        let mut expected: i64 = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| self.corrupt("missing or malformed entry count"))?;
        let mut offsets = HashMap::new();
        for line in lines {
            let pieces: Vec<&str> = line.split_whitespace().collect();
            let [topic, partition, offset] = pieces[..] else {
                return Err(self.corrupt(&format!("malformed line '{line}'")));
            };
            let partition: i32 = partition
                .parse()
                .map_err(|_| self.corrupt(&format!("malformed partition in '{line}'")))?;
            let offset: i64 = offset
                .parse()
                .map_err(|_| self.corrupt(&format!("malformed offset in '{line}'")))?;
            if offset >= 0 {
                offsets.insert((topic.to_owned(), partition), offset);
            } else {
                tracing::warn!(path = %self.path.display(), topic, partition, offset, "skipping negative offset in checkpoint");
                expected -= 1;
            }
        }
        if offsets.len() as i64 != expected {
            return Err(self.corrupt(&format!(
                "expected {expected} entries but found {}",
                offsets.len()
            )));
        }
        Ok(offsets)
    }

    /// Writes the offsets atomically. Writing no offsets deletes the file, as Kafka Streams
    /// does.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] for a negative offset, [`Error::Io`] when writing fails.
    pub fn write(&self, offsets: &HashMap<(String, i32), i64>) -> Result<()> {
        if offsets.is_empty() {
            return self.delete();
        }
        let mut entries: Vec<_> = offsets.iter().collect();
        entries.sort();
        let mut text = format!("{VERSION}\n{}\n", entries.len());
        for ((topic, partition), offset) in entries {
            if *offset < 0 {
                return Err(Error::IllegalState(format!(
                    "attempted to write negative offset {offset} for {topic}-{partition} to {}",
                    self.path.display()
                )));
            }
            text.push_str(&format!("{topic} {partition} {offset}\n"));
        }
        let io = |context: &str, source: io::Error| Error::Io {
            context: format!("{context} {}", self.path.display()),
            source,
        };
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(|e| io("creating temporary checkpoint for", e))?;
            file.write_all(text.as_bytes())
                .map_err(|e| io("writing temporary checkpoint for", e))?;
            file.sync_all()
                .map_err(|e| io("syncing temporary checkpoint for", e))?;
        }
        fs::rename(&tmp, &self.path).map_err(|e| io("renaming temporary checkpoint to", e))?;
        if let Some(dir) = self.path.parent() {
            // The rename is only durable once the directory entry is.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io("syncing the directory of", e))?;
        }
        Ok(())
    }

    /// Deletes the file if it exists.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when it exists and cannot be deleted.
    pub fn delete(&self) -> Result<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io {
                context: format!("deleting checkpoint {}", self.path.display()),
                source: e,
            }),
        }
    }

    fn corrupt(&self, reason: &str) -> Error {
        Error::StateDir {
            path: self.path.display().to_string(),
            reason: format!("corrupt checkpoint file: {reason}"),
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "streams-core-ckpt-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).ok();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn round_trips_in_kafka_streams_format() -> Result<()> {
        let dir = TempDir::new("rt");
        let ckpt = OffsetCheckpoint::in_dir(&dir.0);
        assert!(ckpt.read()?.is_empty(), "missing file reads as empty");
        let offsets = HashMap::from([
            (("app-b-changelog".to_owned(), 3), 7),
            (("app-a-changelog".to_owned(), 3), 100),
        ]);
        ckpt.write(&offsets)?;
        let text = fs::read_to_string(ckpt.path()).map_err(|e| Error::Io {
            context: "test".into(),
            source: e,
        })?;
        assert_eq!(text, "0\n2\napp-a-changelog 3 100\napp-b-changelog 3 7\n");
        assert_eq!(ckpt.read()?, offsets);
        assert!(!dir.0.join(".checkpoint.tmp").exists());
        ckpt.write(&HashMap::new())?;
        assert!(!ckpt.exists(), "writing no offsets deletes the file");
        Ok(())
    }

    #[test]
    fn rejects_corrupt_files() {
        let dir = TempDir::new("corrupt");
        let ckpt = OffsetCheckpoint::in_dir(&dir.0);
        for bad in [
            "",
            "1\n0\n",
            "0\n2\nt 0 5\n",
            "0\n1\nt x 5\n",
            "0\n1\nt 0\n",
            "zz",
            "0\n1\nt 0 5 6\n",
        ] {
            fs::write(ckpt.path(), bad).ok();
            let err = ckpt.read().err();
            assert!(
                matches!(err, Some(Error::StateDir { .. })),
                "content {bad:?} should be corrupt, got {err:?}"
            );
        }
    }

    #[test]
    fn skips_negative_offsets_and_refuses_to_write_them() -> Result<()> {
        let dir = TempDir::new("neg");
        let ckpt = OffsetCheckpoint::in_dir(&dir.0);
        fs::write(ckpt.path(), "0\n2\nt 0 -1\nt 1 9\n").ok();
        assert_eq!(ckpt.read()?, HashMap::from([(("t".to_owned(), 1), 9)]));
        assert!(
            ckpt.write(&HashMap::from([(("t".to_owned(), 0), -1)]))
                .is_err()
        );
        Ok(())
    }
}
