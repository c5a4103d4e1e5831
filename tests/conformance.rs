//! Conformance: the same topologies as `tests/conformance/Ref.java`, fed the same input
//! scripts through the test driver (single-partition mode, like Java's driver), must write
//! exactly the records Java Kafka Streams wrote into the committed goldens, in the same
//! order, and describe themselves with the same text.
//!
//! Every case under `tests/conformance/golden/` is either run here or listed in `PENDING`
//! with the reason; an unlisted case fails the test, so nothing is skipped silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use streams_dsl::prelude::*;
use streams_tests::{
    InputRecord, conformance_dir, first_difference, jlen, read_golden, read_inputs,
};

type S = Option<String>;

/// A stateful case: name, key and value rendering, topology.
type StatefulCase = (&'static str, Render, Render, fn() -> Topology);

#[path = "conformance_tables.rs"]
mod tables;

#[path = "conformance_global.rs"]
mod global;

#[path = "conformance_fk_join.rs"]
mod fk_join;

#[path = "conformance_cogroup.rs"]
mod cogroup;

#[path = "conformance_process.rs"]
mod process;

#[path = "conformance_sql.rs"]
mod sql;

/// How a case's output bytes are rendered as JSON, as `Ref.java` renders them.
#[derive(Clone, Copy)]
enum Render {
    Str,
    /// Java's `Serdes.Long`: 8 bytes big-endian.
    Long,
    /// `TimeWindowedDeserializer(String, size)`: key bytes, then the 8-byte start; the end
    /// is start + size.
    TimeWindowed(i64),
    /// `SessionWindowedDeserializer(String)`: key bytes, then the 8-byte end and start.
    SessionWindowed,
}

fn be_i64(b: &[u8]) -> i64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&b[..8]);
    i64::from_be_bytes(buf)
}

fn windowed(key: &[u8], start: i64, end: i64) -> Value {
    json!({"key": String::from_utf8_lossy(key), "start": start, "end": end})
}

fn render(r: Render, bytes: Option<&[u8]>) -> Value {
    let Some(b) = bytes else { return Value::Null };
    match r {
        Render::Str => Value::String(String::from_utf8_lossy(b).into_owned()),
        Render::Long => json!(be_i64(b)),
        Render::TimeWindowed(size) => {
            let (key, start) = b.split_at(b.len() - 8);
            let start = be_i64(start);
            windowed(key, start, start + size)
        }
        Render::SessionWindowed => {
            let (key, times) = b.split_at(b.len() - 16);
            windowed(key, be_i64(&times[8..]), be_i64(&times[..8]))
        }
    }
}

struct Case {
    inputs: &'static [&'static str],
    outputs: &'static [(&'static str, Render, Render)],
    build: fn() -> Topology,
}

/// Cases with goldens whose operators this build does not have yet, with the reason.
const PENDING: &[(&str, &str)] = &[];

fn strings() -> Consumed<S, S> {
    Consumed::with(
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn produced() -> Produced<S, S> {
    Produced::with(
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

/// `Ref.parts`: the non-empty parts of `v.split(",", -1)`, none for null.
fn parts(v: &S) -> Vec<String> {
    v.as_deref()
        .map(|v| {
            v.split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn upper(v: &str) -> String {
    v.to_uppercase()
}

fn build(f: impl FnOnce(&StreamsBuilder)) -> Topology {
    let b = StreamsBuilder::new();
    f(&b);
    b.build()
        .unwrap_or_else(|e| panic!("building the topology: {e}"))
}

fn filter_map() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .filter(|_, v| v.as_deref().is_some_and(|v| jlen(v) > 3))
            .filter_not(|k, _| k.as_deref().is_some_and(|k| k.ends_with('7')))
            .map_values(|v| v.map(|v| upper(&v)))
            .to("output", produced());
    })
}

fn repartition() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .select_key(|_k: &S, v: &S| v.clone())
            .repartition_with(Repartitioned::with(
                Serdes::option(Serdes::string()),
                Serdes::option(Serdes::string()),
            ))
            .map_values(|v: S| v.map(|v| upper(&v)))
            .repartition_with(
                Repartitioned::with(
                    Serdes::option(Serdes::string()),
                    Serdes::option(Serdes::string()),
                )
                .with_name("rekeyed")
                .with_number_of_partitions(3),
            )
            .to("output", produced());
    })
}

fn flatmap_selectkey() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .flat_map(|k: S, v: S| {
                parts(&v)
                    .into_iter()
                    .map(move |p| (k.clone(), Some(p)))
                    .collect::<Vec<_>>()
            })
            .flat_map_values(|v: S| {
                let v = v.unwrap_or_default();
                if jlen(&v) > 4 {
                    vec![Some(v.clone()), Some(upper(&v))]
                } else {
                    vec![Some(v)]
                }
            })
            .select_key(|k: &S, v: &S| {
                let v = v.clone().unwrap_or_default();
                Some(match k {
                    None => v,
                    Some(k) => format!("{k}/{v}"),
                })
            })
            .to("output", produced());
    })
}

