//! Conformance cases for the foreign-key table joins, as in `tests/conformance/Ref.java`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use streams_dsl::prelude::*;

use super::{Case, Render, S, build, jlen, strings};

/// `Ref.fkOf`: no foreign key (null) for an empty value or one starting with "e", else
/// `"k"` and two digits of the value's length modulo 15.
fn fk_of(v: &S) -> S {
    let v = v.as_deref()?;
    if v.is_empty() || v.starts_with('e') {
        return None;
    }
    Some(format!("k{:02}", jlen(v) % 15))
}

/// `Ref.pair`: both sides with `<none>` for a missing one.
fn pair(a: Option<&S>, b: Option<&S>) -> S {
    let side = |v: Option<&S>| v.and_then(|v| v.as_deref()).unwrap_or("<none>").to_owned();
    Some(format!("{}/{}", side(a), side(b)))
}

fn table(b: &StreamsBuilder, topic: &str) -> KTable<S, S> {
    b.table(topic, strings())
}

fn out_table(t: KTable<S, S>) {
    t.to_stream().to(
        "output",
        Produced::with(
            Serdes::option(Serdes::string()),
            Serdes::option(Serdes::option(Serdes::string())),
        ),
    );
}

fn fk_join_inner() -> Topology {
    build(|b| {
        out_table(table(b, "input").join_on_foreign_key(
            &table(b, "input2"),
            fk_of,
            |l: &S, r: &S| pair(Some(l), Some(r)),
        ));
    })
}

fn fk_join_left() -> Topology {
    build(|b| {
        out_table(table(b, "input").left_join_on_foreign_key_with(
            &table(b, "input2"),
            fk_of,
            |l: &S, r: Option<&S>| pair(Some(l), r),
            TableJoined::default(),
            Materialized::as_("fk-left-result").with_value_serde(Serdes::option(Serdes::string())),
        ));
    })
}

pub(super) fn register(m: &mut BTreeMap<&'static str, Case>) {
    const ONE: &[(&str, Render, Render)] = &[("output", Render::Str, Render::Str)];
    for (name, build) in [
        ("fk_join_inner", fk_join_inner as fn() -> Topology),
        ("fk_join_left", fk_join_left),
    ] {
        m.insert(
            name,
            Case {
                inputs: &["input", "input2"],
                outputs: ONE,
                build,
            },
        );
    }
}
