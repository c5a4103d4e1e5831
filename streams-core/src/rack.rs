//! Rack awareness: client tags and the tag keys standbys are spread over (Kafka Streams'
//! `client.tag.<key>` and `rack.aware.assignment.tags`, KIP-708).
//!
//! Each instance labels itself with up to five tags, such as `client.tag.zone=eu-west-1a`
//! and `client.tag.cluster=k8s-2`. `rack.aware.assignment.tags=zone,cluster` then asks the
//! standby placement to put each task's standbys on instances whose values of those keys
//! differ from the active instance's and from each other's, so that losing one zone loses no
//! task's every copy. The rule itself is in the runtime's standby documentation.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};

/// The prefix of client tag keys: `client.tag.zone=eu-west-1a` tags the instance with
/// `zone` = `eu-west-1a` (Kafka Streams' `StreamsConfig.CLIENT_TAG_PREFIX`).
pub const CLIENT_TAG_PREFIX: &str = "client.tag.";

/// The key listing the tag keys standbys are spread over, comma-separated.
pub const RACK_AWARE_ASSIGNMENT_TAGS: &str = "rack.aware.assignment.tags";

/// The most client tags an instance may carry (Kafka Streams'
/// `MAX_RACK_AWARE_ASSIGNMENT_TAG_LIST_SIZE`).
pub const MAX_CLIENT_TAGS: usize = 5;
/// The longest tag key, in characters (`MAX_RACK_AWARE_ASSIGNMENT_TAG_KEY_LENGTH`).
pub const MAX_TAG_KEY_LENGTH: usize = 20;
/// The longest tag value, in characters (`MAX_RACK_AWARE_ASSIGNMENT_TAG_VALUE_LENGTH`).
pub const MAX_TAG_VALUE_LENGTH: usize = 30;

/// An instance's client tags and the tag keys its standby placement considers: see
/// [`StreamsConfig::rack_awareness`](crate::StreamsConfig::rack_awareness).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RackAwareness {
    /// This instance's tags, by key.
    pub client_tags: BTreeMap<String, String>,
    /// The keys standbys are spread over, in the configured order; every one is a key of
    /// `client_tags`.
    pub assignment_tags: Vec<String>,
}

impl RackAwareness {
    /// Checks the tags as Kafka Streams' `StreamsConfig` does.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for more than [`MAX_CLIENT_TAGS`] tags, an empty or too long key or
    /// value, or an assignment tag that is not one of this instance's tag keys.
    pub(crate) fn new(
        client_tags: BTreeMap<String, String>,
        assignment_tags: Vec<String>,
    ) -> Result<Self> {
        if client_tags.len() > MAX_CLIENT_TAGS {
            return Err(Error::Config {
                key: CLIENT_TAG_PREFIX.into(),
                reason: format!(
                    "{} client tags are set; at most {MAX_CLIENT_TAGS} are allowed",
                    client_tags.len()
                ),
            });
        }
        for (key, value) in &client_tags {
            let full = format!("{CLIENT_TAG_PREFIX}{key}");
            let bound = |what: &str, text: &str, max: usize| -> Result<()> {
                let n = text.chars().count();
                if n == 0 || n > max {
                    return Err(Error::Config {
                        key: full.clone(),
                        reason: format!(
                            "the tag {what} '{text}' has {n} characters; 1 to {max} are allowed"
                        ),
                    });
                }
                Ok(())
            };
            bound("key", key, MAX_TAG_KEY_LENGTH)?;
            bound("value", value, MAX_TAG_VALUE_LENGTH)?;
        }
        if let Some(missing) = assignment_tags
            .iter()
            .find(|t| !client_tags.contains_key(*t))
        {
            return Err(Error::Config {
                key: RACK_AWARE_ASSIGNMENT_TAGS.into(),
                reason: format!(
                    "'{missing}' has no value on this instance: set {CLIENT_TAG_PREFIX}{missing}"
                ),
            });
        }
        Ok(RackAwareness {
            client_tags,
            assignment_tags,
        })
    }

