// The Java client's share consumer (KafkaShareConsumer, KIP-932) for the interop suite.
//
//   java Share consume BOOTSTRAP TOPIC GROUP COUNT
//
// Sets the group's share.auto.offset.reset=earliest (IncrementalAlterConfigs on the GROUP
// resource), subscribes with explicit acknowledgement and reads until COUNT records are accepted
// or 60 s pass. A record whose value (a decimal number) is even is released on its first
// delivery and accepted when it comes back; every other record is accepted at once. Prints one
// line per accepted record: offset \t delivery count \t value.
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class Share {
    public static void main(String[] args) throws Exception {
        if (args.length != 5 || !args[0].equals("consume")) {
            System.err.println("usage: Share consume BOOTSTRAP TOPIC GROUP COUNT");
            System.exit(2);
        }
        String bootstrap = args[1], topic = args[2], group = args[3];
        int count = Integer.parseInt(args[4]);
        Properties admin = new Properties();
        admin.put("bootstrap.servers", bootstrap);
        try (Admin a = Admin.create(admin)) {
            ConfigResource res = new ConfigResource(ConfigResource.Type.GROUP, group);
            AlterConfigOp op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"),
                    AlterConfigOp.OpType.SET);
            a.incrementalAlterConfigs(Map.of(res, List.of(op))).all().get();
        }
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("group.id", group);
        props.put("share.acknowledgement.mode", "explicit");
        int accepted = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        StringBuilder out = new StringBuilder();
        try (KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(props,
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            while (accepted < count && System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> records = c.poll(Duration.ofMillis(500));
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    String value = new String(r.value(), StandardCharsets.UTF_8);
                    short delivery = r.deliveryCount().orElse((short) -1);
                    if (Long.parseLong(value) % 2 == 0 && delivery == 1) {
                        c.acknowledge(r, AcknowledgeType.RELEASE);
                        continue;
                    }
                    c.acknowledge(r, AcknowledgeType.ACCEPT);
                    accepted++;
                    out.append(r.offset()).append('\t').append(delivery).append('\t').append(value).append('\n');
                }
                Map<?, ?> failed = c.commitSync();
                failed.forEach((tp, err) -> {
                    if (err != null && ((java.util.Optional<?>) err).isPresent()) {
                        System.err.println("acknowledgement of " + tp + " failed: " + err);
                    }
                });
            }
        }
        System.out.print(out);
        if (accepted < count) {
            System.err.println("accepted " + accepted + " of " + count + " records in 60 s");
            System.exit(1);
        }
    }
}
