// The Java client (kafka-clients 4.3.1) side of the Odradek interop suite.
//
//   java Interop produce BOOTSTRAP COMPRESSION < records   lines: topic \t partition \t - \t key \t value \t headers
//   java Interop consume BOOTSTRAP TOPIC:PARTITIONS...     the same lines on stdout, with offsets
//   (-Disolation.level=read_committed for a read_committed consumer; Txn.java produces in
//   transactions)
//
// Keys and values are base64 or "-" for null; headers are comma-separated key:value pairs of
// base64 (value "-" for null). The consumer assigns every listed partition (no consumer group) and
// reads from the start up to the end offset it saw when it began.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class Interop {
    public static void main(String[] args) throws Exception {
        if (args.length >= 3 && args[0].equals("produce")) {
            produce(args[1], args[2]);
        } else if (args.length >= 3 && args[0].equals("consume")) {
            consume(args[1], java.util.Arrays.copyOfRange(args, 2, args.length));
        } else {
            System.err.println("usage: Interop produce BOOTSTRAP COMPRESSION | Interop consume BOOTSTRAP TOPIC:PARTITIONS...");
            System.exit(2);
        }
    }

    private static byte[] decode(String field) {
        return field.equals("-") ? null : Base64.getDecoder().decode(field);
    }

    private static String encode(byte[] bytes) {
        return bytes == null ? "-" : Base64.getEncoder().encodeToString(bytes);
    }

    private static void produce(String bootstrap, String compression) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("acks", "all");
        props.put("enable.idempotence", "true");
        props.put("compression.type", compression);
        props.put("linger.ms", "5");
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer =
                        new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                String[] f = line.split("\t", -1);
                if (f.length != 6) throw new IllegalArgumentException("record line has " + f.length + " fields: " + line);
                List<Header> headers = new ArrayList<>();
                if (!f[5].isEmpty()) {
                    for (String h : f[5].split(",", -1)) {
                        String[] kv = h.split(":", 2);
                        headers.add(new RecordHeader(new String(decode(kv[0]), StandardCharsets.UTF_8), decode(kv[1])));
                    }
                }
                acks.add(producer.send(new ProducerRecord<>(f[0], Integer.parseInt(f[1]), null, decode(f[3]), decode(f[4]), headers)));
            }
            producer.flush();
            for (Future<RecordMetadata> ack : acks) ack.get();
        }
        System.err.println("java: " + acks.size() + " records acknowledged");
    }

    private static void consume(String bootstrap, String[] specs) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("enable.auto.commit", "false");
        props.put("auto.offset.reset", "earliest");
        props.put("isolation.level", System.getProperty("isolation.level", "read_uncommitted"));
        List<TopicPartition> partitions = new ArrayList<>();
        for (String spec : specs) {
            String[] tp = spec.split(":", 2);
            for (int p = 0; p < Integer.parseInt(tp[1]); p++) partitions.add(new TopicPartition(tp[0], p));
        }
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer =
                        new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
                BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8))) {
            Map<TopicPartition, Long> remaining = new HashMap<>();
            for (Map.Entry<TopicPartition, Long> e : consumer.endOffsets(partitions).entrySet()) {
                if (e.getValue() > 0) remaining.put(e.getKey(), e.getValue());
            }
            consumer.assign(new ArrayList<>(remaining.keySet()));
            consumer.seekToBeginning(remaining.keySet());
            while (!remaining.isEmpty()) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("timed out; not read to the end: " + remaining);
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    Long end = remaining.get(tp);
                    if (end == null || r.offset() >= end) continue;
                    StringBuilder headers = new StringBuilder();
                    for (Header h : r.headers()) {
                        if (headers.length() > 0) headers.append(',');
                        headers.append(encode(h.key().getBytes(StandardCharsets.UTF_8))).append(':').append(encode(h.value()));
                    }
                    out.write(r.topic() + "\t" + r.partition() + "\t" + r.offset() + "\t" + encode(r.key()) + "\t"
                            + encode(r.value()) + "\t" + headers + "\n");
                }
                // The position, not the last record: with transactions the end offset may be a
                // marker or an aborted record the consumer never returns.
                for (TopicPartition tp : new ArrayList<>(remaining.keySet())) {
                    if (consumer.position(tp) >= remaining.get(tp)) {
                        remaining.remove(tp);
                        consumer.pause(List.of(tp));
                    }
                }
            }
        }
    }
}
