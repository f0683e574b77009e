// Shared helpers for the Java (kafka-clients 3.9.1) scenarios of Weir's compatibility suite.
// Scenarios assert what Apache Kafka does; each is a main class in ../scenarios/ run by compat/run.sh.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class Compat {
  private Compat() {}

  public interface Body {
    void run() throws Exception;
  }

  /** Runs a scenario body: exit 0 on success, print the failure and exit 1 otherwise. */
  public static void main(String name, Body body) {
    long start = System.nanoTime();
    try {
      body.run();
      System.out.printf("ok %s (%d ms)%n", name, (System.nanoTime() - start) / 1_000_000);
      System.out.flush();
      System.exit(0);
    } catch (Throwable t) {
      System.out.flush();
      System.err.println("FAILED " + name + ": " + t);
      t.printStackTrace();
      System.err.flush();
      System.exit(1);
    }
  }

  public static String bootstrap() {
    String b = System.getenv("WEIR_BOOTSTRAP");
    if (b == null || b.isEmpty()) throw new IllegalStateException("WEIR_BOOTSTRAP is not set");
    return b;
  }

  public static String topic(String prefix) {
    return "java-" + prefix + "-" + Long.toHexString(System.nanoTime() & 0xffffffffL);
  }

  public static void log(String fmt, Object... args) {
    System.out.printf("[%tT.%<tL] %s%n", new Date(), String.format(fmt, args));
  }

  public static void check(boolean cond, String fmt, Object... args) {
    if (!cond) throw new AssertionError(String.format(fmt, args));
  }

  public static void checkEq(Object expected, Object actual, String what) {
    if (!Objects.equals(expected, actual))
      throw new AssertionError(what + ": expected <" + expected + "> but was <" + actual + ">");
  }

  public static byte[] b(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }

  public static String s(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  // ---- clients ---------------------------------------------------------------------------------

  public static Admin admin() {
    return admin(bootstrap());
  }

  public static Admin admin(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
    return Admin.create(p);
  }

  public static KafkaProducer<byte[], byte[]> producer(Object... kv) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60000);
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 20000);
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30000);
    put(p, kv);
    return new KafkaProducer<>(p);
  }

  /** A consumer with no group: data-plane scenarios use assign(), never subscribe(). */
  public static KafkaConsumer<byte[], byte[]> consumer(Object... kv) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
    p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 20000);
    put(p, kv);
    return new KafkaConsumer<>(p);
  }

  private static void put(Properties p, Object... kv) {
    check(kv.length % 2 == 0, "odd number of config arguments");
    for (int i = 0; i < kv.length; i += 2) p.put(String.valueOf(kv[i]), kv[i + 1]);
  }

  public static void createTopic(Admin admin, String topic, int partitions) throws Exception {
    createTopic(admin, topic, partitions, Map.of());
  }

  public static void createTopic(Admin admin, String topic, int partitions, Map<String, String> configs)
      throws Exception {
    NewTopic t = new NewTopic(topic, partitions, (short) 1).configs(configs);
    admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
    waitForTopic(admin, topic, partitions);
  }

  /** Waits until the topic's metadata shows every partition with a leader. */
  public static void waitForTopic(Admin admin, String topic, int partitions) throws Exception {
    long deadline = System.currentTimeMillis() + 15000;
    Exception last = null;
    while (System.currentTimeMillis() < deadline) {
      try {
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
        if (d.partitions().size() == partitions && d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty()))
          return;
      } catch (Exception e) {
        last = e;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("topic " + topic + " did not become ready", last);
  }

  /** Polls until at least n records arrived (fails after timeoutMs). */
  public static List<ConsumerRecord<byte[], byte[]>> pollN(Consumer<byte[], byte[]> c, int n, long timeoutMs) {
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>(n);
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (out.size() < n) {
      long left = deadline - System.currentTimeMillis();
      check(left > 0, "timed out after %d ms with %d of %d records", timeoutMs, out.size(), n);
      for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(Math.min(left, 500)))) out.add(r);
    }
    return out;
  }

  /** Reads a whole partition from offset 0 up to its end offset (assign, no group). */
  public static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int partition, long timeoutMs, Object... kv) {
    try (KafkaConsumer<byte[], byte[]> c = consumer(kv)) {
      TopicPartition tp = new TopicPartition(topic, partition);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      long end = c.endOffsets(List.of(tp)).get(tp);
      List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (c.position(tp) < end) {
        check(System.currentTimeMillis() < deadline, "timed out reading %s at %d of %d", tp, c.position(tp), end);
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) out.add(r);
      }
      return out;
    }
  }

  public static List<String> headerList(Iterable<Header> hs) {
    List<String> out = new ArrayList<>();
    for (Header h : hs) out.add(h.key() + "=" + (h.value() == null ? "<null>" : Base64.getEncoder().encodeToString(h.value())));
    return out;
  }

  /** Fails unless the record has exactly this key, value and headers (byte-identical). */
  public static void checkRecord(ProducerRecord<byte[], byte[]> want, ConsumerRecord<byte[], byte[]> got, String what) {
    check(Arrays.equals(want.key(), got.key()), "%s: key differs: %s vs %s", what, show(want.key()), show(got.key()));
    check(Arrays.equals(want.value(), got.value()), "%s: value differs (len %s vs %s): %s vs %s", what,
        want.value() == null ? "null" : want.value().length, got.value() == null ? "null" : got.value().length,
        show(want.value()), show(got.value()));
    checkEq(headerList(want.headers()), headerList(got.headers()), what + ": headers");
    if (want.timestamp() != null) checkEq(want.timestamp(), got.timestamp(), what + ": timestamp");
  }

  public static String show(byte[] b) {
    if (b == null) return "null";
    String t = new String(b, 0, Math.min(b.length, 40), StandardCharsets.ISO_8859_1);
    return "\"" + t.replaceAll("[^\\x20-\\x7e]", "?") + (b.length > 40 ? "...\"(" + b.length + " bytes)" : "\"");
  }

  /** Deterministic pseudo-random bytes, partly compressible, for record values. */
  public static byte[] payload(Random rnd, int len) {
    byte[] out = new byte[len];
    for (int i = 0; i < len; i++) out[i] = (i % 7 < 4) ? (byte) ('a' + (i % 13)) : (byte) rnd.nextInt(256);
    return out;
  }

  public static final List<String> CODECS = List.of("none", "gzip", "snappy", "lz4", "zstd");
}
