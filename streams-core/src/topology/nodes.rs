//! The three node kinds and their factories.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use super::node::{BuildContext, BuiltNode, NodeFactory, NodeLifecycle, SourceInput};
use crate::context::{RawRecord, TaskContext};
use crate::error::{Error, Result};
use crate::options::StreamPartitioner;
use crate::partitioner::default_partition;
use crate::processor::{
    Child, FailOnInvalidTimestamp, Processor, ProcessorContext, PunctuatorId, RecordSink,
    TimestampExtractor,
};
use crate::record::Record;
use crate::serde::SerdeRef;

pub(crate) type TopicExtractor<K, V> = dyn Fn(&K, &V) -> String + Send + Sync;

/// Downcasts the children's erased handles to the typed inputs this node forwards into.
fn typed_children<K: 'static, V: 'static>(ctx: &BuildContext<'_>) -> Result<Vec<Child<K, V>>> {
    ctx.children
        .iter()
        .map(|(name, handle)| {
            handle
                .downcast_ref::<Rc<RefCell<dyn RecordSink<K, V>>>>()
                .map(|sink| Child {
                    name: Arc::clone(name),
                    sink: Rc::clone(sink),
                })
                .ok_or_else(|| {
                    Error::Topology(format!(
                        "node '{}' forwards ({}, {}) but its child '{name}' takes other types",
                        ctx.name,
                        std::any::type_name::<K>(),
                        std::any::type_name::<V>()
                    ))
                })
        })
        .collect()
}

fn input_handle<K: 'static, V: 'static, N: RecordSink<K, V> + 'static>(
    node: &Rc<RefCell<N>>,
) -> Rc<dyn Any> {
    let sink: Rc<RefCell<dyn RecordSink<K, V>>> = node.clone();
    Rc::new(sink)
}

// ---------------------------------------------------------------------------------------
// Source

pub(super) struct SourceFactory<K, V> {
    pub(super) key_serde: SerdeRef<K>,
    pub(super) value_serde: SerdeRef<V>,
    pub(super) extractor: Option<Arc<dyn TimestampExtractor<K, V>>>,
    /// A global store's source: records keep the timestamp they were written with, as
    /// Kafka Streams' global state update task keeps them (no extractor, negative
    /// timestamps not dropped).
    pub(super) raw_timestamps: bool,
}

impl<K: Clone + 'static, V: Clone + 'static> NodeFactory for SourceFactory<K, V> {
    fn build(&self, ctx: BuildContext<'_>) -> Result<BuiltNode> {
        let node = Rc::new(RefCell::new(SourceNode {
            name: Arc::clone(&ctx.name),
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
            extractor: self.extractor.clone(),
            raw_timestamps: self.raw_timestamps,
            children: typed_children::<K, V>(&ctx)?,
            queues: Vec::new(),
        }));
        Ok(BuiltNode {
            input: None,
            lifecycle: node.clone(),
            source: Some(node),
        })
    }
}

struct Queued<K, V> {
    record: Record<K, V>,
    offset: i64,
}

struct PartitionQueue<K, V> {
    topic: Arc<str>,
    partition: i32,
    records: VecDeque<Queued<K, V>>,
    partition_time: i64,
}

struct SourceNode<K, V> {
    name: Arc<str>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    extractor: Option<Arc<dyn TimestampExtractor<K, V>>>,
    raw_timestamps: bool,
    children: Vec<Child<K, V>>,
    queues: Vec<PartitionQueue<K, V>>,
}

impl<K: Clone + 'static, V: Clone + 'static> SourceInput for SourceNode<K, V> {
    fn add_queue(&mut self, topic: Arc<str>, partition: i32) -> usize {
        self.queues.push(PartitionQueue {
            topic,
            partition,
            records: VecDeque::new(),
            partition_time: -1,
        });
        self.queues.len() - 1
    }

    fn enqueue(
        &mut self,
        queue: usize,
        raw: RawRecord<'_>,
        task: &mut TaskContext,
    ) -> Result<bool> {
        let q = &mut self.queues[queue];
        let key = match self.key_serde.deserialize(&q.topic, raw.key) {
            Ok(k) => k,
            Err(e) => {
                task.handle_deserialization_error(&q.topic, q.partition, &raw, e)?;
                return Ok(false);
            }
        };
        let value = match self.value_serde.deserialize(&q.topic, raw.value) {
            Ok(v) => v,
            Err(e) => {
                task.handle_deserialization_error(&q.topic, q.partition, &raw, e)?;
                return Ok(false);
            }
        };
        let timestamp = if self.raw_timestamps {
            raw.timestamp
        } else {
            let extracted = match &self.extractor {
                Some(x) => x.extract(&key, &value, raw.timestamp, q.partition_time),
                None => {
                    FailOnInvalidTimestamp.extract(&key, &value, raw.timestamp, q.partition_time)
                }
            };
            let timestamp = extracted.map_err(|msg| Error::Processing {
                node: self.name.to_string(),
                source: format!(
                    "timestamp extraction failed for {}-{} offset {}: {msg}",
                    q.topic, q.partition, raw.offset
                )
                .into(),
            })?;
            if timestamp < 0 {
                task.metrics.dropped += 1;
                return Ok(false);
            }
            timestamp
        };
        q.records.push_back(Queued {
            record: Record {
                key,
                value,
                timestamp,
                headers: raw.headers,
            },
            offset: raw.offset,
        });
        Ok(true)
    }

