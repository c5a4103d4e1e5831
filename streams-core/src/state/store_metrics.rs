//! [`StoreMetrics`]: what a store reports about itself for the application's metrics.

/// A store's counters and sizes, summed over its layers: the record cache's hits and misses
/// (Kafka Streams' `record-cache` hit ratio) and RocksDB's sizes (its `rocksdb.*`
/// properties). Stores without a cache or RocksDB below report zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreMetrics {
    /// Reads the record cache answered.
    pub cache_hits: u64,
    /// Reads that went past the record cache to the store below.
    pub cache_misses: u64,
    /// RocksDB's estimate of the live data on disk (`rocksdb.estimate-live-data-size`).
    pub rocksdb_live_data_bytes: u64,
    /// RocksDB's memtables (`rocksdb.cur-size-all-mem-tables`).
    pub rocksdb_memtable_bytes: u64,
    /// The block cache's usage. The cache is shared by every RocksDB store of the process,
    /// so sums take the largest report rather than adding them up.
    pub rocksdb_block_cache_bytes: u64,
}

impl StoreMetrics {
    /// Adds `other`'s counters and sizes to these (the block cache, shared, by maximum).
    pub fn add(&mut self, other: &StoreMetrics) {
        self.cache_hits += other.cache_hits;
        self.cache_misses += other.cache_misses;
        self.rocksdb_live_data_bytes += other.rocksdb_live_data_bytes;
        self.rocksdb_memtable_bytes += other.rocksdb_memtable_bytes;
        self.rocksdb_block_cache_bytes = self
            .rocksdb_block_cache_bytes
            .max(other.rocksdb_block_cache_bytes);
    }

    /// The share of reads the record cache answered, `None` before any read.
    pub fn cache_hit_ratio(&self) -> Option<f64> {
        let reads = self.cache_hits + self.cache_misses;
        (reads > 0).then(|| self.cache_hits as f64 / reads as f64)
    }
}
