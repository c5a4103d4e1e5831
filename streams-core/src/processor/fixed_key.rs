//! Processors that cannot change the key: Kafka Streams' `FixedKeyProcessor`, used by
//! `KStream::process_values`. Since the key a processor forwards is always the key it was
//! given, a stream keeps its partitioning and needs no repartitioning downstream.

use std::ops::Deref;
use std::time::Duration;

use super::context::ProcessorContext;
use super::traits::Processor;
use crate::context::{PunctuationType, PunctuatorId};
use crate::error::Result;
use crate::record::{Headers, Record};

/// A record whose key cannot be replaced: only its value, timestamp and headers can.
///
/// A [`FixedKeyProcessor`] receives these and can only forward records made from them
/// with [`with_value`](Self::with_value) and friends, so whatever it forwards carries the
/// key it received.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedKeyRecord<K, V> {
    key: K,
    /// The value.
    pub value: V,
    /// The timestamp in milliseconds since the epoch.
    pub timestamp: i64,
    /// The headers.
    pub headers: Headers,
}

impl<K, V> FixedKeyRecord<K, V> {
    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The same record with another value.
    pub fn with_value<V2>(self, value: V2) -> FixedKeyRecord<K, V2> {
        FixedKeyRecord {
            key: self.key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another timestamp.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The same record with other headers.
    #[must_use]
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }

    fn into_record(self) -> Record<K, V> {
        Record {
            key: self.key,
            value: self.value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    fn from_record(record: Record<K, V>) -> Self {
        FixedKeyRecord {
            key: record.key,
            value: record.value,
            timestamp: record.timestamp,
            headers: record.headers,
        }
    }
}

/// What a [`FixedKeyProcessor`] forwards through: a [`ProcessorContext`] whose `forward`
/// takes [`FixedKeyRecord`]s.
///
/// Everything else a processor context offers (stores, time, metadata) is reached through
/// it as on a [`ProcessorContext`], which it dereferences to (read-only, so that records
/// with a new key cannot be forwarded); scheduling and the other calls that change the
/// task are its own methods.
pub struct FixedKeyProcessorContext<'c, 'a, K, V> {
    inner: &'c mut ProcessorContext<'a, K, V>,
}

impl<'a, K, V> Deref for FixedKeyProcessorContext<'_, 'a, K, V> {
    type Target = ProcessorContext<'a, K, V>;

    fn deref(&self) -> &Self::Target {
        self.inner
    }
}

impl<K: Clone, V: Clone> FixedKeyProcessorContext<'_, '_, K, V> {
    /// Forwards a record to every child of this node.
    ///
    /// # Errors
    ///
    /// The first error a downstream node returns.
    pub fn forward(&mut self, record: FixedKeyRecord<K, V>) -> Result<()> {
        self.inner.forward(record.into_record())
    }

    /// Forwards a record to the child with the given name only.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`](crate::Error::Topology) when this node has no child of that
    /// name, or the child's error.
    pub fn forward_to(&mut self, child: &str, record: FixedKeyRecord<K, V>) -> Result<()> {
        self.inner.forward_to(child, record.into_record())
    }
}

impl<K, V> FixedKeyProcessorContext<'_, '_, K, V> {
    /// [`ProcessorContext::schedule`].
    ///
    /// # Errors
    ///
    /// As [`ProcessorContext::schedule`].
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> Result<PunctuatorId> {
        self.inner.schedule(interval, kind)
    }

    /// [`ProcessorContext::cancel`].
    pub fn cancel(&mut self, id: PunctuatorId) {
        self.inner.cancel(id);
    }

    /// [`ProcessorContext::request_commit`].
    pub fn request_commit(&mut self) {
        self.inner.request_commit();
    }

    /// [`ProcessorContext::record_dropped`].
    pub fn record_dropped(&mut self) {
        self.inner.record_dropped();
    }
}

/// A processor that may change values, timestamps and headers but not keys, as Kafka
/// Streams' `FixedKeyProcessor`. `K` is the key, `VIn` and `VOut` the values it receives
/// and forwards. All methods but [`process`](Self::process) default to doing nothing.
///
/// # Examples
///
/// ```
/// use streams_core::processor::{FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord};
/// use streams_core::Result;
///
/// /// Forwards each value's length under the same key.
/// struct Lengths;
///
/// impl FixedKeyProcessor<String, String, usize> for Lengths {
///     fn process(
///         &mut self,
///         record: FixedKeyRecord<String, String>,
///         ctx: &mut FixedKeyProcessorContext<'_, '_, String, usize>,
///     ) -> Result<()> {
///         let len = record.value.len();
///         ctx.forward(record.with_value(len))
///     }
/// }
/// ```
pub trait FixedKeyProcessor<K, VIn, VOut>: 'static {
    /// [`Processor::init`].
    ///
    /// # Errors
    ///
    /// An error stops the task from starting.
    fn init(&mut self, _ctx: &mut FixedKeyProcessorContext<'_, '_, K, VOut>) -> Result<()> {
        Ok(())
    }

    /// Processes one record.
    ///
    /// # Errors
    ///
    /// An error is handed to the processing exception handler configured for the application.
    fn process(
        &mut self,
        record: FixedKeyRecord<K, VIn>,
        ctx: &mut FixedKeyProcessorContext<'_, '_, K, VOut>,
    ) -> Result<()>;

    /// [`Processor::punctuate`].
    ///
    /// # Errors
    ///
    /// As for [`process`](Self::process).
    fn punctuate(
        &mut self,
        _id: PunctuatorId,
        _timestamp: i64,
        _ctx: &mut FixedKeyProcessorContext<'_, '_, K, VOut>,
    ) -> Result<()> {
        Ok(())
    }

    /// [`Processor::flush`].
    ///
    /// # Errors
    ///
    /// An error fails the commit.
    fn flush(&mut self, _ctx: &mut FixedKeyProcessorContext<'_, '_, K, VOut>) -> Result<()> {
        Ok(())
    }

    /// [`Processor::close`].
    ///
    /// # Errors
    ///
    /// An error is logged; the task is closed regardless.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A [`FixedKeyProcessor`] run as a [`Processor`] whose output key is its input key.
#[derive(Debug)]
pub struct FixedKey<P>(pub P);

impl<K, VIn, VOut, P> Processor<K, VIn, K, VOut> for FixedKey<P>
where
    K: 'static,
    VIn: 'static,
    VOut: 'static,
    P: FixedKeyProcessor<K, VIn, VOut>,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VOut>) -> Result<()> {
        self.0.init(&mut FixedKeyProcessorContext { inner: ctx })
    }

    fn process(
        &mut self,
        record: Record<K, VIn>,
        ctx: &mut ProcessorContext<'_, K, VOut>,
    ) -> Result<()> {
        let record = FixedKeyRecord::from_record(record);
        self.0
            .process(record, &mut FixedKeyProcessorContext { inner: ctx })
    }

    fn punctuate(
        &mut self,
        id: PunctuatorId,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, K, VOut>,
    ) -> Result<()> {
        self.0
            .punctuate(id, timestamp, &mut FixedKeyProcessorContext { inner: ctx })
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, VOut>) -> Result<()> {
        self.0.flush(&mut FixedKeyProcessorContext { inner: ctx })
    }

    fn close(&mut self) -> Result<()> {
        self.0.close()
    }
}
