// Decodes record batches and Produce request frames with the Java client (kafka-clients 4.3.1)
// and prints what it read as JSON lines, so tests and the golden-vector generator can compare
// another implementation's bytes against the reference decoder.
//
//   java -cp "$ODRADEK_CACHE/java-tools:$ODRADEK_CACHE/kafka-4.3.1/libs/*" RecordDump \
//       batches:FILE produce:FILE ...
//
// For each argument it prints {"type":"file",...}; a produce frame (4-byte size prefix, request
// header, ProduceRequest body) adds {"type":"request",...} and one {"type":"partition",...} per
// partition; then {"type":"batch",...} per batch followed by {"type":"record",...} per record.
// Byte fields are base64 (null stays null). `reencode:CODEC:IN:OUT` has the Java client write the
// records of IN's batches again, batch by batch with the same offsets and producer fields, under
// CODEC into OUT (for testing the reverse direction), and prints nothing. Any decoding error (including a CRC mismatch, checked
// with ensureValid) ends the run with exit status 1 and the reason on stderr.

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.CompressionType;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.DefaultRecordBatch;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.RequestHeader;

public final class RecordDump {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Base64.Encoder B64 = Base64.getEncoder();

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: RecordDump batches:FILE | produce:FILE | reencode:CODEC:IN:OUT ...");
            System.exit(2);
        }
        try {
            for (String arg : args) {
                int colon = arg.indexOf(':');
                String kind = colon < 0 ? "" : arg.substring(0, colon);
                if (kind.equals("reencode")) {
                    String[] parts = arg.substring(colon + 1).split(":", 3);
                    reencode(parts[0], Path.of(parts[1]), Path.of(parts[2]));
                    continue;
                }
                Path path = Path.of(arg.substring(colon + 1));
                ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(path));
                ObjectNode file = JSON.createObjectNode().put("type", "file").put("path", path.toString()).put("kind", kind);
                emit(file);
                switch (kind) {
                    case "batches" -> dumpBatches(bytes);
                    case "produce" -> dumpProduceFrame(bytes);
                    default -> throw new IllegalArgumentException("unknown kind in " + arg);
                }
            }
        } catch (Exception e) {
            System.out.flush();
            System.err.println("RecordDump: " + e);
            System.exit(1);
        }
        System.out.flush();
    }

    private static void reencode(String codec, Path in, Path out) throws java.io.IOException {
        MemoryRecords plain = MemoryRecords.readableRecords(ByteBuffer.wrap(Files.readAllBytes(in)));
        Compression compression = Compression.of(CompressionType.forName(codec)).build();
        java.io.ByteArrayOutputStream written = new java.io.ByteArrayOutputStream();
        for (MutableRecordBatch batch : plain.batches()) {
            batch.ensureValid();
            MemoryRecordsBuilder builder = MemoryRecords.builder(ByteBuffer.allocate(1024),
                    RecordBatch.CURRENT_MAGIC_VALUE, compression, TimestampType.CREATE_TIME,
                    batch.baseOffset(), RecordBatch.NO_TIMESTAMP, batch.producerId(),
                    batch.producerEpoch(), batch.baseSequence(), batch.isTransactional(),
                    batch.partitionLeaderEpoch());
            for (Record r : batch) {
                builder.appendWithOffset(r.offset(), r.timestamp(), r.key(), r.value(), r.headers());
            }
            ByteBuffer built = builder.build().buffer();
            byte[] bytes = new byte[built.remaining()];
            built.get(bytes);
            written.write(bytes);
        }
        Files.write(out, written.toByteArray());
    }

    private static void dumpProduceFrame(ByteBuffer frame) {
        int size = frame.getInt();
        if (size != frame.remaining()) {
            throw new IllegalStateException("size prefix " + size + " but " + frame.remaining() + " bytes follow");
        }
        RequestHeader header = RequestHeader.parse(frame);
        if (header.apiKey() != ApiKeys.PRODUCE) {
            throw new IllegalStateException("not a Produce request: " + header.apiKey());
        }
        ProduceRequest request = ProduceRequest.parse(new ByteBufferAccessor(frame), header.apiVersion());
        if (frame.hasRemaining()) {
            throw new IllegalStateException(frame.remaining() + " bytes after the Produce body");
        }
        ProduceRequestData data = request.data();
        emit(JSON.createObjectNode()
                .put("type", "request")
                .put("api_key", header.apiKey().id)
                .put("api_version", header.apiVersion())
                .put("header_version", header.headerVersion())
                .put("correlation_id", header.correlationId())
                .put("client_id", header.clientId())
                .put("transactional_id", data.transactionalId())
                .put("acks", data.acks())
                .put("timeout_ms", data.timeoutMs()));
        for (ProduceRequestData.TopicProduceData topic : data.topicData()) {
            for (ProduceRequestData.PartitionProduceData partition : topic.partitionData()) {
                emit(JSON.createObjectNode()
                        .put("type", "partition")
                        .put("topic", topic.name())
                        .put("partition", partition.index()));
                dumpBatches(((MemoryRecords) partition.records()).buffer());
            }
        }
    }

    private static void dumpBatches(ByteBuffer buffer) {
        MemoryRecords records = MemoryRecords.readableRecords(buffer.duplicate());
        int batchBytes = 0;
        for (MutableRecordBatch batch : records.batches()) {
            batch.ensureValid();
            batchBytes += batch.sizeInBytes();
            DefaultRecordBatch b = (DefaultRecordBatch) batch;
            int attributes = b.compressionType().id
                    | (b.timestampType() == TimestampType.LOG_APPEND_TIME ? 0x08 : 0)
                    | (b.isTransactional() ? 0x10 : 0)
                    | (b.isControlBatch() ? 0x20 : 0)
                    | (b.deleteHorizonMs().isPresent() ? 0x40 : 0);
            emit(JSON.createObjectNode()
                    .put("type", "batch")
                    .put("base_offset", b.baseOffset())
                    .put("batch_length", b.sizeInBytes() - 12)
                    .put("partition_leader_epoch", b.partitionLeaderEpoch())
                    .put("magic", b.magic())
                    .put("crc", b.checksum())
                    .put("attributes", attributes)
                    .put("compression", b.compressionType().name)
                    .put("timestamp_type", b.timestampType().name)
                    .put("is_transactional", b.isTransactional())
                    .put("is_control", b.isControlBatch())
                    .put("last_offset_delta", (int) (b.lastOffset() - b.baseOffset()))
                    .put("base_timestamp", b.baseTimestamp())
                    .put("max_timestamp", b.maxTimestamp())
                    .put("producer_id", b.producerId())
                    .put("producer_epoch", b.producerEpoch())
                    .put("base_sequence", b.baseSequence())
                    .put("records_count", b.countOrNull()));
            for (Record record : b) {
                record.ensureValid();
                ObjectNode line = JSON.createObjectNode()
                        .put("type", "record")
                        .put("offset", record.offset())
                        .put("timestamp", record.timestamp())
                        .put("key", base64(record.key()))
                        .put("value", base64(record.value()));
                ArrayNode headers = line.putArray("headers");
                for (Header h : record.headers()) {
                    headers.addObject()
                            .put("key", B64.encodeToString(h.key().getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                            .put("value", h.value() == null ? null : B64.encodeToString(h.value()));
                }
                if (b.isControlBatch()) {
                    line.put("control", ControlRecordType.parse(record.key()).name());
                }
                emit(line);
            }
        }
        if (batchBytes != buffer.remaining()) {
            throw new IllegalStateException((buffer.remaining() - batchBytes) + " bytes after the last complete batch");
        }
    }

    private static String base64(ByteBuffer buffer) {
        if (buffer == null) {
            return null;
        }
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return B64.encodeToString(bytes);
    }

    private static void emit(ObjectNode node) {
        try {
            System.out.println(JSON.writeValueAsString(node));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
