// 100,000 keyed records with headers under each codec (none, gzip, snappy, lz4, zstd) over 3 partitions,
// read back byte-identical, in order per partition, offsets contiguous from 0.
// timeout: 300
import java.nio.ByteBuffer;
import java.util.*;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class BulkCodecs {
  static final int N = 100_000, PARTS = 3;

  public static void main(String[] args) {
    Compat.main("bulk-codecs", () -> {
      for (String codec : Compat.CODECS) {
        long start = System.currentTimeMillis();
        String t = Compat.topic("bulk-" + codec);
        try (Admin admin = Compat.admin()) {
          Compat.createTopic(admin, t, PARTS);
        }
        Random rnd = new Random(codec.hashCode());
        List<ProducerRecord<byte[], byte[]>> sent = new ArrayList<>(N);
        int[] partOf = new int[N];
        long[] offsetOf = new long[N];
        AtomicReference<Exception> err = new AtomicReference<>();
        try (KafkaProducer<byte[], byte[]> p = Compat.producer(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec,
            ProducerConfig.LINGER_MS_CONFIG, 10, ProducerConfig.BATCH_SIZE_CONFIG, 65536)) {
          for (int i = 0; i < N; i++) {
            ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(t, Compat.b("key-" + (i % 997)), Compat.payload(rnd, 20 + rnd.nextInt(150)));
            r.headers().add("seq", ByteBuffer.allocate(4).putInt(i).array()).add("codec", Compat.b(codec));
            sent.add(r);
            final int idx = i;
            p.send(r, (md, e) -> {
              if (e != null) err.compareAndSet(null, e);
              else {
                partOf[idx] = md.partition();
                offsetOf[idx] = md.offset();
              }
            });
          }
          p.flush();
        }
        if (err.get() != null) throw err.get();
        long produced = System.currentTimeMillis();

        // Expected per-partition sequences in send order; acked offsets must be 0, 1, 2, ... in that order.
        List<List<Integer>> expect = new ArrayList<>();
        for (int i = 0; i < PARTS; i++) expect.add(new ArrayList<>());
        for (int i = 0; i < N; i++) {
          List<Integer> l = expect.get(partOf[i]);
          Compat.checkEq((long) l.size(), offsetOf[i], codec + ": acked offset of record " + i + " in partition " + partOf[i]);
          l.add(i);
        }

        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000)) {
          List<TopicPartition> tps = new ArrayList<>();
          for (int i = 0; i < PARTS; i++) tps.add(new TopicPartition(t, i));
          c.assign(tps);
          c.seekToBeginning(tps);
          int[] next = new int[PARTS];
          int total = 0;
          long deadline = System.currentTimeMillis() + 120_000;
          while (total < N) {
            Compat.check(System.currentTimeMillis() < deadline, "%s: timed out with %d of %d records", codec, total, N);
            for (ConsumerRecord<byte[], byte[]> r : c.poll(java.time.Duration.ofMillis(500))) {
              int part = r.partition();
              List<Integer> l = expect.get(part);
              Compat.check(next[part] < l.size(), "%s: extra record at %s-%d offset %d", codec, t, part, r.offset());
              Compat.checkEq((long) next[part], r.offset(), codec + ": offset in partition " + part);
              Compat.checkRecord(sent.get(l.get(next[part])), r, codec + " partition " + part + " offset " + r.offset());
              next[part]++;
              total++;
            }
          }
          Compat.check(c.poll(java.time.Duration.ofMillis(300)).isEmpty(), "%s: extra records after %d", codec, N);
        }
        Compat.log("%s: %d records, produce %d ms, consume %d ms", codec, N, produced - start, System.currentTimeMillis() - produced);
      }
    });
  }
}
