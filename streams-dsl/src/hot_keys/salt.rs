//! The configured hot keys and how a key is salted: [`HotKeys`] decides which keys are hot
//! and which shard each of their records goes to, [`Salted`] is a key with its shard.

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The byte between a hot key and its shard number in the salted form: `cust-1#2`.
pub const SALT_SEPARATOR: u8 = b'#';

/// The largest shard count [`HotKeys::new`] accepts; more is taken as this many. A hot key
/// rarely needs more shards than the topic has partitions.
pub const MAX_SHARDS: u32 = 1 << 16;

/// A key with the shard its record was placed in: `shard` is `None` for a key that is not
/// hot, which keeps its key as it is.
///
/// Serialized with [`HotKeys::serde`]: the key's bytes, then, for a hot key, `#` and the
/// shard in decimal (see [`HotKeys`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Salted<K> {
    /// The original key.
    pub key: K,
    /// The shard, `0..shards`, for a hot key; `None` for any other key.
    pub shard: Option<u32>,
}

impl<K> Salted<K> {
    /// A key that is not salted.
    pub const fn unsalted(key: K) -> Self {
        Salted { key, shard: None }
    }
}

/// A set of hot keys and the number of shards each is spread over: the producer-side
/// `partitionKey` pattern, and the configuration of a two-phase aggregation
/// ([`KGroupedStream::with_hot_keys`](crate::KGroupedStream::with_hot_keys)).
///
/// A key in the set gets a shard suffix, so its records spread over the partitions that
/// the salted keys hash to; any other key stays as it is. **The salted form** of a hot key
/// is its serialized bytes followed by the byte `#` ([`SALT_SEPARATOR`]) and the shard
/// number in decimal ASCII without leading zeros, `0` to `shards - 1`: the string key
/// `cust-1` in shard 2 becomes `cust-1#2`. A key that is not hot is written unchanged, so
/// producers and consumers that do not know about salting see the keys they always did
/// for every key but the hot ones.
///
/// Reading a salted form back ([`unsalt`](Self::unsalt), and the serde from
/// [`serde`](Self::serde)) splits off a `#<shard>` suffix only when what precedes it is a
/// hot key and the shard is below the shard count; anything else is read as a key that is
/// not hot. So a key space must not contain keys of the form `<hot key>#<n>` besides the
/// salted ones.
///
/// Shards are chosen round-robin per hot key ([`next_shard`](Self::next_shard),
/// [`salt`](Self::salt)), or from a record attribute such as an order id
/// ([`shard_by`](Self::shard_by), [`salt_by`](Self::salt_by)), which places a given record
/// in the same shard every time it is produced. Round-robin counters are shared by the
/// clones of one `HotKeys` and are safe to use from several threads. Shards land on
/// partitions by the hash of the salted key, so two shards may share a partition: with
/// more shards than partitions (twice as many, say) the load evens out.
///
/// # Examples
///
/// Salting keys for a plain Kafka producer:
///
/// ```
/// use streams_dsl::hot_keys::HotKeys;
///
/// let hot: HotKeys<String> = HotKeys::new(["cust-1"], 3);
/// let keys: Vec<String> = ["cust-1", "cust-2", "cust-1", "cust-1", "cust-1"]
///     .iter()
///     .map(|k| hot.salt(k).into_owned())
///     .collect();
/// assert_eq!(keys, ["cust-1#0", "cust-2", "cust-1#1", "cust-1#2", "cust-1#0"]);
/// // By a record attribute: the same order always goes to the same shard.
/// assert_eq!(hot.salt_by("cust-1", 7), "cust-1#1");
/// assert_eq!(hot.unsalt("cust-1#2"), ("cust-1", Some(2)));
/// assert_eq!(hot.unsalt("cust-2"), ("cust-2", None));
/// assert_eq!(hot.unsalt("cust-1#3"), ("cust-1#3", None)); // no shard 3
/// ```
pub struct HotKeys<K> {
    inner: Arc<Inner<K>>,
}

/// The set with one round-robin counter per hot key.
struct Inner<K> {
    keys: HashMap<K, AtomicU32>,
    shards: u32,
}

impl<K> Clone for HotKeys<K> {
    fn clone(&self) -> Self {
        HotKeys {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: std::fmt::Debug> std::fmt::Debug for HotKeys<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotKeys")
            .field("keys", &self.inner.keys.keys().collect::<Vec<_>>())
            .field("shards", &self.inner.shards)
            .finish()
    }
}

impl<K: Eq + Hash> HotKeys<K> {
    /// The keys in `keys` spread over `shards` shards each. A shard count of 0 or 1 salts
    /// nothing (every key keeps its key); above [`MAX_SHARDS`] it is taken as `MAX_SHARDS`.
    pub fn new<I, Q>(keys: I, shards: u32) -> Self
    where
        I: IntoIterator<Item = Q>,
        Q: Into<K>,
    {
        let shards = shards.clamp(1, MAX_SHARDS);
        let keys = if shards == 1 {
            HashMap::new()
        } else {
            keys.into_iter()
                .map(|k| (k.into(), AtomicU32::new(0)))
                .collect()
        };
        HotKeys {
            inner: Arc::new(Inner { keys, shards }),
        }
    }

