//! `KStream::repartition`: an explicit trip through a repartition topic.

use streams_core::SerdeRef;

use super::KStream;
use crate::repartition::{NullKeys, Partitioning, add_repartition_topic};

/// How [`KStream::repartition_with`] repartitions: the topic's name, serdes and partition
/// count, as Kafka Streams' `Repartitioned`.
///
/// # Examples
///
/// ```
/// use streams_dsl::prelude::*;
///
/// let r = Repartitioned::with(Serdes::string(), Serdes::i64())
///     .with_name("by-region")
///     .with_number_of_partitions(6);
/// assert_eq!(r.name(), Some("by-region"));
/// ```
pub struct Repartitioned<K, V> {
    name: Option<String>,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
    partitions: Option<i32>,
}

impl<K, V> Default for Repartitioned<K, V> {
    fn default() -> Self {
        Repartitioned {
            name: None,
            key_serde: None,
            value_serde: None,
            partitions: None,
        }
    }
}

impl<K, V> std::fmt::Debug for Repartitioned<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repartitioned")
            .field("name", &self.name)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl<K, V> Repartitioned<K, V> {
    /// Repartitions with the given serdes.
    pub fn with(key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) -> Self {
        Repartitioned {
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
            ..Repartitioned::default()
        }
    }

    /// Names the repartition: the topic is `<application.id>-<name>-repartition`.
    pub fn as_(name: impl Into<String>) -> Self {
        Repartitioned::default().with_name(name)
    }

    /// Also names the repartition.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Creates the topic with `partitions` partitions, instead of as many as the largest
    /// input topic of the sub-topology writing it.
    #[must_use]
    pub fn with_number_of_partitions(mut self, partitions: i32) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// [`repartition_with`](Self::repartition_with) with default options: the stream's
    /// serdes, a generated name, and as many partitions as the writing sub-topology's
    /// largest input.
    pub fn repartition(&self) -> KStream<K, V> {
        self.repartition_with(Repartitioned::default())
    }

    /// Writes the stream to a repartition topic, partitioned by the serialized key, and
    /// reads it back as a new stream, as Kafka Streams' `KStream.repartition`. The topic is
    /// `<application.id>-<name>-repartition`, where the name is the given one or a generated
    /// `KSTREAM-REPARTITION-<index>`. Records with a null key are dropped, as Kafka Streams'
    /// repartition filter does. Downstream groupings and joins need no further repartition.
    ///
    /// # Errors
    ///
    /// [`StreamsBuilder::build`](crate::StreamsBuilder::build) fails when neither the stream
    /// nor `repartitioned` has a key and a value serde, and for a partition count below 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .select_key(|_, page: &String| page.clone())
    ///     .repartition_with(Repartitioned::with(Serdes::string(), Serdes::string()).with_name("by-page"))
    ///     .to("clicks-by-page", Produced::with(Serdes::string(), Serdes::string()));
    /// let text = builder.build()?.describe().to_string();
    /// assert!(text.contains("Sink: by-page-repartition-sink (topic: by-page-repartition)"));
    /// assert!(text.contains("Source: by-page-repartition-source (topics: [by-page-repartition])"));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn repartition_with(&self, repartitioned: Repartitioned<K, V>) -> KStream<K, V> {
        let Repartitioned {
            name,
            key_serde,
            value_serde,
            partitions,
        } = repartitioned;
        let name =
            name.unwrap_or_else(|| self.builder.borrow_mut().new_name("KSTREAM-REPARTITION-"));
        let key_serde = key_serde.or_else(|| self.key_serde.clone());
        let value_serde = value_serde.or_else(|| self.value_serde.clone());
        let source = add_repartition_topic(
            &self.builder,
            &self.node,
            &name,
            key_serde.clone(),
            value_serde.clone(),
            NullKeys::Drop,
            partitions,
        );
        KStream::new(
            self.builder.clone(),
            source,
            key_serde,
            value_serde,
            Partitioning::ByKey,
        )
    }
}
