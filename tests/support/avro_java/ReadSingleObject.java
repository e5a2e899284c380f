// Decodes Avro single-object encoded messages with Apache Avro's own BinaryMessageDecoder.
// Usage: java -cp JARS ReadSingleObject.java SCHEMA.avsc MESSAGE.bin...
// Prints one line per message: the record as Avro's JSON-ish toString. The decoder checks the
// C3 01 marker and looks the CRC-64-AVRO fingerprint up itself: a message whose fingerprint
// does not match the schema's fails with MissingSchemaException (exit status 1).
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;

public class ReadSingleObject {
    public static void main(String[] args) throws Exception {
        Schema schema = new Schema.Parser().parse(Files.readString(Path.of(args[0])));
        BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), schema);
        for (int i = 1; i < args.length; i++) {
            GenericRecord record = decoder.decode(Files.readAllBytes(Path.of(args[i])));
            System.out.println(record);
        }
    }
}
