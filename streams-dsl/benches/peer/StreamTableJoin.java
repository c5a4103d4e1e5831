// Java Kafka Streams peer of the `stream_table_join` benchmark (streams-dsl/benches/stream_table_join.rs).
//
//   java -cp 'tests/conformance/lib/*' streams-dsl/benches/peer/StreamTableJoin.java <keys> <records> <warmup> [timed]
//
// (The benchmark compiles it with javac and runs the class instead, so that the JVM's resident
// set does not include the compiler the single-file launcher loads.)
//
// Runs table("customers") joined by stream("orders").join(table, order ++ customer) ->
// to("enriched"), byte[] keys and values, default stores (RocksDB, cached, logged), through Kafka
// Streams' TopologyTestDriver, over the same deterministic input as the Rust side (SplitMix64):
// <keys> distinct 16-byte table keys with 100-byte values, <keys>/16 more keys the table does not
// have, and a ring of 16,384 orders (key chosen among all keys, 32-byte value). The table is loaded
// once (table record i at timestamp 1_700_000_000_000 + i; the load rate is reported); then passes
// of <records> orders cycle the ring, order i of a pass at 1_700_000_000_000 + keys + i. Output is
// drained with readRecordsToList() every 1,000 orders.
//
// Passes, all on the one loaded driver:
//   1 checksum pass (untimed): FNV-1a 64 over every output record, in order: timestamp (8 bytes,
//     little-endian), key bytes, value bytes;
//   <warmup> warm-up passes (untimed);
//   [timed] timed passes (default 5): input records per second of each.
//
// Prints one line on stdout (the Rust side parses it):
//   stream_table_join_result impl=java keys=<k> records=<n> timed_passes=<t> rate=<median>
//     rates=<r1>,<r2>,... load_rate=<records/s> out_records=<n> in_checksum=<hex>
//     out_checksum=<hex> vm_hwm_kib=<k>

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.test.TestRecord;

public class StreamTableJoin {

    // Input shape; must match stream_table_join.rs.
    static final int RING = 16_384;
    static final int KEY_LEN = 16;
    static final int TABLE_VALUE_LEN = 100;
    static final int ORDER_VALUE_LEN = 32;
    static final int MISSING_EVERY = 16;
    static final int DRAIN_EVERY = 1_000;
    static final long SEED = 0x5EED_70B1_E000_0002L;
    static final long TS_BASE = 1_700_000_000_000L;

    static final long FNV_OFFSET = 0xcbf29ce484222325L;
    static final long FNV_PRIME = 0x100000001b3L;

    /** SplitMix64, bit for bit as in stream_table_join.rs. */
    static final class SplitMix64 {
        long state;

        SplitMix64(long seed) {
            state = seed;
        }

        long next() {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        byte[] bytes(int len) {
            byte[] out = new byte[len];
            for (int i = 0; i < len; i += 8) {
                long x = next();
                for (int b = 0; b < 8 && i + b < len; b++) {
                    out[i + b] = (byte) (x >>> (8 * b));
                }
            }
            return out;
        }
    }

    static int tableKeys;
    static byte[][] keys;
    static byte[][] tableValues;
    static int[] orderKeys;
    static byte[][] orderValues;

    static void generate(int n) {
        SplitMix64 rng = new SplitMix64(SEED);
        tableKeys = n;
        int all = n + n / MISSING_EVERY;
        keys = new byte[all][];
        for (int i = 0; i < all; i++) {
            byte[] k = rng.bytes(KEY_LEN);
            for (int b = 0; b < 8; b++) {
                k[b] = (byte) (((long) i) >>> (8 * (7 - b)));
            }
            keys[i] = k;
        }
        tableValues = new byte[n][];
        for (int i = 0; i < n; i++) {
            tableValues[i] = rng.bytes(TABLE_VALUE_LEN);
        }
        orderKeys = new int[RING];
        orderValues = new byte[RING][];
        for (int i = 0; i < RING; i++) {
            orderKeys[i] = (int) Long.remainderUnsigned(rng.next(), all);
            orderValues[i] = rng.bytes(ORDER_VALUE_LEN);
        }
    }

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

