//! The stores a server answers for, each behind one object-safe [`StoreRoute`] so that the
//! routes need not know the stores' types.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use streams_dsl::prelude::KeyQueryMetadata;
use streams_dsl::query::{KeyValueStoreQuery, SessionStoreQuery, WindowStoreQuery};
use streams_dsl::state::ValueAndTimestamp;

use crate::error::{Result, ServerError};
use crate::keys::{TimeRange, parse_key};

/// One store, as the routes see it. `stale` reads this instance's standbys too.
pub(crate) trait StoreRoute: Send + Sync {
    /// Where the key in `raw` lives.
    fn locate(&self, raw: &str) -> Result<KeyQueryMetadata>;
    /// The key's answer from this instance, `None` when the key is not there.
    fn key(&self, raw: &str, range: TimeRange, stale: bool) -> Result<Option<Value>>;
    /// Everything this instance holds.
    fn all(&self, range: TimeRange, stale: bool) -> Result<Value>;
}

/// A store's query twice: of the active tasks only, and with this instance's standbys too
/// (`with_stale_stores()`).
pub(crate) struct Queries<Q> {
    pub(crate) fresh: Q,
    pub(crate) stale: Q,
}

impl<Q> Queries<Q> {
    fn get(&self, stale: bool) -> &Q {
        if stale { &self.stale } else { &self.fresh }
    }
}

/// The trait bounds of keys served over HTTP.
pub(crate) trait HttpKey:
    Clone + Ord + Serialize + DeserializeOwned + Send + Sync + 'static
{
}
impl<K: Clone + Ord + Serialize + DeserializeOwned + Send + Sync + 'static> HttpKey for K {}

/// The trait bounds of values served over HTTP.
pub(crate) trait HttpValue: Serialize + Send + 'static {}
impl<V: Serialize + Send + 'static> HttpValue for V {}

fn to_json<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| {
        ServerError::Streams(streams_dsl::Error::Serialization {
            what: "an HTTP answer".into(),
            topic: String::new(),
            source: Box::new(e),
        })
    })
}

/// A DSL key-value store (`TimestampedKeyValueStore<K, V>`).
pub(crate) struct KeyValueRoute<K, V>(
    pub(crate) Queries<KeyValueStoreQuery<K, ValueAndTimestamp<V>>>,
);

impl<K: HttpKey, V: HttpValue> StoreRoute for KeyValueRoute<K, V> {
    fn locate(&self, raw: &str) -> Result<KeyQueryMetadata> {
        Ok(self.0.fresh.metadata_for_key(&parse_key(raw)?)?)
    }

    fn key(&self, raw: &str, _: TimeRange, stale: bool) -> Result<Option<Value>> {
        let key: K = parse_key(raw)?;
        match self.0.get(stale).get(&key)? {
            Some(v) => Ok(Some(json!({
                "key": to_json(&key)?,
                "value": to_json(&v.value)?,
                "timestamp": v.timestamp,
            }))),
            None => Ok(None),
        }
    }

    fn all(&self, _: TimeRange, stale: bool) -> Result<Value> {
        let entries = self
            .0
            .get(stale)
            .all()?
            .into_iter()
            .map(|(k, v)| {
                Ok(json!({
                    "key": to_json(&k)?,
                    "value": to_json(&v.value)?,
                    "timestamp": v.timestamp,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Value::Array(entries))
    }
}

/// A DSL window store (`TimestampedWindowStore<K, V>`).
pub(crate) struct WindowRoute<K, V>(pub(crate) Queries<WindowStoreQuery<K, ValueAndTimestamp<V>>>);

impl<K: HttpKey, V: HttpValue> StoreRoute for WindowRoute<K, V> {
    fn locate(&self, raw: &str) -> Result<KeyQueryMetadata> {
        Ok(self.0.fresh.metadata_for_key(&parse_key(raw)?)?)
    }

    fn key(&self, raw: &str, range: TimeRange, stale: bool) -> Result<Option<Value>> {
        let key: K = parse_key(raw)?;
        let (from, to) = range.bounds();
        let windows = self
            .0
            .get(stale)
            .fetch(&key, from, to)?
            .into_iter()
            .map(|(w, v)| {
                Ok(json!({
                    "start": w.start,
                    "end": w.end,
                    "value": to_json(&v.value)?,
                    "timestamp": v.timestamp,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        if windows.is_empty() {
            return Ok(None);
        }
        Ok(Some(json!({ "key": to_json(&key)?, "windows": windows })))
    }

    fn all(&self, range: TimeRange, stale: bool) -> Result<Value> {
        let (from, to) = range.bounds();
        let entries = self
            .0
            .get(stale)
            .fetch_all(from, to)?
            .into_iter()
            .map(|(k, v)| {
                Ok(json!({
                    "key": to_json(&k.key)?,
                    "start": k.window.start,
                    "end": k.window.end,
                    "value": to_json(&v.value)?,
                    "timestamp": v.timestamp,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Value::Array(entries))
    }
}

/// A DSL session store.
pub(crate) struct SessionRoute<K, V>(pub(crate) Queries<SessionStoreQuery<K, V>>);

impl<K: HttpKey, V: HttpValue> StoreRoute for SessionRoute<K, V> {
    fn locate(&self, raw: &str) -> Result<KeyQueryMetadata> {
        Ok(self.0.fresh.metadata_for_key(&parse_key(raw)?)?)
    }

    fn key(&self, raw: &str, _: TimeRange, stale: bool) -> Result<Option<Value>> {
        let key: K = parse_key(raw)?;
        let sessions = self
            .0
            .get(stale)
            .fetch(&key)?
            .into_iter()
            .map(|(w, v)| Ok(json!({ "start": w.start, "end": w.end, "value": to_json(&v)? })))
            .collect::<Result<Vec<_>>>()?;
        if sessions.is_empty() {
            return Ok(None);
        }
        Ok(Some(json!({ "key": to_json(&key)?, "sessions": sessions })))
    }

    fn all(&self, _: TimeRange, _: bool) -> Result<Value> {
        Err(ServerError::BadRequest(
            "a session store answers keys only: ask for /stores/{store}/keys/{key}".into(),
        ))
    }
}
