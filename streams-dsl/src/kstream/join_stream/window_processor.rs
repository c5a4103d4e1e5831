//! The node that fills one side's window store: Kafka Streams' `KStreamJoinWindow`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::WindowStore;
use streams_core::{Record, Result, SerdeRef};
use streams_state::TypedWindowStore;

/// Puts each record of one side into that side's window store and forwards it (Kafka
/// Streams' `KStreamJoinWindow`). Records with a null key or value are forwarded but not
/// stored: they never join.
pub(super) struct JoinWindowProcessor<K, V> {
    pub(super) store_name: Arc<str>,
    pub(super) key_serde: SerdeRef<K>,
    pub(super) value_serde: SerdeRef<V>,
    pub(super) store: Option<Rc<RefCell<TypedWindowStore<K, V>>>>,
}

impl<K: Clone + 'static, V: Clone + 'static> JoinWindowProcessor<K, V> {
    /// Makes one processor per task filling the window store `store`.
    pub(super) fn supplier(
        store: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> impl Fn() -> Self + Send + Sync + 'static {
        let store_name: Arc<str> = store.into();
        move || JoinWindowProcessor {
            store_name: Arc::clone(&store_name),
            key_serde: key_serde.clone(),
            value_serde: value_serde.clone(),
            store: None,
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, V, K, V> for JoinWindowProcessor<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        self.store = Some(ctx.state_store::<TypedWindowStore<K, V>>(&self.store_name)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        if !self.key_serde.is_null(&record.key)
            && !self.value_serde.is_null(&record.value)
            && let Some(store) = &self.store
        {
            store
                .borrow_mut()
                .put(&record.key, &record.value, record.timestamp)?;
        }
        ctx.forward(record)
    }
}
