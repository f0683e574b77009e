// Measurement (not a scenario): how long a 3-member classic group takes to become Stable again after the
// third member joins. Two members (one thread each, polling every 50 ms) own a 6-partition topic; the third
// subscribes and polls at a random point of their heartbeat cycle; the clock runs from just before the third member's subscribe() until all three
// report a non-empty assignment that together covers the 6 partitions disjointly. Repeated ROUNDS times,
// each with a fresh topic and group. Run against a broker started with group.initial.rebalance.delay.ms=0
// so that the figure is the rebalance itself (see compat/java/bench/group-stable.sh).
import java.time.Duration;
import java.util.*;
import java.util.concurrent.atomic.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupStableBench {
  static final int PARTITIONS = 6;
  static int HEARTBEAT_MS = 1000; // heartbeat.interval.ms of every member (second argument)

  static final class Member extends Thread {
    final String topic, group;
    volatile Set<TopicPartition> assignment = Set.of();
    volatile long subscribedAtNanos;
    final AtomicBoolean stop = new AtomicBoolean();

    Member(String topic, String group) {
      this.topic = topic;
      this.group = group;
      setDaemon(true);
    }

    public void run() {
      try (KafkaConsumer<byte[], byte[]> c = Groups.member(group, ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, HEARTBEAT_MS)) {
        subscribedAtNanos = System.nanoTime();
        c.subscribe(List.of(topic));
        while (!stop.get()) {
          c.poll(Duration.ofMillis(50));
          assignment = Set.copyOf(c.assignment());
        }
      }
    }
  }

  static boolean stable(List<Member> ms) {
    Set<TopicPartition> union = new HashSet<>();
    int total = 0;
    for (Member m : ms) {
      if (m.assignment.isEmpty()) return false;
      union.addAll(m.assignment);
      total += m.assignment.size();
    }
    return total == PARTITIONS && union.size() == PARTITIONS;
  }

  static void await(List<Member> ms, long timeoutMs, String what) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (!stable(ms)) {
      if (System.currentTimeMillis() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(1);
    }
  }

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    if (args.length > 1) HEARTBEAT_MS = Integer.parseInt(args[1]);
    List<Long> ms = new ArrayList<>();
    Random rnd = new Random(42);
    try (Admin admin = Compat.admin()) {
      for (int r = 0; r < rounds; r++) {
        String t = Compat.topic("bench-stable"), g = t + "-g";
        Compat.createTopic(admin, t, PARTITIONS);
        Member a = new Member(t, g), b = new Member(t, g);
        a.start();
        b.start();
        await(List.of(a, b), 60000, "two members stable");
        // Let the two-member generation settle, then join at a random point of the old members' heartbeat cycle:
        // their heartbeat timers restart together at the sync, so a fixed wait would always hit the same phase.
        Thread.sleep(2000 + rnd.nextInt(HEARTBEAT_MS));
        Member c = new Member(t, g);
        c.start();
        List<Member> all = List.of(a, b, c);
        await(all, 60000, "three members stable");
        long took = (System.nanoTime() - c.subscribedAtNanos) / 1_000_000;
        ms.add(took);
        Compat.log("round %d: third member joined -> all three assigned in %d ms (%s / %s / %s)", r + 1, took,
            a.assignment.size(), b.assignment.size(), c.assignment.size());
        for (Member m : all) m.stop.set(true);
        for (Member m : all) m.join(30000);
      }
    }
    List<Long> sorted = new ArrayList<>(ms);
    Collections.sort(sorted);
    System.out.printf("group-stable-after-third-join heartbeat.interval.ms=%d rounds=%d ms=%s median=%d max=%d%n", HEARTBEAT_MS, rounds, ms,
        sorted.get(sorted.size() / 2), sorted.get(sorted.size() - 1));
    System.exit(0);
  }
}
