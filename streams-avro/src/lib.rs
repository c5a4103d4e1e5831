//! Schema Registry and Avro for `streams-core`: serdes that read and write Confluent's wire
//! format (the magic byte 0, a 4-byte big-endian schema id, the Avro binary body), a
//! registry client speaking Confluent's REST API, compatibility modes with an offline
//! checker, and an in-process registry for tests (`schema.registry.url=mock://<scope>`).
//!
//! The serdes implement [`streams_core::Serde`], so they go wherever a serde goes:
//! `Consumed`, `Produced`, `Materialized`, `Grouped`, joins and the test driver.
//!
//! - [`AvroSerde<T>`] for a Rust type with serde derives and an `AvroSchema` derive,
//!   [`GenericAvroSerde`] for `apache_avro::types::Value`;
//! - [`SchemaRegistry`], the client, configured with [`RegistryConfig`] under Confluent's
//!   names (`schema.registry.url`, `basic.auth.user.info`, `auto.register.schemas`,
//!   `use.latest.version`, `value.subject.name.strategy`, …);
//! - [`CompatibilityMode`], [`is_compatible`] and [`check_compatibility`];
//! - [`MockRegistry`], the in-process registry;
//! - [`wire`], the framing.
//!
//! A record that cannot be read is a [`streams_core::Error::Deserialization`] whose cause
//! says why: no magic byte, an unknown schema id, a body that does not match its schema, a
//! registry that did not answer. The configured deserialization handler (or dead-letter
//! topic) gets that reason. A registry that does not answer when a record is written is a
//! [`streams_core::Error::Serialization`]: the record is never dropped silently.
//!
//! # Examples
//!
//! A typed record written and read through the in-process registry; its schema is
//! registered once, under the topic's subject:
//!
//! ```
//! use apache_avro::AvroSchema;
//! use serde::{Deserialize, Serialize};
//! use streams_avro::{AvroSerde, RegistryConfig, SchemaRegistry};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize, AvroSchema)]
//! struct Order {
//!     id: String,
//!     total: f64,
//! }
//!
//! let config = RegistryConfig::new().set("schema.registry.url", "mock://crate-docs");
//! let serde = AvroSerde::<Order>::value(&config)?;
//! let order = Order { id: "o1".into(), total: 9.5 };
//! let mut bytes = Vec::new();
//! serde.serialize("orders", &order, &mut bytes)?;
//! assert_eq!(&bytes[..5], [0, 0, 0, 0, 1]); // magic byte, schema id 1
//! assert_eq!(serde.deserialize("orders", Some(&bytes))?, order);
//!
//! let registry = SchemaRegistry::new(&config)?;
//! assert_eq!(registry.subjects()?, ["orders-value"]);
//!
//! // Bytes that are not Confluent-framed say so.
//! let err = serde.deserialize("orders", Some(b"{\"id\":\"o1\"}")).unwrap_err();
//! let reason = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
//! assert!(reason.starts_with("no magic byte"), "{reason}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Schema evolution: a record written with a newer schema, read with the application's
//! older one (the added field is skipped), and a record of the older schema read with the
//! newer one (the added field takes its default):
//!
//! ```
//! use apache_avro::types::Value;
//! use streams_avro::{GenericAvroSerde, RegistryConfig};
//!
//! let config = RegistryConfig::new().set("schema.registry.url", "mock://crate-docs-evolution");
//! let v1 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
//! let v2 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},
//!             {"name":"currency","type":"string","default":"USD"}]}"#;
//! let old = GenericAvroSerde::value(&config, v1)?;
//! let new = GenericAvroSerde::value(&config, v2)?;
//!
//! let mut bytes = Vec::new();
//! old.serialize("orders", &Value::Record(vec![("id".into(), Value::String("o1".into()))]), &mut bytes)?;
//! assert_eq!(
//!     new.deserialize("orders", Some(&bytes))?,
//!     Value::Record(vec![("id".into(), Value::String("o1".into())), ("currency".into(), Value::String("USD".into()))])
//! );
//!
//! bytes.clear();
//! let eur = Value::Record(vec![("id".into(), Value::String("o2".into())), ("currency".into(), Value::String("EUR".into()))]);
//! new.serialize("orders", &eur, &mut bytes)?;
//! assert_eq!(bytes[4], 2, "the new schema got id 2");
//! assert_eq!(old.deserialize("orders", Some(&bytes))?, Value::Record(vec![("id".into(), Value::String("o2".into()))]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod client;
mod codec;
mod compat;
mod config;
mod error;
mod rest;
mod serde_generic;
mod serde_typed;
mod subject;
pub mod wire;

pub use client::MockRegistry;
pub use client::{RegisteredSchema, SchemaRegistry};
pub use compat::{CompatibilityMode, check_compatibility, is_compatible};
pub use config::RegistryConfig;
pub use error::{AvroError, Result};
pub use serde_generic::GenericAvroSerde;
pub use serde_typed::AvroSerde;
pub use subject::SubjectNameStrategy;

/// The configuration keys, under Confluent's names.
pub mod keys {
    pub use crate::config::{
        AUTO_REGISTER_SCHEMAS, BASIC_AUTH_CREDENTIALS_SOURCE, BASIC_AUTH_USER_INFO,
        HTTP_CONNECT_TIMEOUT_MS, HTTP_READ_TIMEOUT_MS, KEY_SUBJECT_NAME_STRATEGY,
        SCHEMA_REGISTRY_URL, SSL_CA_LOCATION, SSL_CERTIFICATE_LOCATION, SSL_KEY_LOCATION,
        USE_LATEST_VERSION, VALUE_SUBJECT_NAME_STRATEGY,
    };
}
