// The Java client's (kafka-clients 4.3.1) transactional producer for the interop suite.
//
//   java Txn produce BOOTSTRAP TRANSACTIONAL_ID COMPRESSION < script
//
// Script lines are Interop's record lines (topic \t partition \t - \t key \t value \t headers),
// plus "COMMIT" or "ABORT", which end the open transaction; the next record begins another.
// Read back with `java Interop consume` and -Disolation.level=read_committed. Prints
// "epoch N", the producer epoch at the end.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class Txn {
    public static void main(String[] args) throws Exception {
        if (args.length != 4 || !args[0].equals("produce")) {
            System.err.println("usage: Txn produce BOOTSTRAP TRANSACTIONAL_ID COMPRESSION < script");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put("bootstrap.servers", args[1]);
        props.put("transactional.id", args[2]);
        props.put("compression.type", args[3]);
        props.put("linger.ms", "5");
        int commits = 0, aborts = 0;
        try (KafkaProducer<byte[], byte[]> producer =
                        new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            producer.initTransactions();
            boolean open = false;
            String line;
            while ((line = in.readLine()) != null) {
                if (line.equals("COMMIT") || line.equals("ABORT")) {
                    if (!open) throw new IllegalArgumentException(line + " without a transaction");
                    if (line.equals("COMMIT")) {
                        producer.commitTransaction();
                        commits++;
                    } else {
                        producer.flush(); // the aborted records reach the log before the marker
                        producer.abortTransaction();
                        aborts++;
                    }
                    open = false;
                    continue;
                }
                String[] f = line.split("\t", -1);
                if (f.length != 6) throw new IllegalArgumentException("record line has " + f.length + " fields: " + line);
                if (!open) {
                    producer.beginTransaction();
                    open = true;
                }
                List<Header> headers = new ArrayList<>();
                if (!f[5].isEmpty()) {
                    for (String h : f[5].split(",", -1)) {
                        String[] kv = h.split(":", 2);
                        headers.add(new RecordHeader(new String(decode(kv[0]), StandardCharsets.UTF_8), decode(kv[1])));
                    }
                }
                producer.send(new ProducerRecord<>(f[0], Integer.parseInt(f[1]), null, decode(f[3]), decode(f[4]), headers));
            }
            if (open) throw new IllegalArgumentException("script ends inside a transaction");
            System.out.println("epoch " + epoch(producer));
        }
        System.err.println("java: " + commits + " transactions committed, " + aborts + " aborted");
    }

    /** The producer epoch the transaction manager holds now (internal, read by reflection): under
     *  transaction version 2 (KIP-890) every commit and abort bumped it. */
    private static short epoch(KafkaProducer<?, ?> producer) throws Exception {
        java.lang.reflect.Field f = KafkaProducer.class.getDeclaredField("transactionManager");
        f.setAccessible(true);
        Object manager = f.get(producer);
        java.lang.reflect.Method m = manager.getClass().getDeclaredMethod("producerIdAndEpoch");
        m.setAccessible(true);
        Object ids = m.invoke(manager);
        return ids.getClass().getField("epoch").getShort(ids);
    }

    private static byte[] decode(String field) {
        return field.equals("-") ? null : Base64.getDecoder().decode(field);
    }
}
