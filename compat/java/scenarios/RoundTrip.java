// Produce/consume round trip: keys, headers (repeated, empty, null values), null keys, null values,
// empty keys and values, binary data, explicit timestamps and a 900 KB value; offsets contiguous from 0.
// timeout: 90
import java.util.*;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;

public class RoundTrip {
  public static void main(String[] args) {
    Compat.main("round-trip", () -> {
      String t = Compat.topic("roundtrip");
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 1);
      }
      long ts = System.currentTimeMillis() - 3_600_000L;
      Random rnd = new Random(42);
      byte[] binary = new byte[256];
      for (int i = 0; i < 256; i++) binary[i] = (byte) i;
      byte[] big = new byte[900 * 1024];
      rnd.nextBytes(big);

      List<ProducerRecord<byte[], byte[]>> want = new ArrayList<>();
      ProducerRecord<byte[], byte[]> r0 = new ProducerRecord<>(t, 0, ts, Compat.b("key-1"), Compat.b("value-1"));
      r0.headers().add("h", Compat.b("first")).add("h", Compat.b("second")).add("empty", new byte[0])
          .add(new RecordHeader("null-value", (byte[]) null)).add("utf8-\u00fc\u2603", Compat.b("\u00e9t\u00e9"));
      want.add(r0);
      want.add(new ProducerRecord<>(t, 0, ts + 1, null, Compat.b("null key")));
      want.add(new ProducerRecord<>(t, 0, ts + 2, Compat.b("tombstone"), (byte[]) null));
      want.add(new ProducerRecord<>(t, 0, ts + 3, (byte[]) null, (byte[]) null));
      want.add(new ProducerRecord<>(t, 0, ts + 4, new byte[0], new byte[0]));
      want.add(new ProducerRecord<>(t, 0, ts + 5, binary, binary));
      want.add(new ProducerRecord<>(t, 0, ts + 6, Compat.b("big"), big));
      ProducerRecord<byte[], byte[]> last = new ProducerRecord<>(t, 0, ts + 7, Compat.b("after-big"), Compat.b("v"));
      last.headers().add("k", Compat.b("v"));
      want.add(last);

      try (KafkaProducer<byte[], byte[]> p = Compat.producer(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 2 * 1024 * 1024)) {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (ProducerRecord<byte[], byte[]> r : want) fs.add(p.send(r));
        p.flush();
        for (int i = 0; i < fs.size(); i++) {
          RecordMetadata md = fs.get(i).get(30, TimeUnit.SECONDS);
          Compat.checkEq(0, md.partition(), "partition of record " + i);
          Compat.checkEq((long) i, md.offset(), "offset of record " + i);
          Compat.checkEq(want.get(i).timestamp(), md.timestamp(), "acked timestamp of record " + i);
        }
      }

      try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
        TopicPartition tp = new TopicPartition(t, 0);
        c.assign(List.of(tp));
        Compat.checkEq(0L, c.beginningOffsets(List.of(tp)).get(tp), "beginning offset");
        Compat.checkEq((long) want.size(), c.endOffsets(List.of(tp)).get(tp), "end offset");
        c.seekToBeginning(List.of(tp));
        List<ConsumerRecord<byte[], byte[]>> got = Compat.pollN(c, want.size(), 30000);
        Compat.checkEq(want.size(), got.size(), "record count");
        for (int i = 0; i < got.size(); i++) {
          ConsumerRecord<byte[], byte[]> r = got.get(i);
          Compat.checkEq((long) i, r.offset(), "offset");
          Compat.checkEq(TimestampType.CREATE_TIME, r.timestampType(), "timestamp type of " + i);
          Compat.checkRecord(want.get(i), r, "record " + i);
        }
        // Nothing more arrives.
        Compat.check(c.poll(java.time.Duration.ofMillis(500)).isEmpty(), "unexpected extra records");
        // currentLag = high watermark from the last Fetch response - position: 0 once everything is read.
        Compat.checkEq(java.util.OptionalLong.of(0L), c.currentLag(tp), "lag from the Fetch high watermark");
      }
    });
  }
}
