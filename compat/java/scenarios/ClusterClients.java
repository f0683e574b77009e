// Cluster mode, part 1, with the Java client: three Weir nodes (started by compat/lib/cluster.py); an
// AdminClient bootstrapped from node 2 creates 12 partitions whose leaders sit on all three brokers; an
// idempotent producer bootstrapped from node 3 writes to every partition; a 3-member consumer group
// bootstrapped from node 1, coordinated by another node, reads every record exactly once and commits.
// timeout: 240

import java.io.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class ClusterClients {
  static final int RECORDS = 1200, PARTITIONS = 12;

  public static void main(String[] args) {
    Compat.main("cluster-clients", ClusterClients::run);
  }

  static void run() throws Exception {
    // Scenarios run in compat/java.
    String script = new File("../lib/cluster.py").getPath();
    Process cluster = new ProcessBuilder("python3", script, "run", "3").redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      Map<Integer, String> nodes = new HashMap<>();
      BufferedReader out = new BufferedReader(new InputStreamReader(cluster.getInputStream()));
      for (String line; (line = out.readLine()) != null && !line.equals("READY"); ) {
        String[] f = line.split(" ");
        if (f.length == 3 && f[0].equals("NODE")) nodes.put(Integer.parseInt(f[1]), f[2]);
      }
      Compat.check(nodes.size() == 3, "cluster did not start: %s", nodes);
      String topic = Compat.topic("cluster");
      try (Admin admin = Compat.admin(nodes.get(2))) {
        admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get(30, TimeUnit.SECONDS);
        Set<Integer> leaders = new TreeSet<>();
        for (TopicPartitionInfo p : admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions())
          leaders.add(p.leader().id());
        Compat.checkEq(Set.of(1, 2, 3), leaders, "leaders of " + topic);
        Compat.log("leaders on brokers %s", leaders);
      }
      Properties pp = new Properties();
      pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, nodes.get(3));
      pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
      pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
      try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (int n = 0; n < RECORDS; n++)
          sent.add(p.send(new ProducerRecord<>(topic, n % PARTITIONS, null, Compat.b(Integer.toString(n)))));
        for (Future<RecordMetadata> f : sent) f.get(60, TimeUnit.SECONDS);
      }
      String group = groupCoordinatedAwayFrom(nodes.get(1), 1);
      ConcurrentHashMap<Integer, Integer> seen = new ConcurrentHashMap<>();
      AtomicBooleanHolder stop = new AtomicBooleanHolder();
      ExecutorService pool = Executors.newFixedThreadPool(3);
      List<Future<?>> members = new ArrayList<>();
      for (int k = 0; k < 3; k++) {
        members.add(pool.submit(() -> {
          Properties cp = new Properties();
          cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, nodes.get(1));
          cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
          cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
          cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
          cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
          cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
          try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
            c.subscribe(List.of(topic));
            while (!stop.value) {
              ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(200));
              for (ConsumerRecord<byte[], byte[]> r : recs) seen.merge(Integer.parseInt(Compat.s(r.value())), 1, Integer::sum);
              if (!recs.isEmpty()) c.commitSync();
            }
          }
          return null;
        }));
      }
      long deadline = System.currentTimeMillis() + 90_000;
      while (seen.size() < RECORDS && System.currentTimeMillis() < deadline) Thread.sleep(100);
      stop.value = true;
      for (Future<?> m : members) m.get(60, TimeUnit.SECONDS);
      pool.shutdown();
      Compat.checkEq(RECORDS, seen.size(), "distinct records consumed");
      long dups = seen.values().stream().filter(v -> v > 1).count();
      Compat.checkEq(0L, dups, "records consumed more than once");
      try (Admin admin = Compat.admin(nodes.get(1))) {
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
        Map<TopicPartition, OffsetAndMetadata> committed =
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        for (int q = 0; q < PARTITIONS; q++)
          Compat.checkEq((long) (RECORDS / PARTITIONS), committed.get(new TopicPartition(topic, q)).offset(), "committed offset of partition " + q);
        Compat.check(d.coordinator().id() != 1, "group coordinated by the bootstrap node");
        Compat.log("group %s coordinated by node %d", group, d.coordinator().id());
      }
    } finally {
      cluster.getOutputStream().close();
      cluster.waitFor(60, TimeUnit.SECONDS);
      cluster.destroyForcibly();
    }
  }

  /** A group id whose __consumer_offsets partition (Kafka: abs(hashCode) % 50) is led by another node. */
  static String groupCoordinatedAwayFrom(String bootstrap, int node) throws Exception {
    try (Admin admin = Compat.admin(bootstrap)) {
      admin.describeConsumerGroups(List.of("probe")).all().get(30, TimeUnit.SECONDS); // creates the topic
      List<TopicPartitionInfo> parts = null;
      for (int i = 0; i < 100 && parts == null; i++) {
        try {
          parts = admin.describeTopics(List.of("__consumer_offsets")).allTopicNames().get().get("__consumer_offsets").partitions();
        } catch (ExecutionException e) {
          Thread.sleep(100);
        }
      }
      Compat.check(parts != null, "__consumer_offsets was not created");
      for (int k = 0; ; k++) {
        String g = "java-cluster-" + k;
        int h = g.hashCode();
        int p = (h == Integer.MIN_VALUE ? 0 : Math.abs(h)) % parts.size();
        if (parts.get(p).leader() != null && parts.get(p).leader().id() != node) return g;
      }
    }
  }

  static final class AtomicBooleanHolder {
    volatile boolean value;
  }
}
