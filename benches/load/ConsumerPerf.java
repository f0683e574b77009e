// Catch-up consumer, in the spirit of kafka-consumer-perf-test: assign() every partition of a topic already
// holding data (no group), seekToBeginning, and read up to the end offsets taken at the start. Reports MB/s,
// records/s and the broker's CPU seconds over the measured window (first poll -> last record).

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class ConsumerPerf {
    public static void main(String[] argv) throws Exception {
        BenchCommon.Args a = new BenchCommon.Args(argv);
        String bootstrap = a.str("bootstrap", null);
        String topic = a.str("topic", "bench-catchup");
        double timeoutS = a.dbl("timeout-s", 120);
        BenchCommon.clkTck = a.lng("clk-tck", 100);
        String brokerPid = a.str("broker-pid", "");
        boolean deleteAfter = a.str("delete-after", "0").equals("1");

        Properties p = BenchCommon.clientProps(bootstrap);
        p.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.setProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.putAll(a.props);

        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                tps.add(new TopicPartition(topic, pi.partition()));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(30));
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(tps, Duration.ofSeconds(30));
            long expected = 0;
            for (TopicPartition tp : tps) expected += end.get(tp) - begin.get(tp);
            BenchCommon.log("catch-up: %d partitions, %d records to read", tps.size(), expected);

            long records = 0;
            long bytes = 0;
            BenchCommon.Window w = new BenchCommon.Window(brokerPid);
            long deadline = System.nanoTime() + (long) (timeoutS * 1e9);
            w.start();
            outer:
            while (true) {
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<byte[], byte[]> r : batch) {
                    records++;
                    if (r.value() != null) bytes += r.value().length;
                }
                boolean done = true;
                for (TopicPartition tp : tps) {
                    if (consumer.position(tp) < end.get(tp)) {
                        done = false;
                        break;
                    }
                }
                if (done) break;
                if (System.nanoTime() > deadline) {
                    BenchCommon.log("timeout after %d of %d records", records, expected);
                    break outer;
                }
            }
            w.stop();
            new BenchCommon.Result()
                    .put("kind", "consume")
                    .put("phase", a.str("phase", "consume"))
                    .put("partitions", tps.size())
                    .window(w, records, bytes)
                    .put("expected", expected)
                    .print();
        }
        if (deleteAfter) BenchCommon.deleteTopic(bootstrap, topic);
    }
}
