//! How instances find each other for interactive queries: the consumer group's own
//! description.
//!
//! Java's `StreamsPartitionAssignor` ships every member's `application.server` and tasks in
//! the group's subscription user data. librdkafka assigns partitions itself and lets a client
//! attach no user data, so this library reads what the group coordinator already knows:
//!
//! - **Who holds which partitions:** the group's description (`DescribeGroups`) lists every
//!   member with the assignment of the last completed rebalance, byte for byte as the
//!   leader handed it out (the consumer protocol's `Assignment`).
//! - **Where a member answers:** when `application.server` is set, each stream thread's
//!   group member carries it in its `client.id`, after the thread's name and the process
//!   id: `<name>@<process id>@<host>:<port>`. The description carries the client id, so a
//!   member and its endpoint can never disagree, and no extra topic has to exist or be
//!   read.
//! - **Where a member stands:** its client tags (`client.tag.<key>`, for rack-aware
//!   standbys) follow the process id, percent-encoded:
//!   `<name>@<process id>#<key>=<value>,<key>=<value>[@<host>:<port>]`.
//!
//! # Staleness
//!
//! A description is cached for [`MAX_AGE`] and then fetched again on demand. It reflects the
//! last completed rebalance: while the group rebalances (state other than `Stable`) the
//! routing answers "not available" rather than guess. A member that died is listed until
//! the coordinator expels it (`session.timeout.ms`) and the group rebalances; queries routed
//! to it in that window fail and are retried. None of this can produce a wrong answer: an
//! instance answers a key only from a task it holds and has restored (see
//! [`query`](super::query)), whatever the routing believed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::error::{Error, Result};
use crate::host_info::HostInfo;
use crate::percent;
use crate::runtime::kafka_errors::kafka_error;

/// How long a fetched group description is used before it is fetched again.
pub(crate) const MAX_AGE: Duration = Duration::from_millis(500);

/// How long a fetch of the group description may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The client id of stream thread `name`'s group member in instance `process_id`, with the
/// instance's client `tags` and, when it answers queries, its `server`.
pub(crate) fn member_client_id(
    name: &str,
    process_id: &str,
    tags: &BTreeMap<String, String>,
    server: Option<&HostInfo>,
) -> String {
    let mut id = format!("{name}@{process_id}");
    for (i, (key, value)) in tags.iter().enumerate() {
        id.push(if i == 0 { '#' } else { ',' });
        id.push_str(&percent::encode(key));
        id.push('=');
        id.push_str(&percent::encode(value));
    }
    if let Some(server) = server {
        id.push('@');
        id.push_str(&server.to_string());
    }
    id
}

/// The process id of a client id's process segment (`<process id>[#<tags>]`).
fn segment_process(segment: &str) -> &str {
    segment.split_once('#').map_or(segment, |(p, _)| p)
}

/// The process id and endpoint a member's client id carries, if it is one of ours.
pub(crate) fn parse_member_client_id(client_id: &str) -> Option<(String, HostInfo)> {
    let (segment, server) = split_member(client_id)?;
    Some((segment_process(segment).to_owned(), server?))
}

/// The process segment (`<process id>[#<tags>]`) of a member's client id and the endpoint
/// after it, if any.
fn split_member(client_id: &str) -> Option<(&str, Option<HostInfo>)> {
    let mut parts = client_id.rsplitn(3, '@');
    let last = parts.next()?;
    let before = parts.next()?;
    if let Ok(server) = last.parse::<HostInfo>()
        && parts.next().is_some()
    {
        return Some((before, Some(server)));
    }
    (!before.is_empty() && !last.is_empty() && !last.contains(':')).then_some((last, None))
}

/// The process id a member's client id carries, with or without an endpoint
/// (`<name>@<process id>[#<tags>][@<host>:<port>]`).
pub(crate) fn parse_member_process(client_id: &str) -> Option<String> {
    let process = segment_process(split_member(client_id)?.0);
    (!process.is_empty()).then(|| process.to_owned())
}

/// The client tags a member's client id carries (none for a client id that is not one of
/// ours, or one that carries none).
pub(crate) fn parse_member_tags(client_id: &str) -> BTreeMap<String, String> {
    let Some((_, tags)) = split_member(client_id).and_then(|(s, _)| s.split_once('#')) else {
        return BTreeMap::new();
    };
    tags.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((percent::decode(k)?, percent::decode(v)?))
        })
        .collect()
}

