//! How count, reduce and aggregate fold a value into an aggregate, shared by every
//! aggregation processor.

/// Folds values into an aggregate. `initial` is what a new aggregate starts from (`None`
/// for reduce, whose first value is the aggregate as it is).
pub(crate) trait Fold<K, V, VA>: Send + Sync + 'static {
    /// The aggregate before the first value: Java's initializer.
    fn initial(&self) -> Option<VA>;

    /// Folds `value` into `agg` (which is [`initial`](Fold::initial) for a new aggregate).
    fn apply(&self, key: &K, value: V, agg: Option<VA>) -> VA;

    /// Merges the aggregate of a session into `agg` when sessions merge.
    fn merge(&self, key: &K, agg: Option<VA>, session: VA) -> VA;
}

/// `count`: starts at 0 and adds one per record; sessions add up.
pub(crate) struct CountFold;

impl<K: 'static, V: 'static> Fold<K, V, i64> for CountFold {
    fn initial(&self) -> Option<i64> {
        Some(0)
    }

    fn apply(&self, _key: &K, _value: V, agg: Option<i64>) -> i64 {
        agg.unwrap_or(0) + 1
    }

    fn merge(&self, _key: &K, agg: Option<i64>, session: i64) -> i64 {
        agg.unwrap_or(0) + session
    }
}

/// `reduce`: the first value as it is, then `reducer(aggregate, value)`.
pub(crate) struct ReduceFold<R>(pub(crate) R);

impl<K: 'static, V: 'static, R> Fold<K, V, V> for ReduceFold<R>
where
    R: Fn(V, V) -> V + Send + Sync + 'static,
{
    fn initial(&self) -> Option<V> {
        None
    }

    fn apply(&self, _key: &K, value: V, agg: Option<V>) -> V {
        match agg {
            None => value,
            Some(agg) => (self.0)(agg, value),
        }
    }

    fn merge(&self, _key: &K, agg: Option<V>, session: V) -> V {
        match agg {
            None => session,
            Some(agg) => (self.0)(agg, session),
        }
    }
}

/// `aggregate`: `aggregator(key, value, aggregate)` from `initializer()`; sessions merge
/// with `merger(key, aggregate, session aggregate)`.
pub(crate) struct AggregateFold<I, A, M> {
    pub(crate) initializer: I,
    pub(crate) aggregator: A,
    pub(crate) merger: M,
}

impl<K: 'static, V: 'static, VA: 'static, I, A, M> Fold<K, V, VA> for AggregateFold<I, A, M>
where
    I: Fn() -> VA + Send + Sync + 'static,
    A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
{
    fn initial(&self) -> Option<VA> {
        Some((self.initializer)())
    }

    fn apply(&self, key: &K, value: V, agg: Option<VA>) -> VA {
        let agg = agg.unwrap_or_else(&self.initializer);
        (self.aggregator)(key, value, agg)
    }

    fn merge(&self, key: &K, agg: Option<VA>, session: VA) -> VA {
        let agg = agg.unwrap_or_else(&self.initializer);
        (self.merger)(key, agg, session)
    }
}

/// The merger of aggregations that have none (only sessions merge).
pub(crate) fn no_merger<K, VA>(_key: &K, agg: VA, _session: VA) -> VA {
    agg
}
