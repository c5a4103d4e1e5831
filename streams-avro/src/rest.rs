//! The bodies of Schema Registry's REST API that the client sends and the in-process
//! registry answers, and the encoding of subjects in paths.

use serde::{Deserialize, Serialize};

/// The media type of the registry's API.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// `POST /subjects/{s}/versions`, `POST /subjects/{s}` and
/// `POST /compatibility/subjects/{s}/versions/latest`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SchemaRequest {
    pub(crate) schema: String,
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) schema_type: Option<String>,
}

impl SchemaRequest {
    /// A request with an Avro schema (the API's default type).
    pub(crate) fn avro(schema: &str) -> Self {
        SchemaRequest {
            schema: schema.to_owned(),
            schema_type: None,
        }
    }
}

/// The answer to a registration.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IdResponse {
    pub(crate) id: u32,
}

/// `GET /schemas/ids/{id}`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SchemaResponse {
    pub(crate) schema: String,
}

/// A subject's version: `GET /subjects/{s}/versions/{v}` and the answer to a lookup.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SubjectVersion {
    pub(crate) subject: String,
    pub(crate) id: u32,
    pub(crate) version: u32,
    pub(crate) schema: String,
}

/// `PUT /config[/{s}]`, and its answer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ConfigRequest {
    pub(crate) compatibility: String,
}

/// `GET /config[/{s}]`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ConfigResponse {
    #[serde(rename = "compatibilityLevel")]
    pub(crate) compatibility_level: String,
}

/// The answer to a compatibility test.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CompatibilityResponse {
    pub(crate) is_compatible: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) messages: Vec<String>,
}

/// An error answer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ErrorResponse {
    pub(crate) error_code: i64,
    pub(crate) message: String,
}

/// Confluent's error codes that the client tells apart.
pub(crate) mod codes {
    /// The subject is unknown.
    pub(crate) const SUBJECT_NOT_FOUND: i64 = 40401;
    /// The subject has no such version.
    pub(crate) const VERSION_NOT_FOUND: i64 = 40402;
    /// No schema with that id, or the subject does not hold that schema.
    pub(crate) const SCHEMA_NOT_FOUND: i64 = 40403;
    /// The subject has no compatibility mode of its own.
    pub(crate) const SUBJECT_CONFIG_NOT_FOUND: i64 = 40408;
    /// The schema is incompatible with the subject's earlier ones.
    pub(crate) const INCOMPATIBLE: i64 = 409;
    /// The schema is not valid Avro.
    pub(crate) const INVALID_SCHEMA: i64 = 42201;
    /// The version is not a number or `latest`.
    pub(crate) const INVALID_VERSION: i64 = 42202;
    /// The compatibility mode is unknown.
    pub(crate) const INVALID_COMPATIBILITY: i64 = 42203;
}
