// Reference side of the conformance harness: builds a named topology with the Kafka Streams
// DSL, runs an input script through TopologyTestDriver and prints every output record.
//
//   java -cp 'lib/*' Ref.java <case> <input.jsonl>   output records as JSON lines
//   java -cp 'lib/*' Ref.java <case> --describe      topology.describe().toString()
//   java -cp 'lib/*' Ref.java --list                 case names, one per line
//   java -cp 'lib/*' Ref.java --all <out-dir> <input.jsonl>...
//        every case: <out-dir>/<case>/describe.txt and <out-dir>/<case>/<input-name>.jsonl
//
// See README.md for the file formats and the ordering rule.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.SessionWindowedDeserializer;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindowedDeserializer;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.test.TestRecord;
import org.apache.kafka.common.utils.Bytes;

public class Ref {

    /** Wall-clock start time of every driver (no case depends on wall-clock time). */
    static final Instant START = Instant.ofEpochMilli(1_700_000_000_000L);

    // ======================================================================================
    // Reference cases.
    //
    // Shared rules:
    //  * Input topics "input" (and "input2" where stated); keys and values are String or null.
    //  * Default serdes are String/String. Output keys/values are String unless stated.
    //  * "length" is String.length(); the inputs only use characters of the Basic
    //    Multilingual Plane, so this equals the number of Unicode characters.
    //  * "non-empty parts of v" = v.split(",", -1) with empty strings removed, in order
    //    ("a,,b" -> [a, b]; "," -> []; "" -> []).
    //  * Upper-casing is toUpperCase(Locale.ROOT) (full Unicode mapping, e.g. ß -> SS).
    //  * No names are given (all node, store and topic names are generated), except in
    //    case "named".
    //  * Caching is off for every case: statestore.cache.max.bytes = 0 (a driver setting; no
    //    Materialized caching options are used), so every update is forwarded at once.
    // ======================================================================================

    /** How output keys and values are read back (see timeWindowed() for time windows). */
    static final Deserializer<String> STRING = new StringDeserializer();
    static final Deserializer<Long> LONG = new LongDeserializer();
    static final Deserializer<Windowed<String>> SESSION_WINDOWED =
        new SessionWindowedDeserializer<>(new StringDeserializer());

    static final Map<String, Case> CASES = new LinkedHashMap<>();

    static {
        // filter_map: stream(input)
        //   .filter((k, v) -> v != null && v.length() > 3)        null values are dropped
        //   .filterNot((k, v) -> k != null && k.endsWith("7"))    drops keys ending in "7"; null keys pass
        //   .mapValues(v -> v.toUpperCase(Locale.ROOT))           v is never null here
        //   .to("output")
        add("filter_map", "filter, filterNot, mapValues, to",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> s = b.stream("input");
                s.filter((k, v) -> v != null && v.length() > 3)
                    .filterNot((k, v) -> k != null && k.endsWith("7"))
                    .mapValues(v -> v.toUpperCase(Locale.ROOT))
                    .to("output");
            });

