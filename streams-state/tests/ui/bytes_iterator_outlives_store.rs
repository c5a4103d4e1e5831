use streams_core::state::KeyValueBytesStore;
use streams_state::InMemoryKeyValueStore;

fn main() {
    let iter = {
        let store = InMemoryKeyValueStore::new("s");
        store.all().ok()
    };
    drop(iter);
}
