// Run by core/tests/records_java.rs with the Kafka 4.3.1 client jars on the class path:
//   java -cp "$ODRADEK_CACHE/kafka-4.3.1/libs/*" RecordsCheck.java DIR
// For each DIR/odradek-<codec>.bin (batches written by Odradek), print what the Java client
// decodes, one line per batch and per record. Then re-encode the records of
// DIR/odradek-none.bin with the Java client for every codec into DIR/java-<codec>.bin.
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.CompressionType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

public class RecordsCheck {
    static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};

    static String hex(ByteBuffer buf) {
        if (buf == null) return "null";
        StringBuilder sb = new StringBuilder("x");
        ByteBuffer b = buf.duplicate();
        while (b.hasRemaining()) sb.append(String.format("%02x", b.get() & 0xff));
        return sb.toString();
    }

    static String hex(byte[] bytes) {
        return bytes == null ? "null" : hex(ByteBuffer.wrap(bytes));
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        for (String codec : CODECS) {
            MemoryRecords records = MemoryRecords.readableRecords(
                ByteBuffer.wrap(Files.readAllBytes(dir.resolve("odradek-" + codec + ".bin"))));
            for (MutableRecordBatch batch : records.batches()) {
                batch.ensureValid();
                System.out.println("batch " + codec + " base=" + batch.baseOffset()
                    + " last=" + batch.lastOffset() + " codec=" + batch.compressionType().name
                    + " pid=" + batch.producerId() + " epoch=" + batch.producerEpoch()
                    + " seq=" + batch.baseSequence() + " txn=" + batch.isTransactional()
                    + " control=" + batch.isControlBatch() + " ple=" + batch.partitionLeaderEpoch()
                    + " maxts=" + batch.maxTimestamp());
                for (Record r : batch) {
                    r.ensureValid();
                    StringBuilder line = new StringBuilder("record " + codec + " " + r.offset()
                        + " " + r.timestamp() + " " + hex(r.key()) + " " + hex(r.value()));
                    for (Header h : r.headers()) {
                        line.append(" ").append(h.key()).append("=").append(hex(h.value()));
                    }
                    System.out.println(line);
                }
            }
        }

        MemoryRecords plain = MemoryRecords.readableRecords(
            ByteBuffer.wrap(Files.readAllBytes(dir.resolve("odradek-none.bin"))));
        for (String codec : CODECS) {
            Compression compression = Compression.of(CompressionType.forName(codec)).build();
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            for (MutableRecordBatch batch : plain.batches()) {
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
                out.write(bytes);
            }
            Files.write(dir.resolve("java-" + codec + ".bin"), out.toByteArray());
        }
    }
}