fn branch() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .split()
            .branch(
                |_, v| v.is_none(),
                Branched::with_consumer(|s: KStream<S, S>| s.to("out-null", produced())),
            )
            .branch(
                |_, v| v.as_deref().is_some_and(|v| v.contains(',')),
                Branched::with_consumer(|s: KStream<S, S>| s.to("out-list", produced())),
            )
            .branch(
                |k, v| k.is_none() || v.as_deref().is_some_and(str::is_empty),
                Branched::with_consumer(|s: KStream<S, S>| s.to("out-odd", produced())),
            )
            .default_branch(Branched::with_consumer(|s: KStream<S, S>| {
                s.to("out-default", produced())
            }));
    })
}

fn merge_peek() -> Topology {
    build(|b| {
        let left = b.stream("input", strings()).filter(|k, _| k.is_some());
        let right = b
            .stream("input2", strings())
            .map_values(|v: S| Some(v.map_or("<null>".to_string(), |v| format!("2:{v}"))));
        left.merge(&right)
            .peek(|_, _| {})
            .map_values_with_key(|k: &S, v: S| {
                Some(format!(
                    "{}={}",
                    k.as_deref().unwrap_or("<null>"),
                    v.as_deref().unwrap_or("<null>")
                ))
            })
            .to("output", produced());
    })
}

fn map_nulls() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .map(|k: S, v: S| (v, k))
            .map_values(|v: S| v.filter(|v| !v.ends_with('0')))
            .to("output", produced());
    })
}

fn named() -> Topology {
    build(|b| {
        let branches = b
            .stream("input", strings().with_name("source"))
            .named("drop-null-values")
            .filter(|_, v| v.is_some())
            .named("explode")
            .flat_map_values(|v: S| parts(&v).into_iter().map(Some).collect::<Vec<_>>())
            .named("route-")
            .split()
            .branch(
                |_, v| v.as_deref().is_some_and(|v| jlen(v) <= 3),
                Branched::as_("short"),
            )
            .default_branch(Branched::as_("long"));
        branches["route-short"]
            .named("shout")
            .map_values(|v: S| v.map(|v| upper(&v)))
            .to("out-short", produced().with_name("short-sink"));
        branches["route-long"].to("out-long", produced().with_name("long-sink"));
    })
}

/// `Ref.joinValue`: both sides with `<none>` for a missing one.
fn join_value(l: Option<&S>, r: Option<&S>) -> S {
    let side = |v: Option<&S>| v.and_then(|v| v.as_deref()).unwrap_or("<none>").to_owned();
    Some(format!("{}|{}", side(l), side(r)))
}

/// `Ref.joinWindows()`: 5 s either way, grace 2 s.
fn join_windows() -> JoinWindows {
    JoinWindows::of_time_difference_and_grace(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(2),
    )
}

/// The join cases' options: Ref.java's driver config looks at held-back non-matches on
/// every record (`__emit.interval.ms.kstreams.outer.join.spurious.results.fix__` = 0).
fn stream_joined() -> StreamJoined<S, S, S> {
    StreamJoined::inherit()
}

fn stream_join_inner() -> Topology {
    build(|b| {
        let l = b.stream("input", strings());
        let r = b.stream("input2", strings());
        l.join(
            &r,
            |a: &S, b: &S| join_value(Some(a), Some(b)),
            join_windows(),
            stream_joined(),
        )
        .to("output", produced());
    })
}

fn stream_join_left() -> Topology {
    build(|b| {
        let l = b.stream("input", strings());
        let r = b.stream("input2", strings());
        l.left_join(
            &r,
            |a: &S, b: Option<&S>| join_value(Some(a), b),
            join_windows(),
            stream_joined(),
        )
        .to("output", produced());
    })
}

