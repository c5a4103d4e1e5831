//! What the benchmarks share: the input generator and checksum the Java peers implement bit
//! for bit, resident-set readings, and compiling and running a Java peer.

// Each benchmark uses part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// SplitMix64; the Java peers implement it bit for bit.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fills `out` with the little-endian bytes of successive draws.
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let x = self.next().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }

    /// `len` bytes of successive draws.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.fill(&mut out);
        out
    }
}

pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub(crate) const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`, continuing from `h`.
pub(crate) fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), -1 where unavailable.
pub(crate) fn proc_status_kib(field: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(-1)
}

/// Kibibytes as MiB for a summary line.
pub(crate) fn mib(kib: i64) -> String {
    if kib < 0 {
        "n/a".to_owned()
    } else {
        format!("{:.1} MiB", kib as f64 / 1024.0)
    }
}

/// A count from the environment, else `default`.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a count: {e}")),
        Err(_) => default,
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("streams-dsl sits in the workspace")
        .to_path_buf()
}

/// The `java` and `javac` binaries: `$JAVA` (and the `javac` beside it), else those of
/// `$JAVA_HOME`, else the ones on the path.
fn java_binaries() -> (PathBuf, PathBuf) {
    if let Some(j) = std::env::var_os("JAVA") {
        let java = PathBuf::from(j);
        let javac = java.with_file_name("javac");
        return (java, javac);
    }
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let bin = Path::new(&home).join("bin");
        if bin.join("java").is_file() {
            return (bin.join("java"), bin.join("javac"));
        }
    }
    (PathBuf::from("java"), PathBuf::from("javac"))
}

/// A Java peer (`streams-dsl/benches/peer/<class>.java`), compiled with `javac` into a
/// temporary directory and run from its class files: launched as a single source file, the
/// JVM would also hold the Java compiler, which would count in its resident set.
pub(crate) struct JavaPeer {
    java: PathBuf,
    lib: PathBuf,
    classes: PathBuf,
    class: String,
}

impl JavaPeer {
    /// Compiles the peer; `Err` says why it cannot run (no Java, no Kafka jars).
    pub(crate) fn compile(class: &str) -> Result<JavaPeer, String> {
        let root = workspace_root();
        let lib = root.join("tests/conformance/lib");
        for jar in [
            "kafka-streams-4.4.0.jar",
            "kafka-streams-test-utils-4.4.0.jar",
            "kafka-clients-4.4.0.jar",
        ] {
            if !lib.join(jar).is_file() {
                return Err(format!(
                    "{} is missing (run tests/conformance/fetch-jars.sh)",
                    lib.join(jar).display()
                ));
            }
        }
        let source = root.join(format!("streams-dsl/benches/peer/{class}.java"));
        let (java, javac) = java_binaries();
        let classes = std::env::temp_dir().join(format!("{class}-peer-{}", std::process::id()));
        let compiled = Command::new(&javac)
            .arg("-d")
            .arg(&classes)
            .arg("-cp")
            .arg(lib.join("*"))
            .arg(&source)
            .output()
            .map_err(|e| format!("cannot start {}: {e}", javac.display()))?;
        assert!(
            compiled.status.success(),
            "javac failed on {} ({}):\n{}",
            source.display(),
            compiled.status,
            String::from_utf8_lossy(&compiled.stderr)
        );
        Ok(JavaPeer {
            java,
            lib,
            classes,
            class: class.to_owned(),
        })
    }

    /// Runs the peer with `args` from the workspace root and returns what it printed; a
    /// peer that fails stops the benchmark.
    pub(crate) fn run(&self, args: &[String]) -> Result<String, String> {
        let mut classpath = std::ffi::OsString::from(self.lib.join("*"));
        classpath.push(":");
        classpath.push(&self.classes);
        let out = Command::new(&self.java)
            .arg("-cp")
            .arg(classpath)
            .arg(&self.class)
            .args(args)
            .current_dir(workspace_root())
            .output()
            .map_err(|e| format!("cannot start {}: {e}", self.java.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "Java peer {} failed ({}):\n{stdout}\n{}",
            self.class,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(stdout)
    }
}

impl Drop for JavaPeer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.classes);
    }
}
