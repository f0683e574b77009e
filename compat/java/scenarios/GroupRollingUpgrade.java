// A rolling upgrade and downgrade of a live group, as Kafka 4 allows with
// group.consumer.migration.policy=bidirectional (the default): three group.protocol=classic members share
// six partitions; one by one each is replaced by a group.protocol=consumer member (the first one turns the
// group into a consumer group whose classic members keep working), then one by one back to classic (the
// last consumer-protocol member leaving turns it into a classic group again). At every step each partition
// is owned by exactly one member, and with a synchronous commit after every poll no record is read twice
// (except those of a poll whose commit the broker refused, which Kafka re-delivers too).
// timeout: 240
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;

public class GroupRollingUpgrade {
  static final int PARTITIONS = 6, RECORDS = 3000; // half up front, a tenth with every change
  static String topic, group;
  static final Map<String, Integer> seen = new HashMap<>();
  static final Set<String> uncommitted = new HashSet<>();
  static int nextValue = 0, redelivered = 0;

  static KafkaConsumer<byte[], byte[]> member(String protocol) {
    KafkaConsumer<byte[], byte[]> c = protocol.equals("classic")
        ? Groups.member(group, "group.protocol", "classic", "enable.auto.commit", "false")
        : Compat.consumer("group.id", group, "group.protocol", "consumer", "enable.auto.commit", "false");
    c.subscribe(List.of(topic));
    return c;
  }

  static void produce(int n) {
    try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
      for (int i = 0; i < n; i++, nextValue++) p.send(new ProducerRecord<>(topic, Compat.b("k" + nextValue), Compat.b("v" + nextValue)));
    }
  }

  /** One poll of every member, each followed by commitSync; checks ownership and duplicates. */
  static void round(List<KafkaConsumer<byte[], byte[]>> cs) {
    for (int i = 0; i < cs.size(); i++) {
      KafkaConsumer<byte[], byte[]> c = cs.get(i);
      List<String> got = new ArrayList<>();
      for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
        String v = Compat.s(r.value());
        Integer prev = seen.put(v, i);
        Compat.check(prev == null || uncommitted.remove(v), "record %s read twice (members %s, %d)", v, prev, i);
        if (prev != null) redelivered++;
        got.add(v);
      }
      try {
        c.commitSync();
      } catch (CommitFailedException | RebalanceInProgressException e) {
        Compat.log("commit refused (%s): %d records may come again", e.getClass().getSimpleName(), got.size());
        uncommitted.addAll(got);
      }
      // Each partition has at most one owner at every moment.
      Set<TopicPartition> owned = new HashSet<>();
      for (KafkaConsumer<byte[], byte[]> o : cs)
        for (TopicPartition tp : o.assignment())
          Compat.check(owned.add(tp), "%s owned twice: %s", tp, Groups.assignments(cs));
    }
  }

  /** Rounds until the members cover every partition and every record produced so far was read. */
  static void settle(List<KafkaConsumer<byte[], byte[]>> cs, String what) {
    long deadline = System.currentTimeMillis() + 60000;
    while (!(Groups.coversDisjoint(cs, topic, PARTITIONS) && seen.size() == nextValue)) {
      Compat.check(System.currentTimeMillis() < deadline, "timed out: %s; read %d of %d; assignments %s",
          what, seen.size(), nextValue, Groups.assignments(cs));
      round(cs);
    }
    Compat.log("%s: %s", what, Groups.assignments(cs));
  }

  static void checkType(Admin admin, GroupType want, int members) throws Exception {
    var d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
    Compat.checkEq(want, d.type(), "group type");
    Compat.checkEq(members, d.members().size(), "members described");
  }

  /** Closes member `i` and puts a member of `protocol` in its place, producing while it happens. */
  static void replace(List<KafkaConsumer<byte[], byte[]>> cs, int i, String protocol) {
    cs.get(i).close();
    cs.set(i, member(protocol));
    produce(RECORDS / 10);
    settle(cs, "member " + i + " now " + protocol);
  }

  public static void main(String[] args) {
    Compat.main("group-rolling-upgrade", () -> {
      topic = Compat.topic("grp-rolling");
      group = topic + "-g";
      List<KafkaConsumer<byte[], byte[]>> cs = new ArrayList<>();
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, topic, PARTITIONS);
        produce(RECORDS / 2);
        for (int i = 0; i < 3; i++) cs.add(member("classic"));
        settle(cs, "three classic members");
        checkType(admin, GroupType.CLASSIC, 3);

        replace(cs, 0, "consumer");
        checkType(admin, GroupType.CONSUMER, 3);
        replace(cs, 1, "consumer");
        replace(cs, 2, "consumer");
        checkType(admin, GroupType.CONSUMER, 3);

        replace(cs, 0, "classic");
        replace(cs, 1, "classic");
        checkType(admin, GroupType.CONSUMER, 3);
        replace(cs, 2, "classic");
        checkType(admin, GroupType.CLASSIC, 3);

        produce(RECORDS / 10);
        settle(cs, "three classic members again");
        Compat.checkEq(nextValue, seen.size(), "distinct records read");
        Compat.log("%d records read; %d re-delivered after a refused commit", nextValue, redelivered);
      } finally {
        for (var c : cs) c.close();
      }
    });
  }
}
