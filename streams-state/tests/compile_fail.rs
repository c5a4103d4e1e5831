//! Compile-time guarantees: store iterators borrow their store.

use std::path::{Path, PathBuf};

/// The librocksdb-sys output directory of the build running this test, if there is one.
fn built_rocksdb_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // <target>/<profile>/deps/<this test> -> <target>/<profile>/build
    let build = exe.parent()?.parent()?.join("build");
    std::fs::read_dir(&build)
        .ok()?
        .flatten()
        .map(|e| e.path().join("out"))
        .find(|out| out.join("librocksdb.a").is_file() && starts_with_sys(out))
}

fn starts_with_sys(out: &Path) -> bool {
    out.parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("librocksdb-sys-"))
}

#[test]
fn iterators_cannot_outlive_their_store() {
    // trybuild type-checks the cases in a target directory of its own. Pointing
    // librocksdb-sys at the library this build already compiled keeps it from compiling
    // RocksDB's C++ sources a second time (a type check never links it anyway).
    if std::env::var_os("ROCKSDB_LIB_DIR").is_none()
        && let Some(dir) = built_rocksdb_dir()
    {
        // SAFETY: this test binary has a single test, so no other thread reads the
        // environment while it is changed.
        unsafe {
            std::env::set_var("ROCKSDB_LIB_DIR", dir);
            std::env::set_var("ROCKSDB_STATIC", "1");
        }
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
