//! Conformance cases for global tables and their joins, as in `tests/conformance/Ref.java`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use streams_dsl::prelude::*;

use super::{Case, Render, S, build, produced, strings};

/// `Ref.globalKey`: a null key maps to "k01", keys ending in "3" or starting with "d" to
/// null (no match), any other key to itself.
fn global_key(k: &S, _v: &S) -> S {
    match k.as_deref() {
        None => Some("k01".to_owned()),
        Some(k) if k.ends_with('3') || k.starts_with('d') => None,
        Some(k) => Some(k.to_owned()),
    }
}

fn global_join_inner() -> Topology {
    build(|b| {
        let g = b.global_table("input2", strings());
        b.stream("input", strings())
            .join_global(&g, global_key, |v: S, gv: &S| {
                Some(format!(
                    "{}+{}",
                    v.as_deref().unwrap_or("null"),
                    gv.as_deref().unwrap_or("null")
                ))
            })
            .to("output", produced());
    })
}

fn global_join_left() -> Topology {
    build(|b| {
        let g = b.global_table("input2", strings());
        b.stream("input", strings())
            .left_join_global(&g, global_key, |v: S, gv: Option<&S>| {
                Some(format!(
                    "{}+{}",
                    v.as_deref().unwrap_or("null"),
                    gv.map_or("<none>", |g| g.as_deref().unwrap_or("null"))
                ))
            })
            .to("output", produced());
    })
}

pub(super) fn register(m: &mut BTreeMap<&'static str, Case>) {
    const ONE: &[(&str, Render, Render)] = &[("output", Render::Str, Render::Str)];
    for (name, build) in [
        ("global_join_inner", global_join_inner as fn() -> Topology),
        ("global_join_left", global_join_left),
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
