// An empty group changes protocol as Kafka 4 does whatever group.consumer.migration.policy says: a
// classic group whose members all left becomes a consumer (KIP-848) group when a group.protocol=consumer
// member joins, and back to a classic group when a classic member joins after that one left. Committed
// offsets stay with the group id, so each new member resumes where the previous one committed, and the
// admin client sees the group's type change.
// timeout: 120
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;

public class GroupProtocolConversion {
  static KafkaConsumer<byte[], byte[]> joinAndCheck(String g, String t, String protocol, long p0, long p1, Admin admin,
      GroupType type) throws Exception {
    KafkaConsumer<byte[], byte[]> c = Groups.member(g, "group.protocol", protocol);
    c.subscribe(List.of(t));
    // Every partition holds records past the committed offset: the first one read shows where it resumed.
    List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
    Groups.pollUntil(List.of(c), 60000, protocol + " member reads both partitions", got,
        () -> got.stream().map(ConsumerRecord::partition).distinct().count() == 2);
    for (int p = 0; p < 2; p++) {
      final int part = p;
      long first = got.stream().filter(r -> r.partition() == part).mapToLong(ConsumerRecord::offset).min().orElse(-1);
      Compat.checkEq(p == 0 ? p0 : p1, first, protocol + " member's first offset on partition " + p);
    }
    var d = admin.describeConsumerGroups(List.of(g)).all().get().get(g);
    Compat.checkEq(type, d.type(), "group type while a " + protocol + " member is in it");
    Compat.checkEq(1, d.members().size(), "members");
    return c;
  }

  public static void main(String[] args) {
    Compat.main("group-protocol-conversion", () -> {
      String t = Compat.topic("grp-convert"), g = t + "-g";
      TopicPartition tp0 = new TopicPartition(t, 0), tp1 = new TopicPartition(t, 1);
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 2);
        try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
          for (int i = 0; i < 10; i++) {
            p.send(new ProducerRecord<>(t, 0, null, Compat.b("a" + i)));
            p.send(new ProducerRecord<>(t, 1, null, Compat.b("b" + i)));
          }
          p.flush();
        }
        // Classic group: commit 3 / 4, leave.
        try (var c = joinAndCheck(g, t, "classic", 0, 0, admin, GroupType.CLASSIC)) {
          c.commitSync(Map.of(tp0, new OffsetAndMetadata(3), tp1, new OffsetAndMetadata(4)));
        }
        // Empty classic group -> consumer group; it resumes at 3 / 4, commits 5 / 6, leaves.
        try (var c = joinAndCheck(g, t, "consumer", 3, 4, admin, GroupType.CONSUMER)) {
          c.commitSync(Map.of(tp0, new OffsetAndMetadata(5), tp1, new OffsetAndMetadata(6)));
        }
        // Empty consumer group -> classic group again; it resumes at 5 / 6.
        try (var c = joinAndCheck(g, t, "classic", 5, 6, admin, GroupType.CLASSIC)) {
          Compat.log("converted twice; offsets carried over");
        }
      }
    });
  }
}
