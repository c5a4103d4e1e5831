//! Keys and time bounds as they come in request paths and queries.

use serde::de::DeserializeOwned;

use crate::error::{Result, ServerError};

/// Parses a key from a path segment: first as the JSON string `raw` (so `cust-1` is a
/// string key), then as JSON (so `42` is a number and `"42"` a string).
pub(crate) fn parse_key<K: DeserializeOwned>(raw: &str) -> Result<K> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
        .or_else(|_| serde_json::from_str(raw))
        .map_err(|e| ServerError::BadRequest(format!("key '{raw}': {e}")))
}

/// The time bounds of a window query, `?from=&to=` in epoch milliseconds, open when absent.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub(crate) struct TimeRange {
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
}

/// `?stale=true`: answer from this instance's standbys too (Kafka Streams'
/// `enableStaleStores()`), see the crate docs' routing.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub(crate) struct Staleness {
    #[serde(default)]
    pub(crate) stale: bool,
}

impl TimeRange {
    pub(crate) fn bounds(self) -> (i64, i64) {
        (self.from.unwrap_or(i64::MIN), self.to.unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_as_strings_first_then_as_json() -> Result<()> {
        assert_eq!(parse_key::<String>("cust-1")?, "cust-1");
        assert_eq!(parse_key::<String>("42")?, "42");
        assert_eq!(parse_key::<i64>("42")?, 42);
        assert!(matches!(
            parse_key::<i64>("x"),
            Err(ServerError::BadRequest(_))
        ));
        Ok(())
    }
}
