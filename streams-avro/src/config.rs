//! String-keyed configuration with Confluent's names and typed getters.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::{AvroError, Result};
use crate::subject::SubjectNameStrategy;
pub use crate::subject::{KEY_SUBJECT_NAME_STRATEGY, VALUE_SUBJECT_NAME_STRATEGY};

/// The registry's URL, or several separated by commas (tried in order); `mock://<scope>`
/// selects the in-process registry of that scope.
pub const SCHEMA_REGISTRY_URL: &str = "schema.registry.url";
/// Whether the serializer registers its schema (default `true`); when `false` it looks the
/// schema up and fails if the subject does not have it.
pub const AUTO_REGISTER_SCHEMAS: &str = "auto.register.schemas";
/// Whether the serializer writes with the subject's latest schema instead of its own
/// (default `false`).
pub const USE_LATEST_VERSION: &str = "use.latest.version";
/// Where basic-auth credentials come from: `USER_INFO` (from [`BASIC_AUTH_USER_INFO`]) or
/// `URL` (from the URL's `user:password@`).
pub const BASIC_AUTH_CREDENTIALS_SOURCE: &str = "basic.auth.credentials.source";
/// `user:password` for basic auth.
pub const BASIC_AUTH_USER_INFO: &str = "basic.auth.user.info";
/// A PEM file of CA certificates to trust instead of the built-in web roots.
pub const SSL_CA_LOCATION: &str = "schema.registry.ssl.ca.location";
/// A PEM file with the client's certificate chain, for mutual TLS.
pub const SSL_CERTIFICATE_LOCATION: &str = "schema.registry.ssl.certificate.location";
/// A PEM file with the client's private key, for mutual TLS.
pub const SSL_KEY_LOCATION: &str = "schema.registry.ssl.key.location";
/// How long connecting may take, in milliseconds (default 60000, as Confluent's).
pub const HTTP_CONNECT_TIMEOUT_MS: &str = "http.connect.timeout.ms";
/// How long an answer may take once connected, in milliseconds (default 60000, as
/// Confluent's).
pub const HTTP_READ_TIMEOUT_MS: &str = "http.read.timeout.ms";

const KNOWN: &[&str] = &[
    SCHEMA_REGISTRY_URL,
    AUTO_REGISTER_SCHEMAS,
    USE_LATEST_VERSION,
    KEY_SUBJECT_NAME_STRATEGY,
    VALUE_SUBJECT_NAME_STRATEGY,
    BASIC_AUTH_CREDENTIALS_SOURCE,
    BASIC_AUTH_USER_INFO,
    SSL_CA_LOCATION,
    SSL_CERTIFICATE_LOCATION,
    SSL_KEY_LOCATION,
    HTTP_CONNECT_TIMEOUT_MS,
    HTTP_READ_TIMEOUT_MS,
];

/// Settings of the registry client and the serdes, under Confluent's names.
///
/// Setting never fails; the values are checked when a client or serde is made from the
/// configuration, and an unknown key is refused then, so that a misspelt setting is not
/// silently ignored. `Debug` hides the basic-auth password.
///
/// # Examples
///
/// ```
/// use streams_avro::{RegistryConfig, SubjectNameStrategy};
///
/// let config = RegistryConfig::new()
///     .set("schema.registry.url", "mock://docs-config")
///     .set("auto.register.schemas", "false")
///     .set("value.subject.name.strategy", "RecordNameStrategy");
/// assert!(!config.auto_register_schemas()?);
/// assert_eq!(config.subject_name_strategy(false)?, SubjectNameStrategy::RecordName);
/// assert!(RegistryConfig::new().set("schema.registry.ulr", "x").validate().is_err());
/// # Ok::<(), streams_avro::AvroError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    entries: BTreeMap<String, String>,
}

