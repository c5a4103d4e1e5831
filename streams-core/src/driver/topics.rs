//! Typed input and output topics of the test driver.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::Hash;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::DriverInner;
use crate::error::{Error, Result};
use crate::record::Headers;
use crate::serde::SerdeRef;

/// A record read from or piped into the test driver.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRecord<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// The timestamp.
    pub timestamp: i64,
    /// The headers.
    pub headers: Headers,
    /// The partition it was written to (output records only; 0 for piped records).
    pub partition: i32,
}

impl<K, V> TestRecord<K, V> {
    /// A record with no headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        TestRecord {
            key,
            value,
            timestamp,
            headers: Headers::new(),
            partition: 0,
        }
    }
}

/// Pipes typed records into one source topic of a [`TopologyTestDriver`](super::TopologyTestDriver).
///
/// Each call processes the record completely before returning.
pub struct TestInputTopic<K, V> {
    driver: Rc<RefCell<DriverInner>>,
    topic: String,
    /// The topic's index in the driver, looked up once; `None` when the topology does not
    /// read it (piping then fails).
    input: Option<usize>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    time: Cell<i64>,
    advance: i64,
}

impl<K, V> std::fmt::Debug for TestInputTopic<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestInputTopic")
            .field("topic", &self.topic)
            .finish()
    }
}

