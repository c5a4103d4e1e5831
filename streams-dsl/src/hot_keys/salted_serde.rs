//! The serde of salted keys: the salted form [`HotKeys`] documents, over any key serde.

use std::hash::Hash;
use std::sync::Arc;

use streams_core::{Result, Serde, SerdeRef};

use super::salt::{HotKeys, SALT_SEPARATOR, Salted};

/// Writes a [`Salted`] key as the key's bytes, then `#<shard>` for a hot key; reads a
/// `#<shard>` suffix back only when the bytes before it are a hot key.
struct SaltedSerde<K> {
    inner: SerdeRef<K>,
    hot: HotKeys<K>,
}

impl<K> Serde<Salted<K>> for SaltedSerde<K>
where
    K: Eq + Hash + Send + Sync + 'static,
{
    fn serialize(&self, topic: &str, value: &Salted<K>, out: &mut Vec<u8>) -> Result<bool> {
        if !self.inner.serialize(topic, &value.key, out)? {
            return Ok(false);
        }
        if let Some(shard) = value.shard {
            out.push(SALT_SEPARATOR);
            out.extend_from_slice(shard.to_string().as_bytes());
        }
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Salted<K>> {
        if let Some((key, shard)) = data.and_then(|d| self.hot.split_suffix(d))
            && let Ok(key) = self.inner.deserialize(topic, Some(key))
            && self.hot.is_hot(&key)
        {
            return Ok(Salted {
                key,
                shard: Some(shard),
            });
        }
        self.inner.deserialize(topic, data).map(Salted::unsalted)
    }

    fn is_null(&self, value: &Salted<K>) -> bool {
        self.inner.is_null(&value.key)
    }
}

impl<K: Eq + Hash + Send + Sync + 'static> HotKeys<K> {
    /// The serde of salted keys over `inner`, the serde of the original keys: a hot key's
    /// bytes get `#<shard>` appended, other keys are written as `inner` writes them (see
    /// [`HotKeys`] for the format). A producer with keys of any type salts them with
    /// [`salt_key`](Self::salt_key) and writes them with this serde; a topology reads
    /// them with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::hot_keys::{HotKeys, Salted};
    /// use streams_dsl::prelude::*;
    ///
    /// let hot: HotKeys<String> = HotKeys::new(["cust-1"], 4);
    /// let serde = hot.serde(Serdes::string());
    /// let mut bytes = Vec::new();
    /// serde.serialize("orders", &hot.salt_key_by("cust-1".to_string(), 6), &mut bytes)?;
    /// assert_eq!(bytes, b"cust-1#2");
    /// assert_eq!(serde.deserialize("orders", Some(b"cust-1#2"))?, Salted { key: "cust-1".to_string(), shard: Some(2) });
    /// assert_eq!(serde.deserialize("orders", Some(b"cust-7#2"))?, Salted::unsalted("cust-7#2".to_string()));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn serde(&self, inner: SerdeRef<K>) -> SerdeRef<Salted<K>> {
        Arc::new(SaltedSerde {
            inner,
            hot: self.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use streams_core::serde::Serdes;

    use crate::hot_keys::{HotKeys, Salted};

    #[test]
    fn string_keys_are_salted_as_the_string_helper_salts_them() {
        let hot: HotKeys<String> = HotKeys::new(["h"], 3);
        let serde = hot.serde(Serdes::string());
        for (key, attribute) in [("h", 0), ("h", 5), ("cold", 1)] {
            let mut bytes = Vec::new();
            serde
                .serialize(
                    "t",
                    &hot.salt_key_by(key.to_string(), attribute),
                    &mut bytes,
                )
                .unwrap();
            assert_eq!(bytes, hot.salt_by(key, attribute).as_bytes());
        }
    }

    #[test]
    fn keys_of_other_types_round_trip() {
        let hot: HotKeys<i64> = HotKeys::new([7i64], 2);
        let serde = hot.serde(Serdes::i64());
        for key in [
            Salted {
                key: 7,
                shard: Some(1),
            },
            Salted::unsalted(7),
            Salted::unsalted(i64::from(b'#') << 8 | i64::from(b'1')),
        ] {
            let mut bytes = Vec::new();
            serde.serialize("t", &key, &mut bytes).unwrap();
            assert_eq!(serde.deserialize("t", Some(&bytes)).unwrap(), key);
        }
        let nullable: HotKeys<Option<String>> = HotKeys::new([Some("h".to_string())], 2);
        let serde = nullable.serde(Serdes::option(Serdes::string()));
        assert!(serde.is_null(&Salted::unsalted(None)));
        assert_eq!(
            serde.deserialize("t", None).unwrap(),
            Salted::unsalted(None)
        );
    }
}
