// Measurement (not a scenario): classic versus consumer (KIP-848) group protocol, client defaults
// otherwise. Three members (one thread each, polling every 50 ms) subscribe to a fresh 6-partition topic at
// once; "stable" runs from just before the first subscribe() until the three report assignments that
// cover the 6 partitions disjointly. Then one member closes (leaving the group); "handover" runs from just
// before its close() until the other two cover all 6. ROUNDS rounds per protocol, fresh topic and group each.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.atomic.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupProtocolBench {
  static final int PARTITIONS = 6;

  static final class Member extends Thread {
    final String topic, group, protocol;
    volatile Set<TopicPartition> assignment = Set.of();
    final AtomicBoolean stop = new AtomicBoolean();
    volatile boolean closed;

    Member(String topic, String group, String protocol) {
      this.topic = topic;
      this.group = group;
      this.protocol = protocol;
      setDaemon(true);
    }

    public void run() {
      try (KafkaConsumer<byte[], byte[]> c = Compat.consumer("group.id", group, "group.protocol", protocol)) {
        c.subscribe(List.of(topic));
        while (!stop.get()) {
          c.poll(Duration.ofMillis(50));
          assignment = Set.copyOf(c.assignment());
        }
      }
      closed = true;
    }
  }

  static boolean covers(List<Member> ms) {
    Set<TopicPartition> union = new HashSet<>();
    int total = 0;
    for (Member m : ms) {
      if (m.assignment.isEmpty()) return false;
      union.addAll(m.assignment);
      total += m.assignment.size();
    }
    return total == PARTITIONS && union.size() == PARTITIONS;
  }

  static long await(List<Member> ms, long startNanos, String what) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 120000;
    while (!covers(ms)) {
      if (System.currentTimeMillis() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(1);
    }
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  static String summary(List<Long> xs) {
    List<Long> s = new ArrayList<>(xs);
    Collections.sort(s);
    return String.format("ms=%s median=%d max=%d", xs, s.get(s.size() / 2), s.get(s.size() - 1));
  }

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    try (Admin admin = Compat.admin()) {
      for (String protocol : List.of("classic", "consumer")) {
        List<Long> stable = new ArrayList<>(), handover = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
          String t = Compat.topic("bench-proto-" + protocol), g = t + "-g";
          Compat.createTopic(admin, t, PARTITIONS);
          List<Member> all = List.of(new Member(t, g, protocol), new Member(t, g, protocol), new Member(t, g, protocol));
          long start = System.nanoTime();
          for (Member m : all) m.start();
          stable.add(await(all, start, "three members stable"));
          Thread.sleep(1000);
          long leave = System.nanoTime();
          all.get(0).stop.set(true);
          all.get(0).join(30000);
          handover.add(await(all.subList(1, 3), leave, "two members take over"));
          Compat.log("%s round %d: stable %d ms, handover %d ms", protocol, r + 1, stable.get(r), handover.get(r));
          for (Member m : all) m.stop.set(true);
          for (Member m : all) m.join(30000);
        }
        System.out.printf("group.protocol=%s rounds=%d stable %s; handover %s%n", protocol, rounds, summary(stable),
            summary(handover));
      }
    }
    System.exit(0);
  }
}