    /// Parses the comma-separated list of `rack.aware.assignment.tags` (empty entries and
    /// surrounding blanks left out, repeated keys kept once).
    pub(crate) fn parse_assignment_tags(raw: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for tag in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !out.iter().any(|t| t == tag) {
                out.push(tag.to_owned());
            }
        }
        out
    }
}

/// The hosts of up to `replicas` standbys of a task active on instance `owner`, chosen from
/// `candidates` (process ids, in order of preference, `owner` not among them), as Kafka
/// Streams' `ClientTagAwareStandbyTaskAssignor` chooses them:
///
/// - Each chosen instance, starting with `owner`, rules out every instance sharing its value
///   of an assignment tag key, unless that key has no more distinct values in the group
///   (`tags`, every instance's tags by process id) than instances chosen so far, owner
///   included: with two zones and two standbys, the second standby cannot be in a third zone,
///   so the zone no longer rules anything out.
/// - The first candidate not ruled out is chosen, and so on.
/// - When no candidate is left but standbys are, the rest go to the candidates not chosen
///   yet, in order, ignoring the tags (Java's fallback to the least loaded clients).
///
/// An instance without a value for a key neither rules out nor is ruled out on that key.
/// With no assignment tag keys, the candidates are taken in order.
pub(crate) fn spread<'a>(
    keys: &[String],
    tags: &BTreeMap<String, BTreeMap<String, String>>,
    owner: &str,
    candidates: &[&'a String],
    replicas: usize,
) -> Vec<&'a String> {
    let mut chosen: Vec<&'a String> = Vec::new();
    if !keys.is_empty() {
        let mut ruled_out = BTreeSet::new();
        rule_out(keys, tags, owner, 1, &mut ruled_out);
        for candidate in candidates {
            if chosen.len() == replicas {
                break;
            }
            if ruled_out.contains(candidate.as_str()) {
                continue;
            }
            chosen.push(candidate);
            rule_out(keys, tags, candidate, chosen.len() + 1, &mut ruled_out);
        }
    }
    for candidate in candidates {
        if chosen.len() == replicas {
            break;
        }
        if !chosen.contains(candidate) {
            chosen.push(candidate);
        }
    }
    chosen
}

