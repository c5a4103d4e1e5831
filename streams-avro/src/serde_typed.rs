//! The typed serde: a Rust type with serde derives and its Avro schema.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use apache_avro::AvroSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use streams_core::serde::SerdeRef;
use streams_core::{Error, Serde};

use crate::client::SchemaRegistry;
use crate::codec::{Codec, LocalSchema, conform};
use crate::config::RegistryConfig;
use crate::error::{AvroError, Result};

/// Confluent-framed Avro for a Rust type `T` whose schema is `T::get_schema()` (derive it
/// with `#[derive(AvroSchema)]`), as Confluent's `SpecificAvroSerde`.
///
/// Serializing registers `T`'s schema under the topic's subject (or looks it up, or writes
/// with the subject's latest schema, as configured) and caches the id. Deserializing reads
/// the record with the writer schema its id names, fetched once, and resolves it to `T`'s
/// schema: records written with an older or newer schema are read by Avro's schema
/// resolution. Kafka's null is not a `T`: wrap the serde in `Serdes::option` for tombstones.
///
/// # Examples
///
/// ```
/// use apache_avro::AvroSchema;
/// use serde::{Deserialize, Serialize};
/// use streams_avro::{AvroSerde, RegistryConfig};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize, AvroSchema)]
/// struct Click {
///     page: String,
///     millis: i64,
/// }
///
/// let config = RegistryConfig::new().set("schema.registry.url", "mock://docs-typed");
/// let serde = AvroSerde::<Click>::value(&config)?;
/// let click = Click { page: "/".into(), millis: 7 };
/// let mut bytes = Vec::new();
/// serde.serialize("clicks", &click, &mut bytes)?;
/// // Magic byte, schema id 1 (the scope's first schema), then Avro: "/" and 7, zig-zag encoded.
/// assert_eq!(bytes, [0, 0, 0, 0, 1, 2, b'/', 14]);
/// assert_eq!(serde.deserialize("clicks", Some(&bytes))?, click);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AvroSerde<T> {
    codec: Codec,
    local: LocalSchema,
    _type: PhantomData<fn() -> T>,
}

impl<T> AvroSerde<T>
where
    T: AvroSchema + Serialize + DeserializeOwned + 'static,
{
    /// A serde for keys (`is_key`) or values, with a registry client of its own.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] for an invalid configuration.
    pub fn new(config: &RegistryConfig, is_key: bool) -> Result<Self> {
        Self::with_registry(SchemaRegistry::new(config)?, config, is_key)
    }

    /// A serde for keys (`is_key`) or values that shares `registry` (and its caches) with
    /// other serdes.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] for an invalid configuration.
    pub fn with_registry(
        registry: SchemaRegistry,
        config: &RegistryConfig,
        is_key: bool,
    ) -> Result<Self> {
        Self::build(
            registry,
            config,
            is_key,
            LocalSchema::from_schema(T::get_schema()),
        )
    }

    /// A shareable serde for keys.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] for an invalid configuration.
    pub fn key(config: &RegistryConfig) -> Result<SerdeRef<T>> {
        Ok(Arc::new(Self::new(config, true)?))
    }

    /// A shareable serde for values.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] for an invalid configuration.
    pub fn value(config: &RegistryConfig) -> Result<SerdeRef<T>> {
        Ok(Arc::new(Self::new(config, false)?))
    }
}

impl<T> AvroSerde<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    /// A serde for keys (`is_key`) or values of a type whose schema is written by hand
    /// (Avro JSON, such as an `.avsc` file), registered as given. The type's serde
    /// representation must match the schema: a `timestamp-millis` field is an `i64`, a
    /// `date` an `i32`, a string-based `uuid` a `String`, a `decimal` its unscaled
    /// big-endian bytes, as wide as the precision needs.
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] for an invalid configuration, [`AvroError::InvalidSchema`] for
    /// a schema that does not parse.
    pub fn with_schema(
        registry: SchemaRegistry,
        config: &RegistryConfig,
        is_key: bool,
        schema: &str,
    ) -> Result<Self> {
        Self::build(registry, config, is_key, LocalSchema::parse(schema)?)
    }

    fn build(
        registry: SchemaRegistry,
        config: &RegistryConfig,
        is_key: bool,
        local: LocalSchema,
    ) -> Result<Self> {
        Ok(AvroSerde {
            codec: Codec::new(registry, config, is_key)?,
            local,
            _type: PhantomData,
        })
    }

    /// The text of the schema this serde writes with and reads into.
    pub fn schema_text(&self) -> &str {
        &self.local.text
    }

    fn what(&self) -> String {
        format!(
            "Avro {} {} ({})",
            self.codec.role(),
            self.local.describe(),
            type_name::<T>()
        )
    }

    fn encode(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<()> {
        let value = apache_avro::to_value(value).map_err(|source| AvroError::Encode {
            schema: self.local.describe(),
            source,
        })?;
        let value = conform(value, &self.local)?;
        self.codec.encode(topic, &self.local, value, out)
    }

    fn decode(&self, data: &[u8]) -> Result<T> {
        let value = self.codec.decode(data, Some(&self.local.schema))?;
        apache_avro::from_value(&value).map_err(|source| AvroError::Convert {
            type_name: type_name::<T>(),
            source,
        })
    }
}

impl<T> Serde<T> for AvroSerde<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> streams_core::Result<bool> {
        self.encode(topic, value, out)
            .map_err(|e| Error::serialization(self.what(), topic, e))?;
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> streams_core::Result<T> {
        let data = data
            .ok_or_else(|| Error::deserialization(self.what(), topic, crate::codec::NULL_DATA))?;
        self.decode(data)
            .map_err(|e| Error::deserialization(self.what(), topic, e))
    }
}

impl<T> fmt::Debug for AvroSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvroSerde")
            .field("type", &type_name::<T>())
            .field("schema", &self.local.describe())
            .field("role", &self.codec.role())
            .finish_non_exhaustive()
    }
}