fn stream_join_outer() -> Topology {
    build(|b| {
        let l = b.stream("input", strings());
        let r = b.stream("input2", strings());
        l.outer_join(&r, join_value, join_windows(), stream_joined())
            .to("output", produced());
    })
}

fn s() -> SerdeRef<S> {
    Serdes::option(Serdes::string())
}

fn counts() -> Produced<S, Option<i64>> {
    Produced::with(s(), Serdes::option(Serdes::i64()))
}

fn time_windowed_counts(size: i64) -> Produced<Windowed<S>, Option<i64>> {
    Produced::with(
        Serdes::time_windowed(s(), size),
        Serdes::option(Serdes::i64()),
    )
}

/// `Ref.last40`: the last 40 characters (UTF-16 units; the inputs are BMP only).
fn last40(v: String) -> String {
    let n = jlen(&v);
    if n <= 40 {
        v
    } else {
        v.chars().skip(n - 40).collect()
    }
}

fn count() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .count()
            .to_stream()
            .to("output", counts());
    })
}

fn reduce() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .reduce(|agg: S, v: S| match v {
                None => agg,
                Some(v) => Some(last40(format!("{}|{v}", agg.unwrap_or_default()))),
            })
            .to_stream()
            .to("output", Produced::with(s(), Serdes::option(s())));
    })
}

fn aggregate() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .aggregate_with(
                || 0i64,
                |_k: &S, v: S, agg: i64| match v {
                    None => agg,
                    Some(v) => agg + jlen(&v) as i64,
                },
                Materialized::with(s(), Serdes::i64()),
            )
            .to_stream()
            .to("output", counts());
    })
}

fn group_by() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_with(
                |_k: &S, v: &S| {
                    v.as_deref()
                        .and_then(|v| v.chars().next())
                        .map(|c| c.to_string())
                },
                Grouped::with(s(), s()),
            )
            .count()
            .to_stream()
            .to("output", counts());
    })
}

fn tumbling() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .windowed_by(TimeWindows::of_size_and_grace(
                Duration::from_secs(10),
                Duration::from_secs(2),
            ))
            .count()
            .to_stream()
            .to("output", time_windowed_counts(10_000));
    })
}

fn hopping() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .windowed_by(
                TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::ZERO)
                    .advance_by(Duration::from_secs(5)),
            )
            .count()
            .to_stream()
            .to("output", time_windowed_counts(10_000));
    })
}

fn sliding() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .windowed_by(SlidingWindows::of_time_difference_and_grace(
                Duration::from_secs(5),
                Duration::from_secs(2),
            ))
            .count()
            .to_stream()
            .to("output", time_windowed_counts(5_000));
    })
}

fn session() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .windowed_by(SessionWindows::of_inactivity_gap_and_grace(
                Duration::from_secs(5),
                Duration::from_secs(2),
            ))
            .count()
            .to_stream()
            .to(
                "output",
                Produced::with(Serdes::session_windowed(s()), Serdes::option(Serdes::i64())),
            );
    })
}

/// Emit-on-close as in `Ref.java`, whose driver config sets Kafka Streams' internal
/// `__emit.interval.ms.kstreams.windowed.aggregation__` to 0: closed windows are looked for
/// on every record.
fn on_close() -> EmitStrategy {
    EmitStrategy::on_window_close()
}

fn emit_on_close() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(10)))
            .emit_strategy(on_close())
            .count()
            .to_stream()
            .to("output", time_windowed_counts(10_000));
    })
}

fn emit_on_close_sliding() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .windowed_by(SlidingWindows::of_time_difference_and_grace(
                Duration::from_secs(5),
                Duration::from_secs(2),
            ))
            .emit_strategy(on_close())
            .count()
            .to_stream()
            .to("output", time_windowed_counts(5_000));
    })
}

fn emit_on_close_session() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .windowed_by(SessionWindows::of_inactivity_gap_and_grace(
                Duration::from_secs(5),
                Duration::from_secs(2),
            ))
            .emit_strategy(on_close())
            .count()
            .to_stream()
            .to(
                "output",
                Produced::with(Serdes::session_windowed(s()), Serdes::option(Serdes::i64())),
            );
    })
}

