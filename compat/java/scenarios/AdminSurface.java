// The admin calls tools and UIs make beyond topics and groups: describeLogDirs (kafka-log-dirs.sh, AKHQ,
// kafka-ui), describeConfigs on the broker with synonyms, listPartitionReassignments and electLeaders; and
// a consumer validating a seeked position with OffsetForLeaderEpoch (KIP-320).
// timeout: 90
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

public class AdminSurface {
  static final int RECORDS = 20;

  public static void main(String[] args) {
    Compat.main("admin-surface", () -> {
      try (Admin admin = Compat.admin()) {
        String t = Compat.topic("surface");
        Compat.createTopic(admin, t, 2);
        TopicPartition tp0 = new TopicPartition(t, 0), tp1 = new TopicPartition(t, 1);
        try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
          for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>(t, 0, null, Compat.b("v" + i))).get();
        }
        logDirs(admin, tp0, tp1);
        brokerConfigs(admin);
        Compat.check(admin.listPartitionReassignments().reassignments().get(30, TimeUnit.SECONDS).isEmpty(),
            "no reassignment should be ongoing");
        electLeaders(admin, t, tp0);
        validatesPositions(tp0);
      }
    });
  }

  static void logDirs(Admin admin, TopicPartition tp0, TopicPartition tp1) throws Exception {
    Map<Integer, Map<String, LogDirDescription>> dirs =
        admin.describeLogDirs(List.of(1)).allDescriptions().get(30, TimeUnit.SECONDS);
    Compat.checkEq(1, dirs.get(1).size(), "log dirs of broker 1");
    LogDirDescription d = dirs.get(1).values().iterator().next();
    Compat.check(d.error() == null, "log dir error %s", d.error());
    ReplicaInfo r0 = d.replicaInfos().get(tp0), r1 = d.replicaInfos().get(tp1);
    Compat.check(r0 != null && r1 != null, "both partitions listed: %s", d.replicaInfos().keySet());
    Compat.check(r0.size() > RECORDS * 2, "partition 0 size %d", r0.size());
    Compat.checkEq(0L, r1.size(), "empty partition size");
    Compat.checkEq(0L, r0.offsetLag(), "offset lag");
    Compat.check(d.totalBytes().isPresent() && d.usableBytes().isPresent(), "v4 total/usable bytes present");
    Compat.check(d.usableBytes().getAsLong() <= d.totalBytes().getAsLong() && d.totalBytes().getAsLong() > 0,
        "usable %s <= total %s", d.usableBytes(), d.totalBytes());
    Compat.log("log dir %s: partition 0 is %d bytes", dirs.get(1).keySet(), r0.size());
  }

  static void brokerConfigs(Admin admin) throws Exception {
    ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, "1");
    Config bc = admin.describeConfigs(List.of(broker), new DescribeConfigsOptions().includeSynonyms(true))
        .all().get(30, TimeUnit.SECONDS).get(broker);
    ConfigEntry seg = bc.get("log.segment.bytes");
    Compat.check(seg != null && seg.source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG, "log.segment.bytes: %s", seg);
    ConfigEntry dirs = bc.get("log.dirs");
    Compat.check(dirs != null && dirs.source() == ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG, "log.dirs: %s", dirs);
    Compat.check(!dirs.synonyms().isEmpty()
            && dirs.synonyms().get(0).source() == ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG,
        "log.dirs synonyms start with the static setting: %s", dirs.synonyms());
    ConfigEntry cleaner = bc.get("log.cleaner.delete.retention.ms");
    Compat.check(cleaner != null && "86400000".equals(cleaner.value()), "log.cleaner.delete.retention.ms: %s", cleaner);
    Compat.log("broker 1 describes %d settings", bc.entries().size());
  }

  static void electLeaders(Admin admin, String t, TopicPartition tp0) throws Exception {
    TopicPartition missing = new TopicPartition(t, 9);
    Map<TopicPartition, Optional<Throwable>> r = admin.electLeaders(ElectionType.PREFERRED, Set.of(tp0, missing))
        .partitions().get(30, TimeUnit.SECONDS);
    Compat.check(r.get(tp0).orElse(null) instanceof ElectionNotNeededException, "tp0: %s", r.get(tp0));
    Compat.check(r.get(missing).orElse(null) instanceof UnknownTopicOrPartitionException, "tp9: %s", r.get(missing));
    Map<TopicPartition, Optional<Throwable>> all = admin.electLeaders(ElectionType.PREFERRED, null)
        .partitions().get(30, TimeUnit.SECONDS);
    Compat.check(all.isEmpty(), "every partition has its preferred leader: %s", all);
  }

  // A position seeked with leader epoch 0 past the end is validated with OffsetForLeaderEpoch: the epoch ends
  // at the log end, so the client detects the divergence and moves to the log end. Without the API it would
  // fetch, get OFFSET_OUT_OF_RANGE and reset to the earliest offset (auto.offset.reset=earliest), reading
  // every record again.
  static void validatesPositions(TopicPartition tp0) {
    try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
      c.assign(List.of(tp0));
      c.seek(tp0, new OffsetAndMetadata(RECORDS + 5, Optional.of(0), ""));
      int read = 0;
      long deadline = System.currentTimeMillis() + 5000;
      while (System.currentTimeMillis() < deadline) read += c.poll(Duration.ofMillis(200)).count();
      Compat.checkEq(0, read, "records read after validation");
      Compat.checkEq((long) RECORDS, c.position(tp0), "position after validation");
    }
  }
}
