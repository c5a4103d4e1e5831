//! Fault injection on a real broker: `fault-app` (tests/fault/app.rs, a logged RocksDB count
//! per key and a logged one-hour window sum per key) runs as separate OS processes that are
//! killed with SIGKILL or frozen with SIGSTOP, while a private broker
//! (tests/broker/single-node.sh) is frozen with SIGSTOP or restarted. What the application
//! committed is read back with an independent `read_committed` consumer and compared with
//! counts computed from the acknowledged input.
//!
//! Every fault is placed by observed progress (inputs seen in outputs, committed offsets),
//! never by wall-clock time; input is produced only a bounded distance ahead of the
//! application, so every fault lands mid-stream. Each case prints one `FAULT-SUMMARY` line
//! (also appended to `<target tmp>/fault-injection/summary.txt`); a failing case keeps its
//! directory (state, `<instance>.stderr` logs at `RUST_LOG=info`, or `FAULT_RUST_LOG`) and
//! quotes the tail of every instance's stderr.
//!
//! The shared broker (`tests/broker/kafka-broker.sh start`, `KAFKA_BOOTSTRAP_FILE`) serves
//! the cases that leave the broker alone (f, g, i with records too large); the private one
//! (started on first use, destroyed when the binary exits; needs java) serves those that
//! freeze or restart it, and those that need a session timeout below the 6 s minimum of a
//! default broker (kills, e and j), so that they never depend on how the shared one was
//! started. Without either, the cases needing it fail, saying why.
//! `FAULT_LONG=1` runs the long form (ten times the records, more faults); `FAULT_KEEP=1`
//! keeps the directories of passing cases too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fault/support.rs"]
mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use support::{
    App, AppSpec, Case, Driver, Expected, Guarantee, PARTITIONS, PrivateBroker, START_TIMEOUT,
    Topics, Verdict, Workload, alter_topic_config, assert_exact, assert_no_loss, coverage,
    create_topic, delete_records, fill_changelog, ms, parse_metrics, read_changelog,
    recovery_timeout, scaled, serial, shared_broker, verify, watermarks,
};

/// How long the private broker stays frozen in case d.
const FREEZE: Duration = Duration::from_secs(30);

/// Cases that kill or freeze instances run on the private broker, whose minimum session
/// timeout is 1 s (Kafka's default is 6 s): a killed member then leaves the group within 2 s,
/// and each kill costs seconds instead of tens of seconds. Records take 1 ms each, so that
/// an instance is always working through a backlog when it is killed.
fn quick_takeover(spec: AppSpec) -> AppSpec {
    spec.with("session.timeout.ms", "2000")
        .with("app.record.delay.ms", "1")
}

/// Lets the one application process the rest of the input, closes it cleanly and reads
/// what it committed, against what was produced.
fn finish(case: &Case, spec: &AppSpec, d: &mut Driver<'_>, app: &mut App) -> Verdict {
    d.until(
        &mut [app],
        recovery_timeout(),
        "processing the rest of the input",
        Driver::done,
    );
    app.close_cleanly(case);
    verify(
        case,
        spec,
        &d.inputs.workload().keys,
        &Expected::of(&d.inputs),
    )
}

/// Stops producing until `apps` have committed everything produced so far (after `fault`),
/// then lets them process the rest of the input; returns how long the catch-up took.
fn catch_up_then_finish(d: &mut Driver<'_>, apps: &mut [&mut App], fault: &str) -> Duration {
    d.producing = false;
    let took = d.until(
        apps,
        recovery_timeout(),
        &format!("catching up after {fault}"),
        Driver::caught_up,
    );
    d.producing = true;
    d.until(
        apps,
        recovery_timeout(),
        "processing the rest of the input",
        Driver::done,
    );
    took
}

fn keys() -> usize {
    scaled(40, 200)
}

fn header(
    guarantee: Guarantee,
    instances: usize,
    kills: usize,
    inputs: usize,
) -> Vec<(&'static str, String)> {
    vec![
        ("guarantee", guarantee.as_str().to_owned()),
        ("instances", instances.to_string()),
        ("kills", kills.to_string()),
        ("inputs", inputs.to_string()),
    ]
}

/// One instance on the shared broker, killed `kills` times at evenly spread points of
/// progress and restarted at once on the same state directory. The recovery time is the
/// longest time from a kill until everything produced before it was committed.
fn kill_and_restart(name: &str, guarantee: Guarantee, threads: usize, kills: usize, caching: bool) {
    let _serial = serial();
    let bootstrap = PrivateBroker::get().bootstrap.clone();
    let case = Case::new(name);
    let topics = Topics::create(&bootstrap, name, &[]);
    let mut spec = quick_takeover(AppSpec::new(&bootstrap, &topics, guarantee));
    spec.threads = threads;
    if caching {
        spec = spec.with("statestore.cache.max.bytes", "10485760");
    }
    let n = scaled(3_000, 30_000);
    let mut app = App::start(&case, &spec, "app");
    app.wait_running(&case, START_TIMEOUT);
    // Every kill lets up to a backlog more input through: production resumes after the
    // catch-up with a backlog ahead of the application, and the kill lands in it. A backlog
    // of at most half the spacing of the kills keeps the application behind the schedule,
    // so the last kill still finds half a backlog of input ahead (`busy_past`).
    let backlog = (n / (2 * (kills + 1))).max(200);
    let mut d = Driver::new(&case, &spec, Workload::new(keys(), n), n, backlog);
    let mut recovery = Duration::ZERO;
    let span = n - 2 * backlog;
    for j in 1..=kills {
        let at = span * j / (kills + 1);
        d.until(
            &mut [&mut app],
            recovery_timeout(),
            &format!("processing up to input {at} before kill {j}"),
            |d| d.busy_past(at),
        );
        app.kill();
        app.restart();
        d.producing = false;
        let took = d.until(
            &mut [&mut app],
            recovery_timeout(),
            &format!("catching up after kill {j}"),
            Driver::caught_up,
        );
        recovery = recovery.max(took);
        d.producing = true;
    }
    let v = finish(&case, &spec, &mut d, &mut app);
    let mut fields = header(guarantee, 1, kills, d.inputs.sent.len());
    fields.push(("threads", threads.to_string()));
    fields.extend(v.fields());
    fields.push(("recovery_ms", ms(recovery)));
    case.summary(&fields);
    match guarantee {
        Guarantee::ExactlyOnce => assert_exact(&case, &spec, &v),
        Guarantee::AtLeastOnce => assert_no_loss(&case, &v),
    }
}

