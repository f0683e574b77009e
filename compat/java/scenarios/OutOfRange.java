// A fetch position beyond the log end is handled by auto.offset.reset: earliest, latest, none (error).
// timeout: 90
import java.time.Duration;
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class OutOfRange {
  public static void main(String[] args) {
    Compat.main("out-of-range", () -> {
      String t = Compat.topic("oor");
      TopicPartition tp = new TopicPartition(t, 0);
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 1);
      }
      try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
        for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(t, 0, Compat.b("k" + i), Compat.b("v" + i)));
        p.flush();

        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest")) {
          c.assign(List.of(tp));
          c.seek(tp, 1000);
          List<ConsumerRecord<byte[], byte[]>> got = Compat.pollN(c, 10, 20000);
          Compat.checkEq(0L, got.get(0).offset(), "earliest: first offset after reset");
          Compat.checkEq("v9", Compat.s(got.get(9).value()), "earliest: last value");
        }

        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest")) {
          c.assign(List.of(tp));
          c.seek(tp, 1000);
          long deadline = System.currentTimeMillis() + 15000;
          while (true) {
            Compat.check(c.poll(Duration.ofMillis(200)).isEmpty(), "latest: no records expected before the new one");
            if (c.position(tp) == 10) break;
            Compat.check(System.currentTimeMillis() < deadline, "latest: position stuck at %d", c.position(tp));
          }
          p.send(new ProducerRecord<>(t, 0, Compat.b("new"), Compat.b("v10"))).get(30, TimeUnit.SECONDS);
          ConsumerRecord<byte[], byte[]> r = Compat.pollN(c, 1, 15000).get(0);
          Compat.checkEq(10L, r.offset(), "latest: offset of the new record");
        }

        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none")) {
          c.assign(List.of(tp));
          c.seek(tp, 1000);
          long deadline = System.currentTimeMillis() + 15000;
          Exception thrown = null;
          while (thrown == null && System.currentTimeMillis() < deadline) {
            try {
              Compat.check(c.poll(Duration.ofMillis(200)).isEmpty(), "none: no records expected");
            } catch (OffsetOutOfRangeException e) {
              thrown = e;
              Compat.checkEq(Map.of(tp, 1000L), e.offsetOutOfRangePartitions(), "none: out-of-range partitions");
            }
          }
          Compat.check(thrown != null, "none: expected OffsetOutOfRangeException within 15 s");
        }

        // Seeking before the log start (offset -1 is not allowed; use a negative-free check): offset 0 is fine.
        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none")) {
          c.assign(List.of(tp));
          c.seek(tp, 11);
          Compat.check(c.poll(Duration.ofMillis(1000)).isEmpty(), "at log end: nothing to read");
          Compat.checkEq(11L, c.position(tp), "position at log end stays");
        }
      }
    });
  }
}
