//! Conformance cases for cogrouped streams, plain and windowed, as in
//! `tests/conformance/Ref.java`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use streams_dsl::prelude::*;
use streams_dsl::{KGroupedStream, TimeWindowedCogroupedKStream, Windows};

use super::{Case, Render, S, build, jlen, last40, s, strings, time_windowed_counts};

/// `Ref.len`: a value's length, -1 for null.
fn len(v: &S) -> i64 {
    v.as_deref()
        .map_or(-1, |v| i64::try_from(jlen(v)).unwrap_or(i64::MAX))
}

/// The first character of the value, null for a null or empty value.
fn first_char(_k: &S, v: &S) -> S {
    v.as_deref()
        .and_then(|v| v.chars().next())
        .map(|c| c.to_string())
}

fn strings_out() -> Produced<S, Option<String>> {
    Produced::with(s(), Serdes::option(Serdes::string()))
}

/// `input` and `input2`, each grouped by key.
fn grouped_by_key(b: &StreamsBuilder) -> (KGroupedStream<S, S>, KGroupedStream<S, S>) {
    (
        b.stream("input", strings()).group_by_key(),
        b.stream("input2", strings()).group_by_key(),
    )
}

fn cogroup() -> Topology {
    build(|b| {
        let (a, c) = grouped_by_key(b);
        a.cogroup(|_k: &S, v: S, agg: String| last40(format!("{agg}a{}", len(&v))))
            .cogroup(&c, |_k, v, agg| last40(format!("{agg}c{}", len(&v))))
            .aggregate(String::new, Serdes::string())
            .to_stream()
            .to("output", strings_out());
    })
}

fn cogroup_repartition() -> Topology {
    build(|b| {
        let a = b
            .stream("input", strings())
            .group_by_with(first_char, Grouped::with(s(), s()));
        let c = b.stream("input2", strings()).group_by_key();
        a.cogroup(|_k: &S, v: S, agg: i64| agg + len(&v))
            .cogroup(&c, |_k, _v, agg| agg + 1000)
            .aggregate(|| 0, Serdes::i64())
            .to_stream()
            .to("output", Produced::with(s(), Serdes::option(Serdes::i64())));
    })
}

fn cogroup_named() -> Topology {
    build(|b| {
        let a = b
            .stream("input", strings())
            .group_by_with(first_char, Grouped::with(s(), s()).with_name("by-first"));
        let c = b
            .stream("input2", strings())
            .group_by_with(first_char, Grouped::with(s(), s()).with_name("by-first2"));
        a.cogroup(|_k: &S, v: S, agg: String| last40(format!("{agg}a{}", len(&v))))
            .cogroup(&c, |_k, v, agg| last40(format!("{agg}c{}", len(&v))))
            .named("activity")
            .aggregate_with(
                String::new,
                Materialized::as_("activity-store")
                    .with_key_serde(s())
                    .with_value_serde(Serdes::string()),
            )
            .to_stream()
            .to("output", strings_out());
    })
}

/// `a` counts 1 per record and `c` 100, windowed by `windows`.
fn counted<W: Windows>(b: &StreamsBuilder, windows: W) -> W::Cogrouped<S, i64> {
    let (a, c) = grouped_by_key(b);
    a.cogroup(|_k: &S, _v: S, agg: i64| agg + 1)
        .cogroup(&c, |_k, _v, agg| agg + 100)
        .windowed_by(windows)
}

fn aggregated(windowed: TimeWindowedCogroupedKStream<S, i64>, size: i64) {
    windowed
        .aggregate(|| 0, Serdes::i64())
        .to_stream()
        .to("output", time_windowed_counts(size));
}

fn cogroup_windowed() -> Topology {
    build(|b| {
        let windows =
            TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::from_secs(2));
        aggregated(counted(b, windows), 10_000);
    })
}

fn cogroup_sliding() -> Topology {
    build(|b| {
        let windows = SlidingWindows::of_time_difference_and_grace(
            Duration::from_secs(5),
            Duration::from_secs(2),
        );
        aggregated(counted(b, windows), 5_000);
    })
}

fn cogroup_session() -> Topology {
    build(|b| {
        let windows = SessionWindows::of_inactivity_gap_and_grace(
            Duration::from_secs(5),
            Duration::from_secs(2),
        );
        counted(b, windows)
            .aggregate(|| 0, |_k, x, y| x + y, Serdes::i64())
            .to_stream()
            .to(
                "output",
                Produced::with(Serdes::session_windowed(s()), Serdes::option(Serdes::i64())),
            );
    })
}

pub(super) fn register(m: &mut BTreeMap<&'static str, Case>) {
    const STR: &[(&str, Render, Render)] = &[("output", Render::Str, Render::Str)];
    const LONG: &[(&str, Render, Render)] = &[("output", Render::Str, Render::Long)];
    const TEN_S: &[(&str, Render, Render)] =
        &[("output", Render::TimeWindowed(10_000), Render::Long)];
    const FIVE_S: &[(&str, Render, Render)] =
        &[("output", Render::TimeWindowed(5_000), Render::Long)];
    const SESSION: &[(&str, Render, Render)] = &[("output", Render::SessionWindowed, Render::Long)];
    for (name, outputs, build) in [
        ("cogroup", STR, cogroup as fn() -> Topology),
        ("cogroup_repartition", LONG, cogroup_repartition),
        ("cogroup_named", STR, cogroup_named),
        ("cogroup_windowed", TEN_S, cogroup_windowed),
        ("cogroup_sliding", FIVE_S, cogroup_sliding),
        ("cogroup_session", SESSION, cogroup_session),
    ] {
        m.insert(
            name,
            Case {
                inputs: &["input", "input2"],
                outputs,
                build,
            },
        );
    }
}
