//! The in-process registry behind `schema.registry.url=mock://<scope>` (Confluent's
//! convention): the REST API's semantics (ids shared across subjects, versions from 1,
//! compatibility modes checked on registration, Confluent's error codes) in memory, one
//! registry per scope, shared by every client of the process that names the scope.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use apache_avro::Schema;
use serde::Serialize;

use super::{Method, Reply, Transport};
use crate::compat::{CompatibilityMode, check_compatibility};
use crate::error::Result;
use crate::rest::{
    CompatibilityResponse, ConfigRequest, ConfigResponse, ErrorResponse, IdResponse, SchemaRequest,
    SchemaResponse, SubjectVersion, codes,
};

static SCOPES: LazyLock<Mutex<HashMap<String, Arc<MockRegistry>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// An in-process Schema Registry, selected with `schema.registry.url=mock://<scope>`.
///
/// Every client naming the same scope shares one registry, as Confluent's
/// `MockSchemaRegistry` does; [`MockRegistry::drop_scope`] forgets one. Its default
/// compatibility mode is `BACKWARD`, as Confluent's.
///
/// # Examples
///
/// ```
/// use streams_avro::{MockRegistry, RegistryConfig, SchemaRegistry};
///
/// let config = RegistryConfig::new().set("schema.registry.url", "mock://docs-mock");
/// let a = SchemaRegistry::new(&config)?;
/// let b = SchemaRegistry::new(&config)?;
/// let id = a.register("t-value", r#""string""#)?;
/// assert_eq!(b.schema_by_id(id)?.canonical_form(), r#""string""#);
///
/// MockRegistry::drop_scope("docs-mock");
/// let c = SchemaRegistry::new(&config)?;
/// assert!(c.schema_by_id(id).is_err());
/// # Ok::<(), streams_avro::AvroError>(())
/// ```
#[derive(Debug)]
pub struct MockRegistry {
    url: String,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Schema `id` is at index `id - 1`.
    schemas: Vec<Stored>,
    /// Canonical text → id, so that a schema registered twice keeps its id.
    ids: HashMap<String, u32>,
    /// Subject → the ids of its versions, oldest first.
    subjects: BTreeMap<String, Vec<u32>>,
    global: CompatibilityMode,
    modes: HashMap<String, CompatibilityMode>,
}

#[derive(Debug)]
struct Stored {
    text: String,
    schema: Schema,
}

/// An answer of the in-process API.
type Answer = std::result::Result<String, (u16, i64, String)>;

impl MockRegistry {
    /// The registry of `scope`, created on first use.
    pub(crate) fn scope(scope: &str) -> Arc<MockRegistry> {
        let mut scopes = SCOPES.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(scopes.entry(scope.to_owned()).or_insert_with(|| {
            Arc::new(MockRegistry {
                url: format!("mock://{scope}"),
                state: Mutex::new(State {
                    schemas: Vec::new(),
                    ids: HashMap::new(),
                    subjects: BTreeMap::new(),
                    global: CompatibilityMode::Backward,
                    modes: HashMap::new(),
                }),
            })
        }))
    }

    /// Forgets the registry of `scope`: clients made afterwards start from an empty one.
    /// Clients made before keep the registry they had.
    pub fn drop_scope(scope: &str) {
        SCOPES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(scope);
    }