impl<K: 'static, V: 'static> TestInputTopic<K, V> {
    pub(super) fn new(
        driver: Rc<RefCell<DriverInner>>,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        start: i64,
        advance: Duration,
    ) -> Self {
        let input = driver.borrow_mut().input_id(topic);
        TestInputTopic {
            driver,
            topic: topic.to_owned(),
            input,
            key_serde,
            value_serde,
            time: Cell::new(start),
            advance: i64::try_from(advance.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn next_time(&self) -> i64 {
        let t = self.time.get();
        self.time.set(t.saturating_add(self.advance));
        t
    }

    fn send(&self, key: Option<&K>, value: &V, timestamp: i64, headers: Headers) -> Result<()> {
        let mut kbuf = Vec::new();
        let mut vbuf = Vec::new();
        let has_key = match key {
            Some(k) => self.key_serde.serialize(&self.topic, k, &mut kbuf)?,
            None => false,
        };
        let has_value = self.value_serde.serialize(&self.topic, value, &mut vbuf)?;
        self.driver.borrow_mut().pipe(
            self.input,
            &self.topic,
            has_key.then_some(kbuf.as_slice()),
            has_value.then_some(vbuf.as_slice()),
            timestamp,
            headers,
        )
    }

    /// Pipes a key and value at the topic's current time.
    ///
    /// # Errors
    ///
    /// A serialization error, an unknown topic, or the first error processing returns.
    pub fn pipe_input(&self, key: K, value: V) -> Result<()> {
        let ts = self.next_time();
        self.send(Some(&key), &value, ts, Headers::new())
    }

    /// Pipes a key and value with the given timestamp.
    ///
    /// # Errors
    ///
    /// As [`pipe_input`](Self::pipe_input).
    pub fn pipe_input_at(&self, key: K, value: V, timestamp: i64) -> Result<()> {
        self.send(Some(&key), &value, timestamp, Headers::new())
    }

    /// Pipes a value with a null key at the topic's current time.
    ///
    /// # Errors
    ///
    /// As [`pipe_input`](Self::pipe_input).
    pub fn pipe_value(&self, value: V) -> Result<()> {
        let ts = self.next_time();
        self.send(None, &value, ts, Headers::new())
    }

    /// Pipes a value with a null key and the given timestamp.
    ///
    /// # Errors
    ///
    /// As [`pipe_input`](Self::pipe_input).
    pub fn pipe_value_at(&self, value: V, timestamp: i64) -> Result<()> {
        self.send(None, &value, timestamp, Headers::new())
    }

    /// Pipes a full record, headers included.
    ///
    /// # Errors
    ///
    /// As [`pipe_input`](Self::pipe_input).
    pub fn pipe_record(&self, record: TestRecord<K, V>) -> Result<()> {
        self.send(
            Some(&record.key),
            &record.value,
            record.timestamp,
            record.headers,
        )
    }

    /// Pipes raw bytes, for records no serde would produce (malformed input, say).
    ///
    /// # Errors
    ///
    /// An unknown topic, or the first error processing returns.
    pub fn pipe_raw(&self, key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) -> Result<()> {
        self.driver.borrow_mut().pipe(
            self.input,
            &self.topic,
            key,
            value,
            timestamp,
            Headers::new(),
        )
    }

    /// Pipes values with null keys, in order.
    ///
    /// # Errors
    ///
    /// As [`pipe_input`](Self::pipe_input), stopping at the first error.
    pub fn pipe_value_list(&self, values: impl IntoIterator<Item = V>) -> Result<()> {
        values.into_iter().try_for_each(|v| self.pipe_value(v))
    }

    /// Pipes keys and values, in order.
    ///
    /// # Errors
    ///
    /// As [`pipe_input`](Self::pipe_input), stopping at the first error.
    pub fn pipe_key_value_list(&self, records: impl IntoIterator<Item = (K, V)>) -> Result<()> {
        records
            .into_iter()
            .try_for_each(|(k, v)| self.pipe_input(k, v))
    }

    /// Pipes full records, in order.
    ///
    /// # Errors
    ///
    /// As [`pipe_input`](Self::pipe_input), stopping at the first error.
    pub fn pipe_record_list(
        &self,
        records: impl IntoIterator<Item = TestRecord<K, V>>,
    ) -> Result<()> {
        records.into_iter().try_for_each(|r| self.pipe_record(r))
    }

    /// Moves the topic's current time forward.
    pub fn advance_time(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.time.set(self.time.get().saturating_add(ms));
    }
}

/// Reads what the topology wrote to one topic, in order.
pub struct TestOutputTopic<K, V> {
    driver: Rc<RefCell<DriverInner>>,
    topic: String,
    /// The topic's index in the driver and its full name.
    output: (usize, Arc<str>),
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
}

impl<K, V> std::fmt::Debug for TestOutputTopic<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestOutputTopic")
            .field("topic", &self.topic)
            .finish()
    }
}

impl<K: 'static, V: 'static> TestOutputTopic<K, V> {
    pub(super) fn new(
        driver: Rc<RefCell<DriverInner>>,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Self {
        let output = driver.borrow_mut().output_id(topic);
        TestOutputTopic {
            driver,
            topic: topic.to_owned(),
            output,
            key_serde,
            value_serde,
        }
    }

    /// Reads the next record.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] when no record is left, or a deserialization error.
    pub fn read_record(&self) -> Result<TestRecord<K, V>> {
        let rec = self
            .driver
            .borrow_mut()
            .take_output(self.output.0)
            .ok_or_else(|| {
                Error::IllegalState(format!("no more records in output topic '{}'", self.topic))
            })?;
        let topic = &*self.output.1;
        Ok(TestRecord {
            key: self.key_serde.deserialize(topic, rec.key.as_deref())?,
            value: self.value_serde.deserialize(topic, rec.value.as_deref())?,
            timestamp: rec.timestamp,
            headers: rec.headers,
            partition: rec.partition,
        })
    }

    /// Reads the next record's value.
    ///
    /// # Errors
    ///
    /// As [`read_record`](Self::read_record).
    pub fn read_value(&self) -> Result<V> {
        self.read_record().map(|r| r.value)
    }

    /// Reads the next record's key and value.
    ///
    /// # Errors
    ///
    /// As [`read_record`](Self::read_record).
    pub fn read_key_value(&self) -> Result<(K, V)> {
        self.read_record().map(|r| (r.key, r.value))
    }

    /// Reads every remaining record.
    ///
    /// # Errors
    ///
    /// A deserialization error.
    pub fn read_records_to_list(&self) -> Result<Vec<TestRecord<K, V>>> {
        let mut out = Vec::with_capacity(self.queue_size());
        while !self.is_empty() {
            out.push(self.read_record()?);
        }
        Ok(out)
    }

    /// Reads every remaining value.
    ///
    /// # Errors
    ///
    /// A deserialization error.
    pub fn read_values_to_list(&self) -> Result<Vec<V>> {
        Ok(self
            .read_records_to_list()?
            .into_iter()
            .map(|r| r.value)
            .collect())
    }

    /// Reads every remaining key and value.
    ///
    /// # Errors
    ///
    /// A deserialization error.
    pub fn read_key_values_to_list(&self) -> Result<Vec<(K, V)>> {
        Ok(self
            .read_records_to_list()?
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect())
    }

    /// Reads every remaining record into a map: the latest value per key wins.
    ///
    /// # Errors
    ///
    /// A deserialization error.
    pub fn read_key_values_to_map(&self) -> Result<HashMap<K, V>>
    where
        K: Hash + Eq,
    {
        Ok(self.read_key_values_to_list()?.into_iter().collect())
    }

    /// How many records are left to read.
    pub fn queue_size(&self) -> usize {
        self.driver.borrow().output_len(self.output.0)
    }

    /// Whether no record is left to read.
    pub fn is_empty(&self) -> bool {
        self.queue_size() == 0
    }
}
