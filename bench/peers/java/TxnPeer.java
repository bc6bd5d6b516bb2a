// Transactions peer on the Java client (kafka-clients), with the peers' common command line
// (bench/README.md): kafka-tools ProducerPerformance commits by time (--transaction-duration-ms),
// not every N records, and ConsumerPerformance subscribes through a group; this program does what
// the C and Rust peers do, so every client runs the same loop.
//
//   java -cp "libs/*:DIR" TxnPeer txn-produce --bootstrap B --topic T --count N --size S
//        --acks all --compression C --linger-ms L --batch-size BYTES --txn-records K
//        --transactional-id ID [--abort-every M]
//   java -cp "libs/*:DIR" TxnPeer consume --bootstrap B --topic T --count N
//        [--isolation read_committed|read_uncommitted]
// Prints one JSON object on stdout.
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class TxnPeer {
    static final String CLIENT = "java kafka-clients " + org.apache.kafka.common.utils.AppInfoParser.getVersion();

    public static void main(String[] args) throws Exception {
        if (args.length < 1) fail("usage: TxnPeer txn-produce|consume --bootstrap B --topic T ...");
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i + 1 < args.length; i += 2) a.put(args[i], args[i + 1]);
        switch (args[0]) {
            case "txn-produce" -> txnProduce(a);
            case "consume" -> consume(a);
            default -> fail("unknown mode " + args[0]);
        }
    }

    // Random upper-case letters, the same generator as the C and Rust peers.
    static byte[] payloadPool(int len) {
        byte[] p = new byte[len];
        long x = 0x9E3779B97F4A7C15L;
        for (int i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            p[i] = (byte) ('A' + Long.remainderUnsigned(x, 26));
        }
        return p;
    }

    // Transactions of --txn-records records, each committed (every --abort-every-th aborted). The
    // clock runs from the first beginTransaction (after initTransactions) to the last commit's
    // answer; "records" counts the committed ones.
    static void txnProduce(Map<String, String> a) {
        String topic = a.get("--topic");
        long count = Long.parseLong(a.getOrDefault("--count", "100000"));
        int size = Integer.parseInt(a.getOrDefault("--size", "100"));
        long per = Math.max(1, Long.parseLong(a.getOrDefault("--txn-records", "100")));
        long abortEvery = Long.parseLong(a.getOrDefault("--abort-every", "0"));
        Properties pp = new Properties();
        pp.put("bootstrap.servers", a.get("--bootstrap"));
        pp.put("acks", a.getOrDefault("--acks", "all"));
        pp.put("compression.type", a.getOrDefault("--compression", "none"));
        pp.put("linger.ms", a.getOrDefault("--linger-ms", "5"));
        pp.put("batch.size", a.getOrDefault("--batch-size", "65536"));
        pp.put("enable.idempotence", "true");
        pp.put("transactional.id", a.getOrDefault("--transactional-id", "odradek-bench-txn"));
        pp.put("max.in.flight.requests.per.connection", "5");
        pp.put("key.serializer", ByteArraySerializer.class.getName());
        pp.put("value.serializer", ByteArraySerializer.class.getName());
        // Values cut from the pool once, as ProducerPerformance keeps its payloads: send() copies
        // the value into its batch, so an array can be sent again.
        final int poolLen = 1 << 20;
        byte[] pool = payloadPool(poolLen);
        byte[][] values = new byte[4096][];
        for (int i = 0; i < values.length; i++) {
            values[i] = new byte[size];
            System.arraycopy(pool, (int) (((long) i * 4099) % (poolLen - size)), values[i], 0, size);
        }
        long sent = 0, committed = 0, aborted = 0, txns = 0;
        long t0, t1;
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
            p.initTransactions();
            t0 = System.nanoTime();
            while (sent < count) {
                long n = Math.min(per, count - sent);
                txns++;
                p.beginTransaction();
                for (long i = sent; i < sent + n; i++) {
                    p.send(new ProducerRecord<>(topic, values[(int) (i % values.length)]));
                }
                sent += n;
                if (abortEvery > 0 && txns % abortEvery == 0) {
                    p.abortTransaction();
                    aborted += n;
                } else {
                    // Flushes first and throws if a record of the transaction failed.
                    p.commitTransaction();
                    committed += n;
                }
            }
            t1 = System.nanoTime();
        }
        System.out.printf("{\"records\":%d,\"aborted\":%d,\"transactions\":%d,\"bytes\":%d,"
                + "\"seconds\":%.6f,\"client\":\"%s\"}%n", committed, aborted, txns,
                committed * size, (t1 - t0) / 1e9, CLIENT);
    }

    // Partition 0 from offset 0, no group; the clock starts at the first record.
    static void consume(Map<String, String> a) {
        long count = Long.parseLong(a.getOrDefault("--count", "100000"));
        Properties cp = new Properties();
        cp.put("bootstrap.servers", a.get("--bootstrap"));
        cp.put("enable.auto.commit", "false");
        cp.put("fetch.min.bytes", "1");
        cp.put("max.partition.fetch.bytes", "1048576");
        cp.put("fetch.max.bytes", "52428800");
        if (a.containsKey("--isolation")) cp.put("isolation.level", a.get("--isolation"));
        cp.put("key.deserializer", ByteArrayDeserializer.class.getName());
        cp.put("value.deserializer", ByteArrayDeserializer.class.getName());
        long n = 0, bytes = 0, t0 = 0;
        long deadline = System.nanoTime() + 300_000_000_000L;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
            TopicPartition tp = new TopicPartition(a.get("--topic"), 0);
            c.assign(List.of(tp));
            c.seek(tp, 0);
            while (n < count) {
                if (System.nanoTime() > deadline) fail("consume timed out after 300 s");
                var records = c.poll(Duration.ofMillis(100));
                if (records.isEmpty()) continue;
                if (n == 0) t0 = System.nanoTime();
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    n++;
                    bytes += r.value() == null ? 0 : r.value().length;
                }
            }
        }
        long t1 = System.nanoTime();
        System.out.printf("{\"records\":%d,\"bytes\":%d,\"seconds\":%.6f,\"client\":\"%s\"}%n",
                n, bytes, (t1 - t0) / 1e9, CLIENT);
    }

    static void fail(String why) {
        System.err.println("java txn peer: " + why);
        System.exit(1);
    }
}
