//! `memory.budget.bytes`: one bound for an instance's caches, buffers, stores and client
//! queues.

use crate::error::{Error, Result};

/// The configuration key of the budget.
pub const MEMORY_BUDGET: &str = "memory.budget.bytes";

/// The smallest budget accepted: below it the per-client queue shares fall under what
/// librdkafka needs to fetch one response per partition.
pub const MIN_MEMORY_BUDGET_BYTES: u64 = 32 * 1024 * 1024;

/// Settings the budget decides, which may then not be set too. Client settings are
/// matched with any prefix (`consumer.`, `main.consumer.`, `producer.`, ...).
const DECIDED: &[&str] = &[
    "statestore.cache.max.bytes",
    "cache.max.bytes.buffering",
    "input.buffer.max.bytes",
];
const DECIDED_CLIENT: &[&str] = &["queued.max.messages.kbytes", "queue.buffering.max.kbytes"];

/// The memory of the RocksDB stores of one instance: one block cache, and a write-buffer
/// manager charging the memtables to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreMemory {
    /// The block cache's capacity, memtables included.
    pub block_cache_bytes: usize,
    /// The memtables' limit, within the block cache.
    pub write_buffer_bytes: usize,
}

/// `memory.budget.bytes`: one setting that bounds what an instance's buffers and stores may
/// hold, split between the parts that would otherwise each be sized on their own.
///
/// Kafka Streams sizes every part separately: the record caches
/// (`statestore.cache.max.bytes`), the input buffers (`input.buffer.max.bytes`, per thread),
/// each RocksDB store's block cache and memtables (per store unless a `RocksDBConfigSetter`
/// shares them), and each client's queues. The sum grows with threads and stores, and
/// RocksDB's part is the usual surprise. Here one number is split in fixed shares:
///
/// | share | part |
/// |---|---|
/// | 1/2 | one RocksDB block cache for every store of the instance, index and filter blocks included; the memtables are charged to it, under a write-buffer manager limited to 1/4 of the budget |
/// | 1/8 | the record caches, split between the stream threads (and within a thread between its tasks' stores, as `statestore.cache.max.bytes` is) |
/// | 1/8 | the input buffers, split between the stream threads (`input.buffer.max.bytes` of each) |
/// | 1/4 | librdkafka's queues, split evenly between the clients: per stream thread its consumer's prefetch queue (`queued.max.messages.kbytes`), its restore consumer's and its producer's (`queue.buffering.max.kbytes`), plus the global and the standby consumers |
///
/// What stays outside is an overhead that does not grow with the data: code, thread
/// stacks, each client's broker connections and the fetch response being decoded (a
/// consumer's queue may be overshot by one response, up to `max.partition.fetch.bytes`
/// per partition), RocksDB's per-database structures, and the allocator's slack. The
/// broker benchmark's `memory` contestants measure it (`tests/benches/broker/memory.rs`,
/// figures in the README): 29 MiB with a million keys in 4 or 16 windowed stores in the
/// last run, up to 43 MiB in earlier ones.
///
/// When the budget is set, the settings it decides may not be set as well (the config is
/// refused, naming both), so that there is one answer to "how much may this instance use".
/// Stores built with their own `streams_state::RocksDbResources` (`with_resources`) keep them
/// and are outside the budget.
///
/// # Examples
///
/// ```
/// use streams_core::{MemoryBudget, StreamsConfig};
///
/// let config = StreamsConfig::new()
///     .set("memory.budget.bytes", "268435456")
///     .set("num.stream.threads", "2");
/// let budget = config.memory_budget()?.expect("the budget is set");
/// assert_eq!(budget.store_memory().block_cache_bytes, 128 << 20);
/// assert_eq!(budget.store_memory().write_buffer_bytes, 64 << 20);
/// assert_eq!(budget.record_cache_bytes(), 32 << 20);
/// assert_eq!(budget.input_buffer_bytes_per_thread(), 16 << 20);
/// // 64 MiB for 2 threads × (consumer, restore consumer, producer) + global + standby.
/// assert_eq!(budget.client_queue_kbytes(), (64 << 10) / 8);
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    total: u64,
    threads: usize,
}

