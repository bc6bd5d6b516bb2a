// The Java client (kafka-clients 4.3.1) in the fail-over suite, run as a single source file
// (java -cp "KAFKA/libs/*" JavaFailover.java BOOTSTRAP TOPIC PARTITIONS RATE SECONDS).
//
// One process, two clients that are never restarted: an acks=all idempotent producer sending
// RATE records/s for SECONDS over keys k0..k11 (values "kN:seq"), and a consumer assigned every
// partition from the start, polling all along. Prints JSON lines like producer.py: {"started":t},
// one delivery report per record ({"key","value","t","partition","offset"} or "error"), then,
// once the consumer has reached the end offsets seen after the producer's flush, one
// {"consumed":[partition,offset,key,value]} per record it read, and {"finished":t,"sent":n}.
// t is System.nanoTime() in seconds: CLOCK_MONOTONIC on Linux, Python's time.monotonic().
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class JavaFailover {
    private static final int KEYS = 12;

    private static double now() {
        return System.nanoTime() / 1e9;
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + "\"";
    }

    private static synchronized void emit(String json) {
        System.out.println(json);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: JavaFailover BOOTSTRAP TOPIC PARTITIONS RATE SECONDS");
            System.exit(2);
        }
        String bootstrap = args[0], topic = args[1];
        int partitions = Integer.parseInt(args[2]), rate = Integer.parseInt(args[3]);
        double seconds = Double.parseDouble(args[4]);

        Properties pp = new Properties();
        pp.put("bootstrap.servers", bootstrap);
        pp.put("acks", "all");
        pp.put("enable.idempotence", "true");
        pp.put("linger.ms", "5");
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        Properties cp = new Properties();
        cp.put("bootstrap.servers", bootstrap);
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());

        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            tps.add(new TopicPartition(topic, p));
        }
        List<ConsumerRecord<String, String>> consumed = new ArrayList<>();
        // The end offsets after the producer's flush; null while it is still producing.
        AtomicReference<Map<TopicPartition, Long>> ends = new AtomicReference<>();
        Thread reader = new Thread(() -> {
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
                consumer.assign(tps);
                consumer.seekToBeginning(tps);
                long deadline = Long.MAX_VALUE;
                while (true) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                        consumed.add(r);
                    }
                    Map<TopicPartition, Long> end = ends.get();
                    if (end == null) {
                        continue;
                    }
                    if (deadline == Long.MAX_VALUE) {
                        deadline = System.nanoTime() + 60_000_000_000L;
                    }
                    boolean done = true;
                    for (TopicPartition tp : tps) {
                        done &= consumer.position(tp) >= end.get(tp);
                    }
                    if (done) {
                        return;
                    }
                    if (System.nanoTime() > deadline) {
                        System.err.println("JavaFailover: the consumer did not reach the end offsets " + end
                                + " within 60 s of the producer's flush");
                        System.exit(1);
                    }
                }
            }
        });

        emit("{\"started\":" + now() + "}");
        reader.start();
        int sent = 0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            int[] seq = new int[KEYS];
            double start = now();
            while (now() - start < seconds) {
                long due = (long) ((now() - start) * rate);
                while (sent < due) {
                    int k = sent % KEYS;
                    String key = "k" + k, value = key + ":" + seq[k]++;
                    sent++;
                    producer.send(new ProducerRecord<>(topic, key, value), (md, err) -> {
                        String head = "{\"key\":" + quote(key) + ",\"value\":" + quote(value) + ",\"t\":" + now();
                        if (err == null) {
                            emit(head + ",\"partition\":" + md.partition() + ",\"offset\":" + md.offset() + "}");
                        } else {
                            // The Java client does not say whether a failed record may be in the log.
                            emit(head + ",\"partition\":" + (md == null ? -1 : md.partition()) + ",\"error\":"
                                    + quote(err.getClass().getSimpleName() + ": " + err.getMessage())
                                    + ",\"possibly_persisted\":null}");
                        }
                    });
                }
                Thread.sleep(5);
            }
            producer.flush();
            try (KafkaConsumer<String, String> probe = new KafkaConsumer<>(cp)) {
                ends.set(probe.endOffsets(tps, Duration.ofSeconds(30)));
            }
        }
        reader.join();
        for (ConsumerRecord<String, String> r : consumed) {
            emit("{\"consumed\":[" + r.partition() + "," + r.offset() + "," + quote(r.key()) + ","
                    + quote(r.value()) + "]}");
        }
        emit("{\"finished\":" + now() + ",\"sent\":" + sent + "}");
    }
}
