//! Serving a running application: typed interactive queries, the HTTP server (key lookups,
//! windows, sessions, probes), Prometheus metrics, and, against a real broker, three
//! instances answering every key from any instance while one of them is killed.
//!
//! The broker test needs the broker `tests/broker/kafka-broker.sh start` runs (`tests/run.sh`
//! starts it); without it, it fails saying how to start it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "runtime_support/mod.rs"]
mod support;
#[path = "serving/topology.rs"]
mod topology;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use streams_dsl::prelude::*;
use streams_dsl::query::{KeyValueStoreQuery, SessionStoreQuery, WindowStoreQuery};
use streams_server::{Forwarding, ServerOptions, StreamsServer};
use support::{Cluster, event_time, produce, unique, wait_until};
use topology::{COUNTS, HOUR_MS, HOURLY, SESSIONS, Totals};

const TIMEOUT: Duration = Duration::from_secs(120);

/// An HTTP answer: status, JSON body, `Retry-After`.
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

fn http_get(addr: &str, path: &str) -> Answer {
    http_request(addr, path, true)
}

/// A GET that returns a redirect as it comes, rather than following it.
fn http_get_unfollowed(addr: &str, path: &str) -> Answer {
    http_request(addr, path, false)
}

fn http_request(addr: &str, path: &str, follow_redirects: bool) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(if follow_redirects { 10 } else { 0 })
        .build()
        .into();
    let mut response = agent
        .get(format!("http://{addr}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"));
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.body_mut().read_to_string().unwrap();
    Answer {
        status: response.status().as_u16(),
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        retry_after,
    }
}

/// The input of a run: `(key, value)` batches per hour, and what the stores must hold.
struct Input {
    batches: Vec<(i64, Vec<(String, String)>)>,
    counts: BTreeMap<String, i64>,
    /// Per key: (window start, sum, count), in start order.
    hourly: BTreeMap<String, Vec<(i64, i64, i64)>>,
    /// Per key: (session start, end, count).
    sessions: BTreeMap<String, Vec<(i64, i64, i64)>>,
}

/// `keys` keys over `hours` hours: key `k` gets `k % 5 + 1` records an hour, about one
/// minute into the hour, with value `10 * hour + k`.
fn input(keys: usize, hours: i64) -> Input {
    let mut out = Input {
        batches: Vec::new(),
        counts: BTreeMap::new(),
        hourly: BTreeMap::new(),
        sessions: BTreeMap::new(),
    };
    for h in 0..hours {
        let at = h * HOUR_MS + 60_000;
        let mut batch = Vec::new();
        for k in 0..keys {
            let key = format!("user-{k}");
            let n = (k % 5 + 1) as i64;
            let value = 10 * h + k as i64;
            // `produce` stamps the i-th record of a batch `at + i`.
            let first = event_time(at) + batch.len() as i64;
            for _ in 0..n {
                batch.push((key.clone(), value.to_string()));
            }
            *out.counts.entry(key.clone()).or_default() += n;
            out.hourly.entry(key.clone()).or_default().push((
                event_time(h * HOUR_MS),
                n * value,
                n,
            ));
            out.sessions
                .entry(key)
                .or_default()
                .push((first, first + n - 1, n));
        }
        out.batches.push((at, batch));
    }
    out
}

fn produce_input(bootstrap: &str, topic: &str, input: &Input) {
    for (at, batch) in &input.batches {
        produce(bootstrap, topic, batch, *at);
    }
}

