// Transactions from the Java client: initTransactions, commit, abort and commit again over three
// partitions (compressed batches); a read_committed consumer sees exactly the committed records (checked by
// content, no duplicates), never an aborted one; read_uncommitted sees all; endOffsets under
// read_committed is the last stable offset while a transaction is open. A second producer with the same
// transactional.id fences the first (ProducerFencedException), and the first's open transaction is
// aborted, as in Apache Kafka.
// timeout: 150
import java.time.Duration;
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;

public class TxnCommitAbort {
  static final int PARTITIONS = 3;

  static KafkaProducer<byte[], byte[]> transactional(String id) {
    return Compat.producer(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id, ProducerConfig.LINGER_MS_CONFIG, 5,
        ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
  }

  static Set<String> send(KafkaProducer<byte[], byte[]> p, String t, String tag, int n) {
    Set<String> out = new HashSet<>();
    for (int i = 0; i < n; i++) {
      String v = tag + "-" + i;
      p.send(new ProducerRecord<>(t, i % PARTITIONS, Compat.b("k" + i), Compat.b(v)));
      out.add(v);
    }
    return out;
  }

  static List<String> readAll(String t, String isolation) {
    List<String> out = new ArrayList<>();
    for (int p = 0; p < PARTITIONS; p++)
      for (ConsumerRecord<byte[], byte[]> r : Compat.readAll(t, p, 30000, ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation))
        out.add(Compat.s(r.value()));
    return out;
  }

  static void checkExactly(Set<String> want, List<String> got, String what) {
    Compat.checkEq(got.size(), new HashSet<>(got).size(), what + ": no duplicates");
    Compat.checkEq(new TreeSet<>(want), new TreeSet<>(got), what);
  }

  public static void main(String[] args) {
    Compat.main("txn-commit-abort", () -> {
      String t = Compat.topic("txn-ca");
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, PARTITIONS);
      }
      String id = "java-ca-" + UUID.randomUUID();
      Set<String> committed = new HashSet<>(), aborted = new HashSet<>();
      try (KafkaProducer<byte[], byte[]> p = transactional(id)) {
        p.initTransactions();
        p.beginTransaction();
        committed.addAll(send(p, t, "commit1", 500));
        p.commitTransaction();

        p.beginTransaction();
        aborted.addAll(send(p, t, "abort", 500));
        p.flush();
        // Open transaction: read_committed's end offsets are the LSO (before the aborted records).
        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
             KafkaConsumer<byte[], byte[]> u = Compat.consumer()) {
          List<TopicPartition> tps = new ArrayList<>();
          for (int i = 0; i < PARTITIONS; i++) tps.add(new TopicPartition(t, i));
          Map<TopicPartition, Long> lso = c.endOffsets(tps), hw = u.endOffsets(tps);
          for (TopicPartition tp : tps)
            Compat.check(lso.get(tp) < hw.get(tp), "%s: LSO %d below high watermark %d while open", tp, lso.get(tp), hw.get(tp));
        }
        checkExactly(committed, readAll(t, "read_committed"), "read_committed while a transaction is open");
        p.abortTransaction();

        p.beginTransaction();
        committed.addAll(send(p, t, "commit2", 250));
        p.commitTransaction();
        checkExactly(committed, readAll(t, "read_committed"), "read_committed");
        Set<String> all = new HashSet<>(committed);
        all.addAll(aborted);
        checkExactly(all, readAll(t, "read_uncommitted"), "read_uncommitted");
        Compat.log("read_committed %d, read_uncommitted %d", committed.size(), all.size());

        // Fencing.
        p.beginTransaction();
        Set<String> zombie = send(p, t, "zombie", 30);
        p.flush();
        try (KafkaProducer<byte[], byte[]> second = transactional(id)) {
          second.initTransactions();
          boolean fenced = false;
          try {
            p.commitTransaction();
          } catch (ProducerFencedException e) {
            fenced = true;
          } catch (KafkaException e) {
            fenced = e.getCause() instanceof ProducerFencedException || e instanceof org.apache.kafka.common.errors.InvalidProducerEpochException;
            Compat.log("commit of the fenced producer: %s", e);
          }
          Compat.check(fenced, "the first producer was not fenced");
          second.beginTransaction();
          committed.addAll(send(second, t, "second", 30));
          second.commitTransaction();
        }
        List<String> rc = readAll(t, "read_committed");
        Compat.check(Collections.disjoint(rc, zombie), "records of the fenced producer's open transaction are visible");
        checkExactly(committed, rc, "read_committed after fencing");
      }
    });
  }
}