/// The topic partitions of a consumer protocol `Assignment` (any version: its first fields
/// never changed): `version: i16`, then `[topic: string, [partition: i32]]`.
pub(crate) fn parse_assignment(mut bytes: &[u8]) -> Option<Vec<(String, i32)>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (bytes.get(..n)?, bytes.get(n..)?);
        *bytes = rest;
        Some(head)
    }
    fn int16(bytes: &mut &[u8]) -> Option<i16> {
        Some(i16::from_be_bytes(take(bytes, 2)?.try_into().ok()?))
    }
    fn int32(bytes: &mut &[u8]) -> Option<i32> {
        Some(i32::from_be_bytes(take(bytes, 4)?.try_into().ok()?))
    }
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    int16(&mut bytes)?;
    let topics = int32(&mut bytes)?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let len = usize::try_from(int16(&mut bytes)?).ok()?;
        let topic = std::str::from_utf8(take(&mut bytes, len)?).ok()?.to_owned();
        let partitions = int32(&mut bytes)?;
        for _ in 0..partitions.max(0) {
            out.push((topic.clone(), int32(&mut bytes)?));
        }
    }
    Some(out)
}

/// One instance as the group describes it: the partitions of all its stream threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberView {
    pub(crate) process_id: String,
    pub(crate) host: HostInfo,
    pub(crate) partitions: Vec<(String, i32)>,
}

/// The group as of one description.
#[derive(Debug, Clone)]
pub(crate) struct GroupView {
    /// Whether the group was stable (no rebalance under way).
    pub(crate) stable: bool,
    /// The instances that answer queries, with the partitions of their members merged.
    pub(crate) instances: Vec<MemberView>,
    /// Every instance by process id, with or without `application.server`, with the
    /// partitions of its members merged.
    pub(crate) processes: BTreeMap<String, Vec<(String, i32)>>,
    /// The client id of every member.
    pub(crate) members: Vec<String>,
    fetched: Instant,
}

impl GroupView {
    /// The instance holding `partition` of `topic`, if any.
    pub(crate) fn owner(&self, topic: &str, partition: i32) -> Option<&MemberView> {
        self.instances.iter().find(|m| {
            m.partitions
                .iter()
                .any(|(t, p)| t == topic && *p == partition)
        })
    }
}

/// Fetches and caches the group's description, and the cluster's metadata on demand.
pub(crate) struct Discovery {
    client: BaseConsumer,
    group: String,
    /// The last description, or when the last fetch failed (so that a cluster without
    /// `DescribeGroups` is not asked on every query).
    cached: Mutex<Option<Cached>>,
}

enum Cached {
    View(Arc<GroupView>),
    /// When, and why.
    Failed(Instant, String),
}

impl Discovery {
    /// A client for the group `group` of the cluster `config` (the admin client's config)
    /// points at. Connects lazily.
    pub(crate) fn new(config: &ClientConfig, group: &str) -> Result<Self> {
        let mut config = config.clone();
        // A plain client: it describes the group, it never joins it.
        config.remove("group.id");
        let client = config
            .create()
            .map_err(|e| kafka_error("creating the group-description client", e))?;
        Ok(Discovery {
            client,
            group: group.to_owned(),
            cached: Mutex::new(None),
        })
    }

