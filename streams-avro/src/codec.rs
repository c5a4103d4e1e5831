//! What the generic and typed serdes share: framing a value with the id of the schema it is
//! written with (registered, looked up or the subject's latest, per the configuration), and
//! reading a framed record with its writer schema from the registry, resolved to the
//! application's schema.

use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{Decimal, Schema};

use streams_core::BoxError;

use crate::client::SchemaRegistry;
use crate::client::cache::OnceMap;
use crate::config::RegistryConfig;
use crate::error::{AvroError, Result};
use crate::subject::SubjectNameStrategy;
use crate::wire;

/// The application's schema: parsed, the text it registers, and its full name.
#[derive(Debug, Clone)]
pub(crate) struct LocalSchema {
    pub(crate) schema: Schema,
    pub(crate) text: String,
    pub(crate) name: Option<String>,
}

impl LocalSchema {
    /// A schema from its JSON text, which is registered as given.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let schema = Schema::parse_str(text).map_err(|source| AvroError::InvalidSchema {
            what: "given to the serde".to_owned(),
            source,
        })?;
        Ok(Self::with_text(schema, text.to_owned()))
    }

    /// A schema built in Rust (such as an `AvroSchema` derive's), registered as its JSON.
    pub(crate) fn from_schema(schema: Schema) -> Self {
        // Serializing a schema fails only for a custom `Serialize` of a default value, which
        // a parsed or derived schema does not have; the canonical form (without defaults)
        // still names the same types.
        let text = serde_json::to_string(&schema).unwrap_or_else(|_| schema.canonical_form());
        Self::with_text(schema, text)
    }

    fn with_text(schema: Schema, text: String) -> Self {
        let name = schema.name().map(|n| n.fullname(None));
        LocalSchema { schema, text, name }
    }

    /// What errors call the schema: its full name, or its type.
    pub(crate) fn describe(&self) -> String {
        schema_name(&self.schema)
    }
}

fn schema_name(schema: &Schema) -> String {
    match schema.name() {
        Some(n) => n.fullname(None),
        None => serde_json::to_string(schema).unwrap_or_else(|_| "(unnamed)".to_owned()),
    }
}

/// The schema a topic's records are written with.
#[derive(Clone)]
struct Writing {
    id: u32,
    /// The subject's latest schema under `use.latest.version`; `None` for the local one.
    latest: Option<Arc<Schema>>,
}

/// Frames and unframes the keys (`is_key`) or values of one serde.
pub(crate) struct Codec {
    registry: SchemaRegistry,
    is_key: bool,
    strategy: SubjectNameStrategy,
    auto_register: bool,
    use_latest: bool,
    /// Topic → how its records are written, so that the hot path neither asks the registry
    /// nor builds the subject name again.
    writing: OnceMap<String, Writing>,
    /// Writer schema id → how the reader schema reads it, decided once per writer schema.
    resolution: OnceMap<u32, Resolution>,
}

impl Codec {
    pub(crate) fn new(
        registry: SchemaRegistry,
        config: &RegistryConfig,
        is_key: bool,
    ) -> Result<Self> {
        config.validate()?;
        Ok(Codec {
            registry,
            is_key,
            strategy: config.subject_name_strategy(is_key)?,
            auto_register: config.auto_register_schemas()?,
            use_latest: config.use_latest_version()?,
            writing: OnceMap::new(),
            resolution: OnceMap::new(),
        })
    }

    /// "key" or "value", for messages.
    pub(crate) fn role(&self) -> &'static str {
        if self.is_key { "key" } else { "value" }
    }

    /// Appends the framed encoding of `value`, which conforms to `local`, for `topic`. On
    /// failure `out` is left as it was.
    pub(crate) fn encode(
        &self,
        topic: &str,
        local: &LocalSchema,
        value: Value,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let writing = self
            .writing
            .get_or_fetch(topic, || self.writing_schema(topic, local))?;
        let (schema, value) = match &writing.latest {
            Some(latest) => {
                let value = value.resolve(latest).map_err(|source| AvroError::Encode {
                    schema: format!(
                        "{} (the subject's latest, id {})",
                        schema_name(latest),
                        writing.id
                    ),
                    source,
                })?;
                (&**latest, value)
            }
            None => (&local.schema, value),
        };
        let start = out.len();
        wire::write_header(writing.id, out);
        let written = GenericDatumWriter::builder(schema)
            .build()
            .and_then(|w| w.write_value_ref(out, &value));
        if let Err(source) = written {
            out.truncate(start);
            return Err(AvroError::Encode {
                schema: schema_name(schema),
                source,
            });
        }
        Ok(())
    }

    fn writing_schema(&self, topic: &str, local: &LocalSchema) -> Result<Writing> {
        let subject = self
            .strategy
            .subject(topic, self.is_key, local.name.as_deref())?;
        if self.use_latest {
            let latest = self.registry.latest_version_cached(&subject)?;
            return Ok(Writing {
                id: latest.id,
                latest: Some(latest.schema),
            });
        }
        let id = if self.auto_register {
            self.registry.register(&subject, &local.text)?
        } else {
            self.registry.lookup(&subject, &local.text)?
        };
        Ok(Writing { id, latest: None })
    }

    /// Reads a framed record with its writer schema and resolves it to `reader`, if given.
    pub(crate) fn decode(&self, data: &[u8], reader: Option<&Schema>) -> Result<Value> {
        let (id, body) = wire::split(data)?;
        let writer = self.registry.schema_by_id(id)?;
        let mut rest = body;
        let value = GenericDatumReader::builder(&writer)
            .build()
            .and_then(|r| r.read_value(&mut rest))
            .map_err(|source| AvroError::BodyMismatch { id, source })?;
        if !rest.is_empty() {
            return Err(AvroError::TrailingBytes {
                id,
                extra: rest.len(),
            });
        }
        let Some(reader) = reader else {
            return Ok(value);
        };
        let unresolvable = |source: BoxError| AvroError::Unresolvable {
            id,
            reader: schema_name(reader),
            source,
        };
        let resolution = self.resolution.get_or_fetch(&id, || {
            Ok::<_, AvroError>(Resolution::between(&writer, reader))
        })?;
        match resolution {
            Resolution::Same => Ok(value),
            Resolution::Impossible(reason) => Err(unresolvable(reason.into())),
            Resolution::Resolve => value
                .resolve(reader)
                .map_err(|source| unresolvable(Box::new(source))),
        }
    }
}

