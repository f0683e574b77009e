// Metadata: the cluster has exactly one broker at the bootstrap address; created topics are listed.
// timeout: 60
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;

public class Metadata {
  public static void main(String[] args) {
    Compat.main("metadata", () -> {
      String[] hp = Compat.bootstrap().split(":");
      try (Admin admin = Compat.admin()) {
        DescribeClusterResult dc = admin.describeCluster();
        Collection<Node> nodes = dc.nodes().get(30, TimeUnit.SECONDS);
        Compat.log("nodes=%s controller=%s clusterId=%s", nodes, dc.controller().get(), dc.clusterId().get());
        Compat.checkEq(1, nodes.size(), "number of brokers");
        Node n = nodes.iterator().next();
        Compat.checkEq(hp[0], n.host(), "broker host");
        Compat.checkEq(Integer.parseInt(hp[1]), n.port(), "broker port");
        Compat.check(n.id() >= 0, "broker id must be >= 0, was %d", n.id());
        String cid = dc.clusterId().get();
        Compat.check(cid != null && !cid.isEmpty(), "cluster id must be set, was %s", cid);

        String t1 = Compat.topic("meta-a"), t2 = Compat.topic("meta-b");
        Compat.createTopic(admin, t1, 1);
        Compat.createTopic(admin, t2, 3);
        Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
        Compat.check(names.containsAll(List.of(t1, t2)), "listTopics %s lacks %s / %s", names, t1, t2);
        Compat.check(names.stream().noneMatch(x -> x.startsWith("__")), "listTopics without listInternal shows internal topics: %s", names);

        // The consumer's metadata view (Metadata request for all topics) agrees.
        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
          Map<String, List<PartitionInfo>> all = c.listTopics();
          Compat.checkEq(1, all.get(t1).size(), "partitions of " + t1);
          Compat.checkEq(3, all.get(t2).size(), "partitions of " + t2);
          for (PartitionInfo p : all.get(t2)) {
            Compat.checkEq(n.id(), p.leader().id(), "leader of " + p);
            Compat.checkEq(1, p.replicas().length, "replicas of " + p);
            Compat.checkEq(1, p.inSyncReplicas().length, "isr of " + p);
          }
          List<PartitionInfo> one = c.partitionsFor(t2);
          Compat.checkEq(3, one.size(), "partitionsFor " + t2);
        }
      }
    });
  }
}
