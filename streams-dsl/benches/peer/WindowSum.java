// Java Kafka Streams peer of the `window_sum` benchmark (streams-dsl/benches/window_sum.rs).
//
//   java -cp 'tests/conformance/lib/*' streams-dsl/benches/peer/WindowSum.java <records> <warmup> <passes> <on|off>
//
// (The benchmark compiles it with javac and runs the class instead, so that the JVM's resident
// set does not include the compiler the single-file launcher loads.)
//
// Runs stream("sales", String, Long) -> groupByKey() -> windowedBy(TimeWindows.ofSizeWithNoGrace(1 h))
// -> aggregate(0L, sum + v, RocksDB window store, caching on or off as the last argument says)
// -> toStream() -> to("revenue", time-windowed String, Long) through Kafka Streams'
// TopologyTestDriver, over the same deterministic input as the Rust side: record i has key
// "key-NNNNNN" with NNNNNN = i * 7919 mod 100,000, value i mod 1,000 (8-byte big-endian) and
// timestamp 1_700_000_000_000 + 18 i. Input is piped as serialized bytes; the output topic is read
// as bytes every 1,000 input records.
//
// Passes, each on a fresh driver (driver creation is not timed):
//   1 warm-up pass of <warmup> records (untimed, skipped when 0);
//   <passes> timed passes of <records> records: input records per second of each, and an FNV-1a
//     64 checksum over every output record, in order: timestamp (8 bytes, little-endian), key
//     bytes, value bytes.
//
// Prints one line on stdout (the Rust side parses it):
//   window_sum_result impl=java caching=<on|off> records=<n> passes=<p> rate=<median records/s>
//     rates=<r1>,<r2>,... out_records=<n> in_checksum=<hex> out_checksum=<hex> vm_hwm_kib=<k>
// vm_hwm_kib is this JVM's peak resident set (VmHWM from /proc/self/status), -1 where unavailable.

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.test.TestRecord;

public class WindowSum {

    // Input shape; must match window_sum.rs.
    static final long KEYS = 100_000L;
    static final long TS_BASE = 1_700_000_000_000L;
    static final long STEP_MS = 18L;
    static final long HOUR_MS = 3_600_000L;
    static final int DRAIN_EVERY = 1_000;

    static final long FNV_OFFSET = 0xcbf29ce484222325L;
    static final long FNV_PRIME = 0x100000001b3L;

    static long fnv(long h, byte[] bytes) {
        for (byte b : bytes) {
            h = (h ^ (b & 0xff)) * FNV_PRIME;
        }
        return h;
    }

    static long fnvLong(long h, long x) {
        for (int b = 0; b < 8; b++) {
            h = (h ^ ((x >>> (8 * b)) & 0xff)) * FNV_PRIME;
        }
        return h;
    }

    /** The input of a pass, serialized once. */
    record Input(byte[][] keys, byte[][] values, long[] timestamps) {
        static Input make(int n) {
            byte[][] keys = new byte[n][];
            byte[][] values = new byte[n][];
            long[] timestamps = new long[n];
            for (int i = 0; i < n; i++) {
                keys[i] = String.format(Locale.ROOT, "key-%06d", (i * 7919L) % KEYS)
                    .getBytes(StandardCharsets.UTF_8);
                values[i] = ByteBuffer.allocate(8).putLong(i % 1_000L).array();
                timestamps[i] = TS_BASE + i * STEP_MS;
            }
            return new Input(keys, values, timestamps);
        }

        long checksum() {
            long h = FNV_OFFSET;
            for (int i = 0; i < keys.length; i++) {
                h = fnv(h, keys[i]);
                h = fnv(h, values[i]);
            }
            return h;
        }
    }

