//! The instance's process id: a random UUID kept in its state directory, so that it
//! survives restarts.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The instance's process id, read from `<app dir>/kafka-streams-process-metadata` or
/// created there.
pub(crate) fn process_id(app_dir: &Path) -> Result<String> {
    let path = app_dir.join("kafka-streams-process-metadata");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(id) = v.get("processId").and_then(|v| v.as_str())
    {
        return Ok(id.to_owned());
    }
    let id = random_uuid();
    let text = serde_json::json!({ "processId": id }).to_string();
    std::fs::write(&path, text).map_err(|e| Error::Io {
        context: format!("writing {}", path.display()),
        source: e,
    })?;
    Ok(id)
}

/// A random version-4 UUID from the standard library's randomly seeded hasher.
fn random_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.finish()
    };
    let (a, b) = (word(), word());
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ids_are_uuids_and_persist() -> Result<()> {
        let a = random_uuid();
        assert_eq!(a.len(), 36);
        assert_ne!(a, random_uuid());
        let dir = tempfile::tempdir().map_err(|e| Error::Io {
            context: "tempdir".into(),
            source: e,
        })?;
        let first = process_id(dir.path())?;
        assert_eq!(process_id(dir.path())?, first);
        Ok(())
    }
}