    fn head_timestamp(&self, queue: usize) -> Option<i64> {
        self.queues[queue]
            .records
            .front()
            .map(|q| q.record.timestamp)
    }

    fn process_head(
        &mut self,
        queue: usize,
        task: &mut TaskContext,
    ) -> Result<Option<i64>, (i64, Error)> {
        let q = &mut self.queues[queue];
        let Some(Queued { record, offset }) = q.records.pop_front() else {
            return Ok(None);
        };
        q.partition_time = q.partition_time.max(record.timestamp);
        task.capture_input(
            &q.topic,
            &*self.key_serde,
            &*self.value_serde,
            &record,
            offset,
        );
        task.begin_record(&q.topic, q.partition, offset, record.timestamp);
        crate::processor::context_forward_all(&self.children, record, task)
            .map(|()| Some(offset))
            .map_err(|e| (offset, e))
    }
}

impl<K, V> NodeLifecycle for SourceNode<K, V> {
    fn init(&mut self, _task: &mut TaskContext) -> Result<()> {
        Ok(())
    }
    fn punctuate(&mut self, _id: PunctuatorId, _ts: i64, _task: &mut TaskContext) -> Result<()> {
        Ok(())
    }
    fn flush(&mut self, _task: &mut TaskContext) -> Result<()> {
        Ok(())
    }
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
    fn flushes(&self) -> bool {
        false
    }
}

// ---------------------------------------------------------------------------------------
// Processor

type Signature<KIn, VIn, KOut, VOut> = fn(KIn, VIn) -> (KOut, VOut);

pub(super) struct ProcessorFactory<F, KIn, VIn, KOut, VOut> {
    supplier: F,
    _types: PhantomData<Signature<KIn, VIn, KOut, VOut>>,
}

impl<F, KIn, VIn, KOut, VOut> ProcessorFactory<F, KIn, VIn, KOut, VOut> {
    pub(super) fn new(supplier: F) -> Self {
        ProcessorFactory {
            supplier,
            _types: PhantomData,
        }
    }
}

impl<F, P, KIn, VIn, KOut, VOut> NodeFactory for ProcessorFactory<F, KIn, VIn, KOut, VOut>
where
    KIn: 'static,
    VIn: 'static,
    KOut: Clone + 'static,
    VOut: Clone + 'static,
    P: Processor<KIn, VIn, KOut, VOut>,
    F: Fn() -> P + Send + Sync + 'static,
{
    fn build(&self, ctx: BuildContext<'_>) -> Result<BuiltNode> {
        let node = Rc::new(RefCell::new(ProcessorNode::<P, KIn, VIn, KOut, VOut> {
            index: ctx.index,
            processor: (self.supplier)(),
            children: typed_children::<KOut, VOut>(&ctx)?,
            _in: PhantomData,
        }));
        Ok(BuiltNode {
            input: Some(input_handle::<KIn, VIn, _>(&node)),
            lifecycle: node,
            source: None,
        })
    }
}

struct ProcessorNode<P, KIn, VIn, KOut, VOut> {
    index: usize,
    processor: P,
    children: Vec<Child<KOut, VOut>>,
    _in: PhantomData<fn(KIn, VIn)>,
}

impl<P, KIn, VIn, KOut, VOut> RecordSink<KIn, VIn> for ProcessorNode<P, KIn, VIn, KOut, VOut>
where
    P: Processor<KIn, VIn, KOut, VOut>,
{
    fn process(&mut self, record: Record<KIn, VIn>, task: &mut TaskContext) -> Result<()> {
        let mut ctx = ProcessorContext {
            children: &self.children,
            task,
            node: self.index,
        };
        self.processor.process(record, &mut ctx)
    }
}

impl<P, KIn, VIn, KOut, VOut> NodeLifecycle for ProcessorNode<P, KIn, VIn, KOut, VOut>
where
    P: Processor<KIn, VIn, KOut, VOut>,
{
    fn init(&mut self, task: &mut TaskContext) -> Result<()> {
        let mut ctx = ProcessorContext {
            children: &self.children,
            task,
            node: self.index,
        };
        self.processor.init(&mut ctx)
    }

    fn punctuate(
        &mut self,
        id: PunctuatorId,
        timestamp: i64,
        task: &mut TaskContext,
    ) -> Result<()> {
        let mut ctx = ProcessorContext {
            children: &self.children,
            task,
            node: self.index,
        };
        self.processor.punctuate(id, timestamp, &mut ctx)
    }

    fn flush(&mut self, task: &mut TaskContext) -> Result<()> {
        let mut ctx = ProcessorContext {
            children: &self.children,
            task,
            node: self.index,
        };
        self.processor.flush(&mut ctx)
    }

    fn close(&mut self) -> Result<()> {
        self.processor.close()
    }
}