    static long inputChecksum() {
        long h = FNV_OFFSET;
        for (byte[] k : keys) {
            h = fnv(h, k);
        }
        for (byte[] v : tableValues) {
            h = fnv(h, v);
        }
        for (int i = 0; i < RING; i++) {
            h = fnvLong(h, orderKeys[i]);
            h = fnv(h, orderValues[i]);
        }
        return h;
    }

    static Topology topology() {
        StreamsBuilder builder = new StreamsBuilder();
        KTable<byte[], byte[]> customers =
            builder.table("customers", Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()));
        builder.stream("orders", Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
            .join(customers, (order, customer) -> {
                byte[] out = new byte[order.length + customer.length];
                System.arraycopy(order, 0, out, 0, order.length);
                System.arraycopy(customer, 0, out, order.length, customer.length);
                return out;
            })
            .to("enriched", Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        return builder.build();
    }

    static Properties config(Path stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "stream-table-join");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1234");
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        return p;
    }

    /** Result of one pass. */
    record Pass(long nanos, long outRecords, long checksum) { }

    static Pass pass(TestInputTopic<byte[], byte[]> orders, TestOutputTopic<byte[], byte[]> out,
                     int records, boolean checksum) {
        long h = FNV_OFFSET;
        long outRecords = 0;
        long start = System.nanoTime();
        for (int i = 0; i < records; i++) {
            int j = i % RING;
            orders.pipeInput(keys[orderKeys[j]], orderValues[j], TS_BASE + tableKeys + i);
            if ((i + 1) % DRAIN_EVERY == 0 || i + 1 == records) {
                List<TestRecord<byte[], byte[]>> drained = out.readRecordsToList();
                outRecords += drained.size();
                if (checksum) {
                    for (TestRecord<byte[], byte[]> r : drained) {
                        h = fnvLong(h, r.timestamp());
                        h = fnv(h, r.key());
                        h = fnv(h, r.value());
                    }
                }
            }
        }
        return new Pass(System.nanoTime() - start, outRecords, h);
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
        if (args.length < 3 || args.length > 4) {
            System.err.println("usage: StreamTableJoin.java <keys> <records> <warmup> [timed]");
            System.exit(2);
        }
        int n = Integer.parseInt(args[0]);
        int records = Integer.parseInt(args[1]);
        int warmup = Integer.parseInt(args[2]);
        int timed = args.length == 4 ? Integer.parseInt(args[3]) : 5;
        if (n < MISSING_EVERY || records <= 0 || warmup < 0 || timed <= 0) {
            System.err.println("keys >= 16, records and timed positive, warmup non-negative");
            System.exit(2);
        }
        generate(n);
        Path stateDir = Files.createTempDirectory("stream-table-join-");
        try (TopologyTestDriver driver = new TopologyTestDriver(topology(), config(stateDir))) {
            TestInputTopic<byte[], byte[]> customers =
                driver.createInputTopic("customers", new ByteArraySerializer(), new ByteArraySerializer());
            TestInputTopic<byte[], byte[]> orders =
                driver.createInputTopic("orders", new ByteArraySerializer(), new ByteArraySerializer());
            TestOutputTopic<byte[], byte[]> out =
                driver.createOutputTopic("enriched", new ByteArrayDeserializer(), new ByteArrayDeserializer());
            long loadStart = System.nanoTime();
            for (int i = 0; i < n; i++) {
                customers.pipeInput(keys[i], tableValues[i], TS_BASE + i);
            }
            double loadRate = n / ((System.nanoTime() - loadStart) / 1e9);
            Pass check = pass(orders, out, records, true);
            for (int w = 0; w < warmup; w++) {
                pass(orders, out, records, false);
            }
            double[] rates = new double[timed];
            for (int t = 0; t < timed; t++) {
                Pass p = pass(orders, out, records, false);
                if (p.outRecords() != check.outRecords()) {
                    throw new IllegalStateException("timed pass produced " + p.outRecords()
                        + " records, checksum pass " + check.outRecords());
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
                "stream_table_join_result impl=java keys=%d records=%d timed_passes=%d rate=%.0f rates=%s "
                    + "load_rate=%.0f out_records=%d in_checksum=%016x out_checksum=%016x vm_hwm_kib=%d",
                n, records, timed, sorted[timed / 2], String.join(",", rateList), loadRate,
                check.outRecords(), inputChecksum(), check.checksum(), procStatusKib("VmHWM")));
        } finally {
            deleteTree(stateDir);
        }
    }
}