    fn handle(&self, method: Method, path: &str, body: Option<&str>) -> Answer {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(|s| {
                streams_core::percent::decode(s)
                    .ok_or_else(|| bad_request(format!("malformed path segment '{s}'")))
            })
            .collect::<std::result::Result<_, _>>()?;
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match (method, segments.as_slice()) {
            (Method::Get, ["subjects"]) => json(&state.subjects.keys().collect::<Vec<_>>()),
            (Method::Get, ["subjects", s, "versions"]) => {
                let versions = state.versions(s)?;
                json(&(1..=versions.len() as u32).collect::<Vec<_>>())
            }
            (Method::Post, ["subjects", s, "versions"]) => {
                let id = state.register(s, &parse_request(body)?)?;
                json(&IdResponse { id })
            }
            (Method::Get, ["subjects", s, "versions", v]) => json(&state.version(s, v)?),
            (Method::Post, ["subjects", s]) => json(&state.lookup(s, &parse_request(body)?)?),
            (Method::Delete, ["subjects", s]) => {
                let versions = state.versions(s)?.len() as u32;
                state.subjects.remove(*s);
                state.modes.remove(*s);
                json(&(1..=versions).collect::<Vec<_>>())
            }
            (Method::Get, ["schemas", "ids", id]) => {
                let stored = id
                    .parse::<u32>()
                    .ok()
                    .and_then(|id| state.schemas.get((id as usize).checked_sub(1)?))
                    .ok_or_else(|| {
                        (
                            404,
                            codes::SCHEMA_NOT_FOUND,
                            format!("Schema {id} not found"),
                        )
                    })?;
                json(&SchemaResponse {
                    schema: stored.text.clone(),
                })
            }
            (Method::Get, ["config"]) => json(&ConfigResponse {
                compatibility_level: state.global.to_string(),
            }),
            (Method::Get, ["config", s]) => {
                let mode = match state.modes.get(*s) {
                    Some(m) => *m,
                    None if query.contains("defaultToGlobal=true") => state.global,
                    None => {
                        return Err((
                            404,
                            codes::SUBJECT_CONFIG_NOT_FOUND,
                            format!(
                                "Subject '{s}' does not have subject-level compatibility configured"
                            ),
                        ));
                    }
                };
                json(&ConfigResponse {
                    compatibility_level: mode.to_string(),
                })
            }
            (Method::Put, ["config"]) => {
                let request = parse_mode(body)?;
                state.global = request;
                json(&ConfigRequest {
                    compatibility: request.to_string(),
                })
            }
            (Method::Put, ["config", s]) => {
                let request = parse_mode(body)?;
                state.modes.insert((*s).to_owned(), request);
                json(&ConfigRequest {
                    compatibility: request.to_string(),
                })
            }
            // Against the versions the subject's mode names.
            (Method::Post, ["compatibility", "subjects", s, "versions"]) => {
                let schema = parse_schema(&parse_request(body)?.schema)?;
                let messages = state.check(s, &schema).err().unwrap_or_default();
                json(&CompatibilityResponse {
                    is_compatible: messages.is_empty(),
                    messages,
                })
            }
            // Against one version, in the mode's direction.
            (Method::Post, ["compatibility", "subjects", s, "versions", v]) => {
                let schema = parse_schema(&parse_request(body)?.schema)?;
                let version = state.version(s, v)?;
                let previous = state
                    .stored(version.id)
                    .map(|stored| vec![stored.schema.clone()])
                    .unwrap_or_default();
                let messages = check_compatibility(state.mode(s), &schema, &previous)
                    .err()
                    .unwrap_or_default();
                json(&CompatibilityResponse {
                    is_compatible: messages.is_empty(),
                    messages,
                })
            }
            _ => Err((
                404,
                404,
                format!("HTTP 404 Not Found: {} {path}", method.as_str()),
            )),
        }
    }
}

impl State {
    fn versions(&self, subject: &str) -> std::result::Result<&Vec<u32>, (u16, i64, String)> {
        self.subjects.get(subject).ok_or_else(|| {
            (
                404,
                codes::SUBJECT_NOT_FOUND,
                format!("Subject '{subject}' not found."),
            )
        })
    }

    fn version(
        &self,
        subject: &str,
        version: &str,
    ) -> std::result::Result<SubjectVersion, (u16, i64, String)> {
        let versions = self.versions(subject)?;
        let index = if version == "latest" {
            versions.len()
        } else {
            version.parse::<usize>().map_err(|_| {
                (
                    422,
                    codes::INVALID_VERSION,
                    format!("The specified version '{version}' is not a valid version id."),
                )
            })?
        };
        let id = index
            .checked_sub(1)
            .and_then(|i| versions.get(i))
            .copied()
            .ok_or_else(|| {
                (
                    404,
                    codes::VERSION_NOT_FOUND,
                    format!("Version {version} not found."),
                )
            })?;
        Ok(self.subject_version(subject, index as u32, id))
    }

    fn subject_version(&self, subject: &str, version: u32, id: u32) -> SubjectVersion {
        SubjectVersion {
            subject: subject.to_owned(),
            id,
            version,
            schema: self.stored(id).map(|s| s.text.clone()).unwrap_or_default(),
        }
    }

    fn stored(&self, id: u32) -> Option<&Stored> {
        self.schemas.get((id as usize).checked_sub(1)?)
    }

