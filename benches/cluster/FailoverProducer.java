// The Java side of replication_bench.py's failover rounds: a KafkaProducer with the client's default
// settings (idempotent, acks=all, retries until delivery.timeout.ms) writes one record every 2 ms to
// partition 0 of the topic and prints "<send ms> <ack ms>" (epoch milliseconds) for every acknowledged
// record, so the bench can find the first acknowledgement of a record sent after a fault. Failed sends
// go to stderr. Ends, flushing what is in flight, when its standard input closes.
//
// usage: java -cp CLASSES:LIB/* FailoverProducer BOOTSTRAP TOPIC

import java.io.BufferedOutputStream;
import java.io.PrintStream;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class FailoverProducer {
    public static void main(String[] argv) throws Exception {
        String bootstrap = argv[0];
        String topic = argv[1];
        Properties p = new Properties();
        p.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.setProperty(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.setProperty(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 16), false);
        AtomicBoolean stop = new AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                }
            } catch (Exception ignored) {
            }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            long n = 0;
            long lastFlush = System.currentTimeMillis();
            while (!stop.get()) {
                long sent = System.currentTimeMillis();
                byte[] value = Long.toString(n++).getBytes();
                producer.send(new ProducerRecord<>(topic, 0, null, value), (meta, e) -> {
                    if (e == null) {
                        long at = System.currentTimeMillis();
                        synchronized (out) {
                            out.println(sent + " " + at);
                        }
                    } else {
                        System.err.println("send failed: " + e);
                    }
                });
                if (sent - lastFlush >= 50) {
                    // The bench reads acknowledgements as they come; a 50 ms flush keeps them timely.
                    synchronized (out) {
                        out.flush();
                    }
                    lastFlush = sent;
                }
                Thread.sleep(2);
            }
            producer.flush();
        }
        synchronized (out) {
            out.flush();
        }
    }
}
