//! The retry topics of a topology's sources under the `retry` processing handler.
//!
//! Each source topic of a sub-topology that creates tasks gets its retry topics
//! (`<topic>.retry-1` ...) as further topics of the same source node: a retried record is
//! read with the same serdes and timestamp extractor and goes through the same processors.
//! The retry topics are created with the topic's partition count, so a record retried by
//! task `s_p` comes back to task `s_p`. Repartition topics, which the application writes
//! itself, and the topics of global stores, which have no producer to retry with, get
//! none. Retry topics are always read from their beginning when no offset is committed,
//! whatever the source's reset policy: every record on them was written by this
//! application to be processed.

use std::sync::Arc;
use std::time::Duration;

use super::{NodeKind, Topology};
use crate::config::{ErrorHandling, StreamsConfig};
use crate::error::Result;
use crate::options::OffsetReset;
use crate::retry::RetryChains;

impl Topology {
    /// Under the `retry` processing handler, adds the retry topics `retry.delays.ms` asks
    /// for (see [`enable_retry_topics`](Self::enable_retry_topics)); otherwise does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) for an invalid handler or delay list.
    pub(crate) fn apply_retry_handler(&mut self, config: &StreamsConfig) -> Result<()> {
        if config.processing_handling()? == ErrorHandling::Retry {
            self.enable_retry_topics(config.retry_delays()?);
        }
        Ok(())
    }

    /// Adds the retry topics of every source topic that can have them, one per delay.
    /// Calling it again replaces nothing: a topology's retry chains are set once.
    pub(crate) fn enable_retry_topics(&mut self, delays: Vec<Duration>) {
        if self.retry.is_some() {
            return;
        }
        let global_sources: Vec<usize> = self.global_stores.iter().map(|g| g.source).collect();
        let mut mains = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if global_sources.contains(&i) {
                continue;
            }
            if let NodeKind::Source { topics } = &node.kind {
                mains.extend(
                    topics
                        .iter()
                        .filter(|t| !self.internal_topics.contains_key(*t))
                        .cloned()
                        .map(|t| (i, t)),
                );
            }
        }
        let chains = RetryChains::new(delays, mains.iter().map(|(_, t)| t.as_str()));
        for (i, main) in &mains {
            let retry_topics = chains.retry_topics_of(main);
            for t in &retry_topics {
                self.offset_resets.insert(t.clone(), OffsetReset::Earliest);
            }
            if let NodeKind::Source { topics } = &mut self.nodes[*i].kind {
                topics.extend(retry_topics);
            }
        }
        self.retry = Some(chains);
    }

    /// The retry chains, when the `retry` handler is on.
    pub(crate) fn retry_chains(&self) -> Option<&Arc<RetryChains>> {
        self.retry.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::serde::Serdes;
    use crate::topology::{InternalTopic, InternalTopicKind};
    use crate::{Consumed, Produced, Result, Topology};

    #[test]
    fn sources_read_their_retry_topics_and_repartition_topics_do_not() -> Result<()> {
        let mut topology = Topology::new();
        topology
            .add_source(
                "in",
                &["orders.placed", "orders.amended"],
                Consumed::with(Serdes::string(), Serdes::string()),
            )?
            .add_sink(
                "out",
                "orders.copied",
                Produced::with(Serdes::string(), Serdes::string()),
                &["in"],
            )?
            .add_sink(
                "to-rep",
                "rep",
                Produced::with(Serdes::string(), Serdes::string()),
                &["in"],
            )?
            .add_source(
                "from-rep",
                &["rep"],
                Consumed::with(Serdes::string(), Serdes::string()),
            )?
            .add_sink(
                "rep-out",
                "orders.rekeyed",
                Produced::with(Serdes::string(), Serdes::string()),
                &["from-rep"],
            )?;
        topology.add_internal_topic(InternalTopic {
            name: "rep".into(),
            kind: InternalTopicKind::Repartition,
            partitions: None,
        });
        topology.enable_retry_topics(vec![Duration::from_secs(1), Duration::from_secs(2)]);
        topology.enable_retry_topics(vec![Duration::from_secs(1)]);
        assert_eq!(
            topology.source_topics(),
            [
                "orders.placed",
                "orders.amended",
                "orders.placed.retry-1",
                "orders.placed.retry-2",
                "orders.amended.retry-1",
                "orders.amended.retry-2",
                "rep",
            ]
        );
        let chains = topology
            .retry_chains()
            .map(|c| c.main_topic("orders.amended.retry-2"));
        assert_eq!(chains, Some("orders.amended"));
        Ok(())
    }
}
