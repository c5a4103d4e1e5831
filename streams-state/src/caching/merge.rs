//! Merging a snapshot of the cache with the iterator of the store below.

use std::cmp::Ordering;
use std::iter::Peekable;

use streams_core::Result;
use streams_core::state::KeyValueBytesIter;

use super::named_cache::Cached;

/// Merges a snapshot of cache entries with the store's iterator: on equal keys the cache
/// wins, and cached deletes hide the store's entry.
pub(super) struct MergeIter<'a> {
    cache: Peekable<std::vec::IntoIter<Cached>>,
    store: Peekable<KeyValueBytesIter<'a>>,
    reverse: bool,
}

impl<'a> MergeIter<'a> {
    /// Merges `cache`, sorted in the iteration order, with `store`; `reverse` says whether
    /// that order is descending.
    pub(super) fn new(cache: Vec<Cached>, store: KeyValueBytesIter<'a>, reverse: bool) -> Self {
        MergeIter {
            cache: cache.into_iter().peekable(),
            store: store.peekable(),
            reverse,
        }
    }
}

impl Iterator for MergeIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.cache.peek(), self.store.peek()) {
                (None, None) => return None,
                (None, Some(_)) | (_, Some(Err(_))) => return self.store.next(),
                (Some(_), None) => Ordering::Less,
                (Some((ck, _)), Some(Ok((sk, _)))) => {
                    let o = ck.as_slice().cmp(sk.as_slice());
                    if self.reverse { o.reverse() } else { o }
                }
            };
            match order {
                Ordering::Greater => return self.store.next(),
                Ordering::Equal => {
                    self.store.next();
                }
                Ordering::Less => {}
            }
            if let Some((k, Some(v))) = self.cache.next() {
                return Some(Ok((k, v)));
            }
        }
    }
}
