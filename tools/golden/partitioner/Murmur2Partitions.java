// Prints, as JSON, the partition the Java client (kafka-clients 4.3.1) chooses for 10,000 keys
// and several partition counts: BuiltInPartitioner.partitionForKey, the keyed-record path of the
// default partitioner. Keys are generated deterministically (ASCII, UTF-8 and binary, lengths
// 0..40) and written out as hex so the Rust test does not depend on the generator.
//
// Regenerate with tools/golden/partitioner/regenerate.sh.
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;

public class Murmur2Partitions {
    public static void main(String[] args) {
        int[] counts = {1, 2, 3, 7, 12, 100, 1000};
        int n = 10_000;
        byte[][] keys = new byte[n][];
        long state = 0x2545F4914F6CDD1DL;
        for (int i = 0; i < n; i++) {
            if (i % 3 == 0) {
                keys[i] = ("key-" + i).getBytes(StandardCharsets.UTF_8);
            } else if (i % 3 == 1) {
                keys[i] = ("user-\u00e9\u4e2d-" + (i * 7919)).getBytes(StandardCharsets.UTF_8);
            } else {
                state ^= state << 13; state ^= state >>> 7; state ^= state << 17;
                int len = (int) Long.remainderUnsigned(state, 41);
                keys[i] = new byte[len];
                for (int j = 0; j < len; j++) {
                    state ^= state << 13; state ^= state >>> 7; state ^= state << 17;
                    keys[i][j] = (byte) state;
                }
            }
        }
        StringBuilder out = new StringBuilder();
        out.append("{\n  \"source\": \"org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey, kafka-clients 4.3.1\",\n");
        out.append("  \"partition_counts\": [");
        for (int c = 0; c < counts.length; c++) out.append(c == 0 ? "" : ", ").append(counts[c]);
        out.append("],\n  \"keys_hex\": [");
        for (int i = 0; i < n; i++) {
            out.append(i == 0 ? "\"" : ", \"");
            for (byte b : keys[i]) out.append(String.format("%02x", b & 0xff));
            out.append('"');
        }
        out.append("],\n  \"partitions\": {");
        for (int c = 0; c < counts.length; c++) {
            out.append(c == 0 ? "\n    \"" : ",\n    \"").append(counts[c]).append("\": [");
            for (int i = 0; i < n; i++) {
                out.append(i == 0 ? "" : ",").append(BuiltInPartitioner.partitionForKey(keys[i], counts[c]));
            }
            out.append(']');
        }
        out.append("\n  }\n}\n");
        System.out.print(out);
    }
}
