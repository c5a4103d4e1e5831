// The Java Kafka Streams 4.4.0 peer of tests/benches/broker_throughput.rs: the same
// topologies (stateless, windowed count, stream-table and stream-stream join, store restore),
// over the same input topic of a real broker, measured the same way.
//
// Usage: BrokerPeer <bootstrap> <input topic> <records> <kind> <output topic> <table topic>,
// where kind is stateless, window, join, streamjoin, restore or latency (stateless with the
// default commit interval), with -2t for two stream threads and -eos for exactly_once_v2;
// records 0 runs until standard input closes. The join contestants count the table's records
// too (the table is read as a stream, counted, then turned into a table, as the Rust side's
// count includes them). The restore contestants reduce the input by key into the RocksDB
// store `store` and count the records restored into it from its changelog, which the bench
// has filled; for them first_ms below ends when the first changelog partition starts
// restoring. The application.id is BROKER_BENCH_APPLICATION_ID when set (the restore
// contestants' changelog is named after it), else a fresh one. Prints one line:
// `broker_result java <topology> records=N first_ms=F done_ms=D rss_kib=R cpu_ms=C`, where
// first_ms is the time from start() to the first processed record and done_ms the time from
// start() to the N-th (or to the end of the run).

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;

public class BrokerPeer {
    static long statusKib(String field) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
            }
        }
        return -1;
    }

    static long cpuMs() throws Exception {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;
    }

    static boolean leftSide(byte[] v) {
        return v.length > 1 && v[1] < 'n';
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String input = args[1];
        long records = Long.parseLong(args[2]);
        String kind = args[3];
        String output = args[4];
        boolean eos = kind.contains("-eos");
        String threads = kind.contains("-2t") ? "2" : "1";

        AtomicLong processed = new AtomicLong();
        AtomicLong firstNanos = new AtomicLong();
        StreamsBuilder builder = new StreamsBuilder();
        if (kind.startsWith("join")) {
            records += 100_000;
            KTable<byte[], byte[]> customers = builder
                .stream(args[5], Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .peek((k, v) -> { if (processed.incrementAndGet() == 1) firstNanos.set(System.nanoTime()); })
                .toTable(Materialized.with(Serdes.ByteArray(), Serdes.ByteArray()));
            builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .peek((k, v) -> { if (processed.incrementAndGet() == 1) firstNanos.set(System.nanoTime()); })
                .join(customers, BrokerPeer::concat)
                .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        } else if (kind.startsWith("streamjoin")) {
            KStream<byte[], byte[]> in = builder
                .stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .peek((k, v) -> { if (processed.incrementAndGet() == 1) firstNanos.set(System.nanoTime()); });
            KStream<byte[], byte[]> left = in.filter((k, v) -> leftSide(v));
            KStream<byte[], byte[]> right = in.filterNot((k, v) -> leftSide(v));
            left.join(right, BrokerPeer::concat,
                    JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofMinutes(5)),
                    StreamJoined.with(Serdes.ByteArray(), Serdes.ByteArray(), Serdes.ByteArray()))
                .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        } else if (kind.startsWith("stateless") || kind.startsWith("latency")) {
            builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .peek((k, v) -> { if (processed.incrementAndGet() == 1) firstNanos.set(System.nanoTime()); })
                .filter((k, v) -> v.length == 0 || v[0] != '#')
                .mapValues(v -> {
                    byte[] out = v.clone();
                    for (int i = 0; i < out.length; i++) {
                        if (out[i] >= 'a' && out[i] <= 'z') out[i] -= 32;
                    }
                    return out;
                })
                .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        } else if (kind.startsWith("restore")) {
            builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .groupByKey(Grouped.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .reduce((older, latest) -> latest,
                    Materialized.<byte[], byte[], KeyValueStore<Bytes, byte[]>>as("store")
                        .withKeySerde(Serdes.ByteArray())
                        .withValueSerde(Serdes.ByteArray()));
        } else {
            builder.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
                .peek((k, v) -> { if (processed.incrementAndGet() == 1) firstNanos.set(System.nanoTime()); })
                .groupByKey()
                .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofHours(1)))
                .count()
                .toStream()
                .to(output, Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 3_600_000L), Serdes.Long()));
        }
        Path stateDir = Files.createTempDirectory("broker-peer");
        Properties p = new Properties();
        String applicationId = System.getenv("BROKER_BENCH_APPLICATION_ID");
        p.put("application.id", applicationId != null ? applicationId : "broker-peer-" + kind + "-" + System.nanoTime());
        p.put("bootstrap.servers", bootstrap);
        p.put("state.dir", stateDir.toString());
        // The latency contestants keep the default commit interval, as the Rust side does.
        if (!kind.startsWith("latency")) {
            p.put("commit.interval.ms", "1000");
        }
        p.put("num.stream.threads", threads);
        p.put("processing.guarantee", eos ? "exactly_once_v2" : "at_least_once");
        p.put("consumer.auto.offset.reset", "earliest");
        KafkaStreams streams = new KafkaStreams(builder.build(), p);
        if (kind.startsWith("restore")) {
            // A store's records count once its restore ends, as on the Rust side.
            streams.setGlobalStateRestoreListener(new StateRestoreListener() {
                @Override
                public void onRestoreStart(TopicPartition partition, String store, long from, long to) {
                    firstNanos.compareAndSet(0, System.nanoTime());
                }

                @Override
                public void onBatchRestored(TopicPartition partition, String store, long end, long restored) { }

                @Override
                public void onRestoreEnd(TopicPartition partition, String store, long restored) {
                    processed.addAndGet(restored);
                }
            });
        }
        long start = System.nanoTime();
        streams.start();
        long deadline = start + Duration.ofMinutes(10).toNanos();
        // records 0: run until standard input closes, which is how the latency runs stop.
        AtomicBoolean stdinClosed = new AtomicBoolean(false);
        if (records == 0) {
            Thread t = new Thread(() -> {
                try {
                    while (System.in.read() != -1) { }
                } catch (java.io.IOException e) {
                    // A broken pipe ends the run as a closed one does.
                }
                stdinClosed.set(true);
            });
            t.setDaemon(true);
            t.start();
        }
        final long target = records;
        while ((target == 0 ? !stdinClosed.get() : processed.get() < target) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        long done = System.nanoTime();
        long n = processed.get();
        long rss = statusKib("VmHWM");
        long cpu = cpuMs();
        streams.close(Duration.ofSeconds(30));
        streams.cleanUp();
        System.out.printf("broker_result java %s records=%d first_ms=%.1f done_ms=%.1f rss_kib=%d cpu_ms=%d%n",
            kind, n, (firstNanos.get() - start) / 1e6, (done - start) / 1e6, rss, cpu);
    }
}
