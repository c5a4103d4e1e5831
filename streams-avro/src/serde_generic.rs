//! The generic serde: Avro values (`apache_avro::types::Value`) with a schema given as JSON.

use std::fmt;
use std::sync::Arc;

use apache_avro::types::Value;
use streams_core::serde::SerdeRef;
use streams_core::{Error, Serde};

use crate::client::SchemaRegistry;
use crate::codec::{Codec, LocalSchema, conform};
use crate::config::RegistryConfig;
use crate::error::{AvroError, Result};

/// Confluent-framed Avro for generic records (`apache_avro::types::Value`), as Confluent's
/// `GenericAvroSerde`.
///
/// With a schema, values are written with it (registered per the configuration) and records
/// are read into it by schema resolution; without one ([`GenericAvroSerde::new`] with
/// `None`), records are read as their writer schema has them, and serializing fails.
///
/// # Examples
///
/// ```
/// use apache_avro::types::Value;
/// use streams_avro::{GenericAvroSerde, RegistryConfig};
///
/// let config = RegistryConfig::new().set("schema.registry.url", "mock://docs-generic");
/// let schema = r#"{"type":"record","name":"Ping","fields":[{"name":"n","type":"int"}]}"#;
/// let serde = GenericAvroSerde::value(&config, schema)?;
/// let ping = Value::Record(vec![("n".into(), Value::Int(-1))]);
/// let mut bytes = Vec::new();
/// serde.serialize("pings", &ping, &mut bytes)?;
/// assert_eq!(bytes, [0, 0, 0, 0, 1, 1]);
/// assert_eq!(serde.deserialize("pings", Some(&bytes))?, ping);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GenericAvroSerde {
    codec: Codec,
    local: Option<LocalSchema>,
}

impl GenericAvroSerde {
    /// A serde for keys (`is_key`) or values, with `schema` (Avro JSON) or none, and a
    /// registry client of its own.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] for an invalid configuration, [`AvroError::InvalidSchema`] for
    /// a schema that does not parse.
    pub fn new(config: &RegistryConfig, is_key: bool, schema: Option<&str>) -> Result<Self> {
        Self::with_registry(SchemaRegistry::new(config)?, config, is_key, schema)
    }

    /// As [`GenericAvroSerde::new`], sharing `registry` (and its caches) with other serdes.
    ///
    /// # Errors
    ///
    /// As [`GenericAvroSerde::new`].
    pub fn with_registry(
        registry: SchemaRegistry,
        config: &RegistryConfig,
        is_key: bool,
        schema: Option<&str>,
    ) -> Result<Self> {
        Ok(GenericAvroSerde {
            codec: Codec::new(registry, config, is_key)?,
            local: schema.map(LocalSchema::parse).transpose()?,
        })
    }

    /// A shareable serde for keys with `schema`.
    ///
    /// # Errors
    ///
    /// As [`GenericAvroSerde::new`].
    pub fn key(config: &RegistryConfig, schema: &str) -> Result<SerdeRef<Value>> {
        Ok(Arc::new(Self::new(config, true, Some(schema))?))
    }

    /// A shareable serde for values with `schema`.
    ///
    /// # Errors
    ///
    /// As [`GenericAvroSerde::new`].
    pub fn value(config: &RegistryConfig, schema: &str) -> Result<SerdeRef<Value>> {
        Ok(Arc::new(Self::new(config, false, Some(schema))?))
    }

    fn what(&self) -> String {
        match &self.local {
            Some(local) => format!("Avro {} {}", self.codec.role(), local.describe()),
            None => format!("Avro {}", self.codec.role()),
        }
    }

    fn encode(&self, topic: &str, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let local = self.local.as_ref().ok_or_else(|| {
            AvroError::config(
                "schema",
                "a generic serde made without a schema reads records but cannot write them",
            )
        })?;
        let value = conform(value.clone(), local)?;
        self.codec.encode(topic, local, value, out)
    }
}

impl Serde<Value> for GenericAvroSerde {
    fn serialize(
        &self,
        topic: &str,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> streams_core::Result<bool> {
        self.encode(topic, value, out)
            .map_err(|e| Error::serialization(self.what(), topic, e))?;
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> streams_core::Result<Value> {
        let data = data
            .ok_or_else(|| Error::deserialization(self.what(), topic, crate::codec::NULL_DATA))?;
        self.codec
            .decode(data, self.local.as_ref().map(|l| &l.schema))
            .map_err(|e| Error::deserialization(self.what(), topic, e))
    }
}

impl fmt::Debug for GenericAvroSerde {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericAvroSerde")
            .field("schema", &self.local.as_ref().map(LocalSchema::describe))
            .field("role", &self.codec.role())
            .finish_non_exhaustive()
    }
}
