//! Conformance cases for tables and their joins, as in `tests/conformance/Ref.java`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use streams_dsl::prelude::*;

use super::{Case, Render, S, build, counts, jlen, produced, s, strings, upper};

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

/// The stream-table joins' `(v, tv) -> v + "+" + tv`.
fn joined(v: S, tv: &S) -> S {
    left_joined(v, Some(tv))
}

/// The left joins' `(v, tv) -> v + "+" + (tv == null ? "<none>" : tv)`.
fn left_joined(v: S, tv: Option<&S>) -> S {
    Some(format!(
        "{}+{}",
        v.as_deref().unwrap_or("null"),
        tv.map_or("<none>", |t| t.as_deref().unwrap_or("null"))
    ))
}

fn versioned_table() -> Topology {
    build(|b| {
        let t = b.table_with(
            "input2",
            strings(),
            Materialized::as_("versioned").with_store_type(StoreType::Versioned {
                history_retention: Duration::from_secs(10),
            }),
        );
        let stream = b.stream("input", strings());
        stream.join_table(&t, joined).to("output", produced());
        stream
            .left_join_table(&t, left_joined)
            .to("output2", produced());
        t.to_stream().to(
            "output3",
            Produced::with(s(), Serdes::option(Serdes::option(Serdes::string()))),
        );
    })
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
            .join_table(&t, joined)
            .to("output", produced());
    })
}

fn stream_table_left_join() -> Topology {
    build(|b| {
        let t = table(b, "input2");
        b.stream("input", strings())
            .left_join_table(&t, left_joined)
            .to("output", produced());
    })
}

fn stream_table_join_rekeyed() -> Topology {
    build(|b| {
        let t = table(b, "input2");
        b.stream("input", strings())
            .select_key(|k: &S, _v: &S| k.clone())
            .left_join_table_with(
                &t,
                left_joined,
                Joined::with(
                    Serdes::option(Serdes::string()),
                    Serdes::option(Serdes::string()),
                ),
            )
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

/// A left join's result outer-joined again: the second join looks the first one's result
/// up through its value getter.
fn table_join_chain() -> Topology {
    build(|b| {
        let l = table(b, "input");
        let r = table(b, "input2");
        out_table(l.left_join(&r, |l, r| pair(Some(l), r)).outer_join(
            &r.filter(|_k: &S, v: &S| v.as_deref().is_some_and(|v| v.chars().count() > 2)),
            pair,
        ))
    })
}

/// The first character of `v` (Java's `v.substring(0, 1)`: the inputs are BMP only), `None`
/// for an empty value.
fn first_char(v: &str) -> S {
    v.chars().next().map(String::from)
}

fn table_group_by_count() -> Topology {
    build(|b| {
        table(b, "input")
            .group_by_with(
                |_k: &S, v: S| (first_char(v.as_deref().unwrap_or_default()), v),
                Grouped::with(s(), s()),
            )
            .count()
            .to_stream()
            .to("output", counts());
    })
}

fn table_group_by_aggregate() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .to_table()
            .group_by_with(
                |k: &S, v: S| {
                    let key = k
                        .as_deref()
                        .and_then(|k| k.chars().last())
                        .map(String::from);
                    (key, jlen(v.as_deref().unwrap_or_default()) as i64)
                },
                Grouped::with(s(), Serdes::i64()),
            )
            .aggregate_with(
                || 0i64,
                |_k: &S, v: i64, agg: i64| agg + v,
                |_k: &S, v: i64, agg: i64| agg - v,
                Materialized::with(s(), Serdes::i64()),
            )
            .to_stream()
            .to("output", counts());
    })
}

fn table_group_by_reduce() -> Topology {
    type L = Option<i64>;
    build(|b| {
        table(b, "input")
            .group_by_with(
                |_k: &S, v: S| {
                    let v = v.unwrap_or_default();
                    (first_char(&v), Some(jlen(&v) as i64))
                },
                Grouped::with(s(), Serdes::option(Serdes::i64())),
            )
            .reduce(
                |agg: L, v: L| Some(agg.unwrap_or(0) + v.unwrap_or(0)),
                |agg: L, v: L| Some(agg.unwrap_or(0) - v.unwrap_or(0)).filter(|r| *r != 0),
            )
            .to_stream()
            .to(
                "output",
                Produced::with(s(), Serdes::option(Serdes::option(Serdes::i64()))),
            );
    })
}

fn to_table() -> Topology {
    build(|b| {
        out_table(
            b.stream("input", strings())
                .select_key(|k: &S, _v: &S| k.as_deref().map(upper))
                .to_table_with(Materialized::with(s(), s())),
        );
    })
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
        "versioned_table",
        Case {
            inputs: &["input", "input2"],
            outputs: &[
                ("output", STR, STR),
                ("output2", STR, STR),
                ("output3", STR, STR),
            ],
            build: versioned_table,
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
    for (name, build) in [
        (
            "table_group_by_count",
            table_group_by_count as fn() -> Topology,
        ),
        ("table_group_by_aggregate", table_group_by_aggregate),
        ("table_group_by_reduce", table_group_by_reduce),
    ] {
        m.insert(
            name,
            Case {
                inputs: &["input"],
                outputs: &[("output", STR, Render::Long)],
                build,
            },
        );
    }
    m.insert(
        "to_table",
        Case {
            inputs: &["input"],
            outputs: ONE,
            build: to_table,
        },
    );
    m.insert(
        "stream_table_join_rekeyed",
        Case {
            inputs: &["input", "input2"],
            outputs: ONE,
            build: stream_table_join_rekeyed,
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
    m.insert(
        "table_join_chain",
        Case {
            inputs: &["input", "input2"],
            outputs: ONE,
            build: table_join_chain,
        },
    );
}
