// Read-your-writes for committed offsets: once OffsetCommit is acknowledged (commitSync returned), an
// OffsetFetch (committed()) must return it. Checked for many fresh groups (first commit of a group) and
// repeated commits, with manually assigned consumers (no rebalance, generation -1) and group members.
// timeout: 120
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupCommitVisibility {
  public static void main(String[] args) {
    Compat.main("group-commit-visibility", () -> {
      String t = Compat.topic("grp-visible");
      TopicPartition p0 = new TopicPartition(t, 0), p1 = new TopicPartition(t, 1);
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 2);
      }
      List<String> misses = new ArrayList<>();
      for (int g = 0; g < 40; g++) {
        String group = t + "-simple-" + g;
        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer(ConsumerConfig.GROUP_ID_CONFIG, group)) {
          c.assign(List.of(p0, p1));
          for (int i = 1; i <= 3; i++) {
            c.commitSync(Map.of(p0, new OffsetAndMetadata(i * 10L, "m" + i)));
            OffsetAndMetadata got = c.committed(Set.of(p0)).get(p0);
            if (got == null || got.offset() != i * 10L || !("m" + i).equals(got.metadata()))
              misses.add(group + " commit #" + i + " -> " + got);
          }
        }
      }
      // Group members (after a join): the first commit of the generation.
      for (int g = 0; g < 4; g++) {
        String group = t + "-member-" + g;
        try (KafkaConsumer<byte[], byte[]> c = Groups.member(group)) {
          c.subscribe(List.of(t));
          Groups.pollUntil(List.of(c), 60000, "assignment", () -> c.assignment().size() == 2);
          c.commitSync(Map.of(p0, new OffsetAndMetadata(7, "first")));
          OffsetAndMetadata got = c.committed(Set.of(p0)).get(p0);
          if (got == null || got.offset() != 7) misses.add(group + " (member) first commit -> " + got);
        }
      }
      Compat.check(misses.isEmpty(), "%d acknowledged commits were not visible to the next OffsetFetch: %s", misses.size(), misses);
    });
  }
}
