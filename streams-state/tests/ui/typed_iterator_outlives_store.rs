use std::cell::RefCell;
use std::rc::Rc;

use streams_core::serde::Serdes;
use streams_core::state::ReadOnlyKeyValueStore;
use streams_state::{InMemoryKeyValueStore, TypedKeyValueStore};

fn main() {
    let store: TypedKeyValueStore<String, String> = TypedKeyValueStore::new(
        Box::new(InMemoryKeyValueStore::new("s")),
        "app-s-changelog",
        Serdes::string(),
        Serdes::string(),
    );
    let shared = Rc::new(RefCell::new(store));

    // An iterator borrows the RefCell guard it came from, so it cannot escape it.
    let iter = {
        let guard = shared.borrow();
        guard.all().ok()
    };
    drop(iter);
}
