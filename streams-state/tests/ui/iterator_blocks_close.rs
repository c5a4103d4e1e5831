use streams_core::state::{KeyValueBytesStore, StateStore};
use streams_state::InMemoryKeyValueStore;

fn main() {
    let mut store = InMemoryKeyValueStore::new("s");
    let iter = store.all().ok();
    // Closing (or writing) needs `&mut`, which a live iterator's borrow forbids.
    store.close().ok();
    drop(iter);
}
