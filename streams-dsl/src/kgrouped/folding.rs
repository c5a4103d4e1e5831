//! `count`, `reduce` and `aggregate` written once for every grouped stream: a grouped
//! stream and its windowed forms differ only in how they aggregate with a [`Fold`], and
//! each of these operations is a fold.

use streams_core::SerdeRef;
use streams_core::serde::Serdes;

use super::fold::{AggregateFold, CountFold, Fold, ReduceFold};
use super::shape::{Shape, ShapeKey};
use super::{GeneratedStoreName, KGroupedStream};
use crate::ktable::KTable;
use crate::materialized::Materialized;

/// A grouped stream, windowed or not, that aggregates by folding its values.
pub(super) trait FoldingStream<K: Clone + 'static, V: Clone + 'static> {
    /// The kind of aggregation: plain or windowed, and how.
    type Shape: Shape;

    /// The grouping the aggregation reads.
    fn grouped(&self) -> &KGroupedStream<K, V>;

    /// The kind of aggregation, with its windows and emit strategy.
    fn shape(&self) -> Self::Shape;

    /// Adds the aggregation node named after `prefix` that folds the values with `fold`
    /// into the store set up by `materialized`, whose value serde defaults to
    /// `default_value_serde`.
    fn aggregate_fold<VA, F>(
        &self,
        prefix: &str,
        fold: F,
        materialized: Materialized<K, VA>,
        default_value_serde: Option<SerdeRef<VA>>,
        generated: GeneratedStoreName,
    ) -> KTable<ShapeKey<Self::Shape, K>, VA>
    where
        VA: Clone + 'static,
        F: Fold<K, V, VA>,
    {
        self.grouped().aggregate_shaped(
            self.shape(),
            prefix,
            fold,
            materialized,
            default_value_serde,
            generated,
        )
    }

    /// `count` and `count_with`: the store's value serde defaults to `Serdes::i64`.
    fn count_fold(
        &self,
        materialized: Materialized<K, i64>,
        generated: GeneratedStoreName,
    ) -> KTable<ShapeKey<Self::Shape, K>, i64> {
        self.aggregate_fold(
            "KSTREAM-AGGREGATE-",
            CountFold,
            materialized,
            Some(Serdes::i64()),
            generated,
        )
    }

    /// `reduce_with`: the store's value serde defaults to the grouping's.
    fn reduce_fold<R>(
        &self,
        reducer: R,
        materialized: Materialized<K, V>,
    ) -> KTable<ShapeKey<Self::Shape, K>, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let serde = self.grouped().value_serde.clone();
        self.aggregate_fold(
            "KSTREAM-REDUCE-",
            ReduceFold(reducer),
            materialized,
            serde,
            GeneratedStoreName::Next,
        )
    }

    /// `aggregate_with`: `materialized` must give the aggregate's serde. `merger` combines
    /// the aggregates of merging sessions.
    fn aggregate_fold_with<VA, I, A, M>(
        &self,
        initializer: I,
        aggregator: A,
        merger: M,
        materialized: Materialized<K, VA>,
    ) -> KTable<ShapeKey<Self::Shape, K>, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
    {
        self.aggregate_fold(
            "KSTREAM-AGGREGATE-",
            AggregateFold {
                initializer,
                aggregator,
                merger,
            },
            materialized,
            None,
            GeneratedStoreName::Next,
        )
    }
}
