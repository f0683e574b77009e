// Transactional producers' initTransactions (InitProducerId with a transactional id): a second instance
// with the same transactional.id initialises too (the coordinator bumps the epoch, fencing the first); a
// transaction.timeout.ms above the broker's transaction.max.timeout.ms (15 min) is refused with
// INVALID_TRANSACTION_TIMEOUT (kafka-clients 3.9 reports it as a KafkaException carrying that error's
// message, as it does against Kafka); after a broker restart the id initialises again from
// __transaction_state.
// timeout: 120
import java.util.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidTxnTimeoutException;
import org.apache.kafka.common.protocol.Errors;

public class TxnInit {
  static KafkaProducer<byte[], byte[]> transactional(String id, int timeoutMs) {
    return Compat.producer(
        ProducerConfig.TRANSACTIONAL_ID_CONFIG, id,
        ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, timeoutMs);
  }

  static boolean causedBy(Throwable t, Class<?> type) {
    for (Throwable c = t; c != null; c = c.getCause()) if (type.isInstance(c)) return true;
    return false;
  }

  public static void main(String[] args) {
    Compat.main("txn-init", () -> {
      String id = Compat.topic("txn-id");
      try (KafkaProducer<byte[], byte[]> first = transactional(id, 60_000)) {
        first.initTransactions();
        Compat.log("first instance initialised");
        try (KafkaProducer<byte[], byte[]> second = transactional(id, 60_000)) {
          second.initTransactions();
          Compat.log("second instance initialised");
        }
      }
      try (KafkaProducer<byte[], byte[]> tooLong = transactional(id + "-long", 900_001)) {
        try {
          tooLong.initTransactions();
          throw new AssertionError("initTransactions with transaction.timeout.ms 900001 succeeded");
        } catch (KafkaException e) {
          boolean timeoutError = causedBy(e, InvalidTxnTimeoutException.class)
              || String.valueOf(e.getMessage()).contains(Errors.INVALID_TRANSACTION_TIMEOUT.message());
          Compat.check(timeoutError, "expected INVALID_TRANSACTION_TIMEOUT, got %s", e);
        }
      }
      String restart = System.getenv("WEIR_RESTART");
      Compat.check(restart != null && !restart.isEmpty(), "WEIR_RESTART is not set");
      Process p = new ProcessBuilder("bash", "-c", restart).inheritIO().start();
      Compat.checkEq(0, p.waitFor(), "restart exit status");
      try (KafkaProducer<byte[], byte[]> third = transactional(id, 60_000)) {
        third.initTransactions();
        Compat.log("third instance initialised after the restart");
      }
    });
  }
}