    fn mode(&self, subject: &str) -> CompatibilityMode {
        self.modes.get(subject).copied().unwrap_or(self.global)
    }

    /// The subject's mode applied to `schema` against its versions.
    fn check(&self, subject: &str, schema: &Schema) -> std::result::Result<(), Vec<String>> {
        let previous: Vec<Schema> = self
            .subjects
            .get(subject)
            .into_iter()
            .flatten()
            .filter_map(|id| self.stored(*id).map(|s| s.schema.clone()))
            .collect();
        check_compatibility(self.mode(subject), schema, &previous)
    }

    fn register(
        &mut self,
        subject: &str,
        request: &SchemaRequest,
    ) -> std::result::Result<u32, (u16, i64, String)> {
        let schema = parse_schema(&request.schema)?;
        let canonical = canonical(&schema)?;
        if let Some(&id) = self.ids.get(&canonical)
            && self.subjects.get(subject).is_some_and(|v| v.contains(&id))
        {
            return Ok(id);
        }
        if let Err(reasons) = self.check(subject, &schema) {
            return Err((
                409,
                codes::INCOMPATIBLE,
                format!(
                    "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                    reasons.join("; ")
                ),
            ));
        }
        let id = match self.ids.get(&canonical) {
            Some(&id) => id,
            None => {
                self.schemas.push(Stored {
                    text: request.schema.clone(),
                    schema,
                });
                let id = self.schemas.len() as u32;
                self.ids.insert(canonical, id);
                id
            }
        };
        self.subjects
            .entry(subject.to_owned())
            .or_default()
            .push(id);
        Ok(id)
    }

    fn lookup(
        &self,
        subject: &str,
        request: &SchemaRequest,
    ) -> std::result::Result<SubjectVersion, (u16, i64, String)> {
        let versions = self.versions(subject)?;
        let canonical = canonical(&parse_schema(&request.schema)?)?;
        self.ids
            .get(&canonical)
            .and_then(|id| {
                let index = versions.iter().position(|v| v == id)?;
                Some(self.subject_version(subject, index as u32 + 1, *id))
            })
            .ok_or_else(|| {
                (
                    404,
                    codes::SCHEMA_NOT_FOUND,
                    format!(
                        "The given schema does not match any schema under the subject {subject}"
                    ),
                )
            })
    }
}

/// The schema's JSON with defaults, logical types and names kept (Avro's parsing canonical
/// form drops defaults, which matter for compatibility).
fn canonical(schema: &Schema) -> std::result::Result<String, (u16, i64, String)> {
    serde_json::to_string(schema)
        .map_err(|e| (422, codes::INVALID_SCHEMA, format!("Invalid schema: {e}")))
}

fn parse_schema(text: &str) -> std::result::Result<Schema, (u16, i64, String)> {
    Schema::parse_str(text)
        .map_err(|e| (422, codes::INVALID_SCHEMA, format!("Invalid schema: {e}")))
}

fn parse_request(body: Option<&str>) -> std::result::Result<SchemaRequest, (u16, i64, String)> {
    let request: SchemaRequest = serde_json::from_str(body.unwrap_or(""))
        .map_err(|e| bad_request(format!("Unrecognized request: {e}")))?;
    match request.schema_type.as_deref() {
        None | Some("AVRO") => Ok(request),
        Some(other) => Err((
            422,
            codes::INVALID_SCHEMA,
            format!("Schema type {other} is not supported here"),
        )),
    }
}

fn parse_mode(body: Option<&str>) -> std::result::Result<CompatibilityMode, (u16, i64, String)> {
    let request: ConfigRequest = serde_json::from_str(body.unwrap_or(""))
        .map_err(|e| bad_request(format!("Unrecognized request: {e}")))?;
    request.compatibility.parse().map_err(|_| {
        (
            422,
            codes::INVALID_COMPATIBILITY,
            format!("Invalid compatibility level: {}", request.compatibility),
        )
    })
}

fn bad_request(message: String) -> (u16, i64, String) {
    (400, 400, message)
}

fn json(value: &impl Serialize) -> Answer {
    serde_json::to_string(value).map_err(|e| (500, 500, format!("cannot encode the answer: {e}")))
}

