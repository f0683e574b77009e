// KIP-848 (group.protocol=consumer): three members share six partitions disjointly and completely
// (broker-side uniform assignor); with sync commits, a member that leaves hands its partitions over and
// the other two read every record exactly once; the group is described as a consumer group.
// timeout: 120
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;

public class GroupConsumerProtocol {
  public static void main(String[] args) {
    Compat.main("group-consumer-protocol", () -> {
      String t = Compat.topic("grp-848"), g = t + "-g";
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 6);
      }
      List<KafkaConsumer<byte[], byte[]>> cs = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) {
          // No session.timeout.ms / heartbeat.interval.ms: with this protocol the broker owns them.
          cs.add(Compat.consumer("group.id", g, "group.protocol", "consumer", "enable.auto.commit", "false"));
          cs.get(i).subscribe(List.of(t));
        }
        Groups.pollUntil(cs, 60000, "3 members share 6 partitions", () -> Groups.coversDisjoint(cs, t, 6)
            && cs.stream().allMatch(c -> c.assignment().size() == 2));
        Compat.log("assignments: %s", Groups.assignments(cs));
        try (Admin admin = Compat.admin()) {
          ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g)).all().get().get(g);
          Compat.checkEq(GroupType.CONSUMER, d.type(), "group type");
          Compat.checkEq(3, d.members().size(), "members described");
          Compat.checkEq("uniform", d.partitionAssignor(), "assignor");
          List<Optional<GroupType>> listed = new ArrayList<>();
          for (ConsumerGroupListing l : admin.listConsumerGroups().all().get())
            if (l.groupId().equals(g)) listed.add(l.type());
          Compat.checkEq(List.of(Optional.of(GroupType.CONSUMER)), listed, "ListGroups shows the group once, as a consumer group");
        }
        try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
          for (int i = 0; i < 600; i++) p.send(new ProducerRecord<>(t, Compat.b("k" + i), Compat.b("v" + i)));
        }
        Map<String, Integer> seen = new HashMap<>();
        readSome(cs, seen, 300);
        KafkaConsumer<byte[], byte[]> leaving = cs.remove(0);
        leaving.close();
        // Records delivered while waiting for the handover count too (their positions get committed next).
        for (ConsumerRecord<byte[], byte[]> r : Groups.pollUntil(cs, 60000, "2 members take over all 6 partitions",
            () -> Groups.coversDisjoint(cs, t, 6))) {
          Integer prev = seen.put(Compat.s(r.value()), -1);
          Compat.check(prev == null, "record %s read twice", Compat.s(r.value()));
        }
        Compat.log("after leave: %s", Groups.assignments(cs));
        readSome(cs, seen, 600);
      } finally {
        for (var c : cs) c.close();
      }
    });
  }

  /** Polls until `seen` holds `target` distinct records, committing synchronously after each poll. */
  static void readSome(List<KafkaConsumer<byte[], byte[]>> cs, Map<String, Integer> seen, int target) {
    long deadline = System.currentTimeMillis() + 40000;
    while (seen.size() < target) {
      Compat.check(System.currentTimeMillis() < deadline, "read %d of %d distinct records", seen.size(), target);
      for (int i = 0; i < cs.size(); i++) {
        KafkaConsumer<byte[], byte[]> c = cs.get(i);
        for (ConsumerRecord<byte[], byte[]> r : c.poll(java.time.Duration.ofMillis(100))) {
          Integer prev = seen.put(Compat.s(r.value()), i);
          Compat.check(prev == null, "record %s read twice", Compat.s(r.value()));
        }
        c.commitSync();
      }
    }
  }
}
