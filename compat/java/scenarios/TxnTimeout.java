// A transaction left open past transaction.timeout.ms: the coordinator aborts it with an epoch bump
// (DescribeTransactions shows CompleteAbort at a higher epoch), and the old producer is fenced: its next send
// fails with InvalidProducerEpochException, as in Apache Kafka's TransactionsTest
// testFencingOnTransactionExpiration. read_committed never sees the expired transaction's record;
// read_uncommitted sees it and nothing the fenced producer sent afterwards.
// timeout: 120
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.errors.InvalidProducerEpochException;

public class TxnTimeout {
  static TransactionDescription describe(Admin admin, String id) throws Exception {
    return admin.describeTransactions(List.of(id)).description(id).get(30, TimeUnit.SECONDS);
  }

  static List<String> values(String t, String isolation) {
    List<String> out = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : Compat.readAll(t, 0, 30000, ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation))
      out.add(Compat.s(r.value()));
    return out;
  }

  public static void main(String[] args) {
    Compat.main("txn-timeout", () -> {
      String t = Compat.topic("txn-timeout");
      String id = "java-timeout-" + UUID.randomUUID();
      try (Admin admin = Compat.admin();
           KafkaProducer<byte[], byte[]> p = Compat.producer(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id,
               ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 2000)) {
        Compat.createTopic(admin, t, 1);
        p.initTransactions();
        int epoch = describe(admin, id).producerEpoch();
        p.beginTransaction();
        p.send(new ProducerRecord<>(t, 0, Compat.b("k"), Compat.b("expiring"))).get(30, TimeUnit.SECONDS);
        Compat.checkEq(TransactionState.ONGOING, describe(admin, id).state(), "state after the first send");

        // The coordinator's sweep (transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s) aborts it.
        long deadline = System.currentTimeMillis() + 60000;
        TransactionDescription d = describe(admin, id);
        while (d.state() != TransactionState.COMPLETE_ABORT) {
          Compat.check(System.currentTimeMillis() < deadline, "transaction still %s a minute after it timed out", d.state());
          Thread.sleep(200);
          d = describe(admin, id);
        }
        Compat.check(d.producerEpoch() > epoch, "the timeout abort bumps the epoch: %d -> %d", epoch, d.producerEpoch());
        Compat.log("timed out and aborted: epoch %d -> %d", epoch, d.producerEpoch());

        try {
          p.send(new ProducerRecord<>(t, 0, Compat.b("k"), Compat.b("after-expiry"))).get(30, TimeUnit.SECONDS);
          throw new AssertionError("a send of the expired transaction's producer succeeded");
        } catch (ExecutionException e) {
          Compat.check(e.getCause() instanceof InvalidProducerEpochException, "send after expiry failed with %s", e.getCause());
        }
        try {
          p.abortTransaction();
          Compat.log("abortTransaction after the fencing succeeded");
        } catch (Exception e) {
          Compat.log("abortTransaction after the fencing: %s", e);
        }
      }
      Compat.checkEq(List.of(), values(t, "read_committed"), "read_committed");
      Compat.checkEq(List.of("expiring"), values(t, "read_uncommitted"), "read_uncommitted");
    });
  }
}