impl RegistryConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.entries.insert(key.into(), value.into());
        self
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Checks every key and value.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] naming the first unknown key or invalid value.
    pub fn validate(&self) -> Result<()> {
        if let Some(key) = self.entries.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(AvroError::config(
                key,
                format!("unknown key; the known keys are {}", KNOWN.join(", ")),
            ));
        }
        self.urls()?;
        self.auto_register_schemas()?;
        self.use_latest_version()?;
        self.subject_name_strategy(true)?;
        self.subject_name_strategy(false)?;
        self.basic_auth()?;
        self.connect_timeout()?;
        self.read_timeout()?;
        Ok(())
    }

    /// The registry URLs of [`SCHEMA_REGISTRY_URL`], without trailing slashes.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] when it is missing or empty, or mixes `mock://` with others.
    pub fn urls(&self) -> Result<Vec<String>> {
        let raw = self.get(SCHEMA_REGISTRY_URL).ok_or_else(|| {
            AvroError::config(
                SCHEMA_REGISTRY_URL,
                "missing: set it to the registry's URL, or to mock://<scope> for the in-process registry",
            )
        })?;
        let urls: Vec<String> = raw
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Err(AvroError::config(SCHEMA_REGISTRY_URL, "empty"));
        }
        let mocks = urls.iter().filter(|u| u.starts_with("mock://")).count();
        if mocks > 0 && urls.len() > 1 {
            return Err(AvroError::config(
                SCHEMA_REGISTRY_URL,
                "a mock:// URL cannot be combined with other URLs",
            ));
        }
        if let Some(bad) = urls.iter().find(|u| {
            !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with("mock://"))
        }) {
            return Err(AvroError::config(
                SCHEMA_REGISTRY_URL,
                format!("'{bad}' is neither http://, https:// nor mock://"),
            ));
        }
        Ok(urls)
    }

    /// [`AUTO_REGISTER_SCHEMAS`], `true` unless set.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] when it is not `true` or `false`.
    pub fn auto_register_schemas(&self) -> Result<bool> {
        self.bool(AUTO_REGISTER_SCHEMAS, true)
    }

    /// [`USE_LATEST_VERSION`], `false` unless set.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] when it is not `true` or `false`.
    pub fn use_latest_version(&self) -> Result<bool> {
        self.bool(USE_LATEST_VERSION, false)
    }

    /// The subject name strategy for keys (`is_key`) or values.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] when it names no known strategy.
    pub fn subject_name_strategy(&self, is_key: bool) -> Result<SubjectNameStrategy> {
        let key = if is_key {
            KEY_SUBJECT_NAME_STRATEGY
        } else {
            VALUE_SUBJECT_NAME_STRATEGY
        };
        match self.get(key) {
            None => Ok(SubjectNameStrategy::TopicName),
            Some(v) => v
                .parse()
                .map_err(|reason: String| AvroError::config(key, reason)),
        }
    }

    /// The basic-auth user and password, if configured.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] when the source is unknown or its credentials are not
    /// `user:password`.
    pub fn basic_auth(&self) -> Result<Option<(String, String)>> {
        let split = |key: &str, info: &str| {
            info.split_once(':')
                .map(|(u, p)| (u.to_owned(), p.to_owned()))
                .ok_or_else(|| AvroError::config(key, "expected user:password"))
        };
        let source = self.get(BASIC_AUTH_CREDENTIALS_SOURCE);
        match source.map(str::to_ascii_uppercase).as_deref() {
            None if self.get(BASIC_AUTH_USER_INFO).is_none() => Ok(None),
            None | Some("USER_INFO") => {
                let info = self.get(BASIC_AUTH_USER_INFO).ok_or_else(|| {
                    AvroError::config(
                        BASIC_AUTH_USER_INFO,
                        "missing, but the credentials source is USER_INFO",
                    )
                })?;
                split(BASIC_AUTH_USER_INFO, info).map(Some)
            }
            Some("URL") => {
                let urls = self.urls()?;
                let info = urls
                    .first()
                    .and_then(|u| u.split_once("://"))
                    .and_then(|(_, rest)| rest.split('/').next())
                    .and_then(|authority| authority.rsplit_once('@'))
                    .map(|(info, _)| info.to_owned())
                    .ok_or_else(|| {
                        AvroError::config(
                            SCHEMA_REGISTRY_URL,
                            "the credentials source is URL, but the URL has no user:password@",
                        )
                    })?;
                split(SCHEMA_REGISTRY_URL, &info).map(Some)
            }
            Some(other) => Err(AvroError::config(
                BASIC_AUTH_CREDENTIALS_SOURCE,
                format!("'{other}' is not supported; use USER_INFO or URL"),
            )),
        }
    }

    /// [`HTTP_CONNECT_TIMEOUT_MS`], 60 s unless set.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] when it is not a positive number of milliseconds.
    pub fn connect_timeout(&self) -> Result<Duration> {
        self.millis(HTTP_CONNECT_TIMEOUT_MS, 60_000)
    }

    /// [`HTTP_READ_TIMEOUT_MS`], 60 s unless set.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] when it is not a positive number of milliseconds.
    pub fn read_timeout(&self) -> Result<Duration> {
        self.millis(HTTP_READ_TIMEOUT_MS, 60_000)
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key).map(str::trim) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(AvroError::config(
                key,
                format!("'{v}' is not true or false"),
            )),
        }
    }

    fn millis(&self, key: &str, default: u64) -> Result<Duration> {
        match self.get(key) {
            None => Ok(Duration::from_millis(default)),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(AvroError::config(
                    key,
                    format!("'{v}' is not a positive number of milliseconds"),
                )),
            },
        }
    }
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in &self.entries {
            if k == BASIC_AUTH_USER_INFO {
                map.entry(k, &"[redacted]");
            } else {
                map.entry(k, v);
            }
        }
        map.finish()
    }
}

