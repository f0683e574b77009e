// Offsets are contiguous from 0; ListOffsets earliest / latest / by timestamp (consumer and AdminClient).
// timeout: 60
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class ListOffsets {
  /** Offset and timestamp only: the leader epoch is the broker's to choose. */
  static List<Long> ot(OffsetAndTimestamp x) {
    return x == null ? null : List.of(x.offset(), x.timestamp());
  }

  public static void main(String[] args) {
    Compat.main("list-offsets", () -> {
      String t = Compat.topic("offsets");
      TopicPartition p0 = new TopicPartition(t, 0), p1 = new TopicPartition(t, 1);
      long base = System.currentTimeMillis() - 600_000L;
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 2);
        // Partition 1 stays empty.
        try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
          for (int i = 0; i < 10; i++) {
            RecordMetadata md = p.send(new ProducerRecord<>(t, 0, base + i * 1000L, Compat.b("k" + i), Compat.b("v" + i))).get(30, TimeUnit.SECONDS);
            Compat.checkEq((long) i, md.offset(), "offset of record " + i);
          }
        }
        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
          Compat.checkEq(Map.of(p0, 0L, p1, 0L), c.beginningOffsets(List.of(p0, p1)), "beginningOffsets");
          Compat.checkEq(Map.of(p0, 10L, p1, 0L), c.endOffsets(List.of(p0, p1)), "endOffsets");
          Map<TopicPartition, OffsetAndTimestamp> r = c.offsetsForTimes(Map.of(p0, base + 1500L, p1, base));
          Compat.checkEq(List.of(2L, base + 2000L), ot(r.get(p0)), "offsetsForTimes(base+1500)");
          Compat.checkEq(null, r.get(p1), "offsetsForTimes on an empty partition");
          r = c.offsetsForTimes(Map.of(p0, base - 5000L));
          Compat.checkEq(List.of(0L, base), ot(r.get(p0)), "offsetsForTimes(before first)");
          r = c.offsetsForTimes(Map.of(p0, base + 9000L));
          Compat.checkEq(List.of(9L, base + 9000L), ot(r.get(p0)), "offsetsForTimes(exact last)");
          r = c.offsetsForTimes(Map.of(p0, base + 9001L));
          Compat.checkEq(null, r.get(p0), "offsetsForTimes(after last)");
          List<ConsumerRecord<byte[], byte[]>> all = Compat.readAll(t, 0, 20000);
          for (int i = 0; i < all.size(); i++) Compat.checkEq((long) i, all.get(i).offset(), "read offset");
        }
        var lo = admin.listOffsets(Map.of(p0, OffsetSpec.earliest(), p1, OffsetSpec.latest())).all().get(30, TimeUnit.SECONDS);
        Compat.checkEq(0L, lo.get(p0).offset(), "admin earliest p0");
        Compat.checkEq(0L, lo.get(p1).offset(), "admin latest p1");
        lo = admin.listOffsets(Map.of(p0, OffsetSpec.latest())).all().get(30, TimeUnit.SECONDS);
        Compat.checkEq(10L, lo.get(p0).offset(), "admin latest p0");
        lo = admin.listOffsets(Map.of(p0, OffsetSpec.forTimestamp(base + 3500L))).all().get(30, TimeUnit.SECONDS);
        Compat.checkEq(4L, lo.get(p0).offset(), "admin forTimestamp offset");
        Compat.checkEq(base + 4000L, lo.get(p0).timestamp(), "admin forTimestamp timestamp");
        // Apache Kafka (ListOffsets v7+, KIP-734): the offset of the record with the largest timestamp.
        lo = admin.listOffsets(Map.of(p0, OffsetSpec.maxTimestamp())).all().get(30, TimeUnit.SECONDS);
        Compat.checkEq(9L, lo.get(p0).offset(), "admin maxTimestamp offset");
        Compat.checkEq(base + 9000L, lo.get(p0).timestamp(), "admin maxTimestamp timestamp");
      }
    });
  }
}
