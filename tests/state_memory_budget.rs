//! `memory.budget.bytes`: the RocksDB stores of an instance draw on the budget's one block
//! cache and write-buffer manager, whichever way they are built, unless a supplier brings
//! its own resources.
//!
//! Each test uses budget sizes no other test uses, because the resources of a budget are
//! shared by the whole process (that is the point) and tests run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod state_support;

use std::sync::Arc;
use std::time::Duration;

use state_support::{Fixture, TestResult};
use streams_core::StoreMemory;
use streams_core::state::{KeyValueBytesStore, WindowBytesStore};
use streams_dsl::prelude::*;
use streams_state::{
    KeyValueBytesStoreSupplier, RocksDbResources, Stores, WindowBytesStoreSupplier,
};

fn memory(block_cache_bytes: usize) -> StoreMemory {
    StoreMemory {
        block_cache_bytes,
        write_buffer_bytes: block_cache_bytes / 2,
    }
}

#[test]
fn the_stores_of_a_budgeted_instance_draw_on_its_share() -> TestResult {
    // 97 MiB: a size only this test uses.
    let budget_bytes: u64 = 97 << 20;
    let config = StreamsConfig::new()
        .set("application.id", "budgeted")
        .set("memory.budget.bytes", budget_bytes.to_string());
    let share = config
        .memory_budget()?
        .expect("the budget is set")
        .store_memory();
    let resources = RocksDbResources::for_memory(share);
    assert_eq!(resources.block_cache_bytes(), (budget_bytes / 2) as usize);
    assert_eq!(resources.write_buffer_bytes(), (budget_bytes / 4) as usize);
    assert_eq!(resources.block_cache_usage(), 0, "nothing opened yet");

    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
        .count()
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 60_000),
                Serdes::option(Serdes::i64()),
            ),
        );
    let driver = TopologyTestDriver::new(b.build()?, config)?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    for i in 0..1_000i64 {
        input.pipe_input_at(format!("k{}", i % 97), i, i * 10)?;
    }
    assert!(
        resources.block_cache_usage() > 0,
        "the window store's memtables are charged to the budget's cache"
    );
    assert!(resources.block_cache_usage() <= resources.block_cache_bytes());
    Ok(())
}

#[test]
fn suppliers_draw_on_the_context_memory_unless_given_their_own() -> TestResult {
    let budget = RocksDbResources::for_memory(memory(41 << 20));
    let own = RocksDbResources::new(43 << 20, 11 << 20);
    assert!(Arc::ptr_eq(
        &budget,
        &RocksDbResources::for_memory(memory(41 << 20))
    ));
    let fixture = Fixture::new();
    let ctx = fixture
        .ctx
        .clone()
        .with_store_memory(Some(memory(41 << 20)));

    let windows = Stores::persistent_window_store(
        "w",
        Duration::from_secs(3600),
        Duration::from_secs(60),
        false,
    )?;
    let mut window: Box<dyn WindowBytesStore> = windows.get(&ctx)?;
    window.put(b"k", Some(b"v"), 0)?;
    assert!(
        budget.block_cache_usage() > 0,
        "the window store uses the budget"
    );

    let owned = Stores::persistent_key_value_store("kv").with_resources(Arc::clone(&own));
    let before = budget.block_cache_usage();
    let mut kv: Box<dyn KeyValueBytesStore> = owned.get(&ctx)?;
    for i in 0..10_000u32 {
        kv.put(&i.to_be_bytes(), Some(&[7u8; 100]))?;
    }
    assert!(own.block_cache_usage() > 0, "the store's own resources");
    assert_eq!(
        budget.block_cache_usage(),
        before,
        "a store with its own resources is outside the budget"
    );
    kv.close()?;
    window.close()?;
    Ok(())
}
