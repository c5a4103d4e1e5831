//! Names of topics, applications, consumer groups and directories that no other test (or
//! earlier run) uses, so that tests sharing a broker never see each other's records.

use std::sync::atomic::{AtomicU64, Ordering};

/// A name no other test (or earlier run) uses: `prefix`, the process id, a counter and the
/// clock.
pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
