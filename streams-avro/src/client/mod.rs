//! The Schema Registry client: Confluent's REST API, with caches so that serializing and
//! deserializing ask the registry once per schema.

pub(crate) mod cache;
mod mock;

mod http;
mod transport;

pub use mock::MockRegistry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use apache_avro::Schema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::compat::CompatibilityMode;
use crate::config::RegistryConfig;
use crate::error::{AvroError, Result};
use crate::rest::{
    CompatibilityResponse, ConfigRequest, ConfigResponse, ErrorResponse, IdResponse, SchemaRequest,
    SchemaResponse, SubjectVersion, codes,
};
use cache::OnceMap;
pub(crate) use transport::{Method, Reply, Transport};

/// A schema as a subject holds it.
#[derive(Debug, Clone)]
pub struct RegisteredSchema {
    /// The subject.
    pub subject: String,
    /// The schema's id, the one records carry.
    pub id: u32,
    /// Its version within the subject, from 1.
    pub version: u32,
    /// The schema, parsed.
    pub schema: Arc<Schema>,
    /// The schema's text as the registry keeps it.
    pub text: String,
}

/// A client of a Schema Registry (Confluent's REST API), or of the in-process registry for
/// `mock://<scope>` URLs. Cloning it is cheap and clones share the caches.
///
/// Schemas by id, ids by subject and schema, and the latest schema per subject (as the
/// serializer uses it) are cached for the client's life: ids and the schemas they stand for
/// never change in a registry.
///
/// # Examples
///
/// ```
/// use streams_avro::{CompatibilityMode, RegistryConfig, SchemaRegistry};
///
/// let registry = SchemaRegistry::new(&RegistryConfig::new().set("schema.registry.url", "mock://docs-client"))?;
/// let v1 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
/// let id = registry.register("orders-value", v1)?;
/// assert_eq!(registry.register("orders-value", v1)?, id);
/// assert_eq!(registry.latest_version("orders-value")?.version, 1);
///
/// registry.set_compatibility(Some("orders-value"), CompatibilityMode::Backward)?;
/// let v2 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":"string"}]}"#;
/// assert!(!registry.test_compatibility("orders-value", v2)?);
/// let err = registry.register("orders-value", v2).unwrap_err();
/// assert!(err.to_string().starts_with("schema refused for subject 'orders-value' under compatibility mode BACKWARD"));
/// # Ok::<(), streams_avro::AvroError>(())
/// ```
#[derive(Clone)]
pub struct SchemaRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Box<dyn Transport>,
    by_id: OnceMap<u32, Arc<Schema>>,
    /// (subject, schema text) → id, for registrations and lookups.
    ids: OnceMap<(String, String), u32>,
    latest: OnceMap<String, RegisteredSchema>,
    requests: AtomicU64,
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl SchemaRegistry {
    /// A client for the registry that `config` names.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] for an unknown key or an invalid value, [`AvroError::Io`] for
    /// a TLS file that cannot be read.
    pub fn new(config: &RegistryConfig) -> Result<Self> {
        config.validate()?;
        let urls = config.urls()?;
        let transport: Box<dyn Transport> =
            match urls.first().and_then(|u| u.strip_prefix("mock://")) {
                Some(scope) => Box::new(mock::MockRegistry::scope(scope)),
                None => Box::new(http::HttpTransport::new(config)?),
            };
        Ok(SchemaRegistry {
            inner: Arc::new(Inner {
                transport,
                by_id: OnceMap::new(),
                ids: OnceMap::new(),
                latest: OnceMap::new(),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// The registry's URL (several joined by commas).
    pub fn url(&self) -> &str {
        self.inner.transport.url()
    }

    /// How many requests this client (and its clones) has sent, for checking the caches.
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Registers `schema` (Avro JSON) under `subject` and returns its id; a schema the
    /// subject already holds keeps its id. Cached per subject and schema text.
    ///
    /// # Errors
    ///
    /// [`AvroError::Incompatible`] naming the subject, its mode and the registry's reason
    /// when the subject's compatibility mode refuses the schema; [`AvroError::Unreachable`]
    /// or [`AvroError::Registry`] otherwise.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32> {
        self.cached_id(subject, schema, |request| {
            let path = format!(
                "/subjects/{}/versions",
                streams_core::percent::encode(subject)
            );
            match self.call::<IdResponse>(Method::Post, &path, Some(request)) {
                Ok(r) => Ok(r.id),
                Err(AvroError::Registry { code, message, .. }) if code == codes::INCOMPATIBLE => {
                    let mode = self
                        .compatibility(Some(subject))
                        .map_or_else(|e| format!("(unknown: {e})"), |m| m.to_string());
                    Err(AvroError::Incompatible {
                        subject: subject.to_owned(),
                        mode,
                        reason: message,
                    })
                }
                Err(e) => Err(e),
            }
        })
    }

    /// Looks `schema` up in `subject` without registering it, and returns its id. Cached per
    /// subject and schema text.
    ///
    /// # Errors
    ///
    /// [`AvroError::Registry`] with code 40401 or 40403 when the subject does not hold it.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<u32> {
        self.cached_id(subject, schema, |request| {
            let path = format!("/subjects/{}", streams_core::percent::encode(subject));
            Ok(self
                .call::<SubjectVersion>(Method::Post, &path, Some(request))?
                .id)
        })
    }

    /// The id of `schema` in `subject`: cached, else asked with `ask`.
    fn cached_id(
        &self,
        subject: &str,
        schema: &str,
        ask: impl FnOnce(&SchemaRequest) -> Result<u32>,
    ) -> Result<u32> {
        let key = (subject.to_owned(), schema.to_owned());
        self.inner.ids.get_or_fetch(&key, || {
            let id = ask(&SchemaRequest::avro(schema))?;
            self.remember(id, schema);
            Ok(id)
        })
    }

    /// Caches the schema of an id learnt by registering or looking it up, so that reading
    /// the records this client writes asks the registry nothing more.
    fn remember(&self, id: u32, schema: &str) {
        if self.inner.by_id.get(&id).is_none()
            && let Ok(parsed) = Schema::parse_str(schema)
        {
            self.inner.by_id.insert(id, Arc::new(parsed));
        }
    }

    /// The schema with `id`, fetched once and then cached.
    ///
    /// # Errors
    ///
    /// [`AvroError::UnknownSchemaId`] when the registry has no such schema,
    /// [`AvroError::Unreachable`] when it does not answer.
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>> {
        self.inner.by_id.get_or_fetch(&id, || {
            let reply = self.call::<SchemaResponse>(
                Method::Get,
                &format!("/schemas/ids/{id}"),
                None::<&()>,
            );
            match reply {
                Ok(r) => parse(&r.schema, &format!("with id {id}")).map(Arc::new),
                Err(AvroError::Registry { code, status, .. })
                    if code == codes::SCHEMA_NOT_FOUND || status == 404 =>
                {
                    Err(AvroError::UnknownSchemaId {
                        id,
                        url: self.url().to_owned(),
                    })
                }
                Err(e) => Err(e),
            }
        })
    }

    /// The subject's latest version, asked of the registry every time.
    ///
    /// # Errors
    ///
    /// [`AvroError::Registry`] with code 40401 for an unknown subject.
    pub fn latest_version(&self, subject: &str) -> Result<RegisteredSchema> {
        self.version_of(subject, "latest")
    }

    /// The subject's latest version, asked once and then cached: what a serializer with
    /// `use.latest.version` writes with.
    ///
    /// # Errors
    ///
    /// As [`SchemaRegistry::latest_version`].
    pub fn latest_version_cached(&self, subject: &str) -> Result<RegisteredSchema> {
        self.inner
            .latest
            .get_or_fetch(&subject.to_owned(), || self.latest_version(subject))
    }

    /// Version `version` (from 1) of the subject.
    ///
    /// # Errors
    ///
    /// [`AvroError::Registry`] with code 40401 or 40402 when there is no such version.
    pub fn version(&self, subject: &str, version: u32) -> Result<RegisteredSchema> {
        self.version_of(subject, &version.to_string())
    }

    fn version_of(&self, subject: &str, version: &str) -> Result<RegisteredSchema> {
        let path = format!(
            "/subjects/{}/versions/{version}",
            streams_core::percent::encode(subject)
        );
        let v = self.call::<SubjectVersion>(Method::Get, &path, None::<&()>)?;
        let schema = parse(
            &v.schema,
            &format!("version {} of subject '{subject}'", v.version),
        )?;
        Ok(RegisteredSchema {
            subject: v.subject,
            id: v.id,
            version: v.version,
            schema: Arc::new(schema),
            text: v.schema,
        })
    }

    /// The subject's versions, oldest first.
    ///
    /// # Errors
    ///
    /// [`AvroError::Registry`] with code 40401 for an unknown subject.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>> {
        let path = format!(
            "/subjects/{}/versions",
            streams_core::percent::encode(subject)
        );
        self.call(Method::Get, &path, None::<&()>)
    }

    /// Every subject.
    ///
    /// # Errors
    ///
    /// [`AvroError::Unreachable`] or [`AvroError::Registry`].
    pub fn subjects(&self) -> Result<Vec<String>> {
        self.call(Method::Get, "/subjects", None::<&()>)
    }

    /// Deletes the subject and returns the versions it had.
    ///
    /// # Errors
    ///
    /// [`AvroError::Registry`] with code 40401 for an unknown subject.
    pub fn delete_subject(&self, subject: &str) -> Result<Vec<u32>> {
        let path = format!("/subjects/{}", streams_core::percent::encode(subject));
        let versions = self.call(Method::Delete, &path, None::<&()>)?;
        self.inner.ids.retain(|(s, _)| s != subject);
        self.inner.latest.retain(|s| s != subject);
        Ok(versions)
    }

    /// Sets the compatibility mode of `subject`, or the registry's global one for `None`
    /// (`PUT /config[/{subject}]`).
    ///
    /// # Errors
    ///
    /// [`AvroError::Unreachable`] or [`AvroError::Registry`].
    pub fn set_compatibility(&self, subject: Option<&str>, mode: CompatibilityMode) -> Result<()> {
        let request = ConfigRequest {
            compatibility: mode.as_str().to_owned(),
        };
        self.call::<serde_json::Value>(Method::Put, &config_path(subject, false), Some(&request))
            .map(drop)
    }

    /// The compatibility mode of `subject` (its own, else the global one), or the global one
    /// for `None`.
    ///
    /// # Errors
    ///
    /// [`AvroError::BadResponse`] when the registry names a mode this client does not know.
    pub fn compatibility(&self, subject: Option<&str>) -> Result<CompatibilityMode> {
        let reply = match self.call::<ConfigResponse>(
            Method::Get,
            &config_path(subject, true),
            None::<&()>,
        ) {
            // A registry without `defaultToGlobal` answers that the subject has no mode of its
            // own: it has the global one.
            Err(AvroError::Registry { code, .. })
                if subject.is_some() && code == codes::SUBJECT_CONFIG_NOT_FOUND =>
            {
                self.call::<ConfigResponse>(Method::Get, "/config", None::<&()>)
            }
            other => other,
        }?;
        reply
            .compatibility_level
            .parse()
            .map_err(|reason| AvroError::BadResponse {
                url: self.url().to_owned(),
                what: "GET /config".to_owned(),
                reason,
            })
    }

    /// Whether the subject's compatibility mode would accept `schema`, without registering
    /// it: checked against the versions the mode names (the latest, or every one for the
    /// transitive modes). A subject without versions accepts any schema.
    ///
    /// # Errors
    ///
    /// [`AvroError::Unreachable`] or [`AvroError::Registry`].
    pub fn test_compatibility(&self, subject: &str, schema: &str) -> Result<bool> {
        // `/versions` tests against every version (Apicurio does so whatever the mode),
        // `/versions/latest` against the latest: the path follows the subject's mode.
        let versions = if self.compatibility(Some(subject))?.is_transitive() {
            "versions"
        } else {
            "versions/latest"
        };
        let path = format!(
            "/compatibility/subjects/{}/{versions}?verbose=true",
            streams_core::percent::encode(subject)
        );
        let request = SchemaRequest::avro(schema);
        match self.call::<CompatibilityResponse>(Method::Post, &path, Some(&request)) {
            Ok(r) => Ok(r.is_compatible),
            Err(AvroError::Registry { code, .. })
                if code == codes::SUBJECT_NOT_FOUND || code == codes::VERSION_NOT_FOUND =>
            {
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// Sends one request and reads its JSON answer; an error answer becomes
    /// [`AvroError::Registry`].
    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let what = || format!("{} {path}", method.as_str());
        let body =
            body.map(serde_json::to_string)
                .transpose()
                .map_err(|e| AvroError::BadResponse {
                    url: self.url().to_owned(),
                    what: what(),
                    reason: format!("cannot encode the request: {e}"),
                })?;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let Reply { status, body } = self.inner.transport.send(method, path, body.as_deref())?;
        if !(200..300).contains(&status) {
            let (code, message) = match serde_json::from_str::<ErrorResponse>(&body) {
                Ok(e) => (e.error_code, e.message),
                Err(_) => (i64::from(status), body),
            };
            return Err(AvroError::Registry {
                url: self.url().to_owned(),
                what: what(),
                status,
                code,
                message,
            });
        }
        serde_json::from_str(&body).map_err(|e| AvroError::BadResponse {
            url: self.url().to_owned(),
            what: what(),
            reason: format!("{e} in {body:?}"),
        })
    }
}

fn config_path(subject: Option<&str>, default_to_global: bool) -> String {
    match subject {
        None => "/config".to_owned(),
        Some(s) if default_to_global => {
            format!(
                "/config/{}?defaultToGlobal=true",
                streams_core::percent::encode(s)
            )
        }
        Some(s) => format!("/config/{}", streams_core::percent::encode(s)),
    }
}

/// Parses a schema the registry returned.
fn parse(text: &str, what: &str) -> Result<Schema> {
    Schema::parse_str(text).map_err(|source| AvroError::InvalidSchema {
        what: what.to_owned(),
        source,
    })
}
