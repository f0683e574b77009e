// Three consumers in one group over a 6-partition topic get disjoint partitions covering all 6, and
// together read every record exactly once, each from a partition it owns.
// timeout: 120
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupAssign {
  public static void main(String[] args) {
    Compat.main("group-assign", () -> {
      String t = Compat.topic("grp-assign"), g = t + "-g";
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 6);
      }
      List<KafkaConsumer<byte[], byte[]>> cs = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) {
          cs.add(Groups.member(g));
          cs.get(i).subscribe(List.of(t));
        }
        Groups.pollUntil(cs, 60000, "3 members share 6 partitions", () -> Groups.coversDisjoint(cs, t, 6)
            && cs.stream().allMatch(c -> c.assignment().size() == 2));
        List<Set<TopicPartition>> owned = Groups.assignments(cs);
        Compat.log("assignments: %s", owned);
        try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
          for (int i = 0; i < 600; i++) p.send(new ProducerRecord<>(t, Compat.b("k" + i), Compat.b("v" + i)));
        }
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        // Poll each consumer separately so we know who read what.
        Map<String, Integer> seen = new HashMap<>();
        long deadline = System.currentTimeMillis() + 30000;
        while (seen.size() < 600) {
          Compat.check(System.currentTimeMillis() < deadline, "read %d of 600 distinct records", seen.size());
          for (int i = 0; i < cs.size(); i++)
            for (ConsumerRecord<byte[], byte[]> r : cs.get(i).poll(java.time.Duration.ofMillis(100))) {
              TopicPartition tp = new TopicPartition(r.topic(), r.partition());
              Compat.check(owned.get(i).contains(tp), "consumer %d read %s which it does not own", i, tp);
              Integer prev = seen.put(Compat.s(r.value()), i);
              Compat.check(prev == null, "record %s read twice", Compat.s(r.value()));
            }
        }
        Compat.checkEq(owned, Groups.assignments(cs), "assignments stay stable");
      } finally {
        for (var c : cs) c.close();
      }
    });
  }
}
