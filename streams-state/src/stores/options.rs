//! Which layers a builder puts over its bytes store.

use std::collections::BTreeMap;

/// The layers a builder puts over its bytes store. Kafka Streams' defaults: logging on
/// (with no extra topic configuration), caching off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Whether writes are cached until commit or eviction.
    pub caching: bool,
    /// Whether writes go to the changelog topic.
    pub logging: bool,
    /// Topic configuration overriding the changelog defaults.
    pub changelog_overrides: BTreeMap<String, String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            caching: false,
            logging: true,
            changelog_overrides: BTreeMap::new(),
        }
    }
}
