//! The caching layers: writes are held in a byte-bounded cache, de-duplicated per key, and
//! released to the layers below (and to the owning processor) on flush or eviction.

mod cache;
mod key_value;
mod layer;
mod merge;
mod named_cache;
mod window;

pub use key_value::CachingKeyValueStore;
pub use window::CachingWindowStore;
