// Cooperative-sticky assignment: when a second member joins, the first gives up only the partitions that
// move (never all of them), nothing is reported lost, and the result is a disjoint 3/3 split.
// timeout: 120
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupCooperative {
  static ConsumerRebalanceListener recorder(String name, List<String> events) {
    return new ConsumerRebalanceListener() {
      public void onPartitionsRevoked(Collection<TopicPartition> ps) {
        if (!ps.isEmpty()) events.add(name + " revoked " + ps.size());
      }

      public void onPartitionsAssigned(Collection<TopicPartition> ps) {
        events.add(name + " assigned " + ps.size());
      }

      public void onPartitionsLost(Collection<TopicPartition> ps) {
        events.add(name + " LOST " + ps.size());
      }
    };
  }

  public static void main(String[] args) {
    Compat.main("group-cooperative", () -> {
      String t = Compat.topic("grp-coop"), g = t + "-g";
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 6);
      }
      Object[] cfg = {ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName()};
      List<String> events = Collections.synchronizedList(new ArrayList<>());
      KafkaConsumer<byte[], byte[]> a = Groups.member(g, cfg), b = Groups.member(g, cfg);
      try {
        a.subscribe(List.of(t), recorder("a", events));
        Groups.pollUntil(List.of(a), 60000, "a owns all 6", () -> a.assignment().size() == 6);
        Set<TopicPartition> before = new HashSet<>(a.assignment());
        b.subscribe(List.of(t), recorder("b", events));
        Groups.pollUntil(List.of(a, b), 60000, "a and b split 3/3",
            () -> Groups.coversDisjoint(List.of(a, b), t, 6) && a.assignment().size() == 3);
        Compat.log("events: %s", events);
        Compat.check(events.stream().noneMatch(e -> e.contains("LOST")), "partitions reported lost: %s", events);
        Compat.check(events.contains("a revoked 3"), "a must revoke exactly the 3 moving partitions: %s", events);
        Compat.check(before.containsAll(a.assignment()), "a's partitions are a subset of what it had (sticky)");
      } finally {
        a.close();
        b.close();
      }
    });
  }
}
