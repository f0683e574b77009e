// AdminClient group operations: list / describe groups, list / alter / delete committed offsets, delete groups.
// timeout: 120
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.ConsumerGroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.*;

public class GroupAdmin {
  public static void main(String[] args) {
    Compat.main("group-admin", () -> {
      String t = Compat.topic("grp-admin"), g = t + "-g";
      TopicPartition p0 = new TopicPartition(t, 0), p1 = new TopicPartition(t, 1);
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 2);
        try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
          for (int i = 0; i < 20; i++) p.send(new ProducerRecord<>(t, i % 2, null, Compat.b("v" + i)));
        }
        try (KafkaConsumer<byte[], byte[]> c = Groups.member(g, ConsumerConfig.CLIENT_ID_CONFIG, "admin-test-client")) {
          c.subscribe(List.of(t));
          Groups.pollUntil(List.of(c), 60000, "assignment", () -> c.assignment().size() == 2);
          c.commitSync(Map.of(p0, new OffsetAndMetadata(7), p1, new OffsetAndMetadata(3)));
          Collection<ConsumerGroupListing> groups = admin.listConsumerGroups().all().get(30, TimeUnit.SECONDS);
          Optional<ConsumerGroupListing> l = groups.stream().filter(x -> x.groupId().equals(g)).findFirst();
          Compat.check(l.isPresent(), "listConsumerGroups lacks %s: %s", g, groups);
          Compat.checkEq(Optional.of(ConsumerGroupState.STABLE), l.get().state(), "listed state");
          ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g)).all().get(30, TimeUnit.SECONDS).get(g);
          Compat.log("described: %s", d);
          Compat.checkEq(ConsumerGroupState.STABLE, d.state(), "state");
          Compat.checkEq(1, d.members().size(), "members");
          MemberDescription m = d.members().iterator().next();
          Compat.checkEq("admin-test-client", m.clientId(), "member client id");
          Compat.checkEq(Set.of(p0, p1), m.assignment().topicPartitions(), "member assignment");
          Compat.checkEq("range", d.partitionAssignor(), "assignor");
          Compat.check(d.coordinator() != null && d.coordinator().id() >= 0, "coordinator: %s", d.coordinator());
          // Offsets of an active group cannot be altered.
          try {
            admin.alterConsumerGroupOffsets(g, Map.of(p0, new OffsetAndMetadata(1))).all().get(30, TimeUnit.SECONDS);
            throw new AssertionError("altering offsets of an active group must fail");
          } catch (ExecutionException e) {
            Compat.check(e.getCause() instanceof UnknownMemberIdException, "alter on active group: expected UnknownMemberIdException, got %s", e.getCause());
          }
        }
        Map<TopicPartition, OffsetAndMetadata> offs = admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Compat.checkEq(7L, offs.get(p0).offset(), "listed offset p0");
        Compat.checkEq(3L, offs.get(p1).offset(), "listed offset p1");
        ConsumerGroupDescription empty = admin.describeConsumerGroups(List.of(g)).all().get(30, TimeUnit.SECONDS).get(g);
        Compat.checkEq(ConsumerGroupState.EMPTY, empty.state(), "state after the member left");

        admin.alterConsumerGroupOffsets(g, Map.of(p0, new OffsetAndMetadata(2, "moved"))).all().get(30, TimeUnit.SECONDS);
        offs = admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Compat.checkEq(new OffsetAndMetadata(2, "moved"), offs.get(p0), "altered offset p0");
        admin.deleteConsumerGroupOffsets(g, Set.of(p1)).all().get(30, TimeUnit.SECONDS);
        offs = admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Compat.check(!offs.containsKey(p1) || offs.get(p1) == null, "deleted offset p1 still listed: %s", offs);
        Compat.checkEq(2L, offs.get(p0).offset(), "p0 offset after deleting p1's");

        admin.deleteConsumerGroups(List.of(g)).all().get(30, TimeUnit.SECONDS);
        Collection<ConsumerGroupListing> after = admin.listConsumerGroups().all().get(30, TimeUnit.SECONDS);
        Compat.check(after.stream().noneMatch(x -> x.groupId().equals(g)), "deleted group still listed");
        try {
          admin.deleteConsumerGroups(List.of(g)).all().get(30, TimeUnit.SECONDS);
          throw new AssertionError("deleting a deleted group must fail");
        } catch (ExecutionException e) {
          Compat.check(e.getCause() instanceof GroupIdNotFoundException, "delete twice: expected GroupIdNotFoundException, got %s", e.getCause());
        }
      }
    });
  }
}
