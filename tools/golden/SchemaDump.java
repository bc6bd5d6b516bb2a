// Prints the wire shape of every Kafka request and response version, as the Java client
// (kafka-clients 4.3.1) defines them, in the compact form protocol/src/shape.rs reads:
//
//   <req|resp> <api key> <min version>-<max version> <shape>
//
// shape: {a b ...} a struct; ?{a b ...} a nullable struct (int8 marker, negative = null); 1 2 4 8 16 fixed-size fields; v varint; V varlong; s a string with
// an int16 length; S a compact string; b bytes (or records) with an int32 length; B compact
// bytes; [x] an array with an int32 count; (x) a compact array; t a tagged-field section, or
// t<tag:shape ...> one with known tags (their contents must fill exactly their declared size).
// Consecutive versions with the same shape share a line.
//
//   java -cp "GOLDEN_CLASSES:$ODRADEK_CACHE/kafka-4.3.1/libs/*" SchemaDump > protocol/src/wire_shapes.txt
//
// Run through tools/golden/dump-shapes.sh.

import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.types.ArrayOf;
import org.apache.kafka.common.protocol.types.BoundField;
import org.apache.kafka.common.protocol.types.CompactArrayOf;
import org.apache.kafka.common.protocol.types.NullableSchema;
import org.apache.kafka.common.protocol.types.Schema;
import org.apache.kafka.common.protocol.types.TaggedFields;
import org.apache.kafka.common.protocol.types.Type;

public final class SchemaDump {
    public static void main(String[] args) {
        for (ApiKeys key : ApiKeys.values()) {
            ApiMessageType type = key.messageType;
            dump("req", key.id, type.requestSchemas());
            dump("resp", key.id, type.responseSchemas());
        }
    }

    static void dump(String direction, short apiKey, Schema[] schemas) {
        String current = null;
        int from = -1;
        for (int v = 0; v <= schemas.length; v++) {
            String shape = v < schemas.length && schemas[v] != null ? shape(schemas[v]) : null;
            if (shape == null ? current != null : !shape.equals(current)) {
                if (current != null) {
                    System.out.println(direction + " " + apiKey + " " + from + "-" + (v - 1) + " " + current);
                }
                current = shape;
                from = v;
            }
        }
    }

    static String shape(Type t) {
        if (t instanceof NullableSchema s) {
            return "?" + struct(s);
        }
        if (t instanceof Schema s) {
            return struct(s);
        }
        if (t instanceof ArrayOf) {
            return "[" + shape(t.arrayElementType().orElseThrow()) + "]";
        }
        if (t instanceof CompactArrayOf) {
            return "(" + shape(t.arrayElementType().orElseThrow()) + ")";
        }
        if (t instanceof TaggedFields tagged) {
            if (tagged.numFields() == 0) {
                return "t";
            }
            StringBuilder sb = new StringBuilder("t<");
            for (var e : new java.util.TreeMap<>(tagged.fields()).entrySet()) {
                if (sb.length() > 2) {
                    sb.append(' ');
                }
                sb.append(e.getKey()).append(':').append(shape(e.getValue().type));
            }
            return sb.append('>').toString();
        }
        if (t == Type.BOOLEAN || t == Type.INT8) return "1";
        if (t == Type.INT16 || t == Type.UINT16) return "2";
        if (t == Type.INT32 || t == Type.UNSIGNED_INT32) return "4";
        if (t == Type.INT64 || t == Type.FLOAT64) return "8";
        if (t == Type.UUID) return "16";
        if (t == Type.VARINT) return "v";
        if (t == Type.VARLONG) return "V";
        if (t == Type.STRING || t == Type.NULLABLE_STRING) return "s";
        if (t == Type.COMPACT_STRING || t == Type.COMPACT_NULLABLE_STRING) return "S";
        if (t == Type.BYTES || t == Type.NULLABLE_BYTES || t == Type.RECORDS || t == Type.NULLABLE_RECORDS) return "b";
        if (t == Type.COMPACT_BYTES || t == Type.COMPACT_NULLABLE_BYTES || t == Type.COMPACT_RECORDS
                || t == Type.COMPACT_NULLABLE_RECORDS) return "B";
        throw new IllegalStateException("unknown wire type " + t + " (" + t.getClass() + ")");
    }

    static String struct(Schema s) {
        StringBuilder sb = new StringBuilder("{");
        for (BoundField f : s.fields()) {
            if (sb.length() > 1) {
                sb.append(' ');
            }
            sb.append(shape(f.def.type));
        }
        return sb.append('}').toString();
    }
}
