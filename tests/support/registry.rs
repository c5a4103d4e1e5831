//! The Schema Registry the registry tests run against.

/// The environment variable naming the file that `tests/registry/apicurio.sh start` writes
/// the registry's Confluent-compatible base URL to.
pub const URL_FILE_ENV: &str = "SCHEMA_REGISTRY_URL_FILE";

/// The base URL of the running registry, read from the file `SCHEMA_REGISTRY_URL_FILE`
/// names.
///
/// # Panics
///
/// When the variable is unset or the file cannot be read: a test that needs the registry
/// fails, saying how to start one, rather than passing without it.
pub fn url() -> String {
    let how = "start it with `tests/registry/apicurio.sh start` and export \
               SCHEMA_REGISTRY_URL_FILE=$PWD/tests/registry/.run/url (tests/run.sh does both)";
    let file = std::env::var(URL_FILE_ENV)
        .unwrap_or_else(|_| panic!("no schema registry: {URL_FILE_ENV} is not set; {how}"));
    let url = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no schema registry: cannot read {file} ({e}); {how}"))
        .trim()
        .to_owned();
    assert!(
        !url.is_empty(),
        "no schema registry: {file} is empty; {how}"
    );
    url
}

/// A name no other test run has used: `prefix`, the process id and the time in nanoseconds.
/// The registry keeps its subjects for as long as it runs.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}
