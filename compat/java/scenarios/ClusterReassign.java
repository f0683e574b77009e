// Partition reassignment and leader election with the Java AdminClient, as kafka-reassign-partitions.sh
// and kafka-leader-election.sh drive them, on three Weir nodes (started by compat/lib/cluster.py): a
// partition on broker 1 holding acknowledged records is moved to brokers 2 and 3
// (alterPartitionReassignments, then listPartitionReassignments until it is done, as --verify polls);
// the new replicas hold every record at its offset, broker 1 is out of the replica set, a cancel of the
// finished reassignment is NoReassignmentInProgressException, and a preferred election where the
// preferred replica leads already is ElectionNotNeededException.
// timeout: 180

import java.io.*;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.NoReassignmentInProgressException;
import org.apache.kafka.common.Node;

public class ClusterReassign {
  static final int RECORDS = 300;

  public static void main(String[] args) {
    Compat.main("cluster-reassign", ClusterReassign::run);
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
      String bootstrap = String.join(",", nodes.values());
      String topic = Compat.topic("reassign");
      TopicPartition tp = new TopicPartition(topic, 0);
      try (Admin admin = Compat.admin(bootstrap)) {
        admin.createTopics(List.of(new NewTopic(topic, Map.of(0, List.of(1))))).all().get(30, TimeUnit.SECONDS);
        Compat.waitForTopic(admin, topic, 1);
        try (KafkaProducer<byte[], byte[]> p = Compat.producer(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap)) {
          List<Future<RecordMetadata>> sent = new ArrayList<>();
          for (int n = 0; n < RECORDS; n++) sent.add(p.send(new ProducerRecord<>(topic, 0, null, Compat.b(Integer.toString(n)))));
          for (Future<RecordMetadata> f : sent) f.get(60, TimeUnit.SECONDS);
        }
        admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(List.of(2, 3)))))
            .all().get(30, TimeUnit.SECONDS);
        // kafka-reassign-partitions.sh --verify: done when the partition is no longer listed.
        long deadline = System.currentTimeMillis() + 60_000;
        Map<TopicPartition, PartitionReassignment> ongoing = admin.listPartitionReassignments().reassignments().get();
        while (!ongoing.isEmpty() && System.currentTimeMillis() < deadline) {
          PartitionReassignment r = ongoing.get(tp);
          if (r != null) Compat.log("ongoing: replicas %s adding %s removing %s", r.replicas(), r.addingReplicas(), r.removingReplicas());
          Thread.sleep(200);
          ongoing = admin.listPartitionReassignments().reassignments().get();
        }
        Compat.check(ongoing.isEmpty(), "reassignment still listed: %s", ongoing);
        TopicPartitionInfo info = describe(admin, topic);
        for (int i = 0; i < 100 && (info.leader() == null || info.isr().size() != 2); i++) {
          Thread.sleep(100);
          info = describe(admin, topic);
        }
        Compat.checkEq(List.of(2, 3), ids(info.replicas()), "replicas after the reassignment");
        Compat.checkEq(Set.of(2, 3), new HashSet<>(ids(info.isr())), "ISR after the reassignment");
        Compat.checkEq(2, info.leader().id(), "leader after the reassignment (first target replica in sync)");
        try {
          admin.alterPartitionReassignments(Map.of(tp, Optional.empty())).all().get(30, TimeUnit.SECONDS);
          Compat.check(false, "cancelling a finished reassignment succeeded");
        } catch (ExecutionException e) {
          Compat.check(e.getCause() instanceof NoReassignmentInProgressException, "cancel: %s", e.getCause());
        }
        Map<TopicPartition, Optional<Throwable>> elected =
            admin.electLeaders(ElectionType.PREFERRED, Set.of(tp)).partitions().get(30, TimeUnit.SECONDS);
        Compat.check(elected.get(tp).orElse(null) instanceof ElectionNotNeededException, "preferred election: %s", elected);
      }
      List<ConsumerRecord<byte[], byte[]>> got = Compat.readAll(topic, 0, 60_000, ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      Compat.checkEq(RECORDS, got.size(), "records read from the new replicas");
      for (int n = 0; n < RECORDS; n++) {
        Compat.checkEq((long) n, got.get(n).offset(), "offset of record " + n);
        Compat.checkEq(Integer.toString(n), Compat.s(got.get(n).value()), "value at offset " + n);
      }
      Compat.log("moved %d records from broker 1 to brokers 2 and 3", RECORDS);
    } finally {
      cluster.getOutputStream().close();
      cluster.waitFor(60, TimeUnit.SECONDS);
      cluster.destroyForcibly();
    }
  }

  static TopicPartitionInfo describe(Admin admin, String topic) throws Exception {
    return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().get(0);
  }

  static List<Integer> ids(List<Node> nodes) {
    List<Integer> out = new ArrayList<>();
    for (Node n : nodes) out.add(n.id());
    return out;
  }
}
