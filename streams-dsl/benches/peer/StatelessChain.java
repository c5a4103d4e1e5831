// Java Kafka Streams peer of the `stateless_chain` benchmark (streams-dsl/benches/stateless_chain.rs).
//
//   java -cp 'tests/conformance/lib/*' streams-dsl/benches/peer/StatelessChain.java <records> <warmup> [timed]
//
// (The benchmark compiles it with javac and runs the class instead, so that the JVM's resident
// set does not include the compiler the single-file launcher loads.)
//
// Runs source("in") -> filter(value[0] != '#') -> mapValues(reverse) -> to("out"), byte[] keys and
// values, through Kafka Streams' TopologyTestDriver, over the same deterministic input as the Rust
// side: a ring of 16,384 records (16-byte keys, 100-byte values, about 1 in 16 values starting
// with '#') made by SplitMix64, cycled to <records> records per pass, record i at timestamp
// 1_700_000_000_000 + i. Output is drained with readRecordsToList() every 1,000 input records.
//
// Passes, each on a fresh driver (driver creation is not timed):
//   1 checksum pass (untimed): FNV-1a 64 over every output record, in order: timestamp (8 bytes,
//     little-endian), key bytes, value bytes;
//   <warmup> warm-up passes (untimed);
//   [timed] timed passes (default 3): input records per second of each.
//
// Prints one line on stdout (the Rust side parses it):
//   stateless_chain_result impl=java records=<n> timed_passes=<t> rate=<median records/s>
//     rates=<r1>,<r2>,... out_records=<n> in_checksum=<hex> out_checksum=<hex>
//     vm_rss_start_kib=<k> vm_hwm_kib=<k>
// vm_rss_start_kib is this JVM's resident set when main starts (VmRSS), vm_hwm_kib its peak
// (VmHWM), both from /proc/self/status, -1 where unavailable.

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
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.test.TestRecord;

public class StatelessChain {

    // Input shape; must match stateless_chain.rs.
    static final int RING = 16_384;
    static final int KEY_LEN = 16;
    static final int VALUE_LEN = 100;
    static final int DRAIN_EVERY = 1_000;
    static final long SEED = 0x5EED_C4A1_0000_0001L;
    static final long TS_BASE = 1_700_000_000_000L;

    static final long FNV_OFFSET = 0xcbf29ce484222325L;
    static final long FNV_PRIME = 0x100000001b3L;

    /** SplitMix64, bit for bit as in stateless_chain.rs. */
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

        void fill(byte[] out) {
            for (int i = 0; i < out.length; i += 8) {
                long x = next();
                for (int b = 0; b < 8 && i + b < out.length; b++) {
                    out[i + b] = (byte) (x >>> (8 * b));
                }
            }
        }
    }

    static final byte[][] KEYS = new byte[RING][];
    static final byte[][] VALUES = new byte[RING][];

    static void generate() {
        SplitMix64 rng = new SplitMix64(SEED);
        for (int i = 0; i < RING; i++) {
            byte[] key = new byte[KEY_LEN];
            byte[] value = new byte[VALUE_LEN];
            rng.fill(key);
            rng.fill(value);
            if ((rng.next() & 15) == 0) {
                value[0] = '#';
            } else if (value[0] == '#') {
                value[0] = '$';
            }
            KEYS[i] = key;
            VALUES[i] = value;
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
        for (int i = 0; i < RING; i++) {
            h = fnv(h, KEYS[i]);
            h = fnv(h, VALUES[i]);
        }
        return h;
    }

    static Topology topology() {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream("in", Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
            .filter((k, v) -> v.length == 0 || v[0] != '#')
            .mapValues(v -> {
                // The deserialized array is the piped array itself (ByteArrayDeserializer does
                // not copy), so reverse into a new one rather than in place.
                byte[] r = new byte[v.length];
                for (int i = 0; i < v.length; i++) {
                    r[i] = v[v.length - 1 - i];
                }
                return r;
            })
            .to("out", Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        return builder.build();
    }

    static Properties config(Path stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "stateless-chain");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1234");
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        return p;
    }

    /** Result of one pass. */
    record Pass(long nanos, long outRecords, long checksum) { }

    static Pass pass(Topology topology, Path stateDir, int records, boolean checksum) {
        try (TopologyTestDriver driver = new TopologyTestDriver(topology, config(stateDir))) {
            TestInputTopic<byte[], byte[]> in =
                driver.createInputTopic("in", new ByteArraySerializer(), new ByteArraySerializer());
            TestOutputTopic<byte[], byte[]> out =
                driver.createOutputTopic("out", new ByteArrayDeserializer(), new ByteArrayDeserializer());
            long h = FNV_OFFSET;
            long outRecords = 0;
            long start = System.nanoTime();
            for (int i = 0; i < records; i++) {
                int j = i % RING;
                in.pipeInput(KEYS[j], VALUES[j], TS_BASE + i);
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
            long nanos = System.nanoTime() - start;
            return new Pass(nanos, outRecords, h);
        }
    }

    /** A kB field of /proc/self/status (VmHWM, VmRSS), -1 where unavailable. */
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
        long rssStart = procStatusKib("VmRSS");
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: StatelessChain.java <records> <warmup> [timed]");
            System.exit(2);
        }
        int records = Integer.parseInt(args[0]);
        int warmup = Integer.parseInt(args[1]);
        int timed = args.length == 3 ? Integer.parseInt(args[2]) : 3;
        if (records <= 0 || warmup < 0 || timed <= 0) {
            System.err.println("records and timed must be positive, warmup non-negative");
            System.exit(2);
        }
        generate();
        Topology topology = topology();
        Path stateDir = Files.createTempDirectory("stateless-chain-");
        try {
            Pass check = pass(topology, stateDir, records, true);
            for (int w = 0; w < warmup; w++) {
                pass(topology, stateDir, records, false);
            }
            double[] rates = new double[timed];
            for (int t = 0; t < timed; t++) {
                Pass p = pass(topology, stateDir, records, false);
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
                "stateless_chain_result impl=java records=%d timed_passes=%d rate=%.0f rates=%s "
                    + "out_records=%d in_checksum=%016x out_checksum=%016x vm_rss_start_kib=%d vm_hwm_kib=%d",
                records, timed, sorted[timed / 2], String.join(",", rateList),
                check.outRecords(), inputChecksum(), check.checksum(), rssStart, procStatusKib("VmHWM")));
        } finally {
            deleteTree(stateDir);
        }
    }
}
