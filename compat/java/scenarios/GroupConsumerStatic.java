// KIP-848 (group.protocol=consumer) static membership: a member with group.instance.id closes (leaving
// with epoch -2) and a new incarnation with the same instance id gets the same partitions back, while
// the other member's assignment and rebalance listener see no change.
// timeout: 120
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupConsumerStatic {
  public static void main(String[] args) {
    Compat.main("group-consumer-static", () -> {
      String t = Compat.topic("grp-848-static"), g = t + "-g";
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 4);
      }
      List<String> events = Collections.synchronizedList(new ArrayList<>());
      KafkaConsumer<byte[], byte[]> other = Compat.consumer("group.id", g, "group.protocol", "consumer");
      KafkaConsumer<byte[], byte[]> s = Compat.consumer("group.id", g, "group.protocol", "consumer",
          "group.instance.id", "static-1");
      other.subscribe(List.of(t), new ConsumerRebalanceListener() {
        public void onPartitionsRevoked(Collection<TopicPartition> ps) { if (!ps.isEmpty()) events.add("revoke " + ps); }
        public void onPartitionsAssigned(Collection<TopicPartition> ps) { if (!ps.isEmpty()) events.add("assign " + ps); }
      });
      s.subscribe(List.of(t));
      List<KafkaConsumer<byte[], byte[]>> both = new ArrayList<>(List.of(other, s));
      try {
        Groups.pollUntil(both, 60000, "2 members share 4 partitions", () -> Groups.coversDisjoint(both, t, 4)
            && other.assignment().size() == 2);
        // The listener runs on a later poll than the one that updates assignment(): let it catch up.
        Groups.pollUntil(both, 30000, "the other member's listener saw its assignment", () -> !events.isEmpty());
        Set<TopicPartition> before = new HashSet<>(s.assignment());
        Set<TopicPartition> otherBefore = new HashSet<>(other.assignment());
        List<String> settled = new ArrayList<>(events);
        s.close();
        both.remove(s);
        KafkaConsumer<byte[], byte[]> s2 = Compat.consumer("group.id", g, "group.protocol", "consumer",
            "group.instance.id", "static-1");
        s2.subscribe(List.of(t));
        both.add(s2);
        Groups.pollUntil(both, 60000, "restarted static member owns its partitions", () -> s2.assignment().equals(before));
        for (int i = 0; i < 10; i++) for (var c : both) c.poll(java.time.Duration.ofMillis(100));
        Compat.checkEq(settled, new ArrayList<>(events), "the other member's rebalance callbacks across the restart");
        Compat.checkEq(otherBefore, other.assignment(), "the other member's assignment");
      } finally {
        for (var c : both) c.close();
      }
    });
  }
}
