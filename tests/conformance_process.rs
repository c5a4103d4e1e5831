//! Conformance case for `process_values`, as in `tests/conformance/Ref.java`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use streams_dsl::prelude::*;
use streams_dsl::state::TypedKeyValueStore;

use super::{Case, Render, S, build, counts, produced, s, strings};

/// `Ref.SeenCounter`: drops empty values; for a non-null key, `n` is the number of records
/// of the key so far, this one included (kept in store "seen"), for a null key 0;
/// forwards `v#n` ("null" for a null v) at timestamp + n.
struct SeenCounter;

impl FixedKeyProcessor<S, S, S> for SeenCounter {
    fn process(
        &mut self,
        r: FixedKeyRecord<S, S>,
        ctx: &mut FixedKeyProcessorContext<'_, '_, S, S>,
    ) -> Result<()> {
        if r.value.as_deref() == Some("") {
            return Ok(());
        }
        let mut n = 0;
        if r.key().is_some() {
            let seen = ctx.state_store::<TypedKeyValueStore<S, i64>>("seen")?;
            n = seen.borrow().get(r.key())?.unwrap_or(0) + 1;
            seen.borrow_mut().put(r.key(), &n)?;
        }
        let value = format!("{}#{n}", r.value.as_deref().unwrap_or("null"));
        let timestamp = r.timestamp + n;
        ctx.forward(r.with_value(Some(value)).with_timestamp(timestamp))
    }
}

fn process_values() -> Topology {
    build(|b| {
        b.add_state_store(
            Stores::key_value_store_builder(
                Stores::in_memory_key_value_store("seen"),
                s(),
                Serdes::i64(),
            )
            .with_caching_disabled(),
        );
        let seen = b
            .stream("input", strings())
            .process_values(|| SeenCounter, &["seen"]);
        seen.to("output", produced());
        seen.group_by_key()
            .count()
            .to_stream()
            .to("output2", counts());
    })
}

pub(super) fn register(m: &mut BTreeMap<&'static str, Case>) {
    m.insert(
        "process_values",
        Case {
            inputs: &["input"],
            outputs: &[
                ("output", Render::Str, Render::Str),
                ("output2", Render::Str, Render::Long),
            ],
            build: process_values,
        },
    );
}
