// Static membership (group.instance.id): a member that closes and comes back with the same instance id
// within the session timeout gets its old partitions back without a rebalance of the other member.
// timeout: 120
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupStatic {
  public static void main(String[] args) {
    Compat.main("group-static", () -> {
      String t = Compat.topic("grp-static"), g = t + "-g";
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 4);
      }
      Object[] common = {ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 30000};
      KafkaConsumer<byte[], byte[]> a = Groups.member(g, ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "static-a", common[0], common[1]);
      KafkaConsumer<byte[], byte[]> b = Groups.member(g, ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "static-b", common[0], common[1]);
      KafkaConsumer<byte[], byte[]> a2 = null;
      try {
        a.subscribe(List.of(t));
        b.subscribe(List.of(t));
        Groups.pollUntil(List.of(a, b), 60000, "2 static members split 4 partitions",
            () -> Groups.coversDisjoint(List.of(a, b), t, 4) && a.assignment().size() == 2);
        Set<TopicPartition> aOwned = new HashSet<>(a.assignment()), bOwned = new HashSet<>(b.assignment());
        int bGeneration = b.groupMetadata().generationId();
        Compat.log("a=%s b=%s generation=%d", aOwned, bOwned, bGeneration);
        a.close(); // a static member does not send LeaveGroup on close
        for (int i = 0; i < 20; i++) b.poll(java.time.Duration.ofMillis(100));
        Compat.checkEq(bOwned, b.assignment(), "b keeps its partitions while a is away");
        a2 = Groups.member(g, ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "static-a", common[0], common[1]);
        a2.subscribe(List.of(t));
        KafkaConsumer<byte[], byte[]> a2f = a2;
        Groups.pollUntil(List.of(a2, b), 60000, "a's replacement gets a's partitions", () -> !a2f.assignment().isEmpty());
        for (int i = 0; i < 20; i++) {
          a2.poll(java.time.Duration.ofMillis(50));
          b.poll(java.time.Duration.ofMillis(50));
        }
        Compat.checkEq(aOwned, a2.assignment(), "partitions of the returning static member");
        Compat.checkEq(bOwned, b.assignment(), "partitions of the other member");
        Compat.checkEq(bGeneration, b.groupMetadata().generationId(), "generation (no rebalance on a static rejoin)");
      } finally {
        b.close();
        if (a2 != null) a2.close();
      }
    });
  }
}
