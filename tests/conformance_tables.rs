//! Conformance cases for tables and their joins, as in `tests/conformance/Ref.java`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use streams_dsl::prelude::*;

use super::{Case, Render, S, build, jlen, produced, strings, upper};

/// `Ref.pair`: both sides with `<none>` for a missing one.
fn pair(a: Option<&S>, b: Option<&S>) -> S {
    let side = |v: Option<&S>| v.and_then(|v| v.as_deref()).unwrap_or("<none>").to_owned();
    Some(format!("{}/{}", side(a), side(b)))
}

/// Tables over nullable strings: keys and values may be null on the wire.
fn table(b: &StreamsBuilder, topic: &str) -> KTable<S, S> {
    b.table(topic, strings())
}

/// `toStream().to("output")`: a delete comes out as a null value.
fn out_table(t: KTable<S, S>) {
    t.to_stream().to(
        "output",
        Produced::with(
            Serdes::option(Serdes::string()),
            Serdes::option(Serdes::option(Serdes::string())),
        ),
    );
}

fn table_filter_mapvalues() -> Topology {
    build(|b| {
        out_table(
            table(b, "input")
                .filter(|_, v| v.as_deref().is_some_and(|v| jlen(v) > 3))
                .map_values(|_, v: S| v.map(|v| upper(&v))),
        );
    })
}

fn stream_table_join() -> Topology {
    build(|b| {
        let t = table(b, "input2");
        b.stream("input", strings())
            .join_table(&t, |v: S, tv: &S| {
                Some(format!(
                    "{}+{}",
                    v.as_deref().unwrap_or("null"),
                    tv.as_deref().unwrap_or("null")
                ))
            })
            .to("output", produced());
    })
}

fn stream_table_left_join() -> Topology {
    build(|b| {
        let t = table(b, "input2");
        b.stream("input", strings())
            .left_join_table(&t, |v: S, tv: Option<&S>| {
                Some(format!(
                    "{}+{}",
                    v.as_deref().unwrap_or("null"),
                    tv.map_or("<none>", |t| t.as_deref().unwrap_or("null"))
                ))
            })
            .to("output", produced());
    })
}

fn table_join_inner() -> Topology {
    build(|b| out_table(table(b, "input").join(&table(b, "input2"), |l, r| pair(Some(l), Some(r)))))
}

fn table_join_left() -> Topology {
    build(|b| out_table(table(b, "input").left_join(&table(b, "input2"), |l, r| pair(Some(l), r))))
}

fn table_join_outer() -> Topology {
    build(|b| out_table(table(b, "input").outer_join(&table(b, "input2"), pair)))
}

pub(super) fn register(m: &mut BTreeMap<&'static str, Case>) {
    const STR: Render = Render::Str;
    const ONE: &[(&str, Render, Render)] = &[("output", STR, STR)];
    m.insert(
        "table_filter_mapvalues",
        Case {
            inputs: &["input"],
            outputs: ONE,
            build: table_filter_mapvalues,
        },
    );
    m.insert(
        "stream_table_join",
        Case {
            inputs: &["input", "input2"],
            outputs: ONE,
            build: stream_table_join,
        },
    );
    m.insert(
        "stream_table_left_join",
        Case {
            inputs: &["input", "input2"],
            outputs: ONE,
            build: stream_table_left_join,
        },
    );
    m.insert(
        "table_join_inner",
        Case {
            inputs: &["input", "input2"],
            outputs: ONE,
            build: table_join_inner,
        },
    );
    m.insert(
        "table_join_left",
        Case {
            inputs: &["input", "input2"],
            outputs: ONE,
            build: table_join_left,
        },
    );
    m.insert(
        "table_join_outer",
        Case {
            inputs: &["input", "input2"],
            outputs: ONE,
            build: table_join_outer,
        },
    );
}
