// One Java-client consumer-group member for the group tests; same line protocol as member.py:
//   java -cp "$KAFKA_LIBS/*" GroupMember.java BOOTSTRAP TOPIC GROUP STRATEGY PROTOCOL
// STRATEGY range | roundrobin | cooperative-sticky (classic), uniform | range (consumer: the
// server-side assignor); PROTOCOL classic | consumer.
// Prints ASSIGNED p,..., RECORD partition offset, COMMITTED p=o,..., CLOSED. Commits
// synchronously after each batch and on revocation; stops cleanly when stdin closes or says quit.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupMember {
    static synchronized void emit(String line) {
        System.out.println(line);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], group = args[2], strategy = args[3], protocol = args[4];
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", group);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("group.protocol", protocol);
        p.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        p.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        if (protocol.equals("classic")) {
            String cls = switch (strategy) {
                case "range" -> "org.apache.kafka.clients.consumer.RangeAssignor";
                case "roundrobin" -> "org.apache.kafka.clients.consumer.RoundRobinAssignor";
                case "cooperative-sticky" -> "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
                default -> throw new IllegalArgumentException("strategy " + strategy);
            };
            p.put("partition.assignment.strategy", cls);
            p.put("session.timeout.ms", "6000");
            p.put("heartbeat.interval.ms", "500");
        } else {
            p.put("group.remote.assignor", strategy);
        }
        AtomicBoolean stop = new AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in))) {
                String line;
                while ((line = r.readLine()) != null && !line.trim().equals("quit")) { }
            } catch (Exception e) { }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        Map<Integer, Long> position = new HashMap<>();
        // Eager protocols revoke everything before assigning the whole new set; cooperative
        // ones revoke and assign deltas: tracking owned = owned - revoked + assigned fits both.
        TreeSet<Integer> owned = new TreeSet<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            java.util.function.Consumer<Collection<Integer>> commit = parts -> {
                Map<TopicPartition, OffsetAndMetadata> offs = new HashMap<>();
                for (int part : parts) {
                    Long pos = position.get(part);
                    if (pos != null) offs.put(new TopicPartition(topic, part), new OffsetAndMetadata(pos));
                }
                if (offs.isEmpty()) return;
                try {
                    c.commitSync(offs);
                    StringBuilder sb = new StringBuilder("COMMITTED ");
                    offs.forEach((tp, o) -> sb.append(tp.partition()).append('=').append(o.offset()).append(','));
                    emit(sb.substring(0, sb.length() - 1));
                } catch (Exception e) {
                    emit("# commit failed: " + e);
                }
            };
            c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                    List<Integer> ps = new ArrayList<>();
                    for (TopicPartition tp : parts) ps.add(tp.partition());
                    commit.accept(ps);
                    for (int part : ps) position.remove(part);
                    owned.removeAll(ps);
                    report(owned);
                }
                public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    for (TopicPartition tp : parts) owned.add(tp.partition());
                    report(owned);
                }
                public void onPartitionsLost(Collection<TopicPartition> parts) {
                    for (TopicPartition tp : parts) {
                        position.remove(tp.partition());
                        owned.remove(tp.partition());
                    }
                    report(owned);
                }
            });
            while (!stop.get()) {
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(100));
                Set<Integer> done = new HashSet<>();
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    emit("RECORD " + r.partition() + " " + r.offset());
                    position.put(r.partition(), r.offset() + 1);
                    done.add(r.partition());
                }
                commit.accept(done);
            }
            commit.accept(new ArrayList<>(position.keySet()));
        }
        emit("CLOSED");
    }

    static void report(Set<Integer> owned) {
        StringBuilder sb = new StringBuilder("ASSIGNED ");
        for (int part : owned) sb.append(part).append(',');
        emit(sb.substring(0, sb.length() - (owned.isEmpty() ? 0 : 1)));
    }
}
