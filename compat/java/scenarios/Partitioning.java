// Key -> partition stickiness: the default partitioner sends one key always to the same partition,
// murmur2(key) % partitions, and each partition holds exactly the keys sent there.
// timeout: 90
import java.util.*;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.utils.Utils;

public class Partitioning {
  public static void main(String[] args) {
    Compat.main("partitioning", () -> {
      String t = Compat.topic("partitioning");
      int parts = 6;
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, parts);
      }
      Map<String, Set<Integer>> seen = new TreeMap<>();
      Map<Integer, List<String>> perPartition = new HashMap<>();
      try (KafkaProducer<byte[], byte[]> p = Compat.producer(ProducerConfig.LINGER_MS_CONFIG, 5)) {
        List<String> keys = new ArrayList<>();
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (int round = 0; round < 5; round++)
          for (int k = 0; k < 60; k++) {
            String key = "user-" + k;
            keys.add(key);
            fs.add(p.send(new ProducerRecord<>(t, Compat.b(key), Compat.b("round-" + round))));
          }
        for (int i = 0; i < 20; i++) p.send(new ProducerRecord<>(t, null, Compat.b("no key " + i)));
        p.flush();
        for (int i = 0; i < fs.size(); i++) {
          RecordMetadata md = fs.get(i).get(30, TimeUnit.SECONDS);
          seen.computeIfAbsent(keys.get(i), x -> new TreeSet<>()).add(md.partition());
          perPartition.computeIfAbsent(md.partition(), x -> new ArrayList<>()).add(keys.get(i));
        }
      }
      for (var e : seen.entrySet()) {
        Compat.checkEq(1, e.getValue().size(), "partitions used by key " + e.getKey());
        int expected = Utils.toPositive(Utils.murmur2(Compat.b(e.getKey()))) % parts;
        Compat.checkEq(expected, e.getValue().iterator().next(), "partition of key " + e.getKey());
      }
      Compat.check(perPartition.size() == parts, "60 keys should spread over all %d partitions: %s", parts, perPartition.keySet());
      for (int part = 0; part < parts; part++) {
        List<String> keysHere = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : Compat.readAll(t, part, 20000)) if (r.key() != null) keysHere.add(Compat.s(r.key()));
        Compat.checkEq(perPartition.get(part), keysHere, "keys stored in partition " + part);
      }
    });
  }
}
