// auto.offset.reset for a group with no committed offsets: a new group with "latest" starts at the end of
// each partition and sees only records produced after it joined; a new group with "earliest" sees everything.
// timeout: 120
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupOffsetReset {
  static final int PARTITIONS = 3, OLD = 60, NEW = 30;

  static void produce(String t, int from, int to) throws Exception {
    try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
      for (int i = from; i < to; i++) p.send(new ProducerRecord<>(t, i % PARTITIONS, null, Compat.b("v" + i))).get();
    }
  }

  static Set<String> values(List<ConsumerRecord<byte[], byte[]>> rs) {
    Set<String> out = new TreeSet<>();
    for (ConsumerRecord<byte[], byte[]> r : rs) out.add(Compat.s(r.value()));
    return out;
  }

  static Set<String> range(int from, int to) {
    Set<String> out = new TreeSet<>();
    for (int i = from; i < to; i++) out.add("v" + i);
    return out;
  }

  public static void main(String[] args) {
    Compat.main("group-offset-reset", () -> {
      String t = Compat.topic("grp-reset");
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, PARTITIONS);
      }
      produce(t, 0, OLD);
      try (KafkaConsumer<byte[], byte[]> latest = Groups.member(t + "-latest", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
          KafkaConsumer<byte[], byte[]> earliest = Groups.member(t + "-earliest", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest")) {
        latest.subscribe(List.of(t));
        List<ConsumerRecord<byte[], byte[]>> gotLatest =
            Groups.pollUntil(List.of(latest), 60000, "the latest group owns all partitions", () -> latest.assignment().size() == PARTITIONS);
        // position() resolves the reset now (ListOffsets latest), so "joined" is well defined before producing.
        for (TopicPartition tp : latest.assignment())
          Compat.checkEq((long) OLD / PARTITIONS, latest.position(tp, Duration.ofSeconds(30)), "latest group's position on " + tp);
        Compat.checkEq(Set.of(), values(gotLatest), "records the latest group saw before new ones were produced");
        produce(t, OLD, OLD + NEW);
        gotLatest.addAll(Compat.pollN(latest, NEW, 30000));
        long end = System.currentTimeMillis() + 2000;
        while (System.currentTimeMillis() < end) for (ConsumerRecord<byte[], byte[]> r : latest.poll(Duration.ofMillis(200))) gotLatest.add(r);
        Compat.checkEq(NEW, gotLatest.size(), "records seen by the latest group");
        Compat.checkEq(range(OLD, OLD + NEW), values(gotLatest), "values seen by the latest group");

        earliest.subscribe(List.of(t));
        List<ConsumerRecord<byte[], byte[]>> gotEarliest = Compat.pollN(earliest, OLD + NEW, 60000);
        end = System.currentTimeMillis() + 2000;
        while (System.currentTimeMillis() < end) for (ConsumerRecord<byte[], byte[]> r : earliest.poll(Duration.ofMillis(200))) gotEarliest.add(r);
        Compat.checkEq(OLD + NEW, gotEarliest.size(), "records seen by the earliest group");
        Compat.checkEq(range(0, OLD + NEW), values(gotEarliest), "values seen by the earliest group");
      }
    });
  }
}
