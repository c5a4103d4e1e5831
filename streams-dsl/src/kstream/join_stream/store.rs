//! The stores of a stream-stream join: each side's window store, retaining duplicates, and
//! the shared store of held-back non-matches of left and outer joins.

use std::sync::Arc;
use std::time::Duration;

use streams_core::serde::Serdes;
use streams_core::state::StoreBuilder;
use streams_core::{Result, SerdeRef};
use streams_state::Stores;

use super::options::StreamJoined;
use crate::join_windows::JoinWindows;
use crate::materialized::{StoreType, versioned_store_unsupported};

/// The window store of one side of a join, which retains duplicates. Its changelog, when
/// logged, uses `cleanup.policy=delete`: compaction would drop the duplicates.
pub(super) fn side_store_builder<K: 'static, T: 'static, V, VO>(
    name: &str,
    windows: &JoinWindows,
    joined: &StreamJoined<K, V, VO>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<T>,
) -> Result<Arc<dyn StoreBuilder>> {
    let builder = Stores::window_store_builder(
        BoxedWindowSupplier(window_store(name, windows, joined.store_type)?),
        key_serde,
        value_serde,
    );
    let builder = if joined.logging {
        let mut window_config = joined.logging_config.clone();
        window_config.insert("cleanup.policy".to_owned(), "delete".to_owned());
        builder.with_logging_enabled(window_config)
    } else {
        builder.with_logging_disabled()
    };
    Ok(Arc::new(builder))
}

/// The shared store of a left or outer join, holding non-matches back as bytes in Kafka
/// Streams' layout (see [`outer`](super::outer)).
pub(super) fn outer_store_builder<K, V, VO>(
    name: &str,
    joined: &StreamJoined<K, V, VO>,
) -> Arc<dyn StoreBuilder> {
    match (joined.store_type, joined.logging) {
        // A versioned type never gets here: the side stores' build fails first.
        (StoreType::RocksDb | StoreType::Versioned { .. }, true) => Arc::new(
            Stores::key_value_store_builder(
                Stores::persistent_key_value_store(name),
                Serdes::bytes(),
                Serdes::bytes(),
            )
            .with_logging_enabled(joined.logging_config.clone()),
        ),
        (StoreType::RocksDb | StoreType::Versioned { .. }, false) => Arc::new(
            Stores::key_value_store_builder(
                Stores::persistent_key_value_store(name),
                Serdes::bytes(),
                Serdes::bytes(),
            )
            .with_logging_disabled(),
        ),
        (StoreType::InMemory, true) => Arc::new(
            Stores::key_value_store_builder(
                Stores::in_memory_key_value_store(name),
                Serdes::bytes(),
                Serdes::bytes(),
            )
            .with_logging_enabled(joined.logging_config.clone()),
        ),
        (StoreType::InMemory, false) => Arc::new(
            Stores::key_value_store_builder(
                Stores::in_memory_key_value_store(name),
                Serdes::bytes(),
                Serdes::bytes(),
            )
            .with_logging_disabled(),
        ),
    }
}

/// The bytes store behind one side's window store, of the join's store type.
fn window_store(
    name: &str,
    windows: &JoinWindows,
    store_type: StoreType,
) -> Result<Box<dyn streams_state::WindowBytesStoreSupplier>> {
    // A window store needs a size and a retention of at least 1 ms; a join of equal
    // timestamps only (size 0) fetches by time range, so the size does not matter.
    let size = Duration::from_millis(u64::try_from(windows.size_ms().max(1)).unwrap_or(u64::MAX));
    let retention =
        Duration::from_millis(u64::try_from(windows.retention_ms().max(1)).unwrap_or(u64::MAX));
    Ok(match store_type {
        StoreType::RocksDb => Box::new(Stores::persistent_window_store(
            name, retention, size, true,
        )?),
        StoreType::InMemory => {
            Box::new(Stores::in_memory_window_store(name, retention, size, true)?)
        }
        StoreType::Versioned { .. } => {
            return Err(versioned_store_unsupported(name, "a stream-stream join"));
        }
    })
}

/// A boxed window-store supplier, so that the store type can be chosen at run time.
struct BoxedWindowSupplier(Box<dyn streams_state::WindowBytesStoreSupplier>);

impl streams_state::WindowBytesStoreSupplier for BoxedWindowSupplier {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn persistent(&self) -> bool {
        self.0.persistent()
    }
    fn retention_period(&self) -> i64 {
        self.0.retention_period()
    }
    fn window_size(&self) -> i64 {
        self.0.window_size()
    }
    fn retain_duplicates(&self) -> bool {
        self.0.retain_duplicates()
    }
    fn get(
        &self,
        ctx: &streams_core::state::StoreContext,
    ) -> Result<Box<dyn streams_core::state::WindowBytesStore>> {
        self.0.get(ctx)
    }
}