fn windows_of(body: &Value) -> Vec<(i64, i64, i64)> {
    body["windows"]
        .as_array()
        .unwrap_or_else(|| panic!("no windows in {body}"))
        .iter()
        .map(|w| {
            (
                w["start"].as_i64().unwrap(),
                w["value"]["sum"].as_i64().unwrap(),
                w["value"]["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The value of the first sample of `name` with `labels` in a Prometheus scrape.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let answer = http_get(addr, "/metrics");
    assert_eq!(answer.status, 200);
    let text = answer.body.as_str().expect("metrics are text").to_owned();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("a Prometheus text scrape")
}

/// Every count a query of the counts store answers, by key.
fn all_counts(
    counts: &KeyValueStoreQuery<String, ValueAndTimestamp<i64>>,
) -> BTreeMap<String, i64> {
    counts
        .all()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.value))
        .collect()
}

#[test]
fn typed_queries_and_http_answer_from_the_stores_and_metrics_move() {
    let cluster = Cluster::mock();
    let bootstrap = cluster.bootstrap();
    let topic = unique("serve-in");
    cluster.create_topic(&topic, 4);
    let data = input(10, 3);
    produce_input(&bootstrap, &topic, &data);
    let total: i64 = data.counts.values().sum();

    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = cluster
        .streams_config(&unique("serve-app"), dir.path())
        .set("application.server", &addr);
    let mut streams = KafkaStreams::new(topology::topology(&topic).unwrap(), config).unwrap();
    let handle = streams.handle();
    let server = StreamsServer::new(handle.clone())
        .key_value_store::<String, i64>(COUNTS, Serdes::string())
        .window_store::<String, Totals>(HOURLY, Serdes::string())
        .session_store::<String, i64>(SESSIONS, Serdes::string())
        .spawn(listener)
        .unwrap();

    let counts = KeyValueStoreQuery::<String, ValueAndTimestamp<i64>>::new(
        &handle,
        COUNTS,
        Serdes::string(),
    );
    let before = counts.get(&"user-1".to_owned());
    assert!(
        matches!(before, Err(Error::QueryUnavailable { .. })),
        "{before:?}"
    );
    let ready = http_get(&addr, "/ready");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.retry_after.as_deref(), Some("1"));
    assert_eq!(http_get(&addr, "/health").status, 200);

    streams.start_with(cluster.creator()).unwrap();
    assert!(
        wait_until(TIMEOUT, || streams.metrics().records_processed
            >= total as u64),
        "{:?}",
        streams.error()
    );
    assert!(streams.wait_for_state(State::Running, TIMEOUT));
    assert_eq!(http_get(&addr, "/ready").status, 200);

    // Typed queries.
    for (key, want) in &data.counts {
        let got = counts.get(key).unwrap().map(|v| v.value);
        assert_eq!(got, Some(*want), "count of {key}");
    }
    assert_eq!(counts.get(&"nobody".to_owned()).unwrap(), None);
    assert_eq!(all_counts(&counts), data.counts);
    let mut range: Vec<String> = counts
        .range(Some(&"user-2".to_owned()), Some(&"user-4".to_owned()))
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    range.sort();
    assert_eq!(range, ["user-2", "user-3", "user-4"]);
    let prefixed: Vec<String> = counts
        .prefix_scan(b"user-7")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(prefixed, ["user-7"]);

    let hourly = WindowStoreQuery::<String, ValueAndTimestamp<Totals>>::new(
        &handle,
        HOURLY,
        Serdes::string(),
    );
    for (key, want) in &data.hourly {
        let got: Vec<(i64, i64, i64)> = hourly
            .fetch(key, i64::MIN, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|(w, v)| {
                assert_eq!(w.end - w.start, HOUR_MS);
                (w.start, v.value.sum, v.value.count)
            })
            .collect();
        assert_eq!(&got, want, "hourly totals of {key}");
    }
    let second_hour = event_time(HOUR_MS);
    let one = hourly
        .fetch(&"user-3".to_owned(), second_hour, second_hour)
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0.start, second_hour);
    let ranged = hourly
        .fetch_key_range(
            &"user-1".to_owned(),
            &"user-2".to_owned(),
            i64::MIN,
            i64::MAX,
        )
        .unwrap();
    let keys: BTreeSet<String> = ranged.iter().map(|(k, _)| k.key.clone()).collect();
    assert_eq!(ranged.len(), 6);
    assert_eq!(
        keys,
        BTreeSet::from(["user-1".to_owned(), "user-2".to_owned()])
    );
    assert_eq!(hourly.fetch_all(i64::MIN, i64::MAX).unwrap().len(), 30);

    let sessions = SessionStoreQuery::<String, i64>::new(&handle, SESSIONS, Serdes::string());
    for (key, want) in &data.sessions {
        let got: Vec<(i64, i64, i64)> = sessions
            .fetch(key)
            .unwrap()
            .into_iter()
            .map(|(w, n)| (w.start, w.end, n))
            .collect();
        assert_eq!(&got, want, "sessions of {key}");
    }

    // The same over HTTP.
    let one = http_get(&addr, "/stores/counts/keys/user-3");
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["key"], "user-3");
    assert_eq!(one.body["value"].as_i64(), Some(data.counts["user-3"]));
    let windows = http_get(&addr, "/stores/hourly/keys/user-3");
    assert_eq!(windows.status, 200, "{}", windows.body);
    assert_eq!(windows_of(&windows.body), data.hourly["user-3"]);
    let bounded = http_get(
        &addr,
        &format!("/stores/hourly/keys/user-3?from={second_hour}&to={second_hour}"),
    );
    assert_eq!(windows_of(&bounded.body), data.hourly["user-3"][1..2]);
    let sessions = http_get(&addr, "/stores/sessions/keys/user-4");
    assert_eq!(sessions.status, 200, "{}", sessions.body);
    assert_eq!(sessions.body["sessions"].as_array().unwrap().len(), 3);
    assert_eq!(http_get(&addr, "/stores/counts/keys/nobody").status, 404);
    assert_eq!(http_get(&addr, "/stores/nope/keys/user-1").status, 404);
    let all = http_get(&addr, "/stores/counts/all");
    assert_eq!(all.body.as_array().map(Vec::len), Some(data.counts.len()));

    // Metrics move as records are processed.
    let first = scrape(&addr);
    assert_eq!(
        sample(&first, "kafka_streams_process_total", &[]),
        Some(total as f64)
    );
    for p in 0..4 {
        let lag = sample(
            &first,
            "kafka_streams_records_lag",
            &[("topic", topic.as_str()), ("partition", &p.to_string())],
        );
        assert!(lag.is_some(), "no lag of partition {p}");
    }
    assert_eq!(
        sample(&first, "kafka_streams_state", &[("state", "RUNNING")]),
        Some(1.0)
    );
    let more: Vec<(String, String)> = (0..20)
        .map(|i| (format!("user-{}", i % 10), "1".into()))
        .collect();
    produce(&bootstrap, &topic, &more, 3 * HOUR_MS);
    let want = (total + 20) as f64;
    assert!(
        wait_until(TIMEOUT, || sample(
            &scrape(&addr),
            "kafka_streams_process_total",
            &[]
        ) == Some(want)),
        "process_total never reached {want}"
    );
    let later = scrape(&addr);
    let reads = sample(&later, "kafka_streams_record_cache_hits_total", &[]).unwrap()
        + sample(&later, "kafka_streams_record_cache_misses_total", &[]).unwrap();
    assert!(reads > 0.0, "the aggregations read through their caches");
    let rocksdb = sample(&later, "kafka_streams_rocksdb_live_data_bytes", &[]).unwrap()
        + sample(&later, "kafka_streams_rocksdb_memtable_bytes", &[]).unwrap();
    assert!(rocksdb > 0.0, "the stores hold data in RocksDB");
    assert!(
        sample(&later, "kafka_streams_poll_total", &[])
            > sample(&first, "kafka_streams_poll_total", &[])
    );
    assert!(
        wait_until(TIMEOUT, || sample(
            &scrape(&addr),
            "kafka_streams_records_lag_max",
            &[]
        ) == Some(0.0)),
        "the lag never went back to 0"
    );

    server.shutdown();
    streams.close().unwrap();
    assert!(matches!(
        counts.get(&"user-1".to_owned()),
        Err(Error::QueryUnavailable { .. })
    ));
}

