//! In-memory stores.

mod kv;
mod window;

pub use kv::InMemoryKeyValueStore;
pub use window::InMemoryWindowStore;
