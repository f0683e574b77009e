// Helpers for the consumer-group scenarios: group consumers, polling several consumers until a condition holds.

import java.time.Duration;
import java.util.*;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public final class Groups {
  private Groups() {}

  public static KafkaConsumer<byte[], byte[]> member(String group, Object... kv) {
    Object[] all = new Object[kv.length + 6];
    all[0] = ConsumerConfig.GROUP_ID_CONFIG;
    all[1] = group;
    all[2] = ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG;
    all[3] = 10000;
    all[4] = ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG;
    all[5] = 1000;
    System.arraycopy(kv, 0, all, 6, kv.length);
    return Compat.consumer(all);
  }

  /** Polls every consumer in turn (short polls) until cond holds; fails after timeoutMs. */
  public static List<ConsumerRecord<byte[], byte[]>> pollUntil(List<? extends Consumer<byte[], byte[]>> cs, long timeoutMs, String what, BooleanSupplier cond) {
    return pollUntil(cs, timeoutMs, what, new ArrayList<>(), cond);
  }

  /** Same, adding every polled record to got (which cond may look at). */
  public static List<ConsumerRecord<byte[], byte[]>> pollUntil(List<? extends Consumer<byte[], byte[]>> cs, long timeoutMs, String what,
      List<ConsumerRecord<byte[], byte[]>> got, BooleanSupplier cond) {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (!cond.getAsBoolean()) {
      Compat.check(System.currentTimeMillis() < deadline, "timed out after %d ms waiting for: %s; assignments %s", timeoutMs, what, assignments(cs));
      for (Consumer<byte[], byte[]> c : cs) for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) got.add(r);
    }
    return got;
  }

  public static List<Set<TopicPartition>> assignments(List<? extends Consumer<byte[], byte[]>> cs) {
    List<Set<TopicPartition>> out = new ArrayList<>();
    for (Consumer<byte[], byte[]> c : cs) out.add(new TreeSet<>(Comparator.comparing(TopicPartition::toString)) {{ addAll(c.assignment()); }});
    return out;
  }

  /** True when the consumers' assignments are disjoint and together cover exactly partitions 0..n-1. */
  public static boolean coversDisjoint(List<? extends Consumer<byte[], byte[]>> cs, String topic, int n) {
    Set<TopicPartition> union = new HashSet<>();
    int total = 0;
    for (Consumer<byte[], byte[]> c : cs) {
      union.addAll(c.assignment());
      total += c.assignment().size();
    }
    Set<TopicPartition> want = new HashSet<>();
    for (int i = 0; i < n; i++) want.add(new TopicPartition(topic, i));
    return total == n && union.equals(want);
  }

  public static void runShell(String command) throws Exception {
    Process p = new ProcessBuilder("bash", "-c", command).inheritIO().start();
    Compat.check(p.waitFor() == 0, "command failed: %s", command);
  }
}