/// A serve-app process. Dropping it kills it.
struct Instance {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: String,
}

impl Instance {
    fn spawn(
        bootstrap: &str,
        app: &str,
        topic: &str,
        dir: &std::path::Path,
        extra: &[&str],
    ) -> Instance {
        let mut child = Command::new(env!("CARGO_BIN_EXE_serve-app"))
            .args([bootstrap, app, topic, &dir.display().to_string()])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning serve-app");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .strip_prefix("SERVING ")
            .unwrap_or_else(|| panic!("serve-app said '{line}'"))
            .trim()
            .to_owned();
        Instance {
            stdin: child.stdin.take(),
            child,
            addr,
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}

/// Asks `addr` for `key`'s hourly windows until it answers other than 503. Any 200 must be
/// the key's windows exactly.
fn windows_answer(addr: &str, key: &str) -> Answer {
    http_get(addr, &format!("/stores/{HOURLY}/keys/{key}"))
}

#[test]
fn three_instances_answer_any_key_anywhere_and_never_wrongly_while_one_dies() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let topic = unique("serve3-in");
    cluster.create_topic(&topic, 6);
    let data = input(30, 3);
    produce_input(&bootstrap, &topic, &data);
    let app = unique("serve3-app");
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // The first instance redirects requests for keys it does not hold; the others forward
    // them. The first is also the one that dies.
    let mut instances: Vec<Instance> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let extra: &[&str] = if i == 0 {
                &["server.forwarding=redirect"]
            } else {
                &[]
            };
            Instance::spawn(&bootstrap, &app, &topic, d.path(), extra)
        })
        .collect();
    let keys: Vec<&String> = data.counts.keys().collect();

    // Every key, asked of an instance that mostly does not hold it, ends up answered with
    // its full count; 503s (rebalancing, restoring) are retried, nothing else is allowed.
    let deadline = Instant::now() + TIMEOUT;
    let mut pending: BTreeSet<&String> = keys.iter().copied().collect();
    let mut round = 0usize;
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "keys never answered in full: {pending:?}"
        );
        for key in pending.clone() {
            let at = &instances[(key.len() + round) % 3].addr;
            let a = http_get(at, &format!("/stores/{COUNTS}/keys/{key}"));
            match a.status {
                200 if a.body["value"].as_i64() == Some(data.counts[key]) => {
                    pending.remove(key);
                }
                // Still processing: a partial count, never more than the full one.
                200 => assert!(
                    a.body["value"].as_i64().unwrap() < data.counts[key],
                    "{}",
                    a.body
                ),
                404 | 503 => {}
                s => panic!("{key} at {at}: {s} {}", a.body),
            }
        }
        round += 1;
    }

    // Now every answer is final: any instance answers any key's windows exactly.
    for (i, key) in keys.iter().enumerate() {
        for instance in &instances {
            let a = windows_answer(&instance.addr, key);
            if a.status == 503 {
                continue;
            }
            assert_eq!(a.status, 200, "{key} at {}: {}", instance.addr, a.body);
            assert_eq!(windows_of(&a.body), data.hourly[*key], "{key} (#{i})");
        }
    }
    // The redirecting instance sends clients to the owner, which answers exactly.
    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let others: Vec<&String> = instances[1..].iter().map(|i| &i.addr).collect();
    let mut redirected = 0;
    for key in &keys {
        let path = format!("/stores/{HOURLY}/keys/{key}");
        let response = no_redirects
            .get(format!("http://{}{path}", instances[0].addr))
            .call()
            .unwrap();
        match response.status().as_u16() {
            200 | 503 => {}
            307 => {
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                let target = location
                    .strip_prefix("http://")
                    .and_then(|l| l.strip_suffix(path.as_str()))
                    .unwrap_or_else(|| panic!("redirect of {key} to {location}"));
                assert!(others.iter().any(|o| *o == target), "{location}");
                let a = http_get(target, &path);
                if a.status == 200 {
                    assert_eq!(windows_of(&a.body), data.hourly[*key], "{key} at {target}");
                }
                redirected += 1;
            }
            s => panic!("{key}: {s}"),
        }
    }
    assert!(redirected > 0, "no key was redirected");

    let members = http_get(&instances[0].addr, "/instances");
    assert_eq!(members.status, 200, "{}", members.body);
    let listed = members.body.as_array().unwrap();
    assert_eq!(listed.len(), 3, "{}", members.body);
    let partitions: BTreeSet<i64> = listed
        .iter()
        .flat_map(|m| m["partitions"].as_array().unwrap().iter())
        .filter(|p| p["topic"] == topic.as_str())
        .map(|p| p["partition"].as_i64().unwrap())
        .collect();
    assert_eq!(partitions, (0..6).collect());

    // One instance dies; its tasks move. The survivors answer every key exactly or say 503.
    instances[0].kill();
    let survivors = [&instances[1].addr, &instances[2].addr];
    let deadline = Instant::now() + TIMEOUT;
    let mut answered: BTreeSet<&String> = BTreeSet::new();
    let (mut unavailable, mut round) = (0usize, 0usize);
    while answered.len() < keys.len() {
        assert!(
            Instant::now() < deadline,
            "after the kill, keys never answered: {:?}",
            keys.iter()
                .filter(|k| !answered.contains(**k))
                .collect::<Vec<_>>()
        );
        for key in &keys {
            let at = survivors[(key.len() + round) % 2];
            let a = windows_answer(at, key);
            match a.status {
                200 => {
                    assert_eq!(
                        windows_of(&a.body),
                        data.hourly[*key],
                        "{key} at {at} after the kill"
                    );
                    answered.insert(key);
                }
                503 => unavailable += 1,
                s => panic!("{key} at {at} after the kill: {s} {}", a.body),
            }
        }
        round += 1;
    }
    eprintln!(
        "after the kill: every key answered exactly; {unavailable} answers were 503 while tasks moved"
    );
    let members = http_get(survivors[0], "/instances");
    assert_eq!(
        members.body.as_array().map(Vec::len),
        Some(2),
        "{}",
        members.body
    );
}