#[test]
fn a_sigkill_and_restart_exactly_once() {
    kill_and_restart(
        "a-kill-restart",
        Guarantee::ExactlyOnce,
        1,
        scaled(5, 10),
        false,
    );
}

#[test]
fn b_sigkill_and_restart_at_least_once() {
    kill_and_restart(
        "b-kill-restart",
        Guarantee::AtLeastOnce,
        1,
        scaled(5, 10),
        false,
    );
}

#[test]
fn h_two_stream_threads_sigkill_exactly_once() {
    // With the cache on, so that commits also flush cached updates.
    kill_and_restart(
        "h-two-threads",
        Guarantee::ExactlyOnce,
        2,
        scaled(3, 6),
        true,
    );
}

/// `instances` instances, one killed half-way and not restarted: the survivors take its
/// tasks over. The recovery time is from the kill until everything produced before it was
/// committed.
fn survivors_take_over(name: &str, instances: usize) {
    let _serial = serial();
    let bootstrap = PrivateBroker::get().bootstrap.clone();
    let case = Case::new(name);
    let topics = Topics::create(&bootstrap, name, &[]);
    let spec = quick_takeover(AppSpec::new(&bootstrap, &topics, Guarantee::ExactlyOnce));
    let n = scaled(2_000, 20_000);
    let mut apps: Vec<App> = (0..instances)
        .map(|i| App::start(&case, &spec, &format!("app{i}")))
        .collect();
    for app in &apps {
        app.wait_running(&case, START_TIMEOUT);
    }
    let mut d = Driver::new(&case, &spec, Workload::new(keys(), n), n, (n / 10).max(200));
    {
        let mut all: Vec<&mut App> = apps.iter_mut().collect();
        d.until(
            &mut all,
            recovery_timeout(),
            "processing half the input",
            |d| d.busy_past(n / 2),
        );
    }
    apps[0].kill();
    let recovery = {
        let mut survivors: Vec<&mut App> = apps.iter_mut().skip(1).collect();
        catch_up_then_finish(&mut d, &mut survivors, "the kill")
    };
    for app in apps.iter_mut().skip(1) {
        app.close_cleanly(&case);
    }
    let v = verify(
        &case,
        &spec,
        &d.inputs.workload().keys,
        &Expected::of(&d.inputs),
    );
    let mut fields = header(Guarantee::ExactlyOnce, instances, 1, d.inputs.sent.len());
    fields.extend(v.fields());
    fields.push(("recovery_ms", ms(recovery)));
    case.summary(&fields);
    assert_exact(&case, &spec, &v);
}

#[test]
fn c_two_instances_one_killed_survivor_takes_over() {
    survivors_take_over("c-two-instances", 2);
}

#[test]
fn c_three_instances_one_killed_survivors_take_over() {
    survivors_take_over("c-three-instances", 3);
}

