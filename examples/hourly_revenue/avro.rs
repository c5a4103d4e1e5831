//! `--format avro`: orders as the seed's `OrderPlaced` Avro schema, Confluent-framed, through
//! a Schema Registry (the in-process `mock://` one unless `--schema-registry` names one).

use streams_avro::{AvroSerde, RegistryConfig, SchemaRegistry};
use streams_dsl::prelude::*;

use crate::Line;
use crate::model::Order;

/// The seed's `OrderPlaced` schema: the JSON order's fields, `currency` defaulting to USD,
/// the event time as `timestamp-millis`.
pub(crate) const ORDER_PLACED: &str = include_str!("OrderPlaced.avsc");

/// The in-process registry's URL, used unless `--schema-registry` names a real one.
pub(crate) const EMBEDDED_REGISTRY: &str = "mock://hourly-revenue";

/// The Avro serde of orders, with a registry client of its own.
pub(crate) fn order_serde(registry_url: &str) -> Result<SerdeRef<Order>, streams_avro::AvroError> {
    let config = RegistryConfig::new().set("schema.registry.url", registry_url);
    let registry = SchemaRegistry::new(&config)?;
    Ok(std::sync::Arc::new(AvroSerde::<Order>::with_schema(
        registry,
        &config,
        false,
        ORDER_PLACED,
    )?))
}

/// Rewrites each line that is an order (as the JSON run would read it) into Confluent-framed
/// Avro, as a producer with Confluent's serializer writes it; other lines stay as they are,
/// so that they are dead-lettered as the JSON run dead-letters them.
pub(crate) fn encode_orders(
    lines: &mut [Line],
    topic: &str,
    serde: &SerdeRef<Order>,
) -> Result<(), Error> {
    let mut out = Vec::new();
    for line in lines {
        if let Ok(order) = serde_json::from_slice::<Order>(&line.bytes) {
            out.clear();
            serde.serialize(topic, &order, &mut out)?;
            line.bytes.clone_from(&out);
        }
    }
    Ok(())
}