    static Topology topology(boolean caching) {
        StreamsBuilder builder = new StreamsBuilder();
        Materialized<String, Long, WindowStore<Bytes, byte[]>> m =
            Materialized.with(Serdes.String(), Serdes.Long());
        m = caching ? m.withCachingEnabled() : m.withCachingDisabled();
        builder.stream("sales", Consumed.with(Serdes.String(), Serdes.Long()))
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofHours(1)))
            .aggregate(() -> 0L, (k, v, sum) -> sum + v, m)
            .toStream()
            .to("revenue", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, HOUR_MS),
                                         Serdes.Long()));
        return builder.build();
    }

    static Properties config(Path stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "window-sum");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1234");
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        return p;
    }

    /** Result of one pass. */
    record Pass(long nanos, long outRecords, long checksum) { }

    static Pass pass(Topology topology, Path stateDir, Input input) {
        try (TopologyTestDriver driver = new TopologyTestDriver(topology, config(stateDir))) {
            TestInputTopic<byte[], byte[]> in =
                driver.createInputTopic("sales", new ByteArraySerializer(), new ByteArraySerializer());
            TestOutputTopic<byte[], byte[]> out =
                driver.createOutputTopic("revenue", new ByteArrayDeserializer(), new ByteArrayDeserializer());
            int n = input.keys().length;
            long h = FNV_OFFSET;
            long outRecords = 0;
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                in.pipeInput(input.keys()[i], input.values()[i], input.timestamps()[i]);
                if ((i + 1) % DRAIN_EVERY == 0 || i + 1 == n) {
                    List<TestRecord<byte[], byte[]>> drained = out.readRecordsToList();
                    outRecords += drained.size();
                    for (TestRecord<byte[], byte[]> r : drained) {
                        h = fnvLong(h, r.timestamp());
                        h = fnv(h, r.key());
                        h = fnv(h, r.value());
                    }
                }
            }
            long nanos = System.nanoTime() - start;
            return new Pass(nanos, outRecords, h);
        }
    }

    /** A kB field of /proc/self/status (VmHWM), -1 where unavailable. */
    static long procStatusKib(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.UTF_8)) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp dir left behind does not affect the result
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 4 || !(args[3].equals("on") || args[3].equals("off"))) {
            System.err.println("usage: WindowSum.java <records> <warmup> <passes> <on|off>");
            System.exit(2);
        }
        int records = Integer.parseInt(args[0]);
        int warmup = Integer.parseInt(args[1]);
        int passes = Integer.parseInt(args[2]);
        boolean caching = args[3].equals("on");
        if (records <= 0 || warmup < 0 || passes <= 0) {
            System.err.println("records and passes must be positive, warmup non-negative");
            System.exit(2);
        }
        Topology topology = topology(caching);
        Path stateDir = Files.createTempDirectory("window-sum-");
        try {
            if (warmup > 0) {
                pass(topology, stateDir, Input.make(warmup));
            }
            Input input = Input.make(records);
            double[] rates = new double[passes];
            Pass first = null;
            for (int t = 0; t < passes; t++) {
                Pass p = pass(topology, stateDir, input);
                if (first == null) {
                    first = p;
                } else if (p.outRecords() != first.outRecords() || p.checksum() != first.checksum()) {
                    throw new IllegalStateException("timed passes differ");
                }
                rates[t] = records / (p.nanos() / 1e9);
            }
            double[] sorted = rates.clone();
            Arrays.sort(sorted);
            List<String> rateList = new ArrayList<>();
            for (double r : rates) {
                rateList.add(String.format(Locale.ROOT, "%.0f", r));
            }
            System.out.println(String.format(Locale.ROOT,
                "window_sum_result impl=java caching=%s records=%d passes=%d rate=%.0f rates=%s "
                    + "out_records=%d in_checksum=%016x out_checksum=%016x vm_hwm_kib=%d",
                args[3], records, passes, sorted[passes / 2], String.join(",", rateList),
                first.outRecords(), input.checksum(), first.checksum(), procStatusKib("VmHWM")));
        } finally {
            deleteTree(stateDir);
        }
    }
}