#[cfg(test)]
// In tests a failed unwrap is a failed assertion.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_secrets_hidden() {
        let c = RegistryConfig::new()
            .set(SCHEMA_REGISTRY_URL, "http://a:8081/, https://b:8081")
            .set(BASIC_AUTH_USER_INFO, "app:s3cret:with-colon")
            .set(HTTP_READ_TIMEOUT_MS, "1500");
        c.validate().unwrap();
        assert_eq!(c.urls().unwrap(), ["http://a:8081", "https://b:8081"]);
        assert_eq!(
            c.basic_auth().unwrap(),
            Some(("app".to_owned(), "s3cret:with-colon".to_owned()))
        );
        assert_eq!(c.read_timeout().unwrap(), Duration::from_millis(1500));
        assert_eq!(c.connect_timeout().unwrap(), Duration::from_secs(60));
        assert!(!format!("{c:?}").contains("s3cret"));

        let from_url = RegistryConfig::new()
            .set(SCHEMA_REGISTRY_URL, "https://u:p@reg:8081")
            .set(BASIC_AUTH_CREDENTIALS_SOURCE, "URL");
        assert_eq!(
            from_url.basic_auth().unwrap(),
            Some(("u".to_owned(), "p".to_owned()))
        );

        for (key, value) in [
            (SCHEMA_REGISTRY_URL, "ftp://x"),
            (AUTO_REGISTER_SCHEMAS, "yes"),
            (HTTP_CONNECT_TIMEOUT_MS, "0"),
            (BASIC_AUTH_CREDENTIALS_SOURCE, "SASL_INHERIT"),
            (VALUE_SUBJECT_NAME_STRATEGY, "Nope"),
        ] {
            let c = RegistryConfig::new()
                .set(SCHEMA_REGISTRY_URL, "mock://config")
                .set(key, value);
            let err = c.validate().unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid configuration '{key}'")),
                "{err}"
            );
        }
        assert!(
            RegistryConfig::new().validate().is_err(),
            "the URL is required"
        );
        assert!(
            RegistryConfig::new()
                .set(SCHEMA_REGISTRY_URL, "mock://a,http://b")
                .validate()
                .is_err()
        );
    }
}
