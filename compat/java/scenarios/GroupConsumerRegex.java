// KIP-848 (group.protocol=consumer) pattern subscription: a member subscribed by pattern gets the
// matching topic, then a matching topic created later, and never a topic that does not match.
// timeout: 120
import java.util.*;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupConsumerRegex {
  public static void main(String[] args) {
    Compat.main("group-consumer-regex", () -> {
      String prefix = Compat.topic("grp-848-rx");
      try (Admin admin = Compat.admin();
           KafkaConsumer<byte[], byte[]> c = Compat.consumer("group.id", prefix + "-g", "group.protocol", "consumer",
               "metadata.max.age.ms", 1000)) {
        Compat.createTopic(admin, prefix + "-a", 2);
        Compat.createTopic(admin, prefix + "-other-x", 1);
        c.subscribe(Pattern.compile(Pattern.quote(prefix) + "-[ab]"));
        List<KafkaConsumer<byte[], byte[]>> cs = List.of(c);
        Groups.pollUntil(cs, 60000, "the first matching topic", () -> c.assignment().size() == 2);
        Compat.createTopic(admin, prefix + "-b", 3);
        Groups.pollUntil(cs, 60000, "the later matching topic", () -> c.assignment().size() == 5);
        for (TopicPartition tp : c.assignment())
          Compat.check(tp.topic().equals(prefix + "-a") || tp.topic().equals(prefix + "-b"), "assigned %s", tp);
      }
    });
  }
}
