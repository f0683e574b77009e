// Every compression codec (none, gzip, snappy, lz4, zstd) round-trips, each in its own topic, and all
// five mixed batch by batch in one partition read back in order.
// timeout: 120
import java.util.*;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.*;

public class CompressionCodecs {
  public static void main(String[] args) {
    Compat.main("compression-codecs", () -> {
      Random rnd = new Random(7);
      String mixed = Compat.topic("comp-mixed");
      Map<String, String> topics = new LinkedHashMap<>();
      try (Admin admin = Compat.admin()) {
        for (String codec : Compat.CODECS) {
          topics.put(codec, Compat.topic("comp-" + codec));
          Compat.createTopic(admin, topics.get(codec), 1);
        }
        Compat.createTopic(admin, mixed, 1);
      }
      Map<String, KafkaProducer<byte[], byte[]>> producers = new LinkedHashMap<>();
      for (String codec : Compat.CODECS)
        producers.put(codec, Compat.producer(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec, ProducerConfig.LINGER_MS_CONFIG, 20));
      try {
        for (String codec : Compat.CODECS) {
          String t = topics.get(codec);
          List<ProducerRecord<byte[], byte[]>> want = new ArrayList<>();
          for (int i = 0; i < 2000; i++) {
            ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(t, 0, Compat.b(codec + "-" + i), Compat.payload(rnd, 10 + rnd.nextInt(500)));
            r.headers().add("i", Compat.b(Integer.toString(i)));
            want.add(r);
            producers.get(codec).send(r);
          }
          producers.get(codec).flush();
          List<ConsumerRecord<byte[], byte[]>> got = Compat.readAll(t, 0, 30000);
          Compat.checkEq(want.size(), got.size(), codec + ": record count");
          for (int i = 0; i < want.size(); i++) {
            Compat.checkEq((long) i, got.get(i).offset(), codec + ": offset");
            Compat.checkRecord(want.get(i), got.get(i), codec + " record " + i);
          }
          Compat.log("%s: %d records ok", codec, want.size());
        }
        // Mixed: 8 rounds, each codec's producer sends a few batches, flushed before the next codec.
        List<ProducerRecord<byte[], byte[]>> want = new ArrayList<>();
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        for (int round = 0; round < 8; round++) {
          for (String codec : Compat.CODECS) {
            for (int i = 0; i < 60; i++) {
              ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(mixed, 0, Compat.b(codec + "-" + round + "-" + i), Compat.payload(rnd, 50 + rnd.nextInt(200)));
              want.add(r);
              acks.add(producers.get(codec).send(r));
            }
            producers.get(codec).flush();
          }
        }
        for (int i = 0; i < acks.size(); i++) Compat.checkEq((long) i, acks.get(i).get(10, TimeUnit.SECONDS).offset(), "mixed: acked offset");
        List<ConsumerRecord<byte[], byte[]>> got = Compat.readAll(mixed, 0, 30000);
        Compat.checkEq(want.size(), got.size(), "mixed: record count");
        for (int i = 0; i < want.size(); i++) {
          Compat.checkEq((long) i, got.get(i).offset(), "mixed: offset");
          Compat.checkRecord(want.get(i), got.get(i), "mixed record " + i);
        }
        // Reading from the middle of a compressed batch returns records from exactly that offset.
        try (var c = Compat.consumer()) {
          var tp = new org.apache.kafka.common.TopicPartition(mixed, 0);
          c.assign(List.of(tp));
          c.seek(tp, 1234);
          var first = Compat.pollN(c, 1, 15000).get(0);
          Compat.checkEq(1234L, first.offset(), "first offset after seek into a batch");
          Compat.checkRecord(want.get(1234), first, "record after seek");
        }
      } finally {
        for (var p : producers.values()) p.close();
      }
    });
  }
}