/// Two instances share a large logged store (changelog records written directly), with
/// `replicas` standby replicas each; one is killed with SIGKILL and not restarted. With a
/// standby, the survivor already follows the killed instance's changelogs and restores
/// only their tail when it takes the tasks over: under 1% of the store. Without one it
/// restores the moved tasks' share of the store. Both stay exactly-once.
fn standby_takes_over(name: &str, replicas: usize, instances: usize) {
    let _serial = serial();
    let n = scaled(2_000, 20_000);
    let (case, spec, workload, store) =
        big_store_case(name, n, &[("num.standby.replicas", replicas.to_string())]);
    let mut apps = Vec::new();
    for i in 0..instances {
        apps.push(App::start(&case, &spec, &format!("app{i}")));
        apps[i].wait_running(&case, START_TIMEOUT);
    }
    // Every task has its standbys, and they have caught up: one stateful task per input
    // partition, each with min(replicas, instances - 1) standbys.
    let wait_warm = |apps: &[App], when: &str| {
        if replicas == 0 {
            return;
        }
        let wanted = replicas.min(instances - 1);
        let deadline = Instant::now() + recovery_timeout();
        let warm = |apps: &[App]| {
            let held: Vec<_> = apps.iter().map(App::warm_standbys).collect();
            (0..PARTITIONS).all(|p| {
                let task = format!("0_{p}");
                held.iter().filter(|h| h.contains(&task)).count() >= wanted
            })
        };
        while !warm(apps) {
            if Instant::now() >= deadline {
                case.fail(format!(
                    "the tasks did not get {wanted} standbys each that finished their restore \
                     {when}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_warm(&apps, "before the input");
    let mut d = Driver::new(&case, &spec, workload, n, (n / 10).max(200));
    {
        let mut all: Vec<&mut App> = apps.iter_mut().collect();
        d.until(
            &mut all,
            recovery_timeout(),
            "processing half the input",
            |d| d.busy_past(n / 2),
        );
    }
    // Standbys the last rebalance moved (a joining instance takes over as the failover
    // successor and warms its copy up while the old one closes) may still be restoring
    // after the first wait: the kill comes once they are warm where they now are.
    wait_warm(&apps, "before the kill");
    let restored = |apps: &mut [App]| apps[1..].iter_mut().map(App::restored).sum::<u64>();
    let before = restored(&mut apps);
    apps[0].kill();
    let recovery = {
        let mut survivors: Vec<&mut App> = apps[1..].iter_mut().collect();
        catch_up_then_finish(&mut d, &mut survivors, "the kill")
    };
    let moved = restored(&mut apps) - before;
    for app in &mut apps[1..] {
        app.close_cleanly(&case);
    }
    // A standby applies each changelog record once, even while others restore through the
    // same consumer: catching up reads no more than its task's changelogs hold (a third of
    // the store, give or take the key spread, plus what the run wrote).
    let task_bound = store.records() * 6 / 5 / PARTITIONS as u64 + 2 * n as u64;
    let largest = apps
        .iter()
        .flat_map(App::standby_restores)
        .max_by_key(|(_, records)| *records);
    let v = verify(&case, &spec, &d.inputs.workload().keys, &store.expected(&d));
    let mut fields = header(Guarantee::ExactlyOnce, instances, 1, d.inputs.sent.len());
    fields.extend(v.fields());
    fields.extend([
        ("standby_replicas", replicas.to_string()),
        ("recovery_ms", ms(recovery)),
        ("store_records", store.records().to_string()),
        ("restored_by_survivors_after_kill", moved.to_string()),
        (
            "largest_standby_restore",
            largest.as_ref().map_or(0, |(_, r)| *r).to_string(),
        ),
    ]);
    case.summary(&fields);
    if let Some((task, records)) = largest.filter(|(_, r)| *r > task_bound) {
        case.fail(format!(
            "a standby of task {task} applied {records} records catching up, more \
             than the {task_bound} its changelogs can hold: it read records again"
        ));
    }
    if replicas > 0 && moved * 100 >= store.records() {
        case.fail(format!(
            "with a standby the survivors restored {moved} records after the kill, 1% or more \
             of the store's {}",
            store.records()
        ));
    }
    assert_exact(&case, &spec, &v);
}

#[test]
fn l_standby_replica_takes_over_with_a_warm_store() {
    standby_takes_over("l-standby-1", 1, 2);
}

#[test]
fn l_no_standby_takes_over_by_restoring() {
    standby_takes_over("l-standby-0", 0, 2);
}

/// With three instances the killed one's task goes to one of two survivors, and its standby
/// was placed there: where the group's assignor sends the task once its instance has left.
#[test]
fn l_standby_of_three_instances_is_where_the_task_moves() {
    standby_takes_over("l-standby-1-of-3", 1, 3);
}

/// A third instance joins a running pair sharing a large logged store. Before its threads
/// join the group it warms up the tasks the group will give it, while the pair keeps
/// processing; once it joins it restores only what was written during its last warm-up
/// step, less than the application wrote in the whole run (up to a loss of its tasks, if a
/// stalled broker fences it: that restore is a recovery, not the join's). Output stays
/// exactly-once.
#[test]
fn m_third_instance_warms_up_before_joining() {
    let _serial = serial();
    let n = scaled(3_000, 30_000);
    let (case, spec, workload, store) = big_store_case("m-warm-up-join", n, &[]);
    let mut apps = vec![App::start(&case, &spec, "app0")];
    apps[0].wait_running(&case, START_TIMEOUT);
    apps.push(App::start(&case, &spec, "app1"));
    apps[1].wait_running(&case, START_TIMEOUT);
    let mut d = Driver::new(&case, &spec, workload, n, (n / 10).max(200));
    {
        let mut pair: Vec<&mut App> = apps.iter_mut().collect();
        d.until(
            &mut pair,
            recovery_timeout(),
            "processing a third of the input",
            |d| d.busy_past(n / 3),
        );
    }
    apps.push(App::start(&case, &spec, "app2"));
    let before = d.processed();
    let warm_up = {
        let (pair, joining) = apps.split_at_mut(2);
        let joining = &joining[0];
        let mut pair: Vec<&mut App> = pair.iter_mut().collect();
        d.until(
            &mut pair,
            recovery_timeout(),
            "the pair processing while the third instance warms up",
            |_| joining.log_lines_with("warm-up done") > 0,
        )
    };
    let during_warm_up = d.processed() - before;
    let restored_by_pair = apps[0].restored() + apps[1].restored();
    let joined = {
        let mut all: Vec<&mut App> = apps.iter_mut().collect();
        catch_up_then_finish(&mut d, &mut all, "the join")
    };
    let (restored_after_join, joiner_lost_tasks) = apps[2].task_restores_before_loss();
    let pair_after_join = apps[0].restored() + apps[1].restored() - restored_by_pair;
    let warmed = apps[2].log_lines_with("warm-up task restored");
    for app in &mut apps {
        app.close_cleanly(&case);
    }
    let v = verify(&case, &spec, &d.inputs.workload().keys, &store.expected(&d));
    let mut fields = header(Guarantee::ExactlyOnce, 3, 0, d.inputs.sent.len());
    fields.extend(v.fields());
    fields.extend([
        ("store_records", store.records().to_string()),
        ("warm_up_ms", ms(warm_up)),
        ("warmed_tasks", warmed.to_string()),
        ("processed_during_warm_up", during_warm_up.to_string()),
        (
            "restored_by_joiner_after_join",
            restored_after_join.to_string(),
        ),
        ("restored_by_pair_after_join", pair_after_join.to_string()),
        ("catch_up_after_join_ms", ms(joined)),
        ("joiner_lost_tasks", joiner_lost_tasks.to_string()),
    ]);
    case.summary(&fields);
    if warmed == 0 {
        case.fail("the third instance warmed no task up before joining");
    }
    let bound = 2 * n as u64;
    if restored_after_join >= bound {
        case.fail(format!(
            "the third instance restored {restored_after_join} records after joining, more than \
             the {bound} the application can have written: its warm-up did not count"
        ));
    }
    assert_exact(&case, &spec, &v);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BrokerFault {
    /// SIGSTOP for [`FREEZE`], then SIGCONT.
    Freeze,
    /// Clean stop, then a start on the same data.
    Restart,
}

/// One instance on the private broker, which is frozen or restarted a third of the way
/// through; processing must resume by itself, in the same process. Records take 2 ms each
/// so that outputs and a transaction are in flight when the broker goes away. The recovery
/// time is from the broker's return until everything produced before the fault was
/// committed.
fn broker_fault(name: &str, guarantee: Guarantee, fault: BrokerFault) {
    let _serial = serial();
    let broker = PrivateBroker::get();
    let bootstrap = broker.bootstrap.clone();
    let case = Case::new(name);
    let topics = Topics::create(&bootstrap, name, &[]);
    let spec = AppSpec::new(&bootstrap, &topics, guarantee).with("app.record.delay.ms", "2");
    let n = scaled(1_500, 15_000);
    let mut app = App::start(&case, &spec, "app");
    app.wait_running(&case, START_TIMEOUT);
    let mut d = Driver::new(&case, &spec, Workload::new(keys(), n), n, 500);
    d.until(
        &mut [&mut app],
        recovery_timeout(),
        "processing a third of the input",
        |d| d.busy_past(n / 3),
    );
    d.producing = false;
    match fault {
        BrokerFault::Freeze => {
            let frozen = broker.freeze();
            d.hold(&mut [&mut app], FREEZE, "the broker is frozen");
            frozen.thaw();
        }
        BrokerFault::Restart => {
            broker.stop();
            broker.start_again();
        }
    }
    let recovery = d.until(
        &mut [&mut app],
        recovery_timeout(),
        "catching up after the broker came back",
        Driver::caught_up,
    );
    d.producing = true;
    let v = finish(&case, &spec, &mut d, &mut app);
    let mut fields = header(guarantee, 1, 0, d.inputs.sent.len());
    fields.push((
        "fault",
        match fault {
            BrokerFault::Freeze => format!("sigstop-{}s", FREEZE.as_secs()),
            BrokerFault::Restart => "stop-start".to_owned(),
        },
    ));
    fields.extend(v.fields());
    fields.push(("recovery_ms", ms(recovery)));
    case.summary(&fields);
    match guarantee {
        Guarantee::ExactlyOnce => assert_exact(&case, &spec, &v),
        Guarantee::AtLeastOnce => assert_no_loss(&case, &v),
    }
}

#[test]
fn d_broker_frozen_exactly_once() {
    broker_fault("d-freeze-eos", Guarantee::ExactlyOnce, BrokerFault::Freeze);
}

#[test]
fn d_broker_frozen_at_least_once() {
    broker_fault("d-freeze-alos", Guarantee::AtLeastOnce, BrokerFault::Freeze);
}

#[test]
fn d_broker_restarted_exactly_once() {
    broker_fault(
        "d-restart-eos",
        Guarantee::ExactlyOnce,
        BrokerFault::Restart,
    );
}

#[test]
fn d_broker_restarted_at_least_once() {
    broker_fault(
        "d-restart-alos",
        Guarantee::AtLeastOnce,
        BrokerFault::Restart,
    );
}

/// The start of a case whose application begins with a large logged store, on the private
/// broker: its case, spec (`settings` added), `inputs` records of workload and the store.
fn big_store_case(
    name: &str,
    inputs: usize,
    settings: &[(&str, String)],
) -> (Case, AppSpec, Workload, BigStore) {
    let bootstrap = PrivateBroker::get().bootstrap.clone();
    let case = Case::new(name);
    let topics = Topics::create(&bootstrap, name, &[]);
    let mut spec = quick_takeover(AppSpec::new(&bootstrap, &topics, Guarantee::ExactlyOnce));
    for (key, value) in settings {
        spec = spec.with(key, value);
    }
    let workload = Workload::new(keys(), inputs);
    let store = BigStore::fill_with(&bootstrap, &spec, &workload, scaled(200_000, 1_000_000));
    (case, spec, workload, store)
}

/// Changelog records of the count store written directly, so that a fresh instance has a
/// large store to restore. Each key of the workload starts from a count of its own
/// (`1 + index % 7`), which the outputs must continue from.
struct BigStore {
    fillers: usize,
    base: Vec<i64>,
}

impl BigStore {
    fn fill(bootstrap: &str, spec: &AppSpec, workload: &Workload) -> BigStore {
        let fillers = std::env::var("FAULT_RESTORE_RECORDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| scaled(1_000_000, 4_000_000));
        BigStore::fill_with(bootstrap, spec, workload, fillers)
    }

    fn fill_with(bootstrap: &str, spec: &AppSpec, workload: &Workload, fillers: usize) -> BigStore {
        let changelog = format!("{}-counts-changelog", spec.application_id);
        create_topic(
            bootstrap,
            &changelog,
            PARTITIONS,
            &[("cleanup.policy", "compact")],
        );
        let base: Vec<i64> = (0..workload.keys.len())
            .map(|k| 1 + (k % 7) as i64)
            .collect();
        let named: Vec<(String, i64)> = workload
            .keys
            .iter()
            .cloned()
            .zip(base.iter().copied())
            .collect();
        fill_changelog(bootstrap, &changelog, fillers, &named);
        BigStore { fillers, base }
    }

    fn records(&self) -> u64 {
        (self.fillers + self.base.len()) as u64
    }

    fn expected(&self, d: &Driver<'_>) -> Expected {
        let mut e = Expected::of(&d.inputs);
        for (c, b) in e.counts.iter_mut().zip(&self.base) {
            *c += b;
        }
        e.count_start.clone_from(&self.base);
        e
    }
}

#[test]
fn e_restore_longer_than_max_poll_interval() {
    let _serial = serial();
    // The private broker accepts a session timeout below 6 s, which librdkafka needs:
    // max.poll.interval.ms may not be below session.timeout.ms.
    let bootstrap = PrivateBroker::get().bootstrap.clone();
    let case = Case::new("e-long-restore");
    let topics = Topics::create(&bootstrap, "e", &[]);
    let max_poll_ms: u64 = 3_000;
    let spec = AppSpec::new(&bootstrap, &topics, Guarantee::ExactlyOnce)
        .with(
            "main.consumer.max.poll.interval.ms",
            max_poll_ms.to_string(),
        )
        .with("session.timeout.ms", max_poll_ms.to_string());
    let n = scaled(2_000, 20_000);
    let workload = Workload::new(keys(), n);
    let store = BigStore::fill(&bootstrap, &spec, &workload);
    let mut d = Driver::new(&case, &spec, workload, n, n);
    let started = Instant::now();
    let mut app = App::start(&case, &spec, "app");
    d.until(
        &mut [&mut app],
        recovery_timeout(),
        "restoring the store and processing the input",
        Driver::done,
    );
    let running_at = app.first_line_at(|l| l == "STATE RUNNING");
    let rebalances = app
        .lines()
        .iter()
        .filter(|l| *l == "STATE REBALANCING")
        .count();
    let restored = app.restored();
    app.close_cleanly(&case);
    let v = verify(&case, &spec, &d.inputs.workload().keys, &store.expected(&d));
    let restore_ms = running_at.map(|t| t.duration_since(started));
    let mut fields = header(Guarantee::ExactlyOnce, 1, 0, d.inputs.sent.len());
    fields.extend(v.fields());
    fields.extend([
        ("recovery_ms", restore_ms.map_or_else(|| "-".into(), ms)),
        ("store_records", store.records().to_string()),
        ("restored", restored.to_string()),
        ("rebalances", rebalances.to_string()),
        ("max_poll_interval_ms", max_poll_ms.to_string()),
    ]);
    case.summary(&fields);
    if restore_ms.is_none_or(|r| r < Duration::from_millis(max_poll_ms)) {
        case.fail(format!(
            "precondition not met: the restore took {restore_ms:?}, not longer than \
             max.poll.interval.ms ({max_poll_ms} ms); raise FAULT_RESTORE_RECORDS (now {})",
            store.fillers
        ));
    }
    // A restore that starts over restores more than the changelogs hold (the window store's
    // changelog holds at most one record per input).
    let bound = store.records() + n as u64;
    if restored > bound {
        case.fail(format!(
            "restore loop: {restored} changelog records restored, the changelogs hold at most \
             {bound}"
        ));
    }
    assert_exact(&case, &spec, &v);
}

/// Under exactly-once a SIGKILL costs no full restore: each store records in its own files
/// the changelog offset of the last commit, and the restart keeps the files and restores
/// only what was written after their last flush. The first start restores the whole store;
/// the restart after the kill must restore less than the application itself wrote to its
/// changelogs in the whole run (two changelog records per input at most), and the output
/// stays exactly-once.
#[test]
fn k_exactly_once_restart_keeps_the_stores() {
    let _serial = serial();
    let n = scaled(2_000, 20_000);
    let (case, spec, workload, store) = big_store_case("k-eos-restart-keeps-stores", n, &[]);
    let backlog = (n / 4).max(200);
    let mut d = Driver::new(&case, &spec, workload, n, backlog);
    let mut app = App::start(&case, &spec, "app");
    d.until(
        &mut [&mut app],
        recovery_timeout(),
        "restoring the store and processing half the input",
        |d| d.busy_past(n / 2),
    );
    app.kill();
    let first_run = app.restored();
    app.restart();
    let recovery = catch_up_then_finish(&mut d, &mut [&mut app], "the kill");
    let after_kill = app.restored() - first_run;
    app.close_cleanly(&case);
    let v = verify(&case, &spec, &d.inputs.workload().keys, &store.expected(&d));
    let mut fields = header(Guarantee::ExactlyOnce, 1, 1, d.inputs.sent.len());
    fields.extend(v.fields());
    fields.extend([
        ("recovery_ms", ms(recovery)),
        ("store_records", store.records().to_string()),
        ("restored_first_start", first_run.to_string()),
        ("restored_after_kill", after_kill.to_string()),
    ]);
    case.summary(&fields);
    if first_run < store.records() {
        case.fail(format!(
            "precondition not met: the first start restored {first_run} records, the store \
             holds {}",
            store.records()
        ));
    }
    let bound = 2 * n as u64;
    if after_kill >= bound {
        case.fail(format!(
            "the restart after the kill restored {after_kill} changelog records: more than \
             the {bound} the application can have written, so the store was not kept"
        ));
    }
    assert_exact(&case, &spec, &v);
}

#[test]
fn f_second_instance_joins_during_a_long_restore() {
    let _serial = serial();
    let bootstrap = shared_broker();
    let case = Case::new("f-join-during-restore");
    let topics = Topics::create(&bootstrap, "f", &[]);
    let spec = AppSpec::new(&bootstrap, &topics, Guarantee::ExactlyOnce)
        .with("statestore.cache.max.bytes", "10485760");
    let n = scaled(2_000, 20_000);
    let workload = Workload::new(keys(), n);
    let store = BigStore::fill(&bootstrap, &spec, &workload);
    let mut d = Driver::new(&case, &spec, workload, n, n);
    let mut first = App::start(&case, &spec, "app0");
    // Restoring: tasks assigned (or some restored) and not yet running.
    let restoring = first.wait_line(START_TIMEOUT, |l| {
        parse_metrics(l)
            .is_some_and(|m| m.state == "REBALANCING" && (m.tasks > 0 || m.restored > 0))
    });
    if let Err(e) = restoring {
        case.fail(format!("app0 was never seen restoring: {e}"));
    }
    let mut second = App::start(&case, &spec, "app1");
    if first.first_line_at(|l| l == "STATE RUNNING").is_some() {
        case.fail(format!(
            "precondition not met: app0 finished restoring before app1 joined; raise \
             FAULT_RESTORE_RECORDS (now {})",
            store.fillers
        ));
    }
    let took = d.until(
        &mut [&mut first, &mut second],
        recovery_timeout(),
        "restoring and processing with two instances",
        Driver::done,
    );
    let restored = first.restored() + second.restored();
    first.close_cleanly(&case);
    second.close_cleanly(&case);
    let v = verify(&case, &spec, &d.inputs.workload().keys, &store.expected(&d));
    let mut fields = header(Guarantee::ExactlyOnce, 2, 0, d.inputs.sent.len());
    fields.extend(v.fields());
    fields.extend([
        ("recovery_ms", ms(took)),
        ("store_records", store.records().to_string()),
        ("restored", restored.to_string()),
    ]);
    case.summary(&fields);
    assert_exact(&case, &spec, &v);
}

/// Kafka Streams' rule: the restore consumer runs with `auto.offset.reset=none`, so a
/// checkpointed changelog offset below the log start offset raises an
/// `InvalidOffsetException`; the task is corrupted, its store wiped and restored from the log
/// start. Whatever the deleted records held is gone: a key's count continues from its last
/// record that is still in the changelog, or from 0 when none is.
///
/// Instance A counts batch 1 and closes cleanly (its checkpoint: the changelog's end then).
/// Instance B, with a state directory of its own, counts batch 2 (half the keys) and closes.
/// The changelog is cut in the middle of B's records (DeleteRecords; the count changelog is
/// `compact` only, which refuses it, so it is made `compact,delete` first), which is above
/// A's checkpoint. A restarts on its old state directory and counts batch 3. Window sums
/// (their changelog untouched) cover all three batches.
#[test]
fn g_changelog_truncated_below_the_checkpoint() {
    let _serial = serial();
    let bootstrap = shared_broker();
    let case = Case::new("g-truncated-changelog");
    let topics = Topics::create(&bootstrap, "g", &[]);
    let spec = AppSpec::new(&bootstrap, &topics, Guarantee::AtLeastOnce);
    let changelog = format!("{}-counts-changelog", spec.application_id);
    let batch = scaled(600, 6_000);
    let workload = Workload::new(keys(), 3 * batch);
    let mut d = Driver::new(&case, &spec, workload, batch, batch);

    let mut a = App::start(&case, &spec, "a");
    a.wait_running(&case, START_TIMEOUT);
    d.until(
        &mut [&mut a],
        recovery_timeout(),
        "A counting batch 1",
        Driver::done,
    );
    a.close_cleanly(&case);
    let checkpoint: Vec<i64> = watermarks(&bootstrap, &changelog, PARTITIONS)
        .iter()
        .map(|(_, h)| *h)
        .collect();

    let mut b = App::start(&case, &spec, "b");
    b.wait_running(&case, START_TIMEOUT);
    d.subset = d.inputs.workload().all().into_iter().step_by(2).collect();
    d.target += batch;
    d.until(
        &mut [&mut b],
        recovery_timeout(),
        "B counting batch 2",
        Driver::done,
    );
    b.close_cleanly(&case);
    drop(b);

    let records = read_changelog(&bootstrap, &changelog);
    let end: Vec<i64> = watermarks(&bootstrap, &changelog, PARTITIONS)
        .iter()
        .map(|(_, h)| *h)
        .collect();
    let cut: Vec<i64> = (0..PARTITIONS as usize)
        .map(|p| {
            assert!(
                end[p] - checkpoint[p] >= 2,
                "batch 2 wrote {} changelog records to partition {p}; the cut needs two",
                end[p] - checkpoint[p]
            );
            checkpoint[p] + (end[p] - checkpoint[p]) / 2
        })
        .collect();
    alter_topic_config(
        &bootstrap,
        &changelog,
        &[("cleanup.policy", "compact,delete")],
    );
    delete_records(&bootstrap, &changelog, &cut);
    let starts: Vec<i64> = watermarks(&bootstrap, &changelog, PARTITIONS)
        .iter()
        .map(|(l, _)| *l)
        .collect();
    assert_eq!(
        starts, cut,
        "the changelog's log start offsets after DeleteRecords"
    );
    let mut kept: BTreeMap<String, i64> = BTreeMap::new();
    for (p, o, key, count) in &records {
        if *o >= cut[*p as usize] {
            kept.insert(key.clone(), *count);
        }
    }
    let keys = d.inputs.workload().keys.clone();
    let base: Vec<i64> = keys
        .iter()
        .map(|k| kept.get(k).copied().unwrap_or(0))
        .collect();
    let count_since: Vec<i64> = watermarks(&bootstrap, &topics.counts, PARTITIONS)
        .iter()
        .map(|(_, h)| *h)
        .collect();

    let before_batch_3 = d.inputs.sent.len();
    a.restart();
    a.wait_running(&case, START_TIMEOUT);
    d.subset = d.inputs.workload().all();
    d.target += batch;
    d.until(
        &mut [&mut a],
        recovery_timeout(),
        "A counting batch 3",
        Driver::done,
    );
    a.close_cleanly(&case);

    let batch_3 = d.inputs.counts(before_batch_3..d.inputs.sent.len());
    let mut expected = Expected::of(&d.inputs);
    expected.counts = base.iter().zip(&batch_3).map(|(b, n)| b + n).collect();
    expected.count_start.clone_from(&base);
    expected.count_since = count_since;
    let v = verify(&case, &spec, &keys, &expected);
    let mut fields = header(Guarantee::AtLeastOnce, 2, 0, d.inputs.sent.len());
    fields.extend(v.fields());
    fields.extend([
        ("recovery_ms", "-".to_owned()),
        (
            "keys_kept",
            base.iter().filter(|b| **b > 0).count().to_string(),
        ),
        ("checkpoint", format!("{checkpoint:?}")),
        ("log_start", format!("{cut:?}")),
    ]);
    case.summary(&fields);
    // No fault but the truncation, so at-least-once is exact here too.
    assert_exact(&case, &spec, &v);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeliveryFault {
    /// The count outputs of the keys of partition 0 are larger than the count topic's
    /// `max.message.bytes`: a non-retriable error for the production handler.
    TooLarge,
    /// The private broker is frozen longer than `producer.message.timeout.ms`: a retriable
    /// error, which must never be skipped (Kafka Streams: the task is corrupted and its
    /// input reprocessed).
    Timeout,
}

/// Under at-least-once with the production exception handler `handler`, no input offset may
/// be committed past an output that was neither written nor dead-lettered. The one
/// exception: a record too large under `continue`, which that handler drops on purpose.
fn delivery_failure(name: &str, fault: DeliveryFault, handler: &str) {
    let _serial = serial();
    let shared = shared_broker();
    let broker = match fault {
        DeliveryFault::TooLarge => None,
        DeliveryFault::Timeout => Some(PrivateBroker::get()),
    };
    let bootstrap = broker.map_or(shared, |b| b.bootstrap.clone());
    let case = Case::new(name);
    let limit: &[(&str, &str)] = match fault {
        DeliveryFault::TooLarge => &[("max.message.bytes", "8192")],
        DeliveryFault::Timeout => &[],
    };
    let topics = Topics::create(&bootstrap, name, limit);
    topics.create_dead_letter_topics(&bootstrap);
    let n = scaled(1_500, 15_000);
    let workload = Workload::new(keys(), n);
    let mut spec = AppSpec::new(&bootstrap, &topics, Guarantee::AtLeastOnce)
        .with("default.production.exception.handler", handler);
    let mut large = HashSet::new();
    match fault {
        DeliveryFault::TooLarge => {
            // Keys of one partition only: a rejected batch holds no record of other keys.
            large = (0..workload.keys.len())
                .filter(|k| workload.partition(*k) == 0)
                .collect();
            assert!(!large.is_empty(), "no key falls in partition 0");
            let names: Vec<&str> = large.iter().map(|k| workload.keys[*k].as_str()).collect();
            spec = spec
                .with("app.large.keys", names.join(","))
                .with("app.large.bytes", "65536");
        }
        DeliveryFault::Timeout => {
            spec = spec
                .with("producer.message.timeout.ms", "3000")
                .with("app.record.delay.ms", "2");
        }
    }
    let skippable = if handler == "continue" {
        large.clone()
    } else {
        HashSet::new()
    };
    let mut app = App::start(&case, &spec, "app");
    app.wait_running(&case, START_TIMEOUT);
    let mut d = Driver::new(&case, &spec, workload, n, 500);
    let mut recovery = None;
    if let Some(broker) = broker {
        d.until(
            &mut [&mut app],
            recovery_timeout(),
            "processing a third of the input",
            |d| d.busy_past(n / 3),
        );
        d.producing = false;
        let frozen = broker.freeze();
        d.hold(
            &mut [&mut app],
            Duration::from_secs(9),
            "the broker is frozen",
        );
        frozen.thaw();
        recovery = Some(d.until(
            &mut [&mut app],
            recovery_timeout(),
            "catching up after the broker came back",
            Driver::caught_up,
        ));
        d.producing = true;
    }
    d.until(
        &mut [&mut app],
        recovery_timeout(),
        "processing the input",
        Driver::done,
    );
    let metrics = app.metrics().unwrap_or_default();
    app.close_cleanly(&case);
    let c = coverage(&case, &spec, &mut d, &skippable);
    let mut fields = header(Guarantee::AtLeastOnce, 1, 0, d.inputs.sent.len());
    fields.extend([
        ("handler", handler.to_owned()),
        ("outputs", c.written.to_string()),
        ("keys_short", c.keys_short.to_string()),
        ("keys_over", "-".to_owned()),
        ("duplicates", "-".to_owned()),
        ("recovery_ms", recovery.map_or_else(|| "-".into(), ms)),
        ("committed_inputs", c.committed_inputs.to_string()),
        ("missing", c.missing.to_string()),
        ("dead_letters", c.dead_letters.to_string()),
        ("skipped_too_large", c.skipped.to_string()),
        ("app_dropped", metrics.dropped.to_string()),
        ("app_dead_lettered", metrics.dead_lettered.to_string()),
    ]);
    case.summary(&fields);
    if c.committed_inputs < d.inputs.sent.len() {
        case.fail(format!(
            "only {} of {} inputs were committed",
            c.committed_inputs,
            d.inputs.sent.len()
        ));
    }
    if c.missing > 0 {
        case.fail(format!(
            "{} committed inputs have outputs that were neither written nor dead-lettered \
             (handler {handler}); for example {:#?}",
            c.missing, c.examples
        ));
    }
    if handler == "dead-letter" && c.dead_letters_without_reason > 0 {
        case.fail(format!(
            "{} dead letters lack the dead-letter-reason header",
            c.dead_letters_without_reason
        ));
    }
    if fault == DeliveryFault::TooLarge && handler == "dead-letter" && c.dead_letters == 0 {
        case.fail("no record too large was dead-lettered");
    }
}

#[test]
fn i_output_too_large_continue() {
    delivery_failure("i-too-large-continue", DeliveryFault::TooLarge, "continue");
}

#[test]
fn i_output_too_large_dead_letter() {
    delivery_failure(
        "i-too-large-dead-letter",
        DeliveryFault::TooLarge,
        "dead-letter",
    );
}

#[test]
fn i_delivery_timeout_continue() {
    delivery_failure("i-timeout-continue", DeliveryFault::Timeout, "continue");
}

#[test]
fn i_delivery_timeout_dead_letter() {
    delivery_failure(
        "i-timeout-dead-letter",
        DeliveryFault::Timeout,
        "dead-letter",
    );
}

/// What an instance logs (at `warn`) when its stream thread closes its tasks without
/// committing and rejoins the group.
const DIRTY_REJOIN: &str = "closing them without committing and rejoining";
/// What it logs (at `warn`) when the consumer reports its assignment lost.
const PARTITIONS_LOST: &str = "partitions lost";

/// Two instances under exactly-once; one is frozen with SIGSTOP for longer than its session
/// timeout, so that the group drops it and the other takes its tasks over (once the broker
/// has aborted the frozen instance's open transaction), then continued with SIGCONT. In the
/// same process, it must find its assignment lost, close those tasks without committing,
/// rejoin and go on working. The long form freezes the two instances in turn. The recovery
/// time is from the freeze until the other instance has committed everything produced before
/// it; the rejoin time from SIGCONT until the continued instance runs tasks again.
#[test]
fn j_frozen_instance_finds_its_partitions_lost() {
    let _serial = serial();
    let bootstrap = PrivateBroker::get().bootstrap.clone();
    let case = Case::new("j-lost-partitions");
    let topics = Topics::create(&bootstrap, "j", &[]);
    let spec = quick_takeover(AppSpec::new(&bootstrap, &topics, Guarantee::ExactlyOnce));
    let n = scaled(2_000, 20_000);
    let freezes = scaled(1, 4);
    let mut apps: Vec<App> = (0..2)
        .map(|i| App::start(&case, &spec, &format!("app{i}")))
        .collect();
    for app in &apps {
        app.wait_running(&case, START_TIMEOUT);
    }
    let mut d = Driver::new(&case, &spec, Workload::new(keys(), n), n, (n / 10).max(200));
    let mut recovery = Duration::ZERO;
    let mut rejoin = Duration::ZERO;
    let mut longest_freeze = Duration::ZERO;
    let mut lost = 0;
    let mut dirty = 0;
    for j in 1..=freezes {
        let at = n * j / (freezes + 1);
        {
            let mut all: Vec<&mut App> = apps.iter_mut().collect();
            d.until(
                &mut all,
                recovery_timeout(),
                &format!("processing up to input {at} before freeze {j}"),
                |d| d.busy_past(at),
            );
        }
        let (f, o) = if j % 2 == 1 { (0, 1) } else { (1, 0) };
        let tasks = apps[f].metrics().map_or(0, |m| m.tasks);
        if tasks == 0 {
            case.fail(format!(
                "precondition not met: app{f} runs no task before freeze {j}"
            ));
        }
        let lost_before = apps[f].log_lines_with(PARTITIONS_LOST);
        let dirty_before = apps[f].log_lines_with(DIRTY_REJOIN);
        let mark = apps[f].line_count();
        let mark_other = apps[o].line_count();
        let frozen = apps[f].freeze();
        let frozen_at = Instant::now();
        d.producing = false;
        let took = d.until(
            &mut [&mut apps[o]],
            recovery_timeout(),
            &format!("app{o} taking over the tasks of the frozen app{f} (freeze {j})"),
            Driver::caught_up,
        );
        // The outputs can be caught up before the takeover, when the frozen instance had
        // processed and committed all its input: the takeover itself is waited for.
        let all_tasks = |l: &str| parse_metrics(l).is_some_and(|m| m.tasks == PARTITIONS as u64);
        if let Err(e) = apps[o].wait_line_from(mark_other, recovery_timeout(), all_tasks) {
            let taken = apps[o].metrics().map_or(0, |m| m.tasks);
            case.fail(format!(
                "app{o} caught up with app{f} frozen, but runs {taken} tasks, not all \
                 {PARTITIONS} (freeze {j}): {e}"
            ));
        }
        recovery = recovery.max(took).max(frozen_at.elapsed());
        longest_freeze = longest_freeze.max(frozen_at.elapsed());
        frozen.thaw();
        let thawed = Instant::now();
        let rebalancing =
            match apps[f].wait_line_from(mark, recovery_timeout(), |l| l == "STATE REBALANCING") {
                Ok(i) => i,
                Err(e) => case.fail(format!(
                    "app{f} never left RUNNING after SIGCONT (freeze {j}): {e}; last state: {}",
                    apps[f].last_state()
                )),
            };
        let running = apps[f].wait_line_from(rebalancing, recovery_timeout(), |l| {
            parse_metrics(l).is_some_and(|m| m.state == "RUNNING" && m.tasks > 0)
        });
        if let Err(e) = running {
            case.fail(format!(
                "app{f} did not rejoin and run tasks again after SIGCONT (freeze {j}): {e}; \
                 last state: {}",
                apps[f].last_state()
            ));
        }
        rejoin = rejoin.max(thawed.elapsed());
        lost += apps[f].log_lines_with(PARTITIONS_LOST) - lost_before;
        let closed_dirty = apps[f].log_lines_with(DIRTY_REJOIN) - dirty_before;
        if closed_dirty == 0 {
            case.fail(format!(
                "app{f} rejoined after SIGCONT without logging that it closed its tasks \
                 without committing ('{DIRTY_REJOIN}', at warn) (freeze {j})"
            ));
        }
        dirty += closed_dirty;
        d.producing = true;
    }
    {
        let mut all: Vec<&mut App> = apps.iter_mut().collect();
        d.until(
            &mut all,
            recovery_timeout(),
            "processing the rest of the input",
            Driver::done,
        );
    }
    for app in &mut apps {
        app.close_cleanly(&case);
    }
    let v = verify(
        &case,
        &spec,
        &d.inputs.workload().keys,
        &Expected::of(&d.inputs),
    );
    let mut fields = header(Guarantee::ExactlyOnce, 2, 0, d.inputs.sent.len());
    fields.extend([
        ("fault", "sigstop-instance".to_owned()),
        ("freezes", freezes.to_string()),
        ("frozen_ms", ms(longest_freeze)),
    ]);
    fields.extend(v.fields());
    fields.extend([
        ("recovery_ms", ms(recovery)),
        ("rejoin_ms", ms(rejoin)),
        ("partitions_lost", lost.to_string()),
        ("dirty_rejoins", dirty.to_string()),
    ]);
    case.summary(&fields);
    assert_exact(&case, &spec, &v);
}