impl Transport for Arc<MockRegistry> {
    fn send(&self, method: Method, path: &str, body: Option<&str>) -> Result<Reply> {
        Ok(match self.handle(method, path, body) {
            Ok(body) => Reply { status: 200, body },
            Err((status, error_code, message)) => Reply {
                status,
                body: serde_json::to_string(&ErrorResponse {
                    error_code,
                    message,
                })
                .unwrap_or_default(),
            },
        })
    }

    fn url(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
// In tests a failed unwrap is a failed assertion.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::{AvroError, CompatibilityMode, RegistryConfig, SchemaRegistry};

    fn client(scope: &str) -> SchemaRegistry {
        SchemaRegistry::new(
            &RegistryConfig::new().set("schema.registry.url", format!("mock://unit-{scope}")),
        )
        .unwrap()
    }

    fn record(fields: &str) -> String {
        format!(r#"{{"type":"record","name":"R","fields":[{fields}]}}"#)
    }

    const A: &str = r#"{"name":"a","type":"string"}"#;
    const B_DEFAULT: &str = r#"{"name":"b","type":"int","default":1}"#;
    const B: &str = r#"{"name":"b","type":"int"}"#;

    fn code(e: AvroError) -> i64 {
        match e {
            AvroError::Registry { code, .. } => code,
            other => panic!("not a registry error: {other}"),
        }
    }

    #[test]
    fn versions_ids_and_lookups_follow_the_registrys_rules() {
        let r = client("versions");
        let v1 = record(A);
        let v2 = record(&format!("{A},{B_DEFAULT}"));
        assert_eq!(r.register("s-value", &v1).unwrap(), 1);
        assert_eq!(r.register("s-value", &v2).unwrap(), 2);
        // The same schema in another subject keeps its id; whitespace does not matter.
        assert_eq!(r.register("t-value", &v1.replace(',', " , ")).unwrap(), 1);
        assert_eq!(r.versions("s-value").unwrap(), [1, 2]);
        assert_eq!(r.version("s-value", 1).unwrap().id, 1);
        assert_eq!(r.latest_version("s-value").unwrap().version, 2);
        assert_eq!(r.lookup("s-value", &v2).unwrap(), 2);

        assert_eq!(code(r.versions("nope").unwrap_err()), 40401);
        assert_eq!(code(r.version("s-value", 3).unwrap_err()), 40402);
        assert_eq!(code(r.lookup("t-value", &v2).unwrap_err()), 40403);
        assert!(matches!(
            r.schema_by_id(7).unwrap_err(),
            AvroError::UnknownSchemaId { id: 7, .. }
        ));
        assert_eq!(code(r.register("s-value", "{not json").unwrap_err()), 42201);

        assert_eq!(r.delete_subject("t-value").unwrap(), [1]);
        assert_eq!(r.subjects().unwrap(), ["s-value"]);
        // Ids outlive their subjects.
        assert!(r.schema_by_id(1).is_ok());
    }

    #[test]
    fn modes_are_per_subject_over_a_global_default_of_backward() {
        let r = client("modes");
        assert_eq!(r.compatibility(None).unwrap(), CompatibilityMode::Backward);
        assert_eq!(
            r.compatibility(Some("x")).unwrap(),
            CompatibilityMode::Backward
        );
        r.register("x", &record(A)).unwrap();
        // Backward: a field without a default is refused, with the mode and the reason.
        let err = r.register("x", &record(&format!("{A},{B}"))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("schema refused for subject 'x' under compatibility mode BACKWARD: Schema being registered is incompatible with an earlier schema for subject \"x\""),
            "{text}"
        );
        assert!(
            !r.test_compatibility("x", &record(&format!("{A},{B}")))
                .unwrap()
        );
        r.set_compatibility(Some("x"), CompatibilityMode::Forward)
            .unwrap();
        assert_eq!(
            r.compatibility(Some("x")).unwrap(),
            CompatibilityMode::Forward
        );
        assert!(
            r.test_compatibility("x", &record(&format!("{A},{B}")))
                .unwrap()
        );
        assert_eq!(r.register("x", &record(&format!("{A},{B}"))).unwrap(), 2);
        r.set_compatibility(None, CompatibilityMode::None).unwrap();
        assert_eq!(r.compatibility(Some("y")).unwrap(), CompatibilityMode::None);
        // A subject without versions accepts anything.
        assert!(r.test_compatibility("fresh", r#""int""#).unwrap());
    }
}