    /// The group's description, at most [`MAX_AGE`] old.
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when the coordinator cannot be asked.
    pub(crate) fn view(&self) -> Result<Arc<GroupView>> {
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match cached.as_ref() {
            Some(Cached::View(v)) if v.fetched.elapsed() < MAX_AGE => return Ok(Arc::clone(v)),
            Some(Cached::Failed(at, why)) if at.elapsed() < MAX_AGE => {
                return Err(Error::Kafka {
                    context: format!(
                        "describing consumer group '{}' (failed just now)",
                        self.group
                    ),
                    source: why.clone().into(),
                });
            }
            _ => {}
        }
        match self.fetch() {
            Ok(view) => {
                let view = Arc::new(view);
                *cached = Some(Cached::View(Arc::clone(&view)));
                Ok(view)
            }
            Err(e) => {
                let why =
                    std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string());
                *cached = Some(Cached::Failed(Instant::now(), why));
                Err(e)
            }
        }
    }

    /// The number of partitions of each of `topics` whose in-sync replicas are fewer than
    /// their replicas (the seed's under-replicated check); topics the cluster does not know
    /// are left out.
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when the cluster's metadata cannot be fetched.
    pub(crate) fn under_replicated<'a>(
        &self,
        topics: impl IntoIterator<Item = &'a String>,
    ) -> Result<BTreeMap<String, usize>> {
        let metadata = self
            .client
            .fetch_metadata(None, FETCH_TIMEOUT)
            .map_err(|e| kafka_error("fetching the cluster's metadata", e))?;
        let wanted: BTreeSet<&String> = topics.into_iter().collect();
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| wanted.contains(&t.name().to_owned()))
            .map(|t| {
                let under = t
                    .partitions()
                    .iter()
                    .filter(|p| p.isr().len() < p.replicas().len())
                    .count();
                (t.name().to_owned(), under)
            })
            .collect())
    }

    fn fetch(&self) -> Result<GroupView> {
        let list = self
            .client
            .fetch_group_list(Some(&self.group), FETCH_TIMEOUT)
            .map_err(|e| kafka_error(format!("describing consumer group '{}'", self.group), e))?;
        let mut view = GroupView {
            stable: false,
            instances: Vec::new(),
            processes: BTreeMap::new(),
            members: Vec::new(),
            fetched: Instant::now(),
        };
        let Some(group) = list.groups().iter().find(|g| g.name() == self.group) else {
            return Ok(view);
        };
        view.stable = group.state() == "Stable";
        for member in group.members() {
            let partitions = member
                .assignment()
                .and_then(parse_assignment)
                .unwrap_or_default();
            view.members.push(member.client_id().to_owned());
            if let Some(process_id) = parse_member_process(member.client_id()) {
                view.processes
                    .entry(process_id)
                    .or_default()
                    .extend(partitions.iter().cloned());
            }
            let Some((process_id, host)) = parse_member_client_id(member.client_id()) else {
                continue;
            };
            match view
                .instances
                .iter_mut()
                .find(|m| m.process_id == process_id)
            {
                Some(m) => m.partitions.extend(partitions),
                None => view.instances.push(MemberView {
                    process_id,
                    host,
                    partitions,
                }),
            }
        }
        view.instances
            .sort_by(|a, b| a.host.cmp(&b.host).then(a.process_id.cmp(&b.process_id)));
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_client_ids_round_trip() {
        let host = HostInfo::new("10.0.0.7", 7070);
        let id = member_client_id(
            "app@x-StreamThread-0-consumer",
            "p-1",
            &BTreeMap::new(),
            Some(&host),
        );
        assert_eq!(parse_member_client_id(&id), Some(("p-1".to_owned(), host)));
        assert_eq!(parse_member_client_id("app-StreamThread-0-consumer"), None);
        assert_eq!(parse_member_client_id("a@b@no-port"), None);
        assert_eq!(parse_member_process(&id), Some("p-1".to_owned()));
        assert_eq!(
            parse_member_process("app-StreamThread-0-consumer@p-2"),
            Some("p-2".to_owned())
        );
        assert_eq!(parse_member_process("app-StreamThread-0-consumer"), None);
    }

    #[test]
    fn client_tags_ride_in_the_client_id_whatever_they_contain() {
        let tags: BTreeMap<String, String> = [
            ("zone", "eu-west-1a"),
            ("odd key", "a@b#c,d=e:f%g"),
            ("ünï", "cödé"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let host = HostInfo::new("h", 7070);
        for server in [None, Some(&host)] {
            let id = member_client_id("app@x-StreamThread-1-consumer", "p-3", &tags, server);
            assert_eq!(parse_member_process(&id), Some("p-3".to_owned()), "{id}");
            assert_eq!(parse_member_tags(&id), tags, "{id}");
            assert_eq!(
                parse_member_client_id(&id),
                server.map(|h| ("p-3".to_owned(), h.clone())),
                "{id}"
            );
        }
        let untagged =
            member_client_id("app-StreamThread-0-consumer", "p-4", &BTreeMap::new(), None);
        assert_eq!(untagged, "app-StreamThread-0-consumer@p-4");
        assert!(parse_member_tags(&untagged).is_empty());
    }

    #[test]
    fn assignments_parse_as_the_consumer_protocol_writes_them() {
        let mut b = Vec::new();
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(&2i32.to_be_bytes());
        for (topic, parts) in [("orders", vec![0i32, 2]), ("app-x-repartition", vec![1])] {
            b.extend_from_slice(&(topic.len() as i16).to_be_bytes());
            b.extend_from_slice(topic.as_bytes());
            b.extend_from_slice(&(parts.len() as i32).to_be_bytes());
            for p in parts {
                b.extend_from_slice(&p.to_be_bytes());
            }
        }
        b.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            parse_assignment(&b),
            Some(vec![
                ("orders".to_owned(), 0),
                ("orders".to_owned(), 2),
                ("app-x-repartition".to_owned(), 1)
            ])
        );
        assert_eq!(parse_assignment(&b[..b.len() - 9]), None, "truncated");
        assert_eq!(parse_assignment(&[]), Some(vec![]));
    }
}
