// Producer throughput, in the spirit of kafka-producer-perf-test: up to N records of S random bytes (generated
// once), unthrottled, to a topic of P partitions; stops at N records or after --duration-s, whichever is first.
// Reports records/s, MB/s, send-callback latency percentiles (send() call -> callback, as the Kafka tool does)
// and the broker's CPU seconds over the exact measured window.

import java.util.Properties;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class ProducerPerf {
    public static void main(String[] argv) throws Exception {
        BenchCommon.Args a = new BenchCommon.Args(argv);
        String bootstrap = a.str("bootstrap", null);
        String topic = a.str("topic", "bench-produce");
        int partitions = a.integer("partitions", 1);
        int size = a.integer("record-size", 1024);
        long maxRecords = a.lng("num-records", 10_000_000L);
        double durationS = a.dbl("duration-s", 8.0);
        String acks = a.str("acks", "1");
        BenchCommon.clkTck = a.lng("clk-tck", 100);
        String brokerPid = a.str("broker-pid", "");
        boolean recreate = a.str("recreate", "1").equals("1");
        boolean deleteAfter = a.str("delete-after", "1").equals("1");

        BenchCommon.createTopic(bootstrap, topic, partitions, recreate);

        Properties p = BenchCommon.clientProps(bootstrap);
        p.setProperty(ProducerConfig.ACKS_CONFIG, acks);
        p.setProperty(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.setProperty(ProducerConfig.BATCH_SIZE_CONFIG, "262144");
        p.setProperty(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        p.setProperty(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(64L << 20));
        p.setProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(1 << 20));
        p.putAll(a.props);

        byte[] payload = new byte[size];
        new Random(42).nextBytes(payload);

        BenchCommon.Latencies lat = new BenchCommon.Latencies((int) Math.min(maxRecords, 4_000_000));
        AtomicLong acked = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long sent = 0;

        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            // Fetch metadata for the topic before the window opens, so the window is pure produce.
            producer.partitionsFor(topic);
            BenchCommon.Window w = new BenchCommon.Window(brokerPid);
            long deadline = System.nanoTime() + (long) (durationS * 1e9);
            w.start();
            while (sent < maxRecords) {
                if ((sent & 255) == 0 && System.nanoTime() >= deadline) break;
                final long t0 = System.nanoTime();
                producer.send(new ProducerRecord<>(topic, payload), (md, ex) -> {
                    if (ex != null) {
                        if (failed.getAndIncrement() == 0) BenchCommon.log("send failed: %s", ex);
                    } else {
                        acked.incrementAndGet();
                        lat.add((System.nanoTime() - t0) / 1000);
                    }
                });
                sent++;
            }
            producer.flush();
            w.stop();

            new BenchCommon.Result()
                    .put("kind", "produce")
                    .put("phase", a.str("phase", "produce"))
                    .put("record_size", size)
                    .put("partitions", partitions)
                    .put("acks", acks)
                    .window(w, acked.get(), acked.get() * (long) size)
                    .latency("", lat)
                    .put("failed", failed.get())
                    .print();
        }
        if (deleteAfter) BenchCommon.deleteTopic(bootstrap, topic);
    }
}
