// End-to-end latency at a FIXED rate, in the spirit of kafka-e2e-latency but open-loop: one producer sends
// --rate records/s of --record-size bytes (acks=all) on a fixed schedule; a consumer in the same process
// (assign + seekToEnd, no group) receives them. Latency is measured from the record's INTENDED send time
// (its schedule slot, stamped in the payload) to consumer receipt, so a stalled producer or broker shows up
// as latency instead of silently lowering the send rate (no coordinated omission).
// The first --warmup-s seconds are sent but not measured. Also reports send->ack latency of the producer.

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class EndToEndLatency {
    public static void main(String[] argv) throws Exception {
        BenchCommon.Args a = new BenchCommon.Args(argv);
        String bootstrap = a.str("bootstrap", null);
        String topic = a.str("topic", "bench-e2e");
        int partitions = a.integer("partitions", 1);
        int size = Math.max(16, a.integer("record-size", 1024));
        double rate = a.dbl("rate", 10_000);
        double durationS = a.dbl("duration-s", 20);
        double warmupS = a.dbl("warmup-s", 2);
        String acks = a.str("acks", "all");
        BenchCommon.clkTck = a.lng("clk-tck", 100);
        String brokerPid = a.str("broker-pid", "");

        // --replication-factor N: the replicated e2e of benches/cluster/replication_bench.py.
        short rf = (short) a.integer("replication-factor", 1);
        BenchCommon.createTopic(bootstrap, topic, partitions, rf, true);

        Properties pp = BenchCommon.clientProps(bootstrap);
        pp.setProperty(ProducerConfig.ACKS_CONFIG, acks);
        pp.setProperty(ProducerConfig.LINGER_MS_CONFIG, "0");
        pp.setProperty(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        Properties cp = BenchCommon.clientProps(bootstrap);
        cp.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        for (String k : a.props.stringPropertyNames()) {
            // --prop producer.X=v / consumer.X=v route to one side.
            if (k.startsWith("producer.")) pp.setProperty(k.substring(9), a.props.getProperty(k));
            else if (k.startsWith("consumer.")) cp.setProperty(k.substring(9), a.props.getProperty(k));
        }

        long total = (long) Math.ceil(rate * (warmupS + durationS));
        long warmupRecords = (long) Math.ceil(rate * warmupS);
        long measured = total - warmupRecords;
        double intervalNs = 1e9 / rate;

        BenchCommon.Latencies e2e = new BenchCommon.Latencies((int) measured);
        BenchCommon.Latencies ack = new BenchCommon.Latencies((int) measured);
        AtomicLong received = new AtomicLong();
        AtomicLong receivedMeasured = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch consumerReady = new CountDownLatch(1);

        byte[] padding = new byte[size];
        new Random(42).nextBytes(padding);

        Thread consumerThread = new Thread(() -> {
            try (KafkaConsumer<byte[], byte[]> consumer =
                    new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                List<TopicPartition> tps = new ArrayList<>();
                for (PartitionInfo pi : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                    tps.add(new TopicPartition(topic, pi.partition()));
                }
                consumer.assign(tps);
                consumer.seekToEnd(tps);
                for (TopicPartition tp : tps) consumer.position(tp); // resolve now, not on first poll
                consumerReady.countDown();
                while (!stop.get()) {
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                        long now = System.nanoTime();
                        ByteBuffer b = ByteBuffer.wrap(r.value());
                        long intended = b.getLong();
                        long seq = b.getLong();
                        received.incrementAndGet();
                        if (seq >= warmupRecords) {
                            receivedMeasured.incrementAndGet();
                            e2e.add((now - intended) / 1000);
                        }
                    }
                }
            } catch (Exception e) {
                BenchCommon.log("consumer failed: %s", e);
                consumerReady.countDown();
            }
        }, "e2e-consumer");
        consumerThread.start();
        consumerReady.await();

        BenchCommon.Window w = new BenchCommon.Window(brokerPid);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.partitionsFor(topic);
            long t0 = System.nanoTime() + 100_000_000L;
            long maxLagNs = 0;
            long measuredStartNs = 0;
            for (long i = 0; i < total; i++) {
                long intended = t0 + (long) (i * intervalNs);
                long wait;
                while ((wait = intended - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
                if (i == warmupRecords) {
                    w.start();
                    measuredStartNs = System.nanoTime();
                }
                maxLagNs = Math.max(maxLagNs, -wait);
                byte[] v = padding.clone();
                ByteBuffer.wrap(v).putLong(intended).putLong(i);
                final boolean measure = i >= warmupRecords;
                final long sendNs = System.nanoTime();
                producer.send(new ProducerRecord<>(topic, v), (md, ex) -> {
                    if (ex != null) {
                        if (failed.getAndIncrement() == 0) BenchCommon.log("send failed: %s", ex);
                    } else if (measure) {
                        ack.add((System.nanoTime() - sendNs) / 1000);
                    }
                });
            }
            double sendSeconds = (System.nanoTime() - measuredStartNs) / 1e9;
            producer.flush();
            long waitUntil = System.nanoTime() + 10_000_000_000L;
            while (received.get() < total - failed.get() && System.nanoTime() < waitUntil) Thread.sleep(1);
            w.stop();
            stop.set(true);
            consumerThread.join(10_000);
            BenchCommon.log("producer schedule: worst lateness of a send() call %.3f ms", maxLagNs / 1e6);
            // E2E_DUMP=prefix writes each latency (µs, arrival order) to prefix.e2e and prefix.ack.
            String dump = System.getenv("E2E_DUMP");
            if (dump != null && !dump.isEmpty()) {
                e2e.dump(dump + ".e2e");
                ack.dump(dump + ".ack");
            }

            new BenchCommon.Result()
                    .put("kind", "e2e")
                    .put("phase", a.str("phase", "e2e"))
                    .put("record_size", size)
                    .put("partitions", partitions)
                    .put("replication_factor", rf)
                    .put("acks", acks)
                    .put("target_rate", rate)
                    .window(w, receivedMeasured.get(), receivedMeasured.get() * (long) size)
                    .latency("", e2e)
                    .latency("ack_", ack)
                    .put("missing", measured - receivedMeasured.get())
                    .put("failed", failed.get())
                    .put("send_lateness_max_ms", maxLagNs / 1e6)
                    .put("achieved_send_rate", measured / sendSeconds)
                    .print();
        }
        BenchCommon.deleteTopic(bootstrap, topic);
    }
}