// ---------------------------------------------------------------------------------------
// Sink

pub(super) struct SinkFactory<K, V> {
    pub(super) topic: Option<String>,
    pub(super) extractor: Option<Arc<TopicExtractor<K, V>>>,
    pub(super) key_serde: SerdeRef<K>,
    pub(super) value_serde: SerdeRef<V>,
    pub(super) partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
}

impl<K: 'static, V: 'static> NodeFactory for SinkFactory<K, V> {
    fn build(&self, ctx: BuildContext<'_>) -> Result<BuiltNode> {
        let node = Rc::new(RefCell::new(SinkNode {
            topic: self.topic.as_deref().map(|t| (ctx.resolve_topic)(t)),
            extractor: self.extractor.clone(),
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
            partitioner: self.partitioner.clone(),
            key_buf: Vec::new(),
            value_buf: Vec::new(),
            partition_buf: Vec::new(),
            partition_count: None,
        }));
        Ok(BuiltNode {
            input: Some(input_handle::<K, V, _>(&node)),
            lifecycle: node,
            source: None,
        })
    }
}

struct SinkNode<K, V> {
    topic: Option<String>,
    extractor: Option<Arc<TopicExtractor<K, V>>>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    partition_buf: Vec<u8>,
    /// The partition count of the fixed topic, asked of the collector once (which, in the
    /// runtime, caches it for the thread's lifetime too).
    partition_count: Option<i32>,
}

impl<K: 'static, V: 'static> RecordSink<K, V> for SinkNode<K, V> {
    fn process(&mut self, record: Record<K, V>, task: &mut TaskContext) -> Result<()> {
        let dynamic;
        let topic: &str = match (&self.topic, &self.extractor) {
            (Some(t), _) => t,
            (None, Some(x)) => {
                dynamic = x(&record.key, &record.value);
                &dynamic
            }
            (None, None) => return Err(Error::Topology("sink without a topic".into())),
        };
        self.key_buf.clear();
        self.value_buf.clear();
        let has_key = match self
            .key_serde
            .serialize(topic, &record.key, &mut self.key_buf)
        {
            Ok(b) => b,
            Err(e) => return task.handle_serialization_error(e),
        };
        let has_value = match self
            .value_serde
            .serialize(topic, &record.value, &mut self.value_buf)
        {
            Ok(b) => b,
            Err(e) => return task.handle_serialization_error(e),
        };
        let key = has_key.then_some(self.key_buf.as_slice());
        let value = has_value.then_some(self.value_buf.as_slice());
        // Only a fixed topic's count is kept; an extracted topic may differ per record.
        let mut cached = self.topic.is_some().then_some(&mut self.partition_count);
        let mut partition = None;
        if let Some(p) = &self.partitioner {
            let n = partition_count(cached.as_deref_mut(), task, topic)?;
            partition = p.partition(topic, &record.key, &record.value, n);
        }
        if partition.is_none()
            && let Some(k) = key
        {
            let n = partition_count(cached, task, topic)?;
            // Windowed keys hash their base key only (`Serde::serialize_partition_key`).
            self.partition_buf.clear();
            let hashed = match self.key_serde.serialize_partition_key(
                topic,
                &record.key,
                &mut self.partition_buf,
            ) {
                Ok(true) => self.partition_buf.as_slice(),
                Ok(false) => k,
                Err(e) => return task.handle_serialization_error(e),
            };
            partition = Some(default_partition(hashed, n));
        }
        task.send(
            topic,
            partition,
            key,
            value,
            record.timestamp,
            &record.headers,
        )
    }
}

/// The partition count of `topic`, from `cached` when it holds one (and into it when it is
/// given empty).
fn partition_count(
    cached: Option<&mut Option<i32>>,
    task: &mut TaskContext,
    topic: &str,
) -> Result<i32> {
    match cached {
        Some(Some(n)) => Ok(*n),
        Some(slot) => Ok(*slot.insert(task.partition_count(topic)?)),
        None => task.partition_count(topic),
    }
}

impl<K, V> NodeLifecycle for SinkNode<K, V> {
    fn init(&mut self, _task: &mut TaskContext) -> Result<()> {
        Ok(())
    }
    fn punctuate(&mut self, _id: PunctuatorId, _ts: i64, _task: &mut TaskContext) -> Result<()> {
        Ok(())
    }
    fn flush(&mut self, _task: &mut TaskContext) -> Result<()> {
        Ok(())
    }
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
    fn flushes(&self) -> bool {
        false
    }
}