        // flatmap_selectkey: stream(input)
        //   .flatMap((k, v) -> one record (k, p) per non-empty part p of v; none when v is null)
        //   .flatMapValues(v -> v.length() > 4 ? [v, v.toUpperCase(Locale.ROOT)] : [v])
        //   .selectKey((k, v) -> k == null ? v : k + "/" + v)    v is never null here
        //   .to("output")
        add("flatmap_selectkey", "flatMap, flatMapValues, selectKey, to",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> s = b.stream("input");
                s.flatMap((String k, String v) -> {
                        List<KeyValue<String, String>> result = new ArrayList<>();
                        for (String p : parts(v)) {
                            result.add(KeyValue.pair(k, p));
                        }
                        return result;
                    })
                    .flatMapValues(v -> v.length() > 4 ? List.of(v, v.toUpperCase(Locale.ROOT)) : List.of(v))
                    .selectKey((k, v) -> k == null ? v : k + "/" + v)
                    .to("output");
            });

        // repartition: stream(input).selectKey((k, v) -> v).repartition()
        //   .mapValues(v -> v == null ? null : v.toUpperCase(Locale.ROOT))
        //   .repartition(Repartitioned.as("rekeyed").withNumberOfPartitions(3))
        //   .to("output")
        // Records with null keys (from null values) are dropped by the repartition filter.
        add("repartition", "repartition() with a generated name, then a named one",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                b.<String, String>stream("input")
                    .selectKey((k, v) -> v)
                    .repartition()
                    .mapValues(v -> v == null ? null : v.toUpperCase(Locale.ROOT))
                    .repartition(Repartitioned.<String, String>as("rekeyed").withNumberOfPartitions(3))
                    .to("output");
            });

        // branch: stream(input).split()   (first matching predicate wins)
        //   .branch((k, v) -> v == null,                        to("out-null"))
        //   .branch((k, v) -> v != null && v.contains(","),     to("out-list"))
        //   .branch((k, v) -> k == null || (v != null && v.isEmpty()), to("out-odd"))
        //   .defaultBranch(                                     to("out-default"))
        // Each branch uses Branched.withConsumer(ks -> ks.to(topic)) without a name.
        add("branch", "split with three predicate branches and a default branch",
            List.of("input"),
            List.of(out("out-null", STRING, STRING), out("out-list", STRING, STRING),
                    out("out-odd", STRING, STRING), out("out-default", STRING, STRING)),
            b -> {
                KStream<String, String> s = b.stream("input");
                s.split()
                    .branch((k, v) -> v == null, Branched.withConsumer(ks -> ks.to("out-null")))
                    .branch((k, v) -> v != null && v.contains(","), Branched.withConsumer(ks -> ks.to("out-list")))
                    .branch((k, v) -> k == null || (v != null && v.isEmpty()),
                            Branched.withConsumer(ks -> ks.to("out-odd")))
                    .defaultBranch(Branched.withConsumer(ks -> ks.to("out-default")));
            });

        // merge_peek:
        //   left  = stream(input).filter((k, v) -> k != null)            drops null keys
        //   right = stream(input2).mapValues(v -> v == null ? "<null>" : "2:" + v)
        //   left.merge(right)
        //     .peek((k, v) -> {})                                          no visible effect
        //     .mapValues((k, v) -> (k == null ? "<null>" : k) + "=" + (v == null ? "<null>" : v))
        //     .to("output")
        // (peek's side effect is not part of the output; only its pass-through is checked.)
        add("merge_peek", "two input topics merged, peek, mapValues, to",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> left = b.<String, String>stream("input").filter((k, v) -> k != null);
                KStream<String, String> right =
                    b.<String, String>stream("input2").mapValues(v -> v == null ? "<null>" : "2:" + v);
                left.merge(right)
                    .peek((k, v) -> { })
                    .mapValues((k, v) -> (k == null ? "<null>" : k) + "=" + (v == null ? "<null>" : v))
                    .to("output");
            });

        // map_nulls: stream(input)
        //   .map((k, v) -> KeyValue.pair(v, k))                         swap: null values become null keys
        //   .mapValues(v -> v == null || v.endsWith("0") ? null : v)  null stays null; values ending in "0" become null
        //   .to("output")
        add("map_nulls", "map swapping key and value, mapValues producing nulls, to",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> s = b.stream("input");
                s.map((k, v) -> KeyValue.pair(v, k))
                    .mapValues(v -> v == null || v.endsWith("0") ? null : v)
                    .to("output");
            });

        // named: stream(input, Consumed.as("source"))
        //   .filter((k, v) -> v != null, Named.as("drop-null-values"))
        //   .flatMapValues(v -> non-empty parts of v, Named.as("explode"))
        //   .split(Named.as("route-"))
        //     .branch((k, v) -> v != null && v.length() <= 3, Branched.as("short"))
        //     .defaultBranch(Branched.as("long"))
        //   -> map of branches "route-short", "route-long";
        //   route-short.mapValues(v -> v.toUpperCase(Locale.ROOT), Named.as("shout"))
        //              .to("out-short", Produced.as("short-sink"))
        //   route-long.to("out-long", Produced.as("long-sink"))
        // One input record can produce records on both topics, interleaved.
        add("named", "explicit names via Consumed.as, Named.as, Branched.as, Produced.as",
            List.of("input"), List.of(out("out-short", STRING, STRING), out("out-long", STRING, STRING)), b -> {
                Map<String, KStream<String, String>> branches = b
                    .stream("input", Consumed.<String, String>as("source"))
                    .filter((k, v) -> v != null, Named.as("drop-null-values"))
                    .flatMapValues(v -> parts(v), Named.as("explode"))
                    .split(Named.as("route-"))
                    .branch((k, v) -> v != null && v.length() <= 3, Branched.as("short"))
                    .defaultBranch(Branched.as("long"));
                branches.get("route-short")
                    .mapValues(v -> v.toUpperCase(Locale.ROOT), Named.as("shout"))
                    .to("out-short", Produced.as("short-sink"));
                branches.get("route-long").to("out-long", Produced.as("long-sink"));
            });

        // ---------------------------------------------------------------------- stateful
        // Grouped aggregations drop records with a null key; the aggregations below also
        // skip null values (Kafka Streams does not pass them to the aggregator). The lambdas
        // still handle null explicitly: a null value leaves the aggregate unchanged.

        // count: stream(input).groupByKey().count().toStream()
        //   .to("output", Produced.with(String, Long))            value: count as a number
        add("count", "groupByKey, count, toStream, to",
            List.of("input"), List.of(out("output", STRING, LONG)), b -> {
                b.<String, String>stream("input").groupByKey().count().toStream()
                    .to("output", Produced.with(Serdes.String(), Serdes.Long()));
            });

        // reduce: stream(input).groupByKey()
        //   .reduce((agg, v) -> v == null ? agg : last40(agg + "|" + v))
        //   .toStream().to("output")
        // last40(s) = s when s.length() <= 40, else its last 40 characters.
        add("reduce", "groupByKey, reduce concatenating with '|' (keeps the last 40 chars), to",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .reduce((agg, v) -> v == null ? agg : last40(agg + "|" + v))
                    .toStream().to("output");
            });

        // aggregate: stream(input).groupByKey()
        //   .aggregate(() -> 0L, (k, v, agg) -> v == null ? agg : agg + v.length(),
        //              Materialized.with(String, Long))
        //   .toStream().to("output", Produced.with(String, Long))  value: sum of lengths
        add("aggregate", "groupByKey, aggregate summing value lengths as Long, to",
            List.of("input"), List.of(out("output", STRING, LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .aggregate(() -> 0L, (String k, String v, Long agg) -> v == null ? agg : agg + v.length(),
                               Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream().to("output", Produced.with(Serdes.String(), Serdes.Long()));
            });

        // group_by: stream(input)
        //   .groupBy((k, v) -> v == null || v.isEmpty() ? null : v.substring(0, 1))
        //        new key: first character of the value; null for null/empty values (dropped)
        //   .count().toStream().to("output", Produced.with(String, Long))
        // Goes through a generated repartition topic.
        add("group_by", "groupBy first character of the value (repartition), count, to",
            List.of("input"), List.of(out("output", STRING, LONG)), b -> {
                b.<String, String>stream("input")
                    .groupBy((k, v) -> v == null || v.isEmpty() ? null : v.substring(0, 1))
                    .count().toStream()
                    .to("output", Produced.with(Serdes.String(), Serdes.Long()));
            });

        // tumbling: stream(input).groupByKey()
        //   .windowedBy(TimeWindows.ofSizeAndGrace(10 s, 2 s)).count().toStream()
        //   .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String, 10000), Long))
        add("tumbling", "tumbling windows 10s grace 2s, count",
            List.of("input"), List.of(out("output", timeWindowed(10_000L), LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(2)))
                    .count().toStream()
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 10_000L),
                                                Serdes.Long()));
            });

        // hopping: stream(input).groupByKey()
        //   .windowedBy(TimeWindows.ofSizeAndGrace(10 s, 0).advanceBy(5 s)).count().toStream()
        //   .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String, 10000), Long))
        add("hopping", "hopping windows 10s advance 5s grace 0, count",
            List.of("input"), List.of(out("output", timeWindowed(10_000L), LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ZERO)
                                           .advanceBy(Duration.ofSeconds(5)))
                    .count().toStream()
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 10_000L),
                                                Serdes.Long()));
            });

        // sliding: stream(input).groupByKey()
        //   .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(5 s, 2 s)).count().toStream()
        //   .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String, 5000), Long))
        // Windows are [start, start + 5000] with both ends inclusive; "end" = start + 5000.
        add("sliding", "sliding windows difference 5s grace 2s, count",
            List.of("input"), List.of(out("output", timeWindowed(5_000L), LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2)))
                    .count().toStream()
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 5_000L),
                                                Serdes.Long()));
            });

        // session: stream(input).groupByKey()
        //   .windowedBy(SessionWindows.ofInactivityGapAndGrace(5 s, 2 s)).count().toStream()
        //   .to("output", Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String), Long))
        // Sessions replaced by a merge are retracted with a null value (tombstone).
        add("session", "session windows gap 5s grace 2s, count (merges emit tombstones)",
            List.of("input"), List.of(out("output", SESSION_WINDOWED, LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2)))
                    .count().toStream()
                    .to("output", Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class),
                                                Serdes.Long()));
            });

        // emit_on_close: stream(input).groupByKey()
        //   .windowedBy(TimeWindows.ofSizeWithNoGrace(10 s))
        //   .emitStrategy(EmitStrategy.onWindowClose()).count().toStream()
        //   .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String, 10000), Long))
        // One final count per window, looked for on every record (emit interval 0, see
        // config()); the default RocksDB store is Kafka Streams' time-ordered window store.
        add("emit_on_close", "tumbling windows 10s no grace, emit on window close, count",
            List.of("input"), List.of(out("output", timeWindowed(10_000L), LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(10)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .count().toStream()
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 10_000L),
                                                Serdes.Long()));
            });

        // emit_on_close_sliding: stream(input).groupByKey()
        //   .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(5 s, 2 s))
        //   .emitStrategy(EmitStrategy.onWindowClose()).count().toStream()
        //   .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String, 5000), Long))
        add("emit_on_close_sliding", "sliding windows difference 5s grace 2s, emit on window close, count",
            List.of("input"), List.of(out("output", timeWindowed(5_000L), LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .count().toStream()
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 5_000L),
                                                Serdes.Long()));
            });

        // emit_on_close_session: stream(input).groupByKey()
        //   .windowedBy(SessionWindows.ofInactivityGapAndGrace(5 s, 2 s))
        //   .emitStrategy(EmitStrategy.onWindowClose()).count().toStream()
        //   .to("output", Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String), Long))
        // Only final sessions come out (no retractions); the default RocksDB store is Kafka
        // Streams' time-ordered session store.
        add("emit_on_close_session", "session windows gap 5s grace 2s, emit on window close, count",
            List.of("input"), List.of(out("output", SESSION_WINDOWED, LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .count().toStream()
                    .to("output", Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class),
                                                Serdes.Long()));
            });

        // suppress: stream(input).groupByKey()
        //   .windowedBy(TimeWindows.ofSizeAndGrace(10 s, 1 s)).count(Materialized.with(String, Long))
        //       (the suppression buffer needs the key/value serdes; without them it would use
        //        the default String serde for the windowed key and fail)
        //   .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        //   .toStream()
        //   .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String, 10000), Long))
        // One final count per window, emitted once stream time reaches window end + grace.
        add("suppress", "tumbling windows 10s grace 1s, count, suppress until the window closes",
            List.of("input"), List.of(out("output", timeWindowed(10_000L), LONG)), b -> {
                b.<String, String>stream("input").groupByKey()
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(1)))
                    .count(Materialized.with(Serdes.String(), Serdes.Long()))
                    .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream()
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 10_000L),
                                                Serdes.Long()));
            });

        // ---------------------------------------------------------------------- tables
        // Tables read "input" (and "input2"): a null value deletes the key, a null key is
        // dropped. Table values seen by lambdas are never null. toStream() emits deletes as
        // null values.

        // table_filter_mapvalues: table(input)
        //   .filter((k, v) -> v.length() > 3)          a failing update becomes a delete
        //   .mapValues(v -> v.toUpperCase(Locale.ROOT))
        //   .toStream().to("output")
        add("table_filter_mapvalues", "table source, filter, mapValues, toStream",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                b.<String, String>table("input")
                    .filter((k, v) -> v.length() > 3)
                    .mapValues(v -> v.toUpperCase(Locale.ROOT))
                    .toStream().to("output");
            });

        // stream_table_join: stream(input).join(table(input2), (v, t) -> v + "+" + t).to("output")
        // Only stream records produce output; null keys/values on the stream side are dropped.
        add("stream_table_join", "KStream-KTable inner join",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> t = b.table("input2");
                b.<String, String>stream("input").join(t, (v, tv) -> v + "+" + tv).to("output");
            });

        // stream_table_left_join: stream(input).leftJoin(table(input2),
        //   (v, t) -> v + "+" + (t == null ? "<none>" : t)).to("output")
        // A stream record with a null key (and a value) still produces output.
        add("stream_table_left_join", "KStream-KTable left join",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> t = b.table("input2");
                b.<String, String>stream("input")
                    .leftJoin(t, (v, tv) -> v + "+" + (tv == null ? "<none>" : tv))
                    .to("output");
            });

        // stream_table_join_rekeyed: stream(input).selectKey((k, v) -> k)
        //   .leftJoin(table(input2), (v, t) -> v + "+" + (t == null ? "<none>" : t)).to("output")
        // The key change forces a repartition topic in front of the join.
        add("stream_table_join_rekeyed", "KStream-KTable left join after selectKey (repartitioned)",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> t = b.table("input2");
                b.<String, String>stream("input")
                    .selectKey((k, v) -> k)
                    .leftJoin(t, (v, tv) -> v + "+" + (tv == null ? "<none>" : tv))
                    .to("output");
            });

        // table_join_inner / table_join_left / table_join_outer:
        //   table(input).join|leftJoin|outerJoin(table(input2),
        //     (a, b) -> (a == null ? "<none>" : a) + "/" + (b == null ? "<none>" : b))
        //   .toStream().to("output")
        add("table_join_inner", "KTable-KTable inner join",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> l = b.table("input");
                KTable<String, String> r = b.table("input2");
                l.join(r, Ref::pair).toStream().to("output");
            });
        add("table_join_left", "KTable-KTable left join",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> l = b.table("input");
                KTable<String, String> r = b.table("input2");
                l.leftJoin(r, Ref::pair).toStream().to("output");
            });
        add("table_join_outer", "KTable-KTable outer join",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> l = b.table("input");
                KTable<String, String> r = b.table("input2");
                l.outerJoin(r, Ref::pair).toStream().to("output");
            });

        // table_join_chain: a join's result joined again, through its value getter (a lookup
        // of the result reads both parents' stores and joins them):
        //   l.leftJoin(r, pair).outerJoin(r.filter(v.length() > 2), pair).toStream().to("output")
        add("table_join_chain", "KTable-KTable joins chained: the left join's result outer-joined again",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> l = b.table("input");
                KTable<String, String> r = b.table("input2");
                l.leftJoin(r, Ref::pair)
                    .outerJoin(r.filter((k, v) -> v.length() > 2), Ref::pair)
                    .toStream().to("output");
            });

        // ---------------------------------------------------------------------- table aggregations
        // KTable.groupBy sends each update through a repartition topic as its old value (for the
        // subtractor) and its new value (for the adder): one record with both when the old and the
        // new selected key are equal, else the old key's record first, then the new key's. A
        // selected pair with a null key or a null value is not sent. A deleted row sends only its
        // old value.

        // table_group_by_count: table(input)
        //   .groupBy((k, v) -> KeyValue.pair(v.isEmpty() ? null : v.substring(0, 1), v))
        //        group key: first character of the value; null (dropped) for an empty value
        //   .count().toStream().to("output", Produced.with(String, Long))
        // The mapper never sees a null value (a delete only subtracts the old row).
        add("table_group_by_count", "table groupBy first character of the value, count",
            List.of("input"), List.of(out("output", STRING, LONG)), b -> {
                b.<String, String>table("input")
                    .groupBy((k, v) -> KeyValue.pair(v.isEmpty() ? null : v.substring(0, 1), v))
                    .count().toStream()
                    .to("output", Produced.with(Serdes.String(), Serdes.Long()));
            });

        // table_group_by_aggregate: stream(input).toTable()
        //   .groupBy((k, v) -> KeyValue.pair(k.isEmpty() ? null : k.substring(k.length() - 1),
        //                                    (long) v.length()),
        //            Grouped.with(String, Long))
        //        group key: last character of the key (so an update keeps its group key and
        //        goes through the repartition topic as one record); null for an empty key
        //   .aggregate(() -> 0L, (k, v, agg) -> agg + v, (k, v, agg) -> agg - v,
        //              Materialized.with(String, Long))
        //   .toStream().to("output", Produced.with(String, Long))
        // toTable drops null keys and turns null values into deletes; groupBy makes its store.
        add("table_group_by_aggregate", "stream toTable, groupBy last character of the key, aggregate with adder and subtractor",
            List.of("input"), List.of(out("output", STRING, LONG)), b -> {
                b.<String, String>stream("input").toTable()
                    .groupBy((k, v) -> KeyValue.pair(k.isEmpty() ? null : k.substring(k.length() - 1),
                                                     (long) v.length()),
                             Grouped.with(Serdes.String(), Serdes.Long()))
                    .aggregate(() -> 0L, (k, v, agg) -> agg + v, (k, v, agg) -> agg - v,
                               Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream()
                    .to("output", Produced.with(Serdes.String(), Serdes.Long()));
            });

        // table_group_by_reduce: table(input)
        //   .groupBy((k, v) -> KeyValue.pair(v.isEmpty() ? null : v.substring(0, 1), (long) v.length()),
        //            Grouped.with(String, Long))
        //   .reduce((agg, v) -> agg + v, (agg, v) -> agg - v == 0 ? null : agg - v)
        //        the subtractor returns null when the sum reaches 0: the row is deleted
        //   .toStream().to("output", Produced.with(String, Long))   a delete is a null value
        add("table_group_by_reduce", "table groupBy first character of the value, reduce whose subtractor deletes at 0",
            List.of("input"), List.of(out("output", STRING, LONG)), b -> {
                b.<String, String>table("input")
                    .groupBy((k, v) -> KeyValue.pair(v.isEmpty() ? null : v.substring(0, 1), (long) v.length()),
                             Grouped.with(Serdes.String(), Serdes.Long()))
                    .reduce((agg, v) -> agg + v, (agg, v) -> agg - v == 0 ? null : agg - v)
                    .toStream()
                    .to("output", Produced.with(Serdes.String(), Serdes.Long()));
            });

        // to_table: stream(input)
        //   .selectKey((k, v) -> k == null ? null : k.toUpperCase(Locale.ROOT))
        //   .toTable().toStream().to("output")
        // selectKey makes toTable repartition through a generated topic (null keys are dropped
        // before it); the table has no store, so a null value is forwarded as a delete even for
        // an absent key.
        add("to_table", "stream selectKey, toTable (repartition), toStream",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                b.<String, String>stream("input")
                    .selectKey((k, v) -> k == null ? null : k.toUpperCase(Locale.ROOT))
                    .toTable().toStream().to("output");
            });

        // ---------------------------------------------------------------------- global tables
        // globalTable(input2): every record of "input2" updates the global store as soon as it
        // is piped (before any later record); a null key is dropped, a null value deletes.
        // Stream records of "input" look it up by globalKey(k, v):
        //   k == null                              -> "k01" (the random inputs' input2 has it)
        //   k.endsWith("3") || k.startsWith("d")   -> null  (no match: inner drops, left emits)
        //   otherwise                              -> k
        // A stream record with a null value is dropped by both joins; only stream records emit;
        // the output has the stream record's key (null included) and timestamp.

        // global_join_inner: stream(input).join(globalTable(input2), globalKey,
        //   (v, g) -> v + "+" + g).to("output")
        add("global_join_inner", "KStream-GlobalKTable inner join with a key mapper",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                GlobalKTable<String, String> g = b.globalTable("input2");
                b.<String, String>stream("input")
                    .join(g, Ref::globalKey, (v, gv) -> v + "+" + gv)
                    .to("output");
            });

        // global_join_left: stream(input).leftJoin(globalTable(input2), globalKey,
        //   (v, g) -> v + "+" + (g == null ? "<none>" : g)).to("output")
        add("global_join_left", "KStream-GlobalKTable left join with a key mapper",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                GlobalKTable<String, String> g = b.globalTable("input2");
                b.<String, String>stream("input")
                    .leftJoin(g, Ref::globalKey, (v, gv) -> v + "+" + (gv == null ? "<none>" : gv))
                    .to("output");
            });

        // ---------------------------------------------------------------------- foreign-key table joins
        // table(input) joined with table(input2) on the foreign key fkOf(v) of each left row:
        //   v.isEmpty() || v.startsWith("e")   -> null  (no foreign key)
        //   otherwise                          -> "k" + two digits of (v.length() % 15), e.g. "k07"
        // The left side sends subscriptions through the internal topic
        // KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic, the right side answers through
        // KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic; both are processed by the driver
        // after the record that wrote them. A response whose hash of the left value no longer
        // matches the left row is dropped. A right value that is the empty string reaches the
        // left side as null (the response serde reads an empty value as null). The joiner is
        // pair(l, r); a result of null is a delete.

        // fk_join_inner: table(input).join(table(input2), fkOf, pair).toStream().to("output")
        //   a null foreign key joins nothing (a row whose key turns null is deleted)
        add("fk_join_inner", "KTable-KTable foreign-key inner join",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> l = b.table("input");
                KTable<String, String> r = b.table("input2");
                l.join(r, Ref::fkOf, Ref::pair).toStream().to("output");
            });

        // fk_join_left: table(input).leftJoin(table(input2), fkOf, pair,
        //     Materialized.as("fk-left-result")).toStream().to("output")
        //   a left row without a match (or with a null foreign key) joins null
        add("fk_join_left", "KTable-KTable foreign-key left join, materialized result",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> l = b.table("input");
                KTable<String, String> r = b.table("input2");
                l.leftJoin(r, Ref::fkOf, Ref::pair,
                        Materialized.<String, String, org.apache.kafka.streams.state.KeyValueStore<org.apache.kafka.common.utils.Bytes, byte[]>>as("fk-left-result"))
                    .toStream().to("output");
            });

        // ---------------------------------------------------------------------- stream-stream joins
        // Left stream "input", right stream "input2", JoinWindows.ofTimeDifferenceAndGrace(5 s, 2 s):
        // a left record at t1 joins right records in [t1 - 5 s, t1 + 5 s]; the output timestamp
        // is the larger of the two; each side's window store keeps records for 12 s of stream
        // time. Left/outer non-matches are held back until stream time passes their window end
        // plus grace (never emitted early); the driver config sets the internal
        // "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__" to 0 (see config()),
        // so held-back records are looked at on every record instead of once per wall-clock
        // second (the driver's wall clock never moves). Records with a null value are dropped;
        // a null key is dropped by the inner join and joined against nothing at once by the
        // side(s) of a left/outer join whose non-matches are emitted.
        // joinValue(l, r) = (l == null ? "<none>" : l) + "|" + (r == null ? "<none>" : r)

        // stream_join_inner: stream(input).join(stream(input2), joinValue, windows).to("output")
        add("stream_join_inner", "KStream-KStream inner join, 5 s windows, grace 2 s",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> l = b.stream("input");
                KStream<String, String> r = b.stream("input2");
                l.join(r, Ref::joinValue, joinWindows()).to("output");
            });

        // stream_join_left: stream(input).leftJoin(stream(input2), joinValue, windows).to("output")
        add("stream_join_left", "KStream-KStream left join, 5 s windows, grace 2 s",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> l = b.stream("input");
                KStream<String, String> r = b.stream("input2");
                l.leftJoin(r, Ref::joinValue, joinWindows()).to("output");
            });

        // stream_join_outer: stream(input).outerJoin(stream(input2), joinValue, windows).to("output")
        add("stream_join_outer", "KStream-KStream outer join, 5 s windows, grace 2 s",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> l = b.stream("input");
                KStream<String, String> r = b.stream("input2");
                l.outerJoin(r, Ref::joinValue, joinWindows()).to("output");
            });

        // ---------------------------------------------------------------------- versioned tables
        // versioned_table: t = table(input2, Materialized.as(
        //     Stores.persistentVersionedKeyValueStore("versioned", 10 s)))
        //   s = stream(input)
        //   s.join(t, (v, tv) -> v + "+" + tv).to("output")
        //   s.leftJoin(t, (v, tv) -> v + "+" + (tv == null ? "<none>" : tv)).to("output2")
        //   t.toStream().to("output3")
        // The joins look the table up as of the stream record's timestamp (KIP-914); the
        // table keeps out-of-order updates in its history.
        add("versioned_table", "versioned table (history 10 s): as-of inner and left stream-table joins, toStream",
            List.of("input", "input2"),
            List.of(out("output", STRING, STRING), out("output2", STRING, STRING), out("output3", STRING, STRING)),
            b -> {
                KTable<String, String> t = b.table("input2",
                    Materialized.<String, String>as(
                        Stores.persistentVersionedKeyValueStore("versioned", Duration.ofSeconds(10))));
                KStream<String, String> s = b.stream("input");
                s.join(t, (v, tv) -> v + "+" + tv).to("output");
                s.leftJoin(t, (v, tv) -> v + "+" + (tv == null ? "<none>" : tv)).to("output2");
                t.toStream().to("output3");
            });

        // ---------------------------------------------------------------------- processValues
        // process_values: builder.addStateStore(Stores.keyValueStoreBuilder(
        //     Stores.inMemoryKeyValueStore("seen"), String, Long))
        //   s = stream(input).processValues(SeenCounter::new, "seen")   see SeenCounter
        //   s.to("output")
        //   s.groupByKey().count().toStream().to("output2", Produced.with(String, Long))
        //     (processValues keeps the key, so the grouping needs no repartition topic)
        add("process_values", "processValues with a store, then groupByKey count without repartitioning",
            List.of("input"), List.of(out("output", STRING, STRING), out("output2", STRING, LONG)), b -> {
                b.addStateStore(Stores.keyValueStoreBuilder(
                    Stores.inMemoryKeyValueStore("seen"), Serdes.String(), Serdes.Long()));
                KStream<String, String> s = b.<String, String>stream("input")
                    .processValues(SeenCounter::new, "seen");
                s.to("output");
                s.groupByKey().count().toStream()
                    .to("output2", Produced.with(Serdes.String(), Serdes.Long()));
            });

        // ---------------------------------------------------------------------- cogroup
        // Two grouped streams, "input" (a) and "input2" (c), folded into one aggregate per key
        // (CogroupedKStream). Each grouping keeps its own aggregation's null rules: the
        // non-windowed and sliding aggregations drop null keys and values, the time and
        // session windowed ones drop null keys only (their aggregators see null values).
        // len(v) = v == null ? -1 : v.length()

        // cogroup: a = stream(input).groupByKey(); c = stream(input2).groupByKey()
        //   a.cogroup((k, v, agg) -> last40(agg + "a" + len(v)))
        //    .cogroup(c, (k, v, agg) -> last40(agg + "c" + len(v)))
        //    .aggregate(() -> "", Materialized.with(String, String)).toStream().to("output")
        add("cogroup", "cogroup of two grouped streams, aggregate into a String",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KGroupedStream<String, String> a = b.<String, String>stream("input").groupByKey();
                KGroupedStream<String, String> c = b.<String, String>stream("input2").groupByKey();
                a.cogroup((String k, String v, String agg) -> last40(agg + "a" + len(v)))
                    .cogroup(c, (String k, String v, String agg) -> last40(agg + "c" + len(v)))
                    .aggregate(() -> "", Materialized.with(Serdes.String(), Serdes.String()))
                    .toStream().to("output");
            });

        // cogroup_repartition: a = stream(input).groupBy(first character of v, null for
        //   null/empty v) (repartitioned through a topic named after the store);
        //   c = stream(input2).groupByKey()
        //   a.cogroup((k, v, agg) -> agg + len(v)).cogroup(c, (k, v, agg) -> agg + 1000)
        //    .aggregate(() -> 0L, Materialized.with(String, Long)).toStream()
        //    .to("output", Produced.with(String, Long))
        add("cogroup_repartition", "cogroup of a re-keyed (repartitioned) and a grouped stream, Long sum",
            List.of("input", "input2"), List.of(out("output", STRING, LONG)), b -> {
                KGroupedStream<String, String> a = b.<String, String>stream("input")
                    .groupBy((k, v) -> v == null || v.isEmpty() ? null : v.substring(0, 1));
                KGroupedStream<String, String> c = b.<String, String>stream("input2").groupByKey();
                a.cogroup((String k, String v, Long agg) -> agg + len(v))
                    .cogroup(c, (String k, String v, Long agg) -> agg + 1000)
                    .aggregate(() -> 0L, Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream().to("output", Produced.with(Serdes.String(), Serdes.Long()));
            });

        // cogroup_named: both groupings re-keyed by the first character of v (null for
        //   null/empty v) with Grouped.as("by-first") and Grouped.as("by-first2");
        //   a.cogroup((k, v, agg) -> last40(agg + "a" + len(v)))
        //    .cogroup(c, (k, v, agg) -> last40(agg + "c" + len(v)))
        //    .aggregate(() -> "", Named.as("activity"),
        //               Materialized.as("activity-store") with String serdes)
        //    .toStream().to("output")
        add("cogroup_named", "cogroup of two named re-keyed groupings, named nodes and store",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KGroupedStream<String, String> a = b.<String, String>stream("input")
                    .groupBy((k, v) -> v == null || v.isEmpty() ? null : v.substring(0, 1),
                             Grouped.as("by-first"));
                KGroupedStream<String, String> c = b.<String, String>stream("input2")
                    .groupBy((k, v) -> v == null || v.isEmpty() ? null : v.substring(0, 1),
                             Grouped.as("by-first2"));
                a.cogroup((String k, String v, String agg) -> last40(agg + "a" + len(v)))
                    .cogroup(c, (String k, String v, String agg) -> last40(agg + "c" + len(v)))
                    .aggregate(() -> "", Named.as("activity"),
                               Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("activity-store")
                                   .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()))
                    .toStream().to("output");
            });

        // cogroup_windowed: a, c grouped by key
        //   a.cogroup((k, v, agg) -> agg + 1).cogroup(c, (k, v, agg) -> agg + 100)
        //    .windowedBy(TimeWindows.ofSizeAndGrace(10 s, 2 s))
        //    .aggregate(() -> 0L, Materialized.with(String, Long)).toStream()
        //    .to("output", Produced.with(timeWindowedSerdeFrom(String, 10000), Long))
        add("cogroup_windowed", "cogroup windowed by tumbling windows 10s grace 2s, Long",
            List.of("input", "input2"), List.of(out("output", timeWindowed(10_000L), LONG)), b -> {
                KGroupedStream<String, String> a = b.<String, String>stream("input").groupByKey();
                KGroupedStream<String, String> c = b.<String, String>stream("input2").groupByKey();
                a.cogroup((String k, String v, Long agg) -> agg + 1)
                    .cogroup(c, (String k, String v, Long agg) -> agg + 100)
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(2)))
                    .aggregate(() -> 0L, Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream()
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 10_000L),
                                                Serdes.Long()));
            });

        // cogroup_sliding: as cogroup_windowed, windowedBy(SlidingWindows
        //   .ofTimeDifferenceAndGrace(5 s, 2 s)), output timeWindowedSerdeFrom(String, 5000)
        add("cogroup_sliding", "cogroup windowed by sliding windows difference 5s grace 2s, Long",
            List.of("input", "input2"), List.of(out("output", timeWindowed(5_000L), LONG)), b -> {
                KGroupedStream<String, String> a = b.<String, String>stream("input").groupByKey();
                KGroupedStream<String, String> c = b.<String, String>stream("input2").groupByKey();
                a.cogroup((String k, String v, Long agg) -> agg + 1)
                    .cogroup(c, (String k, String v, Long agg) -> agg + 100)
                    .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2)))
                    .aggregate(() -> 0L, Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream()
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 5_000L),
                                                Serdes.Long()));
            });

        // cogroup_session: as cogroup_windowed, windowedBy(SessionWindows
        //   .ofInactivityGapAndGrace(5 s, 2 s)), aggregate(() -> 0L, (k, x, y) -> x + y,
        //   Materialized.with(String, Long)), output sessionWindowedSerdeFrom(String)
        add("cogroup_session", "cogroup windowed by session windows gap 5s grace 2s, Long, merger sums",
            List.of("input", "input2"), List.of(out("output", SESSION_WINDOWED, LONG)), b -> {
                KGroupedStream<String, String> a = b.<String, String>stream("input").groupByKey();
                KGroupedStream<String, String> c = b.<String, String>stream("input2").groupByKey();
                a.cogroup((String k, String v, Long agg) -> agg + 1)
                    .cogroup(c, (String k, String v, Long agg) -> agg + 100)
                    .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2)))
                    .aggregate(() -> 0L, (String k, Long x, Long y) -> x + y,
                               Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream()
                    .to("output", Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class),
                                                Serdes.Long()));
            });

        // sql_*: topologies the SQL front end compiles (the statements are in
        // tests/conformance_sql.rs), written here as the equivalent DSL. Sources are
        // `(k VARCHAR KEY, v VARCHAR)` in the KAFKA format: streams drop null values, as
        // ksqlDB's do; WHERE is a filter, the projection a mapValues; an aggregation first
        // maps each row to its GROUP BY values and aggregate arguments, groups by key (or by
        // a value through the repartition topic "Aggregate-GroupBy"), aggregates into the
        // store "Aggregate-Aggregate-Materialize" and maps the aggregate to the row.
        add("sql_filter_project", "SQL: SELECT k, UCASE(v) AS v FROM s WHERE LEN(v) > 3",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                b.<String, String>stream("input")
                    .filter((k, v) -> v != null && v.length() > 3)
                    .mapValues((k, v) -> v.toUpperCase(Locale.ROOT))
                    .to("output");
            });

        // sql_windowed_revenue: the seed's windowed revenue, with LEN(item) as the total:
        // SELECT customerId, WINDOWSTART AS window_start, SUM(LEN(item)) AS revenue,
        // COUNT(*) AS order_count ... WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 2 SECONDS)
        // GROUP BY customerId, values as ksqlDB's JSON rows
        add("sql_windowed_revenue", "SQL: SUM and COUNT per key in tumbling windows 10s grace 2s, JSON rows",
            List.of("input"), List.of(out("output", timeWindowed(10_000L), STRING)), b -> {
                b.<String, String>stream("input")
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> String.valueOf(v.length()))
                    .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(2)))
                    .aggregate(() -> "0,0", (String k, String len, String agg) -> {
                            String[] p = agg.split(",");
                            return (Long.parseLong(p[0]) + Long.parseLong(len)) + "," + (Long.parseLong(p[1]) + 1);
                        },
                        Materialized.<String, String, WindowStore<Bytes, byte[]>>as("Aggregate-Aggregate-Materialize")
                            .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()))
                    .toStream()
                    .mapValues((Windowed<String> wk, String agg) -> {
                        String[] p = agg.split(",");
                        return "{\"WINDOW_START\":" + wk.window().start() + ",\"REVENUE\":" + p[0]
                            + ",\"ORDER_COUNT\":" + p[1] + "}";
                    })
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 10_000L),
                                                Serdes.String()));
            });

        // sql_hopping: SELECT k, COUNT(*) AS n ... WINDOW HOPPING (SIZE 10 SECONDS,
        // ADVANCE BY 5 SECONDS, GRACE PERIOD 2 SECONDS) GROUP BY k, BIGINT values (KAFKA)
        add("sql_hopping", "SQL: COUNT(*) per key in hopping windows 10s advance 5s grace 2s",
            List.of("input"), List.of(out("output", timeWindowed(10_000L), LONG)), b -> {
                b.<String, String>stream("input")
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(2))
                        .advanceBy(Duration.ofSeconds(5)))
                    .aggregate(() -> 0L, (String k, String v, Long n) -> n + 1,
                        Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("Aggregate-Aggregate-Materialize")
                            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                    .toStream()
                    .mapValues((Windowed<String> wk, Long n) -> n)
                    .to("output", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 10_000L),
                                                Serdes.Long()));
            });

        // sql_session: SELECT k, COUNT(*) AS n ... WINDOW SESSION (5 SECONDS, GRACE PERIOD
        // 2 SECONDS) GROUP BY k; merged sessions' tombstones pass through
        add("sql_session", "SQL: COUNT(*) per key in session windows gap 5s grace 2s",
            List.of("input"), List.of(out("output", SESSION_WINDOWED, LONG)), b -> {
                b.<String, String>stream("input")
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
                    .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2)))
                    .aggregate(() -> 0L, (String k, String v, Long n) -> n + 1, (String k, Long x, Long y) -> x + y,
                        Materialized.<String, Long, SessionStore<Bytes, byte[]>>as("Aggregate-Aggregate-Materialize")
                            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                    .toStream()
                    .mapValues((Windowed<String> wk, Long n) -> n)
                    .to("output", Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class),
                                                Serdes.Long()));
            });

        // sql_group_by_value: SELECT v, COUNT(*) AS n FROM s GROUP BY v: ksqlDB repartitions
        // by the new key (as PARTITION BY v would) before aggregating
        add("sql_group_by_value", "SQL: COUNT(*) grouped by the value, through a repartition topic",
            List.of("input"), List.of(out("output", STRING, LONG)), b -> {
                sqlCount(b.<String, String>stream("input")
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .groupBy((k, v) -> v, Grouped.with(Serdes.String(), Serdes.String()).withName("Aggregate-GroupBy")));
            });

        // sql_partition_by_aggregate: two queries, CREATE STREAM byv WITH (KAFKA_TOPIC='rekeyed')
        // AS SELECT v, k FROM s PARTITION BY v, then SELECT v, COUNT(*) AS n FROM byv GROUP BY v:
        // the first writes the rows keyed by v (k the value); the second groups by its key
        // column, so ksqlDB aggregates without a repartition (groupByKey)
        add("sql_partition_by_aggregate", "SQL: PARTITION BY into a topic, then COUNT(*) grouped by its key",
            List.of("input"), List.of(out("output", STRING, LONG)), b -> {
                b.<String, String>stream("input")
                    .filter((k, v) -> v != null)
                    .map((k, v) -> KeyValue.pair(v, k))
                    .to("rekeyed", Produced.with(Serdes.String(), Serdes.String()));
                sqlCount(b.stream("rekeyed", Consumed.with(Serdes.String(), Serdes.String()))
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .groupByKey(Grouped.with(Serdes.String(), Serdes.String())));
            });

        // sql_table_aggregate: t a table (k VARCHAR PRIMARY KEY, v VARCHAR) on input;
        // SELECT CASE WHEN v LIKE '%,%' THEN SUBSTRING(v, 1, 1) END AS initial, COUNT(*) AS n,
        // SUM(LEN(v)) AS total FROM t WHERE LEN(v) > 4 GROUP BY (the same CASE), JSON values:
        //   table(input).filter(v.length() > 4) (a row that stops matching is a delete)
        //   .mapValues(v) (the prepared row)
        //   .groupBy((k, v) -> KeyValue.pair(v contains "," ? v.substring(0, 1) : null, v),
        //            Grouped.with(String, String).withName("Aggregate-GroupBy"))
        //        a null group is not sent: ksqlDB leaves a row with a null GROUP BY value out
        //   .aggregate(() -> "0,0", adder: n + 1, total + v.length(),
        //              subtractor: n - 1, total - v.length(),
        //              Materialized.as("Aggregate-Aggregate-Materialize") with String serdes)
        //   .toStream().mapValues({"N":n,"TOTAL":total}).to("output")
        // ksqlDB's KTable.groupBy then KGroupedTable.aggregate with its undo aggregator: a
        // row that changes group leaves the old one (subtractor) and joins the new one (adder);
        // a delete only leaves; a group whose rows all left stays at 0.
        add("sql_table_aggregate", "SQL: COUNT(*) and SUM of a table grouped by a value, with WHERE and null groups",
            List.of("input"), List.of(out("output", STRING, STRING)), b -> {
                b.<String, String>table("input")
                    .filter((k, v) -> v.length() > 4)
                    .mapValues((k, v) -> v)
                    .groupBy((k, v) -> KeyValue.pair(v.contains(",") ? v.substring(0, 1) : null, v),
                             Grouped.with(Serdes.String(), Serdes.String()).withName("Aggregate-GroupBy"))
                    .aggregate(() -> "0,0",
                        (String k, String v, String agg) -> {
                            String[] p = agg.split(",");
                            return (Long.parseLong(p[0]) + 1) + "," + (Long.parseLong(p[1]) + v.length());
                        },
                        (String k, String v, String agg) -> {
                            String[] p = agg.split(",");
                            return (Long.parseLong(p[0]) - 1) + "," + (Long.parseLong(p[1]) - v.length());
                        },
                        Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("Aggregate-Aggregate-Materialize")
                            .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()))
                    .toStream()
                    .mapValues((String k, String agg) -> {
                        String[] p = agg.split(",");
                        return "{\"N\":" + p[0] + ",\"TOTAL\":" + p[1] + "}";
                    })
                    .to("output", Produced.with(Serdes.String(), Serdes.String()));
            });

        // sql_*_join: SELECT l.k, l.v + '/' + IFNULL(r.v, 'null') AS j FROM l LEFT JOIN r ...;
        // a stream side is first widened to all its columns (mapValues; tables are joined as
        // read), the join's row is filtered (a table's only with a WHERE) and projected (here
        // the joiner already gives the projection)
        add("sql_stream_table_join", "SQL: stream LEFT JOIN table ON the key",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> s = b.stream("input");
                KTable<String, String> t = b.table("input2");
                s.filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .leftJoin(t, (String l, String r) -> l + "/" + (r == null ? "null" : r))
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .to("output");
            });

        add("sql_stream_stream_join", "SQL: stream LEFT JOIN stream WITHIN 5 SECONDS GRACE PERIOD 2 SECONDS",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> a = b.stream("input");
                KStream<String, String> c = b.stream("input2");
                KStream<String, String> left = a.filter((k, v) -> v != null).mapValues((k, v) -> v);
                KStream<String, String> right = c.filter((k, v) -> v != null).mapValues((k, v) -> v);
                left.leftJoin(right, (String l, String r) -> l + "/" + (r == null ? "null" : r),
                        JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2))
                            .before(Duration.ofSeconds(5)),
                        StreamJoined.with(Serdes.String(), Serdes.String(), Serdes.String()))
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .to("output");
            });

        add("sql_table_table_join", "SQL: table LEFT JOIN table ON both keys",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> t1 = b.table("input");
                KTable<String, String> t2 = b.table("input2");
                t1.leftJoin(t2, (String l, String r) -> l + "/" + (r == null ? "null" : r))
                    .mapValues((k, v) -> v)
                    .toStream()
                    .mapValues(v -> v)
                    .to("output");
            });

        // Three tables on their keys: l LEFT JOIN r, then that result JOIN r2 (input2 declared
        // again, read once), as ksqlDB's n-way table joins; the second join looks the first
        // one's result up through its value getter.
        add("sql_table_nway_join", "SQL: table LEFT JOIN table JOIN table, all on the keys",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KTable<String, String> t1 = b.table("input");
                KTable<String, String> t2 = b.table("input2");
                t1.leftJoin(t2, (String l, String r) -> l + "/" + (r == null ? "null" : r))
                    .join(t2, (String lr, String r2) -> lr + "/" + r2)
                    .mapValues((k, v) -> v)
                    .toStream()
                    .mapValues(v -> v)
                    .to("output");
            });

        // An n-way join: the stream enriched by the table on its key, then re-keyed by an
        // expression of the joined row ('k0' + SUBSTRING(s.k, 3, 1)) and enriched by the same
        // table again (a second declaration of input2), so the second join repartitions.
        // The filter and mapValues before each join are the SQL side's row shaping.
        add("sql_nway_join", "SQL: stream LEFT JOIN table ON the key LEFT JOIN table ON an expression",
            List.of("input", "input2"), List.of(out("output", STRING, STRING)), b -> {
                KStream<String, String> s = b.stream("input");
                KTable<String, String> t = b.table("input2");
                s.filter((k, v) -> v != null)
                    .mapValues((k, v) -> (k == null ? "null" : k) + ":" + v)
                    .leftJoin(t, (String l, String r) -> l + "/" + (r == null ? "null" : r))
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .selectKey((k, v) -> k == null ? null
                        : "k0" + k.substring(Math.min(2, k.length()), Math.min(3, k.length())))
                    .leftJoin(t, (String l, String r) -> l + "/" + (r == null ? "null" : r))
                    .filter((k, v) -> v != null)
                    .mapValues((k, v) -> v)
                    .to("output");
            });
    }

    /**
     * The process_values case's processor: drops empty values; for a non-null key, n is
     * the number of records of the key so far, this one included (kept in store "seen"),
     * for a null key 0; forwards v + "#" + n ("null" for a null v) at timestamp + n.
     */
    static final class SeenCounter implements FixedKeyProcessor<String, String, String> {
        private FixedKeyProcessorContext<String, String> ctx;
        private KeyValueStore<String, Long> seen;

        @Override
        public void init(final FixedKeyProcessorContext<String, String> context) {
            ctx = context;
            seen = context.getStateStore("seen");
        }

        @Override
        public void process(final FixedKeyRecord<String, String> r) {
            if (r.value() != null && r.value().isEmpty()) {
                return;
            }
            long n = 0;
            if (r.key() != null) {
                final Long old = seen.get(r.key());
                n = (old == null ? 0 : old) + 1;
                seen.put(r.key(), n);
            }
            ctx.forward(r.withValue((r.value() == null ? "null" : r.value()) + "#" + n)
                         .withTimestamp(r.timestamp() + n));
        }
    }

    /** The cogroup cases' length of a value, -1 for null. */
    /** ksqlDB's COUNT(*) of grouped rows, in its store, written to output as a BIGINT. */
    static void sqlCount(KGroupedStream<String, String> grouped) {
        grouped.aggregate(() -> 0L, (String k, String v, Long n) -> n + 1,
                Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("Aggregate-Aggregate-Materialize")
                    .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
            .toStream()
            .mapValues((String k, Long n) -> n)
            .to("output", Produced.with(Serdes.String(), Serdes.Long()));
    }

    static long len(String v) {
        return v == null ? -1 : v.length();
    }

    /** The foreign-key joins' foreign key extractor (see the fk_join cases). */
    static String fkOf(String v) {
        if (v.isEmpty() || v.startsWith("e")) {
            return null;
        }
        return String.format(Locale.ROOT, "k%02d", v.length() % 15);
    }

    /** The global-table joins' key mapper (see the global_join cases). */
    static String globalKey(String k, String v) {
        if (k == null) {
            return "k01";
        }
        return k.endsWith("3") || k.startsWith("d") ? null : k;
    }

    /** The windows of the stream-stream join cases. */
    static JoinWindows joinWindows() {
        return JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2));
    }

    /** The stream-stream joins' value: both sides with "<none>" for a missing one. */
    static String joinValue(String l, String r) {
        return (l == null ? "<none>" : l) + "|" + (r == null ? "<none>" : r);
    }

    /** The table joins' value: both sides with "<none>" for a missing one. */
    static String pair(String a, String b) {
        return (a == null ? "<none>" : a) + "/" + (b == null ? "<none>" : b);
    }

    /** Non-empty parts of v split on ','; empty for a null value. */
    static List<String> parts(String v) {
        List<String> result = new ArrayList<>();
        if (v == null) {
            return result;
        }
        for (String p : v.split(",", -1)) {
            if (!p.isEmpty()) {
                result.add(p);
            }
        }
        return result;
    }

    static String last40(String s) {
        return s.length() <= 40 ? s : s.substring(s.length() - 40);
    }

    // ======================================================================================
    // Case plumbing.
    // ======================================================================================

    static Deserializer<Windowed<String>> timeWindowed(long sizeMs) {
        return new TimeWindowedDeserializer<>(new StringDeserializer(), sizeMs);
    }

    record Out(String topic, Deserializer<?> key, Deserializer<?> value) { }

    record Case(String name, String summary, List<String> inputs, List<Out> outputs, Consumer<StreamsBuilder> body) {
        Topology topology() {
            StreamsBuilder builder = new StreamsBuilder();
            body.accept(builder);
            return builder.build();
        }
    }

    static Out out(String topic, Deserializer<?> key, Deserializer<?> value) {
        return new Out(topic, key, value);
    }

    static void add(String name, String summary, List<String> inputs, List<Out> outputs, Consumer<StreamsBuilder> body) {
        CASES.put(name, new Case(name, summary, inputs, outputs, body));
    }

    static Properties config(Path stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "conformance");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1234");
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
        // Stream-stream left/outer joins look at held-back non-matches on every record.
        p.put("__emit.interval.ms.kstreams.outer.join.spurious.results.fix__", 0L);
        // Emit-on-close windowed aggregations look for closed windows on every record. (Both
        // are what TopologyTestDriver sets when absent; they are written out here.)
        p.put("__emit.interval.ms.kstreams.windowed.aggregation__", 0L);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        return p;
    }

    // ======================================================================================
    // Running a case.
    // ======================================================================================

    record InputRecord(int line, String topic, String key, String value, long timestamp) { }

    static final ObjectMapper JSON = new ObjectMapper();

    static List<InputRecord> readInput(Path file) throws IOException {
        List<InputRecord> records = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node = JSON.readTree(line);
                JsonNode topic = node.get("topic");
                JsonNode ts = node.get("timestamp");
                if (topic == null || !topic.isTextual() || ts == null || !ts.canConvertToExactIntegral()) {
                    throw new IllegalArgumentException(file + ":" + n + ": needs a string topic and an integer timestamp");
                }
                records.add(new InputRecord(n, topic.textValue(), text(node, "key", file, n), text(node, "value", file, n),
                                            ts.longValue()));
            }
        }
        return records;
    }

    static String text(JsonNode node, String field, Path file, int line) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException(file + ":" + line + ": " + field + " must be a string or null");
        }
        return v.textValue();
    }

    /**
     * The driver keeps its output per topic, which loses the order across topics. Every
     * record the topology sends goes through the driver's MockProducer, in processing order,
     * so the driver's "sent" list is replaced by one that also appends to this log. The log
     * fixes only the order: each record printed is also read from the public per-topic
     * output queues and must match.
     */
    static final class SendLog extends ArrayList<ProducerRecord<byte[], byte[]>> {
        final List<ProducerRecord<byte[], byte[]>> all = new ArrayList<>();

        SendLog(Collection<ProducerRecord<byte[], byte[]>> existing) {
            super(existing);
            all.addAll(existing);
        }

        @Override
        public boolean add(ProducerRecord<byte[], byte[]> r) {
            all.add(r);
            return super.add(r);
        }
    }

    @SuppressWarnings("unchecked")
    static SendLog installSendLog(TopologyTestDriver driver) {
        try {
            Field producerField = TopologyTestDriver.class.getDeclaredField("producer");
            producerField.setAccessible(true);
            MockProducer<byte[], byte[]> producer = (MockProducer<byte[], byte[]>) producerField.get(driver);
            Field sentField = MockProducer.class.getDeclaredField("sent");
            sentField.setAccessible(true);
            SendLog log = new SendLog((List<ProducerRecord<byte[], byte[]>>) sentField.get(producer));
            sentField.set(producer, log);
            return log;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot observe the driver's send order with this Kafka Streams version", e);
        }
    }

    static void run(Case c, Path input, Writer w) throws IOException {
        List<InputRecord> records = readInput(input);
        Path stateDir = Files.createTempDirectory("conformance-state-");
        Map<String, Out> outputs = new LinkedHashMap<>();
        c.outputs().forEach(o -> outputs.put(o.topic(), o));
        try {
            SendLog log;
            try (TopologyTestDriver driver = new TopologyTestDriver(c.topology(), config(stateDir), START)) {
                log = installSendLog(driver);
                Map<String, TestInputTopic<String, String>> in = new LinkedHashMap<>();
                for (String t : c.inputs()) {
                    in.put(t, driver.createInputTopic(t, new StringSerializer(), new StringSerializer()));
                }
                Map<String, TestOutputTopic<?, ?>> outQueues = new LinkedHashMap<>();
                for (Out o : c.outputs()) {
                    outQueues.put(o.topic(), driver.createOutputTopic(o.topic(), o.key(), o.value()));
                }
                for (InputRecord r : records) {
                    TestInputTopic<String, String> topic = in.get(r.topic());
                    if (topic == null) {
                        continue; // a topic this case does not read
                    }
                    topic.pipeInput(r.key(), r.value(), r.timestamp());
                    drain(log, outputs, outQueues, w, input, r.line());
                }
            }
            // Anything sent while the driver closed (nothing, with caching off) is printed too.
            drain(log, outputs, null, w, input, -1);
        } finally {
            deleteRecursively(stateDir);
        }
    }

    static void drain(SendLog log, Map<String, Out> outputs, Map<String, TestOutputTopic<?, ?>> queues, Writer w,
                      Path input, int line) throws IOException {
        for (ProducerRecord<byte[], byte[]> r : log.all) {
            Out o = outputs.get(r.topic());
            if (o == null) {
                continue; // repartition and changelog topics
            }
            Object key = o.key().deserialize(r.topic(), r.key());
            Object value = o.value().deserialize(r.topic(), r.value());
            long ts = r.timestamp();
            if (queues != null) {
                TestRecord<?, ?> expected = queues.get(r.topic()).readRecord();
                if (!Objects.equals(expected.key(), key) || !Objects.equals(expected.value(), value)
                    || expected.timestamp() != ts) {
                    throw new IllegalStateException(input + ":" + line + ": send log and output queue disagree on "
                                                    + r.topic() + ": " + expected + " vs " + key + "/" + value);
                }
            }
            w.write(jsonLine(r.topic(), key, value, ts));
        }
        log.all.clear();
        if (queues != null) {
            for (Map.Entry<String, TestOutputTopic<?, ?>> q : queues.entrySet()) {
                if (!q.getValue().isEmpty()) {
                    throw new IllegalStateException(input + ":" + line + ": output queue " + q.getKey()
                                                    + " has records the send log missed");
                }
            }
        }
    }

    // ======================================================================================
    // Output rendering: {"topic":...,"key":...,"value":...,"timestamp":N}
    // ======================================================================================

    static String jsonLine(String topic, Object key, Object value, long timestamp) {
        StringBuilder sb = new StringBuilder(96);
        sb.append("{\"topic\":");
        jsonString(sb, topic);
        sb.append(",\"key\":");
        jsonValue(sb, key);
        sb.append(",\"value\":");
        jsonValue(sb, value);
        sb.append(",\"timestamp\":").append(timestamp).append("}\n");
        return sb.toString();
    }

    static void jsonValue(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String s) {
            jsonString(sb, s);
        } else if (v instanceof Long || v instanceof Integer) {
            sb.append(v);
        } else if (v instanceof Double d) {
            if (d.isNaN() || d.isInfinite()) {
                throw new IllegalArgumentException("not representable in JSON: " + d);
            }
            sb.append(d);
        } else if (v instanceof Windowed<?> wk) {
            sb.append("{\"key\":");
            jsonValue(sb, wk.key());
            sb.append(",\"start\":").append(wk.window().start());
            sb.append(",\"end\":").append(wk.window().end()).append('}');
        } else {
            throw new IllegalArgumentException("no JSON rendering for " + v.getClass().getName());
        }
    }

    /** JSON string with the minimal escapes: \" \\ \b \f \n \r \t and \\u00xx for other controls. */
    static void jsonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    // ======================================================================================
    // Command line.
    // ======================================================================================

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("--list")) {
            try (Writer w = stdout()) {
                for (String name : CASES.keySet()) {
                    w.write(name + "\n");
                }
            }
        } else if (args.length >= 2 && args[0].equals("--all")) {
            Path outDir = Path.of(args[1]);
            List<Path> inputs = Arrays.stream(args, 2, args.length).map(Path::of).toList();
            for (Case c : CASES.values()) {
                Path dir = Files.createDirectories(outDir.resolve(c.name()));
                Files.writeString(dir.resolve("describe.txt"), c.topology().describe().toString(), StandardCharsets.UTF_8);
                for (Path input : inputs) {
                    try (Writer w = Files.newBufferedWriter(dir.resolve(input.getFileName().toString()),
                                                            StandardCharsets.UTF_8)) {
                        run(c, input, w);
                    }
                }
            }
        } else if (args.length == 2 && CASES.containsKey(args[0])) {
            Case c = CASES.get(args[0]);
            try (Writer w = stdout()) {
                if (args[1].equals("--describe")) {
                    w.write(c.topology().describe().toString());
                } else {
                    run(c, Path.of(args[1]), w);
                }
            }
        } else {
            System.err.println("usage: java -cp 'lib/*' Ref.java <case> (<input.jsonl> | --describe)");
            System.err.println("       java -cp 'lib/*' Ref.java --list");
            System.err.println("       java -cp 'lib/*' Ref.java --all <out-dir> <input.jsonl>...");
            System.err.println("cases: " + String.join(", ", CASES.keySet()));
            System.exit(2);
        }
    }

    static Writer stdout() {
        return new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
