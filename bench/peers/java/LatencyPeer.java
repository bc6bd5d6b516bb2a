// Fixed-rate end-to-end latency peer on the Java client (kafka-clients). Throughput uses
// kafka-tools ProducerPerformance / ConsumerPerformance; those have no fixed-rate end-to-end mode.
//
//   java -cp "libs/*:DIR" LatencyPeer --bootstrap B --topic T --rate R --seconds D --size S
//        --acks A --compression C --linger-ms L --batch-size BYTES
// Prints one JSON object on stdout; latency = receipt time - intended send time.
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class LatencyPeer {
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) a.put(args[i], args[i + 1]);
        String topic = a.get("--topic");
        int rate = Integer.parseInt(a.getOrDefault("--rate", "1000"));
        double seconds = Double.parseDouble(a.getOrDefault("--seconds", "5"));
        int size = Integer.parseInt(a.getOrDefault("--size", "100"));
        int total = (int) (rate * seconds);

        Properties pp = new Properties();
        pp.put("bootstrap.servers", a.get("--bootstrap"));
        pp.put("acks", a.getOrDefault("--acks", "1"));
        pp.put("compression.type", a.getOrDefault("--compression", "none"));
        pp.put("linger.ms", a.getOrDefault("--linger-ms", "5"));
        pp.put("batch.size", a.getOrDefault("--batch-size", "65536"));
        pp.put("enable.idempotence", "false");
        pp.put("max.in.flight.requests.per.connection", "5");
        pp.put("key.serializer", ByteArraySerializer.class.getName());
        pp.put("value.serializer", ByteArraySerializer.class.getName());
        Properties cp = new Properties();
        cp.put("bootstrap.servers", a.get("--bootstrap"));
        cp.put("enable.auto.commit", "false");
        cp.put("fetch.min.bytes", "1");
        cp.put("max.partition.fetch.bytes", "1048576");
        cp.put("fetch.max.bytes", "52428800");
        cp.put("key.deserializer", ByteArrayDeserializer.class.getName());
        cp.put("value.deserializer", ByteArrayDeserializer.class.getName());

        long[] lat = new long[total];
        AtomicInteger got = new AtomicInteger();
        AtomicBoolean warm = new AtomicBoolean(), stop = new AtomicBoolean();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp);
                KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            Thread reader = new Thread(() -> {
                consumer.assign(List.of(tp));
                consumer.seek(tp, 0);
                while (got.get() < total && !stop.get()) {
                    var records = consumer.poll(Duration.ofMillis(50));
                    long now = System.nanoTime();
                    for (ConsumerRecord<byte[], byte[]> r : records) {
                        long intended = ByteBuffer.wrap(r.value()).order(ByteOrder.LITTLE_ENDIAN).getLong();
                        if (intended == 0) warm.set(true);
                        else if (got.get() < total) lat[got.getAndIncrement()] = now - intended;
                    }
                }
            });
            reader.start();
            byte[] filler = new byte[size];
            for (int i = 0; i < size; i++) filler[i] = (byte) ('A' + (i * 7) % 26);
            long warmDeadline = System.nanoTime() + 60_000_000_000L;
            while (!warm.get()) {
                if (System.nanoTime() > warmDeadline) fail("consumer saw no warm-up record in 60 s", stop);
                byte[] w = filler.clone();
                ByteBuffer.wrap(w).order(ByteOrder.LITTLE_ENDIAN).putLong(0L);
                producer.send(new ProducerRecord<>(topic, w)).get();
                Thread.sleep(100);
            }
            long interval = 1_000_000_000L / rate, start = System.nanoTime() + 10_000_000L;
            for (int i = 0; i < total; i++) {
                long intended = start + i * interval;
                long left;
                while ((left = intended - System.nanoTime()) > 0) {
                    if (left > 200_000) LockSupport.parkNanos(left - 100_000);
                }
                byte[] v = filler.clone();
                ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).putLong(intended);
                producer.send(new ProducerRecord<>(topic, v), (md, e) -> {
                    if (e != null) fail("produce: " + e, stop);
                });
            }
            producer.flush();
            reader.join(30_000);
            stop.set(true);
            if (got.get() < total) fail("not every record arrived within 30 s", stop);
        }
        long[] s = Arrays.copyOf(lat, got.get());
        Arrays.sort(s);
        System.out.printf(java.util.Locale.ROOT,
                "{\"records\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"client\":\"java kafka-clients %s\"}%n",
                s.length, pct(s, 0.5), pct(s, 0.99), pct(s, 0.999), s[s.length - 1] / 1000.0,
                org.apache.kafka.common.utils.AppInfoParser.getVersion());
        System.exit(0);
    }

    static double pct(long[] s, double q) {
        return s[(int) (q * (s.length - 1))] / 1000.0;
    }

    static void fail(String why, AtomicBoolean stop) {
        stop.set(true);
        System.err.println("java latency peer: " + why);
        System.exit(1);
    }
}
