// Long polling: a waiting fetch returns as soon as a record arrives (well under fetch.max.wait.ms), and
// an idle consumer's fetches are held by the broker for fetch.max.wait.ms rather than answered at once.
// timeout: 90
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.TopicPartition;

public class LongPoll {
  static double fetchTotal(KafkaConsumer<?, ?> c) {
    for (Map.Entry<org.apache.kafka.common.MetricName, ? extends Metric> e : c.metrics().entrySet())
      if (e.getKey().group().equals("consumer-fetch-manager-metrics") && e.getKey().name().equals("fetch-total") && e.getKey().tags().get("topic") == null)
        return ((Number) e.getValue().metricValue()).doubleValue();
    throw new AssertionError("no fetch-total metric");
  }

  public static void main(String[] args) {
    Compat.main("long-poll", () -> {
      String t = Compat.topic("longpoll");
      TopicPartition tp = new TopicPartition(t, 0);
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 1);
      }
      try (KafkaProducer<byte[], byte[]> p = Compat.producer();
           KafkaConsumer<byte[], byte[]> c = Compat.consumer(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 5000, ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 1)) {
        p.send(new ProducerRecord<>(t, 0, null, Compat.b("warm-up"))).get(30, TimeUnit.SECONDS);
        c.assign(List.of(tp));
        c.seekToEnd(List.of(tp));
        Compat.checkEq(1L, c.position(tp), "position after seekToEnd");
        c.poll(Duration.ofMillis(300)); // connect, start fetching

        // Idle: with fetch.max.wait.ms=5000 the broker parks each fetch; only a handful are sent in 3 s.
        double before = fetchTotal(c);
        long idleEnd = System.currentTimeMillis() + 3000;
        while (System.currentTimeMillis() < idleEnd) Compat.check(c.poll(Duration.ofMillis(200)).isEmpty(), "unexpected record while idle");
        double idleFetches = fetchTotal(c) - before;
        Compat.log("fetches completed in 3 s idle: %.0f", idleFetches);
        Compat.check(idleFetches <= 3, "broker answered %.0f fetches in 3 s idle; it should hold each for fetch.max.wait.ms=5000", idleFetches);

        ScheduledExecutorService ex = Executors.newSingleThreadScheduledExecutor();
        try {
          for (int i = 0; i < 3; i++) {
            long[] sentAt = new long[1];
            ex.schedule(() -> {
              sentAt[0] = System.nanoTime();
              p.send(new ProducerRecord<>(t, 0, null, Compat.b("ping")));
            }, 1500, TimeUnit.MILLISECONDS);
            List<ConsumerRecord<byte[], byte[]>> got = Compat.pollN(c, 1, 15000);
            long arrivedAt = System.nanoTime();
            long latencyMs = (arrivedAt - sentAt[0]) / 1_000_000;
            Compat.log("round %d: record arrived %d ms after send", i, latencyMs);
            Compat.checkEq(1, got.size(), "records per round");
            Compat.check(latencyMs < 1000, "record arrived %d ms after send; a waiting fetch must return as data arrives (fetch.max.wait.ms=5000)", latencyMs);
          }
        } finally {
          ex.shutdownNow();
        }
      }
    });
  }
}