/// How records of one writer schema are read with the reader schema.
#[derive(Clone)]
enum Resolution {
    /// The schemas are the same (defaults and logical types included): the decoded value is
    /// the answer. Besides saving the work, this reads decimals in the minimal bytes that
    /// Java and Python write, which apache-avro's value resolution refuses when they are
    /// narrower than the precision allows.
    Same,
    /// Avro schema resolution applies.
    Resolve,
    /// The reader cannot read the writer's records, and why.
    Impossible(String),
}

impl Resolution {
    /// Decided by the schemas, not by values: a long never reads as an int, however small,
    /// though `Value::resolve` alone would coerce whatever fits. Enum symbols and union
    /// branches the reader lacks fail only the records that hold them, as in Avro's Java
    /// implementation, so a partial match resolves.
    fn between(writer: &Schema, reader: &Schema) -> Self {
        if serde_json::to_value(writer).ok() == serde_json::to_value(reader).ok() {
            return Resolution::Same;
        }
        match SchemaCompatibility::can_read(writer, reader) {
            Ok(_) => Resolution::Resolve,
            Err(e) => Resolution::Impossible(e.to_string()),
        }
    }
}

/// `value` as the schema has it: as it is when it already conforms (a decimal keeps its
/// bytes), else resolved (defaults filled, plain values turned into the schema's logical
/// types, a long into `timestamp-millis`, a string into a `uuid`).
pub(crate) fn conform(value: Value, local: &LocalSchema) -> Result<Value> {
    let value = if value.validate(&local.schema) {
        value
    } else {
        value
            .resolve(&local.schema)
            .map_err(|source| AvroError::Encode {
                schema: local.describe(),
                source,
            })?
    };
    Ok(bytes_to_decimals(value, &local.schema))
}

/// apache-avro's validation and resolution accept a decimal given as bytes (as serde writes
/// a typed record's) and leave it `Value::Bytes`, which its encoder refuses for a decimal
/// schema; the bytes are the unscaled number, so they become a `Value::Decimal`.
fn bytes_to_decimals(value: Value, schema: &Schema) -> Value {
    match (value, schema) {
        (Value::Bytes(bytes), Schema::Decimal(_)) => Value::Decimal(Decimal::from(bytes)),
        (Value::Record(fields), Schema::Record(record)) => Value::Record(
            fields
                .into_iter()
                .map(|(name, v)| {
                    let v = match record.fields.iter().find(|f| f.name == name) {
                        Some(field) => bytes_to_decimals(v, &field.schema),
                        None => v,
                    };
                    (name, v)
                })
                .collect(),
        ),
        (Value::Union(i, v), Schema::Union(union)) => {
            let v = match union.variants().get(i as usize) {
                Some(variant) => bytes_to_decimals(*v, variant),
                None => *v,
            };
            Value::Union(i, Box::new(v))
        }
        (Value::Array(items), Schema::Array(array)) => Value::Array(
            items
                .into_iter()
                .map(|v| bytes_to_decimals(v, &array.items))
                .collect(),
        ),
        (Value::Map(entries), Schema::Map(map)) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k, bytes_to_decimals(v, &map.types)))
                .collect(),
        ),
        (value, _) => value,
    }
}

/// The cause of reading Kafka's null with a serde that cannot represent it.
pub(crate) const NULL_DATA: &str = "received null data, but an Avro record cannot be null; wrap the serde in \
                         Serdes::option(...) to read Kafka's null as None";
