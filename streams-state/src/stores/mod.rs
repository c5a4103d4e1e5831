//! Store suppliers, store builders and the `Stores` facade.

mod builder_core;
mod facade;
mod key_value_builder;
mod key_value_suppliers;
mod options;
mod rocks_tuning;
mod supplier;
mod versioned_builder;
mod versioned_supplier;
mod window_builder;
mod window_suppliers;

pub use facade::Stores;
pub use key_value_builder::KeyValueStoreBuilder;
pub use key_value_suppliers::{InMemoryKeyValueStoreSupplier, RocksDbKeyValueStoreSupplier};
pub use options::StoreOptions;
pub use supplier::{
    KeyValueBytesStoreSupplier, VersionedBytesStoreSupplier, WindowBytesStoreSupplier,
};
pub use versioned_builder::VersionedKeyValueStoreBuilder;
pub use versioned_supplier::RocksDbVersionedStoreSupplier;
pub use window_builder::WindowStoreBuilder;
pub use window_suppliers::{InMemoryWindowStoreSupplier, RocksDbWindowStoreSupplier};
