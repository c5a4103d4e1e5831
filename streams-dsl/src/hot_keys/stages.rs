//! How the two stages of a hot-key aggregation are named and stored, derived from the
//! grouping's names and from the one `Materialized` the application gives.
//!
//! A `Materialized::as_("name")` names the partial stage's store `name-partial` and the
//! merge stage's `name-merge` (so their changelogs are `<application.id>-name-partial-changelog`
//! and `<application.id>-name-merge-changelog`); caching, logging, store type and retention
//! apply to both (retention only matters to a windowed partial store). Its value serde is
//! the partial aggregate's; its key serde, when given, is the original key's, used by the
//! merge stage. A named grouping (`Grouped::as_("g")`) names the repartition topics
//! `g-partial-repartition` and `g-merge-repartition`; unnamed, they are named after the
//! stores, as Kafka Streams names an unnamed grouping's topic.

use streams_core::SerdeRef;

use super::merge::MergeSpec;
use crate::materialized::Materialized;

/// The grouping's name and the aggregation's processor name, each stage naming its parts
/// after them.
#[derive(Debug, Clone, Default)]
pub(crate) struct StageNames {
    pub(crate) grouping: Option<String>,
    pub(crate) processor: Option<String>,
}

impl StageNames {
    /// The partial stage's processor name, when the aggregation was named.
    pub(crate) fn partial_processor(&self) -> Option<String> {
        self.processor.as_ref().map(|n| format!("{n}-partial"))
    }

    /// The partial stage's grouping name, when the grouping was named.
    pub(crate) fn partial_grouping(&self) -> Option<String> {
        self.grouping.as_ref().map(|n| format!("{n}-partial"))
    }
}

/// The partial stage's store and the merge stage's set-up.
pub(crate) struct Stages<PK, K2, VA> {
    pub(crate) partial: Materialized<PK, VA>,
    pub(crate) merge: MergeSpec<K2, VA>,
}

/// What a hot-key aggregation knows besides the application's `Materialized`.
pub(crate) struct StageInputs<K2, VA> {
    /// The serde of the partial aggregates when the `Materialized` gives none.
    pub(crate) default_value_serde: Option<SerdeRef<VA>>,
    /// The merge stage's key serde, from the original key's.
    pub(crate) merge_key_serde: Option<SerdeRef<K2>>,
    pub(crate) names: StageNames,
}

/// A `Materialized` with the settings of `m` and its name suffixed, without serdes.
fn derived<K, V, K2, V2>(m: &Materialized<K, V>, suffix: &str) -> Materialized<K2, V2> {
    Materialized {
        name: m.name.as_ref().map(|n| format!("{n}-{suffix}")),
        key_serde: None,
        value_serde: None,
        caching: m.caching,
        logging: m.logging,
        logging_config: m.logging_config.clone(),
        retention: m.retention,
        store_type: m.store_type,
    }
}

impl<PK, K2, VA> Stages<PK, K2, VA> {
    /// Both stages' set-up from the application's `m`.
    pub(crate) fn new<K>(m: &Materialized<K, VA>, inputs: StageInputs<K2, VA>) -> Self {
        let value_serde = m.value_serde.clone().or(inputs.default_value_serde);
        let mut partial = derived(m, "partial");
        partial.value_serde = value_serde.clone();
        Stages {
            partial,
            merge: MergeSpec {
                key_serde: inputs.merge_key_serde,
                value_serde,
                grouping: inputs.names.grouping,
                processor: inputs.names.processor,
                store: derived(m, "merge"),
            },
        }
    }
}