    /// How many shards a hot key is spread over.
    pub fn shards(&self) -> u32 {
        self.inner.shards
    }

    /// Whether `key` is hot.
    pub fn is_hot<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.inner.keys.contains_key(key)
    }

    /// The next shard of `key` in round-robin order, `None` when it is not hot.
    pub fn next_shard<Q>(&self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let counter = self.inner.keys.get(key)?;
        Some(counter.fetch_add(1, Ordering::Relaxed) % self.inner.shards)
    }

    /// The shard of `key` for a record whose attribute is `attribute` (its remainder by the
    /// shard count), `None` when the key is not hot.
    pub fn shard_by<Q>(&self, key: &Q, attribute: u64) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if !self.is_hot(key) {
            return None;
        }
        // The remainder is below the shard count, which is a u32.
        Some((attribute % u64::from(self.inner.shards)) as u32)
    }

    /// `key` in its next round-robin shard when it is hot, unsalted otherwise.
    pub fn salt_key(&self, key: K) -> Salted<K> {
        let shard = self.next_shard(&key);
        Salted { key, shard }
    }

    /// `key` in the shard [`shard_by`](Self::shard_by) gives for `attribute`.
    pub fn salt_key_by(&self, key: K, attribute: u64) -> Salted<K> {
        let shard = self.shard_by(&key, attribute);
        Salted { key, shard }
    }

    /// Splits a salted form into the bytes of the key and the shard, when it ends in
    /// `#<shard>` with a shard below the shard count. Whether the key is hot is for the
    /// caller to check, once it has read the key.
    pub(crate) fn split_suffix<'a>(&self, salted: &'a [u8]) -> Option<(&'a [u8], u32)> {
        let at = salted.iter().rposition(|&b| b == SALT_SEPARATOR)?;
        let digits = &salted[at + 1..];
        let canonical = match digits {
            [] => false,
            [b'0'] => true,
            [first, ..] => *first != b'0' && digits.iter().all(u8::is_ascii_digit),
        };
        if !canonical || digits.len() > 5 {
            return None;
        }
        let shard = digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        (shard < self.inner.shards).then_some((&salted[..at], shard))
    }
}

impl<K: Eq + Hash + Borrow<str>> HotKeys<K> {
    /// The salted form of a string key: `<key>#<shard>` with the next round-robin shard
    /// when the key is hot, the key as it is otherwise.
    pub fn salt<'a>(&self, key: &'a str) -> Cow<'a, str> {
        salted_str(key, self.next_shard(key))
    }

    /// The salted form of a string key in the shard that `attribute` selects (see
    /// [`shard_by`](Self::shard_by)).
    pub fn salt_by<'a>(&self, key: &'a str, attribute: u64) -> Cow<'a, str> {
        salted_str(key, self.shard_by(key, attribute))
    }

    /// The original key and shard of a salted string key; a key that is not a salted hot
    /// key comes back whole, with no shard.
    pub fn unsalt<'a>(&self, salted: &'a str) -> (&'a str, Option<u32>) {
        match self.split_suffix(salted.as_bytes()) {
            // The separator is ASCII, so the split is at a character boundary.
            Some((key, shard)) if self.is_hot(&salted[..key.len()]) => {
                (&salted[..key.len()], Some(shard))
            }
            _ => (salted, None),
        }
    }
}

fn salted_str(key: &str, shard: Option<u32>) -> Cow<'_, str> {
    match shard {
        Some(shard) => Cow::Owned(format!("{key}{}{shard}", char::from(SALT_SEPARATOR))),
        None => Cow::Borrowed(key),
    }
}

#[cfg(test)]
mod tests {
    use super::HotKeys;

    #[test]
    fn only_canonical_suffixes_below_the_shard_count_are_split_off() {
        let hot: HotKeys<String> = HotKeys::new(["a"], 12);
        assert_eq!(hot.unsalt("a#11"), ("a", Some(11)));
        assert_eq!(hot.unsalt("a#0"), ("a", Some(0)));
        for whole in ["a#12", "a#01", "a#", "a#x", "a#-1", "b#1", "a", "#1"] {
            assert_eq!(hot.unsalt(whole), (whole, None), "{whole}");
        }
        // The last separator counts: a hot key may itself contain one.
        let hot: HotKeys<String> = HotKeys::new(["x#y"], 2);
        assert_eq!(hot.unsalt("x#y#1"), ("x#y", Some(1)));
    }

    #[test]
    fn round_robin_is_per_key_and_shared_by_clones() {
        let hot: HotKeys<String> = HotKeys::new(["a", "b"], 2);
        let other = hot.clone();
        assert_eq!(hot.next_shard("a"), Some(0));
        assert_eq!(hot.next_shard("b"), Some(0));
        assert_eq!(other.next_shard("a"), Some(1));
        assert_eq!(hot.next_shard("c"), None);
        assert_eq!(HotKeys::<String>::new(["a"], 1).salt("a"), "a");
        assert_eq!(HotKeys::<String>::new(["a"], 0).shards(), 1);
    }
}
