// Topic create / describe / delete through the AdminClient, with Apache Kafka's error codes.
// timeout: 90
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.*;

public class TopicAdmin {
  static Throwable cause(Runnable r) {
    try {
      r.run();
    } catch (Throwable t) {
      return t;
    }
    return null;
  }

  static Throwable failure(org.apache.kafka.common.KafkaFuture<?> f) throws Exception {
    try {
      f.get(30, TimeUnit.SECONDS);
      return null;
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  public static void main(String[] args) {
    Compat.main("topic-admin", () -> {
      try (Admin admin = Compat.admin()) {
        String t = Compat.topic("admin");
        admin.createTopics(List.of(new NewTopic(t, 4, (short) 1).configs(Map.of("retention.ms", "3600000"))))
            .all().get(30, TimeUnit.SECONDS);
        Compat.waitForTopic(admin, t, 4);

        TopicDescription d = admin.describeTopics(List.of(t)).allTopicNames().get(30, TimeUnit.SECONDS).get(t);
        Compat.log("described %s", d);
        Compat.checkEq(t, d.name(), "name");
        Compat.check(!d.isInternal(), "topic must not be internal");
        Compat.check(d.topicId() != null && !d.topicId().equals(org.apache.kafka.common.Uuid.ZERO_UUID), "topic id must be set: %s", d.topicId());
        Compat.checkEq(4, d.partitions().size(), "partition count");
        for (int i = 0; i < 4; i++) {
          TopicPartitionInfo p = d.partitions().get(i);
          Compat.checkEq(i, p.partition(), "partition index");
          Compat.check(p.leader() != null, "partition %d has no leader", i);
          Compat.checkEq(List.of(p.leader()), p.replicas(), "replicas of " + i);
          Compat.checkEq(List.of(p.leader()), p.isr(), "isr of " + i);
        }

        // Duplicate create: TOPIC_ALREADY_EXISTS.
        Throwable dup = failure(admin.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all());
        Compat.log("duplicate create -> %s", dup);
        Compat.check(dup instanceof TopicExistsException, "duplicate create: expected TopicExistsException, got %s", dup);

        // Bad names: INVALID_TOPIC_EXCEPTION.
        for (String bad : List.of("bad/name", "bad name", "..", ".", "x".repeat(250), "caf\u00e9")) {
          Throwable e = failure(admin.createTopics(List.of(new NewTopic(bad, 1, (short) 1))).all());
          Compat.log("create '%s' -> %s", bad.length() > 20 ? bad.substring(0, 20) + "..." : bad, e);
          Compat.check(e instanceof InvalidTopicException, "create '%s': expected InvalidTopicException, got %s", bad, e);
        }
        // Bad partition count / replication factor.
        Throwable e0 = failure(admin.createTopics(List.of(new NewTopic(Compat.topic("zero"), 0, (short) 1))).all());
        Compat.check(e0 instanceof InvalidPartitionsException, "0 partitions: expected InvalidPartitionsException, got %s", e0);
        Throwable rf = failure(admin.createTopics(List.of(new NewTopic(Compat.topic("rf"), 1, (short) 3))).all());
        Compat.check(rf instanceof InvalidReplicationFactorException, "replication factor 3 on one broker: expected InvalidReplicationFactorException, got %s", rf);

        // validateOnly creates nothing.
        String vo = Compat.topic("validate-only");
        admin.createTopics(List.of(new NewTopic(vo, 2, (short) 1)), new CreateTopicsOptions().validateOnly(true)).all().get(30, TimeUnit.SECONDS);
        Compat.check(!admin.listTopics().names().get().contains(vo), "validateOnly created the topic");

        // Describe of an unknown topic: UNKNOWN_TOPIC_OR_PARTITION.
        Throwable unk = failure(admin.describeTopics(List.of(Compat.topic("nope"))).allTopicNames());
        Compat.check(unk instanceof UnknownTopicOrPartitionException, "describe unknown: expected UnknownTopicOrPartitionException, got %s", unk);

        // Delete: gone from the list, describe then fails, deleting again fails, re-create works.
        admin.deleteTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
        long deadline = System.currentTimeMillis() + 15000;
        while (admin.listTopics().names().get().contains(t)) {
          Compat.check(System.currentTimeMillis() < deadline, "deleted topic still listed after 15 s");
          Thread.sleep(100);
        }
        Throwable gone = failure(admin.describeTopics(List.of(t)).allTopicNames());
        Compat.check(gone instanceof UnknownTopicOrPartitionException, "describe deleted: expected UnknownTopicOrPartitionException, got %s", gone);
        Throwable again = failure(admin.deleteTopics(List.of(t)).all());
        Compat.check(again instanceof UnknownTopicOrPartitionException, "delete twice: expected UnknownTopicOrPartitionException, got %s", again);
        Compat.createTopic(admin, t, 2);
        TopicDescription d2 = admin.describeTopics(List.of(t)).allTopicNames().get().get(t);
        Compat.checkEq(2, d2.partitions().size(), "partitions after re-create");
        Compat.check(!d2.topicId().equals(d.topicId()), "re-created topic must get a new topic id");
      }
    });
  }
}
