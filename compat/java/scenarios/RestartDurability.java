// Acknowledged records survive a clean broker restart (SIGTERM) and a crash (SIGKILL); offsets continue
// contiguously afterwards and the topics are still there.
// timeout: 120
import java.util.*;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.*;

public class RestartDurability {
  static void produce(String t, int from, int to) throws Exception {
    try (KafkaProducer<byte[], byte[]> p = Compat.producer(ProducerConfig.LINGER_MS_CONFIG, 5)) {
      List<Future<RecordMetadata>> fs = new ArrayList<>();
      for (int i = from; i < to; i++) fs.add(p.send(new ProducerRecord<>(t, i % 3, Compat.b("k" + i), Compat.b("v" + i))));
      p.flush();
      for (Future<RecordMetadata> f : fs) f.get(30, TimeUnit.SECONDS);
    }
  }

  static void verify(String t, int n, String when) {
    List<String> all = new ArrayList<>();
    for (int part = 0; part < 3; part++) {
      List<ConsumerRecord<byte[], byte[]>> rs = Compat.readAll(t, part, 30000);
      for (int i = 0; i < rs.size(); i++) {
        Compat.checkEq((long) i, rs.get(i).offset(), when + ": offset in partition " + part);
        all.add(Compat.s(rs.get(i).value()));
      }
    }
    Compat.checkEq(n, all.size(), when + ": record count");
    Set<String> want = new HashSet<>();
    for (int i = 0; i < n; i++) want.add("v" + i);
    Compat.checkEq(want, new HashSet<>(all), when + ": values");
  }

  public static void main(String[] args) {
    Compat.main("restart-durability", () -> {
      String t = Compat.topic("durable");
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 3);
      }
      produce(t, 0, 3000);
      Groups.runShell(System.getenv("WEIR_RESTART"));
      try (Admin admin = Compat.admin()) {
        Compat.waitForTopic(admin, t, 3);
      }
      verify(t, 3000, "after clean restart");
      produce(t, 3000, 6000);
      Groups.runShell(System.getenv("WEIR_CRASH_RESTART"));
      try (Admin admin = Compat.admin()) {
        Compat.waitForTopic(admin, t, 3);
      }
      verify(t, 6000, "after SIGKILL restart");
      produce(t, 6000, 6300);
      verify(t, 6300, "after producing again");
    });
  }
}