/// Adds to `out` the instances sharing `used`'s value of each assignment tag key that has
/// more distinct values than `chosen` instances (Java's
/// `findClientsOnUsedClientTagDimensions`).
fn rule_out<'t>(
    keys: &[String],
    tags: &'t BTreeMap<String, BTreeMap<String, String>>,
    used: &str,
    chosen: usize,
    out: &mut BTreeSet<&'t str>,
) {
    let Some(own) = tags.get(used) else {
        return;
    };
    for key in keys {
        let Some(value) = own.get(key) else {
            continue;
        };
        let distinct: BTreeSet<&String> = tags.values().filter_map(|t| t.get(key)).collect();
        if distinct.len() <= chosen {
            continue;
        }
        out.extend(
            tags.iter()
                .filter(|(_, t)| t.get(key) == Some(value))
                .map(|(p, _)| p.as_str()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn limits_are_kafka_streams_ones() {
        let ok = RackAwareness::new(
            tags(&[("zone", "a"), ("cluster", "k")]),
            vec!["zone".into()],
        );
        assert!(ok.is_ok());
        let six = tags(&[
            ("a", "1"),
            ("b", "1"),
            ("c", "1"),
            ("d", "1"),
            ("e", "1"),
            ("f", "1"),
        ]);
        assert!(RackAwareness::new(six, Vec::new()).is_err());
        let long_key = "k".repeat(MAX_TAG_KEY_LENGTH + 1);
        assert!(RackAwareness::new(tags(&[(&long_key, "v")]), Vec::new()).is_err());
        let long_value = "v".repeat(MAX_TAG_VALUE_LENGTH + 1);
        assert!(RackAwareness::new(tags(&[("zone", &long_value)]), Vec::new()).is_err());
        assert!(RackAwareness::new(tags(&[("zone", "")]), Vec::new()).is_err());
        let Err(Error::Config { key, reason }) =
            RackAwareness::new(tags(&[("zone", "a")]), vec!["rack".into()])
        else {
            panic!("an assignment tag without a client tag must be refused");
        };
        assert_eq!(key, RACK_AWARE_ASSIGNMENT_TAGS);
        assert!(reason.contains("client.tag.rack"), "{reason}");
    }

    #[test]
    fn assignment_tags_parse_as_a_list() {
        assert_eq!(
            RackAwareness::parse_assignment_tags(" zone, ,cluster,zone"),
            vec!["zone".to_owned(), "cluster".to_owned()]
        );
        assert!(RackAwareness::parse_assignment_tags("").is_empty());
    }

    fn group(members: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, BTreeMap<String, String>> {
        members
            .iter()
            .map(|(p, t)| ((*p).to_owned(), tags(t)))
            .collect()
    }

    fn pick(
        keys: &[&str],
        group: &BTreeMap<String, BTreeMap<String, String>>,
        owner: &str,
        order: &[&str],
        replicas: usize,
    ) -> Vec<String> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let order: Vec<String> = order.iter().map(|p| (*p).to_owned()).collect();
        let candidates: Vec<&String> = order.iter().collect();
        spread(&keys, group, owner, &candidates, replicas)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn standbys_go_to_other_zones_first() {
        let zones = group(&[
            ("p1", &[("zone", "a")]),
            ("p2", &[("zone", "a")]),
            ("p3", &[("zone", "b")]),
            ("p4", &[("zone", "b")]),
        ]);
        let order = ["p2", "p3", "p4"];
        assert_eq!(pick(&["zone"], &zones, "p1", &order, 1), ["p3"]);
        // Two zones, two standbys: the second cannot leave both zones, and goes where
        // the zone of p3 no longer rules out.
        assert_eq!(pick(&["zone"], &zones, "p1", &order, 2), ["p3", "p4"]);
        assert_eq!(pick(&["zone"], &zones, "p1", &order, 3), ["p3", "p4", "p2"]);
        // Without the key, the order decides.
        assert_eq!(pick(&[], &zones, "p1", &order, 1), ["p2"]);
    }

    #[test]
    fn every_key_counts() {
        // Three zones, two clusters.
        let g = group(&[
            ("p1", &[("zone", "z1"), ("cluster", "c1")]),
            ("p2", &[("zone", "z1"), ("cluster", "c2")]),
            ("p3", &[("zone", "z2"), ("cluster", "c1")]),
            ("p4", &[("zone", "z2"), ("cluster", "c2")]),
            ("p5", &[("zone", "z3"), ("cluster", "c1")]),
            ("p6", &[("zone", "z3"), ("cluster", "c2")]),
        ]);
        let order = ["p2", "p3", "p4", "p5", "p6"];
        let one = pick(&["zone", "cluster"], &g, "p1", &order, 1);
        assert_eq!(one, ["p4"], "another zone and another cluster");
        let two = pick(&["zone", "cluster"], &g, "p1", &order, 2);
        // What p1 ruled out stays out (p5 shares its cluster); p4 adds its zone.
        assert_eq!(two, ["p4", "p6"]);
    }

    #[test]
    fn untagged_instances_are_neither_ruled_out_nor_rule_out() {
        let g = group(&[
            ("p1", &[("zone", "a")]),
            ("p2", &[("zone", "a")]),
            ("p3", &[]),
            ("p4", &[("zone", "b")]),
        ]);
        assert_eq!(pick(&["zone"], &g, "p1", &["p2", "p3", "p4"], 1), ["p3"]);
        assert_eq!(pick(&["zone"], &g, "p3", &["p1", "p2", "p4"], 1), ["p1"]);
    }
}
