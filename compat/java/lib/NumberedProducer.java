// A load for fault-injection tests: the Java producer with its default settings (idempotent, acks=all)
// sends numbered records ("<prefix>-<n>", key = n) at a steady pace and prints one line per outcome:
//   ack <partition> <offset> <value>      the broker acknowledged it
//   fail <value> <error>                  the producer gave up on it
// until it has sent `count` records or STOP_FILE exists; then it flushes and prints "done".
// usage: java NumberedProducer BOOTSTRAP TOPIC PREFIX COUNT INTERVAL_MS STOP_FILE

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class NumberedProducer {
  private NumberedProducer() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0], topic = args[1], prefix = args[2];
    long count = Long.parseLong(args[3]);
    long intervalMs = Long.parseLong(args[4]);
    java.io.File stop = new java.io.File(args[5]);
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    // Defaults otherwise (Kafka 3.x: enable.idempotence=true, acks=all, retries=MAX, 5 in flight);
    // a longer delivery timeout so a record survives several faults in a row.
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 300_000);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      for (long n = 0; n < count && !stop.exists(); n++) {
        String value = prefix + "-" + n;
        byte[] key = Long.toString(n).getBytes(StandardCharsets.UTF_8);
        producer.send(
            new ProducerRecord<>(topic, key, value.getBytes(StandardCharsets.UTF_8)),
            (md, e) -> {
              synchronized (System.out) {
                if (e == null) {
                  System.out.println("ack " + md.partition() + " " + md.offset() + " " + value);
                } else {
                  System.out.println("fail " + value + " " + e.getClass().getSimpleName());
                }
                System.out.flush();
              }
            });
        if (intervalMs > 0) Thread.sleep(intervalMs);
      }
      producer.flush();
    }
    synchronized (System.out) {
      System.out.println("done");
      System.out.flush();
    }
  }
}