fn suppress() -> Topology {
    build(|b| {
        b.stream("input", strings())
            .group_by_key()
            .windowed_by(TimeWindows::of_size_and_grace(
                Duration::from_secs(10),
                Duration::from_secs(1),
            ))
            .count_with(Materialized::with(s(), Serdes::i64()))
            .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
            .to_stream()
            .to("output", time_windowed_counts(10_000));
    })
}

fn cases() -> BTreeMap<&'static str, Case> {
    const STR: Render = Render::Str;
    let mut m = BTreeMap::new();
    tables::register(&mut m);
    global::register(&mut m);
    fk_join::register(&mut m);
    cogroup::register(&mut m);
    process::register(&mut m);
    sql::register(&mut m);
    m.insert(
        "filter_map",
        Case {
            inputs: &["input"],
            outputs: &[("output", STR, STR)],
            build: filter_map,
        },
    );
    m.insert(
        "flatmap_selectkey",
        Case {
            inputs: &["input"],
            outputs: &[("output", STR, STR)],
            build: flatmap_selectkey,
        },
    );
    m.insert(
        "repartition",
        Case {
            inputs: &["input"],
            outputs: &[("output", STR, STR)],
            build: repartition,
        },
    );
    m.insert(
        "branch",
        Case {
            inputs: &["input"],
            outputs: &[
                ("out-null", STR, STR),
                ("out-list", STR, STR),
                ("out-odd", STR, STR),
                ("out-default", STR, STR),
            ],
            build: branch,
        },
    );
    m.insert(
        "merge_peek",
        Case {
            inputs: &["input", "input2"],
            outputs: &[("output", STR, STR)],
            build: merge_peek,
        },
    );
    m.insert(
        "map_nulls",
        Case {
            inputs: &["input"],
            outputs: &[("output", STR, STR)],
            build: map_nulls,
        },
    );
    m.insert(
        "named",
        Case {
            inputs: &["input"],
            outputs: &[("out-short", STR, STR), ("out-long", STR, STR)],
            build: named,
        },
    );
    for (name, build) in [
        ("stream_join_inner", stream_join_inner as fn() -> Topology),
        ("stream_join_left", stream_join_left),
        ("stream_join_outer", stream_join_outer),
    ] {
        m.insert(
            name,
            Case {
                inputs: &["input", "input2"],
                outputs: &[("output", STR, STR)],
                build,
            },
        );
    }
    let stateful: [StatefulCase; 12] = [
        ("count", STR, Render::Long, count),
        ("reduce", STR, STR, reduce),
        ("aggregate", STR, Render::Long, aggregate),
        ("group_by", STR, Render::Long, group_by),
        (
            "tumbling",
            Render::TimeWindowed(10_000),
            Render::Long,
            tumbling,
        ),
        (
            "hopping",
            Render::TimeWindowed(10_000),
            Render::Long,
            hopping,
        ),
        (
            "sliding",
            Render::TimeWindowed(5_000),
            Render::Long,
            sliding,
        ),
        ("session", Render::SessionWindowed, Render::Long, session),
        (
            "suppress",
            Render::TimeWindowed(10_000),
            Render::Long,
            suppress,
        ),
        (
            "emit_on_close",
            Render::TimeWindowed(10_000),
            Render::Long,
            emit_on_close,
        ),
        (
            "emit_on_close_sliding",
            Render::TimeWindowed(5_000),
            Render::Long,
            emit_on_close_sliding,
        ),
        (
            "emit_on_close_session",
            Render::SessionWindowed,
            Render::Long,
            emit_on_close_session,
        ),
    ];
    for (name, key, value, build) in stateful {
        let outputs: &'static [(&'static str, Render, Render)] =
            Box::leak(Box::new([("output", key, value)]));
        m.insert(
            name,
            Case {
                inputs: &["input"],
                outputs,
                build,
            },
        );
    }
    m
}

