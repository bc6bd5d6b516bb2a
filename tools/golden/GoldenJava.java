// The Java client's side of the golden fixtures (kafka-clients 4.3.1).
//
//   GoldenJava fixtures logical-records.json OUT_DIR
//     record batches for every codec built with MemoryRecordsBuilder, control (transaction
//     marker) batches, and whole Produce request frames serialized by ProduceRequest with their
//     RequestHeader;
//   GoldenJava session logical-records.json BOOTSTRAP TOPIC GROUP
//     a real client session for capture_kafka.py's recording proxy: an idempotent zstd
//     KafkaProducer sends the logical records, then a KIP-848 KafkaConsumer reads them back and
//     commits.
//
// Run with -cp "GOLDEN_CLASSES:$ODRADEK_CACHE/kafka-4.3.1/libs/*", through tools/golden/regenerate.sh.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.RequestHeader;

public final class GoldenJava {
    record Logical(byte[] key, byte[] value, long timestamp, Header[] headers) {}

    static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};

    public static void main(String[] args) throws Exception {
        List<Logical> records = readLogical(Path.of(args[1]));
        switch (args[0]) {
            case "fixtures" -> fixtures(records, Path.of(args[2]));
            case "session" -> session(records, args[2], args[3], args[4]);
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    static void session(List<Logical> records, String bootstrap, String topic, String group) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("client.id", "golden-java-producer");
        p.put("compression.type", "zstd");
        p.put("linger.ms", "100");
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (Logical r : records) {
                sent.add(producer.send(new ProducerRecord<>(topic, 0, r.timestamp(), r.key(), r.value(), List.of(r.headers()))));
            }
            producer.flush();
            for (Future<RecordMetadata> f : sent) {
                f.get();
            }
        }
        Properties c = new Properties();
        c.put("bootstrap.servers", bootstrap);
        c.put("client.id", "golden-java-consumer");
        c.put("group.id", group);
        c.put("group.protocol", "consumer");
        c.put("auto.offset.reset", "earliest");
        c.put("enable.auto.commit", "false");
        c.put("key.deserializer", ByteArrayDeserializer.class.getName());
        c.put("value.deserializer", ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c)) {
            consumer.subscribe(List.of(topic));
            int got = 0;
            long deadline = System.currentTimeMillis() + 60_000;
            while (got < records.size() && System.currentTimeMillis() < deadline) {
                got += consumer.poll(Duration.ofMillis(500)).count();
            }
            if (got != records.size()) {
                throw new IllegalStateException("consumer read " + got + " of " + records.size() + " records");
            }
            consumer.commitSync();
        }
    }

    static void fixtures(List<Logical> records, Path out) throws Exception {
        Files.createDirectories(out);

        for (String codec : CODECS) {
            Compression compression = Compression.of(codec).build();
            // 1. No producer id, CreateTime, every logical record, base offset 0.
            MemoryRecords plain = batch(compression, TimestampType.CREATE_TIME, RecordBatch.NO_TIMESTAMP, 0L,
                    RecordBatch.NO_PRODUCER_ID, RecordBatch.NO_PRODUCER_EPOCH, RecordBatch.NO_SEQUENCE, false,
                    RecordBatch.NO_PARTITION_LEADER_EPOCH, records);
            // 2. Idempotent and transactional, leader epoch set, the first two records.
            MemoryRecords transactional = batch(compression, TimestampType.CREATE_TIME, RecordBatch.NO_TIMESTAMP,
                    1000L, 123456789L, (short) 3, 42, true, 7, records.subList(0, 2));
            // 3. LogAppendTime, as a broker configured with it stores batches.
            MemoryRecords logAppend = batch(compression, TimestampType.LOG_APPEND_TIME, 1700000009999L, 2000L,
                    RecordBatch.NO_PRODUCER_ID, RecordBatch.NO_PRODUCER_EPOCH, RecordBatch.NO_SEQUENCE, false,
                    RecordBatch.NO_PARTITION_LEADER_EPOCH, records.subList(5, 6));
            write(out.resolve("batches-" + codec + ".bin"), concat(plain, transactional, logAppend));

            ProduceRequestData data = new ProduceRequestData()
                    .setAcks((short) -1)
                    .setTimeoutMs(30000)
                    .setTransactionalId(null);
            ProduceRequestData.TopicProduceData topic = new ProduceRequestData.TopicProduceData().setName("golden");
            topic.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0).setRecords(plain));
            topic.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(5).setRecords(transactional));
            data.topicData().add(topic);
            List<Short> versions = codec.equals("none") ? List.of((short) 3, (short) 8, (short) 9, (short) 11) : List.of((short) 11);
            for (short version : versions) {
                ProduceRequest request = ProduceRequest.builder(data, false).build(version);
                RequestHeader header = new RequestHeader(ApiKeys.PRODUCE, version, "golden-java", 1000 + version);
                ByteBuffer body = request.serializeWithHeader(header);
                ByteBuffer frame = ByteBuffer.allocate(4 + body.remaining());
                frame.putInt(body.remaining()).put(body).flip();
                write(out.resolve("produce-v" + version + "-" + codec + ".bin"), frame);
            }
        }

        MemoryRecords commit = MemoryRecords.withEndTransactionMarker(3000L, 1700000010000L, 7, 123456789L, (short) 3,
                new EndTransactionMarker(ControlRecordType.COMMIT, 11));
        MemoryRecords abort = MemoryRecords.withEndTransactionMarker(3001L, 1700000010001L, 7, 123456789L, (short) 4,
                new EndTransactionMarker(ControlRecordType.ABORT, 12));
        write(out.resolve("control-markers.bin"), concat(commit, abort));
    }

    static MemoryRecords batch(Compression compression, TimestampType timestampType, long logAppendTime,
            long baseOffset, long producerId, short producerEpoch, int baseSequence, boolean transactional,
            int partitionLeaderEpoch, List<Logical> records) {
        MemoryRecordsBuilder builder = MemoryRecords.builder(ByteBuffer.allocate(1024), RecordBatch.MAGIC_VALUE_V2,
                compression, timestampType, baseOffset, logAppendTime, producerId, producerEpoch, baseSequence,
                transactional, partitionLeaderEpoch);
        for (Logical r : records) {
            builder.append(r.timestamp(), r.key(), r.value(), r.headers());
        }
        return builder.build();
    }

    static ByteBuffer concat(MemoryRecords... parts) {
        int size = 0;
        for (MemoryRecords p : parts) {
            size += p.sizeInBytes();
        }
        ByteBuffer all = ByteBuffer.allocate(size);
        for (MemoryRecords p : parts) {
            all.put(p.buffer().duplicate());
        }
        return all.flip();
    }

    static void write(Path path, ByteBuffer bytes) throws Exception {
        byte[] array = new byte[bytes.remaining()];
        bytes.duplicate().get(array);
        Files.write(path, array);
    }

    static List<Logical> readLogical(Path path) throws Exception {
        Base64.Decoder b64 = Base64.getDecoder();
        List<Logical> out = new ArrayList<>();
        for (JsonNode r : new ObjectMapper().readTree(path.toFile()).get("records")) {
            List<Header> headers = new ArrayList<>();
            for (JsonNode h : r.get("headers")) {
                String key = new String(b64.decode(h.get("key").asText()), StandardCharsets.UTF_8);
                headers.add(new RecordHeader(key, h.get("value").isNull() ? null : b64.decode(h.get("value").asText())));
            }
            out.add(new Logical(
                    r.get("key").isNull() ? null : b64.decode(r.get("key").asText()),
                    r.get("value").isNull() ? null : b64.decode(r.get("value").asText()),
                    r.get("timestamp").asLong(),
                    headers.toArray(new Header[0])));
        }
        return out;
    }
}
