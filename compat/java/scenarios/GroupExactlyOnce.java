// Exactly-once processing across a group with manual sync commits: three members (one thread each) on a
// 6-partition topic, enable.auto.commit=false, commitSync() after processing every poll. Midway one member
// commits and closes (LeaveGroup); the other two take over its partitions from the committed offsets. In
// Apache Kafka every one of the 100,000 records (unique id in the value) is then processed exactly once:
// a commit of the current generation is accepted while the group prepares to rebalance, and a member only
// gives up its partitions when it rejoins (eager protocol, revocation inside its own poll).
// timeout: 240
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupExactlyOnce {
  static final int N = 100_000, PARTITIONS = 6, LEAVE_AT = 40_000;

  public static void main(String[] args) {
    Compat.main("group-exactly-once", () -> {
      String t = Compat.topic("grp-eos"), g = t + "-g";
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, PARTITIONS);
      }
      try (KafkaProducer<byte[], byte[]> p = Compat.producer(ProducerConfig.LINGER_MS_CONFIG, 5)) {
        List<java.util.concurrent.Future<RecordMetadata>> fs = new ArrayList<>();
        for (int i = 0; i < N; i++) fs.add(p.send(new ProducerRecord<>(t, Compat.b("key-" + (i % 1009)), Compat.b("id-" + i))));
        p.flush();
        for (java.util.concurrent.Future<RecordMetadata> f : fs) f.get(60, TimeUnit.SECONDS);
      }
      Compat.log("produced %d records", N);

      AtomicIntegerArray seen = new AtomicIntegerArray(N);
      AtomicInteger distinct = new AtomicInteger(), processed = new AtomicInteger();
      AtomicBoolean stop = new AtomicBoolean();
      int[] perMember = new int[3];
      List<Set<TopicPartition>> finalAssignment = Collections.synchronizedList(new ArrayList<>(List.of(Set.of(), Set.of(), Set.of())));
      List<Set<TopicPartition>> leaverOwned = Collections.synchronizedList(new ArrayList<>());
      ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
      CountDownLatch leaverGone = new CountDownLatch(1);

      List<Thread> threads = new ArrayList<>();
      for (int m = 0; m < 3; m++) {
        final int me = m;
        final boolean leaver = m == 2;
        Thread th = new Thread(() -> {
          try (KafkaConsumer<byte[], byte[]> c = Groups.member(g, ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 500)) {
            c.subscribe(List.of(t));
            while (!stop.get()) {
              ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(200));
              for (ConsumerRecord<byte[], byte[]> r : rs) {
                int id = Integer.parseInt(Compat.s(r.value()).substring(3));
                if (seen.getAndIncrement(id) == 0) distinct.incrementAndGet();
                processed.incrementAndGet();
                perMember[me]++;
              }
              if (!rs.isEmpty()) c.commitSync();
              if (leaver && perMember[me] > 0 && distinct.get() >= LEAVE_AT) {
                leaverOwned.add(new HashSet<>(c.assignment()));
                Compat.log("member %d leaves after processing %d records (owned %s)", me, perMember[me], c.assignment());
                break; // try-with-resources: close() sends LeaveGroup
              }
            }
            finalAssignment.set(me, new HashSet<>(c.assignment()));
          } catch (Throwable e) {
            errors.add(e);
            e.printStackTrace();
          } finally {
            if (leaver) leaverGone.countDown();
          }
        }, "member-" + m);
        threads.add(th);
        th.start();
      }

      long deadline = System.currentTimeMillis() + 150_000;
      while (distinct.get() < N && errors.isEmpty() && System.currentTimeMillis() < deadline) Thread.sleep(100);
      Compat.check(errors.isEmpty(), "a member failed: %s", errors.peek());
      Compat.check(distinct.get() == N, "timed out: %d of %d distinct records processed (%d processed in all)", distinct.get(), N, processed.get());
      Compat.log("all %d processed; polling 3 s more for duplicates", N);
      Thread.sleep(3000);
      stop.set(true);
      for (Thread th : threads) th.join(30_000);
      Compat.check(errors.isEmpty(), "a member failed: %s", errors.peek());

      List<Integer> dups = new ArrayList<>();
      for (int i = 0; i < N && dups.size() < 20; i++) if (seen.get(i) != 1) dups.add(i);
      Compat.log("processed per member %s, total %d", Arrays.toString(perMember), processed.get());
      Compat.check(leaverGone.getCount() == 0 && !leaverOwned.isEmpty(), "the leaving member never left");
      Compat.check(!leaverOwned.get(0).isEmpty(), "the leaving member owned no partitions when it left");
      Compat.check(perMember[2] > 0 && perMember[2] < N, "leaver processed %d records", perMember[2]);
      Compat.checkEq(N, processed.get(), "records processed in all (duplicates: first ids with count != 1 " + dups + ")");
      Compat.checkEq(List.of(), dups, "ids not processed exactly once");

      // The two remaining members ended up owning all six partitions, and the group's committed offsets are the end offsets.
      Set<TopicPartition> union = new HashSet<>(finalAssignment.get(0));
      union.addAll(finalAssignment.get(1));
      Compat.checkEq(PARTITIONS, union.size(), "partitions owned by the two remaining members " + finalAssignment);
      try (Admin admin = Compat.admin()) {
        Map<TopicPartition, OffsetAndMetadata> committed =
            admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        long sum = 0;
        for (OffsetAndMetadata o : committed.values()) sum += o.offset();
        Compat.checkEq((long) N, sum, "sum of the group's committed offsets " + committed);
      }
    });
  }
}