impl MemoryBudget {
    /// A budget of `total` bytes for an instance of `threads` stream threads.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a budget below [`MIN_MEMORY_BUDGET_BYTES`].
    pub fn new(total: u64, threads: usize) -> Result<Self> {
        if total < MIN_MEMORY_BUDGET_BYTES {
            return Err(Error::Config {
                key: MEMORY_BUDGET.into(),
                reason: format!(
                    "{total} bytes is below the minimum of {MIN_MEMORY_BUDGET_BYTES} (32 MiB)"
                ),
            });
        }
        Ok(MemoryBudget { total, threads })
    }

    /// Whether the budget decides the setting `key` (with or without a client prefix), so
    /// that it may not be set next to the budget.
    pub fn decides(key: &str) -> bool {
        DECIDED.contains(&key)
            || DECIDED_CLIENT.iter().any(|d| {
                key.strip_suffix(d)
                    .is_some_and(|p| p.is_empty() || p.ends_with('.'))
            })
    }

    /// The whole budget in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// The RocksDB share: a block cache of half the budget, with memtables limited to a
    /// quarter of it and charged to the cache.
    pub fn store_memory(&self) -> StoreMemory {
        StoreMemory {
            block_cache_bytes: to_usize(self.total / 2),
            write_buffer_bytes: to_usize(self.total / 4),
        }
    }

    /// The record caches of all stream threads together (`statestore.cache.max.bytes`).
    pub fn record_cache_bytes(&self) -> u64 {
        self.total / 8
    }

    /// The input buffer of each stream thread (`input.buffer.max.bytes`).
    pub fn input_buffer_bytes_per_thread(&self) -> u64 {
        self.total / 8 / self.threads.max(1) as u64
    }

    /// Each client's queue in KiB: a quarter of the budget split between three clients per
    /// stream thread, the global consumer and the standby consumer. At least 1 (librdkafka's
    /// minimum).
    pub fn client_queue_kbytes(&self) -> u64 {
        let clients = 3 * self.threads.max(1) as u64 + 2;
        (self.total / 4 / 1024 / clients).max(1)
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_budget() {
        for threads in [1, 2, 3, 8] {
            let Ok(b) = MemoryBudget::new(1 << 30, threads) else {
                panic!("a budget of 1 GiB is valid")
            };
            let t = threads as u64;
            let clients = 3 * t + 2;
            let sum = b.store_memory().block_cache_bytes as u64
                + b.record_cache_bytes()
                + b.input_buffer_bytes_per_thread() * t
                + b.client_queue_kbytes() * 1024 * clients;
            assert!(sum <= b.total_bytes(), "{threads} threads: {sum}");
            assert!(
                sum > b.total_bytes() - 1024 * clients,
                "{threads} threads: {sum}"
            );
            assert!(
                b.store_memory().write_buffer_bytes < b.store_memory().block_cache_bytes,
                "the memtables are charged within the block cache"
            );
        }
    }

    #[test]
    fn refuses_a_budget_below_the_minimum() {
        let small = MemoryBudget::new(MIN_MEMORY_BUDGET_BYTES - 1, 1);
        assert!(
            matches!(small, Err(Error::Config { ref reason, .. }) if reason.contains("minimum"))
        );
        assert!(MemoryBudget::new(MIN_MEMORY_BUDGET_BYTES, 1).is_ok());
    }

    #[test]
    fn decides_the_caches_buffers_and_queues_under_any_client_prefix() {
        for key in [
            "statestore.cache.max.bytes",
            "cache.max.bytes.buffering",
            "input.buffer.max.bytes",
            "queued.max.messages.kbytes",
            "consumer.queued.max.messages.kbytes",
            "main.consumer.queued.max.messages.kbytes",
            "producer.queue.buffering.max.kbytes",
        ] {
            assert!(MemoryBudget::decides(key), "{key}");
        }
        for key in ["num.stream.threads", "consumer.xqueued.max.messages.kbytes"] {
            assert!(!MemoryBudget::decides(key), "{key}");
        }
    }
}
