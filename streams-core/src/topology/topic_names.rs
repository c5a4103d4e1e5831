//! The opt-in topic naming check: `topic.naming.convention=domain.entity.event`.
//!
//! With the check on, every topic the application names (sources, fixed sink topics,
//! global tables' topics, declared output topics) must read `<domain>.<entity>.<event>`:
//! lower-case segments of letters, digits and hyphens, each starting with a letter,
//! separated by dots. The domain may be left out when the entity names it, as in
//! `orders.placed`, so two or three segments pass. Underscores are refused: Kafka's
//! metric names turn dots into underscores, so `a.b` and `a_b` would collide.
//!
//! Topics the application derives from these (`<topic>.retry-n`, `<topic>.dead-letter`,
//! and the `<application.id>-...-repartition` and `-changelog` internal topics) are
//! checked through the name they derive from. Topics chosen per record by a dynamic sink
//! are not known in advance and are not checked.

use super::{NodeKind, SinkTopic, Topology};
use crate::config::StreamsConfig;
use crate::error::{Error, Result};
use crate::retry::DEAD_LETTER_SUFFIX;

/// Why `topic` does not follow `<domain>.<entity>.<event>`, or `None` when it does.
pub(crate) fn naming_violation(topic: &str) -> Option<String> {
    let segments: Vec<&str> = topic.split('.').collect();
    if !(2..=3).contains(&segments.len()) {
        return Some(format!(
            "it has {} dot-separated segment(s), not 2 or 3",
            segments.len()
        ));
    }
    for s in segments {
        let mut chars = s.chars();
        match chars.next() {
            None => return Some("it has an empty segment".into()),
            Some(c) if !c.is_ascii_lowercase() => {
                return Some(format!(
                    "segment '{s}' does not start with a lower-case letter"
                ));
            }
            Some(_) => {}
        }
        if let Some(bad) =
            chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Some(format!(
                "segment '{s}' holds '{bad}'; only lower-case letters, digits and '-' are allowed"
            ));
        }
    }
    None
}

impl Topology {
    /// Checks the names of the application's topics when `topic.naming.convention` asks
    /// for it (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] naming the first topic that does not follow the convention and
    /// why; [`Error::Config`] for an unknown convention.
    pub(crate) fn check_topic_names(&self, config: &StreamsConfig) -> Result<()> {
        if !config.topic_naming_checked()? {
            return Ok(());
        }
        let mut topics: Vec<String> = Vec::new();
        for node in &self.nodes {
            match &node.kind {
                NodeKind::Source { topics: t } => topics.extend(t.iter().cloned()),
                NodeKind::Sink {
                    topic: SinkTopic::Fixed(t),
                } => topics.push(t.clone()),
                _ => {}
            }
        }
        topics.extend(self.output_topics().map(|t| t.name.clone()));
        for t in topics {
            if self.internal_topics.contains_key(&t)
                || self.retry_chains().is_some_and(|c| c.is_retry_topic(&t))
            {
                continue;
            }
            let base = t.strip_suffix(DEAD_LETTER_SUFFIX).unwrap_or(&t);
            if let Some(why) = naming_violation(base) {
                return Err(Error::Topology(format!(
                    "topic '{t}' does not follow the naming convention <domain>.<entity>.<event> \
                     (topic.naming.convention): {why}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::naming_violation;

    #[test]
    fn names_follow_domain_entity_event() {
        for ok in [
            "orders.placed",
            "sales.orders.placed",
            "b2b.order-lines.shipped-v2",
        ] {
            assert_eq!(naming_violation(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("orders", "1 dot-separated"),
            ("a.b.c.d", "4 dot-separated"),
            ("Orders.placed", "lower-case letter"),
            ("orders..placed", "empty segment"),
            ("orders.placed_v2", "'_'"),
            ("orders.2placed", "lower-case letter"),
        ] {
            let got = naming_violation(bad).unwrap_or_default();
            assert!(got.contains(why), "{bad}: {got}");
        }
    }
}