/// The counts one task's store holds.
type TaskCounts = (TaskId, Vec<(String, i64)>);

/// Every count the standbys of `streams` hold, by task.
fn standby_counts(streams: &KafkaStreams) -> streams_dsl::Result<Vec<TaskCounts>> {
    streams
        .handle()
        .query_standbys::<TimestampedKeyValueStore<String, i64>, _, _>(
            COUNTS,
            |store| {
                store
                    .all()?
                    .map(|entry| entry.map(|(k, v)| (k, v.value)))
                    .collect::<streams_dsl::Result<Vec<_>>>()
            },
            Duration::from_secs(10),
        )
}

/// With `num.standby.replicas=1` and two instances, the metadata of every key names the
/// instance holding its active task and the other one as its standby, as both compute the
/// placement from the group's description; the standby instance lists the stores it keeps,
/// and answers every key from them when a query (typed or over HTTP) allows stale stores.
#[test]
fn key_metadata_names_the_standby_host() {
    let cluster = Cluster::broker();
    let topic = unique("serve-standby-in");
    cluster.create_topic(&topic, 4);
    let data = input(20, 1);
    produce_input(&cluster.bootstrap(), &topic, &data);
    let app = unique("serve-standby-app");
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut servers = Vec::new();
    let mut instances: Vec<(KafkaStreams, String)> = dirs
        .iter()
        .map(|d| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let config = cluster
                .streams_config(&app, d.path())
                .set("application.server", &addr)
                .set("num.standby.replicas", "1");
            let streams = KafkaStreams::new(topology::topology(&topic).unwrap(), config).unwrap();
            // Redirects rather than forwards: an answer then shows which instance gave it.
            let server = StreamsServer::new(streams.handle())
                .options(ServerOptions::default().forwarding(Forwarding::Redirect))
                .key_value_store::<String, i64>(COUNTS, Serdes::string())
                .spawn(listener)
                .unwrap();
            servers.push(server);
            (streams, addr)
        })
        .collect();
    for (streams, _) in &mut instances {
        streams.start().unwrap();
    }
    let addrs: Vec<String> = instances.iter().map(|(_, a)| a.clone()).collect();
    let handle = instances[0].0.handle();
    for key in data.counts.keys() {
        let mut last = None;
        let placed = wait_until(TIMEOUT, || {
            last = Some(handle.query_metadata_for_key(COUNTS, key, &Serdes::string()));
            matches!(&last, Some(Ok(m)) if m.active_host.is_some() && !m.standby_hosts.is_empty())
        });
        assert!(placed, "{key}: {last:?}");
        let meta = last.unwrap().unwrap();
        let active = meta.active_host.unwrap().to_string();
        let standbys: Vec<String> = meta.standby_hosts.iter().map(ToString::to_string).collect();
        assert!(addrs.contains(&active), "{active}");
        assert_eq!(standbys.len(), 1, "{standbys:?}");
        assert_ne!(standbys[0], active, "the standby is on the other instance");
        assert!(addrs.contains(&standbys[0]));
    }
    let all = handle.metadata_for_all_stores().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    for m in &all {
        assert!(
            m.standby_state_store_names.contains(COUNTS),
            "{} keeps standbys of the other's tasks: {m:?}",
            m.host_info
        );
    }
    // Stale-store queries: each instance answers from its standbys, which hold the other
    // instance's tasks, so together they hold every count once caught up.
    let mut last = None;
    let answered = wait_until(TIMEOUT, || {
        let mut counts = BTreeMap::new();
        let mut tasks = BTreeSet::new();
        for (streams, _) in &instances {
            let answers = standby_counts(streams);
            match answers {
                Ok(answers) => {
                    for (task, kv) in answers {
                        assert!(tasks.insert(task), "{task} answered by two standbys");
                        counts.extend(kv);
                    }
                }
                Err(e) => {
                    last = Some(e.to_string());
                    return false;
                }
            }
        }
        last = Some(format!("{} tasks, {counts:?}", tasks.len()));
        tasks.len() == 4 && counts == data.counts
    });
    assert!(answered, "standbys did not answer every count: {last:?}");
    // Typed queries with stale stores: each instance answers every key, from its active task
    // or from its standby of the other instance's task; without, only its own tasks' keys.
    for (streams, _) in &instances {
        let handle = streams.handle();
        let counts = KeyValueStoreQuery::<String, ValueAndTimestamp<i64>>::new(
            &handle,
            COUNTS,
            Serdes::string(),
        )
        .with_stale_stores();
        for (key, want) in &data.counts {
            assert_eq!(
                counts.get(key).unwrap().map(|v| v.value),
                Some(*want),
                "{key}"
            );
        }
        assert_eq!(all_counts(&counts), data.counts);
        let active_only = KeyValueStoreQuery::<String, ValueAndTimestamp<i64>>::new(
            &handle,
            COUNTS,
            Serdes::string(),
        );
        assert!(
            data.counts
                .keys()
                .any(|k| matches!(active_only.get(k), Err(Error::QueryUnavailable { .. }))),
            "some keys are the other instance's"
        );
    }
    // The same over HTTP: `?stale=true` is answered by whichever instance is asked, from
    // its active task or its standby; without it, the other instance's keys redirect.
    for (_, addr) in &instances {
        let mut redirected = 0;
        for (key, want) in &data.counts {
            let stale =
                http_get_unfollowed(addr, &format!("/stores/{COUNTS}/keys/{key}?stale=true"));
            assert_eq!(stale.status, 200, "{key} at {addr}: {}", stale.body);
            assert_eq!(stale.body["value"], *want, "{key} at {addr}");
            let fresh = http_get_unfollowed(addr, &format!("/stores/{COUNTS}/keys/{key}"));
            match fresh.status {
                200 => assert_eq!(fresh.body["value"], *want, "{key} at {addr}"),
                307 => redirected += 1,
                s => panic!("{key} at {addr}: {s} {}", fresh.body),
            }
        }
        assert!(redirected > 0, "{addr} holds some keys as a standby only");
        let all = http_get(addr, &format!("/stores/{COUNTS}/all?stale=true"));
        assert_eq!(all.status, 200, "{}", all.body);
        let entries = all.body.as_array().unwrap();
        let counts: BTreeMap<String, i64> = entries
            .iter()
            .map(|e| {
                (
                    e["key"].as_str().unwrap().to_owned(),
                    e["value"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(counts, data.counts, "{addr}: every count, once");
        assert_eq!(entries.len(), data.counts.len(), "{addr}");
    }
    for server in servers {
        server.shutdown();
    }
    for (streams, _) in &mut instances {
        streams.close().unwrap();
    }
}

/// With `rack.aware.assignment.tags=zone` and three instances in two zones, every task's
/// standby is in the other zone than its active instance (the first two instances share
/// zone `z1`, so their tasks' standbys must all be on the third), and that instance's
/// standby thread keeps exactly those tasks: its standbys answer every count of the `z1`
/// instances' tasks.
#[test]
fn standbys_go_to_another_zone() {
    let cluster = Cluster::broker();
    let topic = unique("serve-rack-in");
    cluster.create_topic(&topic, 4);
    let data = input(20, 1);
    produce_input(&cluster.bootstrap(), &topic, &data);
    let app = unique("serve-rack-app");
    let zones = ["z1", "z1", "z2"];
    let dirs: Vec<_> = zones.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    // Process ids sorting as the instances: the group's range assignor then gives the
    // first instance's tasks to the second when the first leaves, so that only the zones
    // keep their standbys off the second.
    for (i, d) in dirs.iter().enumerate() {
        let app_dir = d.path().join(&app);
        std::fs::create_dir_all(&app_dir).unwrap();
        let id = format!(r#"{{"processId":"00000000-0000-4000-8000-00000000000{i}"}}"#);
        std::fs::write(app_dir.join("kafka-streams-process-metadata"), id).unwrap();
    }
    let mut instances: Vec<(KafkaStreams, String)> = dirs
        .iter()
        .zip(zones)
        .map(|(d, zone)| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let config = cluster
                .streams_config(&app, d.path())
                .set("application.server", &addr)
                .set("num.standby.replicas", "1")
                .set("client.tag.zone", zone)
                .set("rack.aware.assignment.tags", "zone");
            let streams = KafkaStreams::new(topology::topology(&topic).unwrap(), config).unwrap();
            (streams, addr)
        })
        .collect();
    for (streams, _) in &mut instances {
        streams.start().unwrap();
    }
    let zone_of: BTreeMap<String, &str> = instances
        .iter()
        .zip(zones)
        .map(|((_, addr), zone)| (addr.clone(), zone))
        .collect();
    let handle = instances[0].0.handle();
    let mut from_z1 = BTreeMap::new();
    for (key, count) in &data.counts {
        let mut last = None;
        let placed = wait_until(TIMEOUT, || {
            last = Some(handle.query_metadata_for_key(COUNTS, key, &Serdes::string()));
            let Some(Ok(m)) = &last else { return false };
            // All three members in the description: only then is the placement final.
            m.active_host.is_some()
                && !m.standby_hosts.is_empty()
                && handle.metadata_for_all_stores().map(|a| a.len()).ok() == Some(3)
        });
        assert!(placed, "{key}: {last:?}");
        let meta = last.unwrap().unwrap();
        let active = meta.active_host.unwrap().to_string();
        let standbys: Vec<String> = meta.standby_hosts.iter().map(ToString::to_string).collect();
        assert_eq!(standbys.len(), 1, "{key}: {standbys:?}");
        assert_ne!(
            zone_of[&active], zone_of[&standbys[0]],
            "{key}: active on {active}, standby on {}",
            standbys[0]
        );
        if zone_of[&active] == "z1" {
            assert_eq!(standbys[0], instances[2].1, "{key}: the only z2 instance");
            from_z1.insert(key.clone(), *count);
        }
    }
    assert!(!from_z1.is_empty(), "the z1 instances hold tasks");
    // The z2 instance's standby thread keeps the z1 instances' tasks, and answers their
    // counts once caught up.
    let mut last = None;
    let answered = wait_until(TIMEOUT, || {
        let answers = standby_counts(&instances[2].0);
        match answers {
            Ok(answers) => {
                let counts: BTreeMap<String, i64> =
                    answers.into_iter().flat_map(|(_, kv)| kv).collect();
                last = Some(format!("{counts:?}"));
                counts == from_z1
            }
            Err(e) => {
                last = Some(e.to_string());
                false
            }
        }
    });
    assert!(answered, "the z2 standbys: {last:?}, want {from_z1:?}");
    for (streams, _) in &mut instances {
        streams.close().unwrap();
    }
}