/// Runs a case over one input script and returns (index of the input that produced it, record).
fn run(case: &Case, inputs: &[InputRecord]) -> Vec<(usize, Value)> {
    let config = StreamsConfig::new()
        .set("application.id", "conformance")
        .set("statestore.cache.max.bytes", "0");
    let driver = TopologyTestDriver::with_options(
        (case.build)(),
        config,
        DriverOptions::new().output_log(true),
    )
    .unwrap_or_else(|e| panic!("starting the driver: {e}"));
    let topics: BTreeMap<&str, TestInputTopic<S, S>> = case
        .inputs
        .iter()
        .map(|t| {
            (
                *t,
                driver.create_input_topic(
                    t,
                    Serdes::option(Serdes::string()),
                    Serdes::option(Serdes::string()),
                ),
            )
        })
        .collect();
    let mut out = Vec::new();
    for (i, rec) in inputs.iter().enumerate() {
        let Some(topic) = topics.get(rec.topic.as_str()) else {
            continue;
        };
        topic
            .pipe_record(TestRecord::new(
                rec.key.clone(),
                rec.value.clone(),
                rec.timestamp,
            ))
            .unwrap_or_else(|e| panic!("input #{i} {rec:?}: {e}"));
        for p in driver.take_output_log() {
            if let Some((_, kr, vr)) = case.outputs.iter().find(|(t, _, _)| *t == p.topic) {
                out.push((
                    i,
                    json!({
                        "topic": p.topic,
                        "key": render(*kr, p.key.as_deref()),
                        "value": render(*vr, p.value.as_deref()),
                        "timestamp": p.timestamp,
                    }),
                ));
            }
        }
    }
    out
}

#[test]
fn every_golden_case_matches_java_kafka_streams() {
    let dir = conformance_dir();
    let golden_root = dir.join("golden");
    let cases = cases();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut names: Vec<String> = std::fs::read_dir(&golden_root)
        .unwrap_or_else(|e| panic!("{}: {e}", golden_root.display()))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no golden cases under {}",
        golden_root.display()
    );
    for name in &names {
        let case_dir = golden_root.join(name);
        let Some(case) = cases.get(name.as_str()) else {
            match PENDING.iter().find(|(n, _)| n == name) {
                Some((_, why)) => {
                    eprintln!("conformance case {name}: PENDING ({why})");
                    continue;
                }
                None => {
                    failures.push(format!(
                        "case {name} has goldens but is neither run nor listed as pending"
                    ));
                    continue;
                }
            }
        };
        let describe = std::fs::read_to_string(case_dir.join("describe.txt")).unwrap_or_default();
        let ours = (case.build)().describe().to_string();
        if ours.trim_end() != describe.trim_end() {
            failures.push(format!(
                "case {name}: describe() differs\n--- java\n{describe}\n--- rust\n{ours}"
            ));
        }
        let mut goldens: Vec<_> = std::fs::read_dir(&case_dir)
            .unwrap_or_else(|e| panic!("{}: {e}", case_dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        goldens.sort();
        for golden_path in goldens {
            let input_name = golden_path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let inputs = read_inputs(&dir.join("inputs").join(&input_name));
            let golden = read_golden(&golden_path);
            let actual = run(case, &inputs);
            checked += 1;
            match first_difference(&actual, &golden, &inputs) {
                None => eprintln!(
                    "conformance case {name} over {input_name}: passes ({} records)",
                    golden.len()
                ),
                Some(diff) => failures.push(format!("case {name} over {input_name}: {diff}")),
            }
        }
    }
    for (n, _) in PENDING {
        assert!(
            names.iter().any(|x| x == n),
            "pending case {n} has no goldens"
        );
        assert!(!cases.contains_key(n), "case {n} is both run and pending");
    }
    assert!(checked > 0, "no case was checked");
    assert!(
        failures.is_empty(),
        "{} conformance failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_harness_detects_a_difference() {
    // A topology that differs from the reference in one rule must fail the comparison.
    let dir = conformance_dir();
    let inputs = read_inputs(&dir.join("inputs/edge.jsonl"));
    let golden = read_golden(&dir.join("golden/filter_map/edge.jsonl"));
    let wrong = Case {
        inputs: &["input"],
        outputs: &[("output", Render::Str, Render::Str)],
        build: || {
            build(|b| {
                b.stream("input", strings())
                    .filter(|_, v| v.as_deref().is_some_and(|v| jlen(v) >= 3))
                    .map_values(|v| v.map(|v| upper(&v)))
                    .to("output", produced());
            })
        },
    };
    let actual = run(&wrong, &inputs);
    let diff = first_difference(&actual, &golden, &inputs);
    assert!(
        diff.as_deref().is_some_and(|d| d.contains("differs")),
        "{diff:?}"
    );
    assert!(Path::new(&dir.join("regen.sh")).exists());
}
