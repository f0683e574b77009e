// Committed offsets (with their metadata strings) survive a broker restart; a never-committed partition
// reports no offset; a new member resumes from the committed position.
// timeout: 120
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupCommitRestart {
  public static void main(String[] args) {
    Compat.main("group-commit-restart", () -> {
      String t = Compat.topic("grp-commit"), g = t + "-g";
      TopicPartition p0 = new TopicPartition(t, 0), p1 = new TopicPartition(t, 1);
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 2);
      }
      try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
        for (int i = 0; i < 100; i++) p.send(new ProducerRecord<>(t, 0, Compat.b("k" + i), Compat.b("v" + i)));
      }
      String meta = "checkpoint \u00e9\u2603 #1";
      try (KafkaConsumer<byte[], byte[]> c = Groups.member(g)) {
        c.subscribe(List.of(t));
        Groups.pollUntil(List.of(c), 60000, "assignment of both partitions", () -> c.assignment().size() == 2);
        // The poll that brought the assignment sent an OffsetFetch for {p0, p1}; if that poll's 100 ms ran out
        // first, the Java client keeps it as a pending request and answers the next committed({p0, p1}) from it,
        // i.e. with offsets from BEFORE the commit below (ConsumerCoordinator.fetchCommittedOffsets reuses a
        // pending request with the same partitions and generation). position() completes and clears it, so
        // committed() below asks the broker afresh. Same client behaviour against Apache Kafka.
        c.position(p0);
        c.position(p1);
        c.commitSync(Map.of(p0, new OffsetAndMetadata(50, meta)));
        Map<TopicPartition, OffsetAndMetadata> com = c.committed(Set.of(p0, p1));
        Compat.checkEq(new OffsetAndMetadata(50, meta), com.get(p0), "committed p0 before restart");
        Compat.checkEq(null, com.get(p1), "committed p1 (never committed)");
      }
      Compat.log("restarting the broker: %s", System.getenv("WEIR_RESTART"));
      Groups.runShell(System.getenv("WEIR_RESTART"));
      try (KafkaConsumer<byte[], byte[]> c = Groups.member(g)) {
        Map<TopicPartition, OffsetAndMetadata> com = c.committed(Set.of(p0, p1));
        OffsetAndMetadata after = com.get(p0);
        Compat.checkEq(50L, after == null ? null : after.offset(), "committed p0 offset after restart");
        Compat.checkEq(meta, after.metadata(), "committed p0 metadata after restart");
        Compat.checkEq(null, com.get(p1), "committed p1 after restart");
        c.subscribe(List.of(t));
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        Groups.pollUntil(List.of(c), 60000, "records 50..99", got, () -> got.size() >= 50);
        Compat.checkEq(50L, got.get(0).offset(), "first offset read after restart");
        Compat.checkEq("v50", Compat.s(got.get(0).value()), "first value read after restart");
        Compat.checkEq(50, got.size(), "records read after restart");
        c.commitSync();
        Compat.checkEq(100L, c.committed(Set.of(p0)).get(p0).offset(), "committed after reading to the end");
      }
    });
  }
}
