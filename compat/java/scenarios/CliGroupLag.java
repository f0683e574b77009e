// The `weir` CLI against offsets a Java consumer group committed: `group describe` (members, assignment,
// committed offset, log end, lag per partition, in JSON and as a table), `group reset-offsets` refused
// while the group is active, a dry run that commits nothing, and --execute whose offsets the Java
// admin client and a Java consumer then see; a consumer-protocol (KIP-848) group is described too.
// timeout: 150
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class CliGroupLag {
  /** Output and exit status of a command. */
  record Run(int status, String out, String err) {}

  static Run weir(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getenv("WEIR_BIN"));
    cmd.addAll(List.of(args));
    cmd.addAll(List.of("--bootstrap", Compat.bootstrap()));
    Process p = new ProcessBuilder(cmd).start();
    p.getOutputStream().close();
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    Thread t = new Thread(() -> { try { p.getErrorStream().transferTo(err); } catch (Exception e) { } });
    t.start();
    p.getInputStream().transferTo(out);
    Compat.check(p.waitFor(60, TimeUnit.SECONDS), "weir %s did not finish", cmd);
    t.join();
    Run r = new Run(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    Compat.log("weir %s -> exit %d\n%s%s", String.join(" ", args), r.status, r.out, r.err);
    return r;
  }

  /** `group describe -o json` flattened by python3 into "topic partition current end lag member client" lines. */
  static List<String> describeRows(String group) throws Exception {
    Run r = weir("group", "describe", group, "-o", "json");
    Compat.checkEq(0, r.status, "describe exit status");
    Process p = new ProcessBuilder("python3", "-c",
        "import json,sys\n"
        + "d=json.load(sys.stdin)\n"
        + "print(d['state'], len(d['members']), d['total_lag'])\n"
        + "for x in d['partitions']: print(x['topic'], x['partition'], x['current_offset'], x['log_end_offset'], x['lag'], x['member_id'], x['client_id'])\n")
        .start();
    p.getOutputStream().write(r.out.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    Compat.check(p.waitFor() == 0, "describe JSON did not parse: %s", r.out);
    return List.of(text.strip().split("\n"));
  }

  public static void main(String[] args) {
    Compat.main("cli-group-lag", () -> {
      String t = Compat.topic("cli-lag"), g = t + "-g";
      TopicPartition p0 = new TopicPartition(t, 0), p1 = new TopicPartition(t, 1), p2 = new TopicPartition(t, 2);
      int[] counts = {10, 6, 4};
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 3);
        try (KafkaProducer<byte[], byte[]> p = Compat.producer()) {
          for (int part = 0; part < 3; part++)
            for (int i = 0; i < counts[part]; i++) p.send(new ProducerRecord<>(t, part, null, Compat.b("v" + i)));
        }
        try (KafkaConsumer<byte[], byte[]> c = Groups.member(g, ConsumerConfig.CLIENT_ID_CONFIG, "cli-lag-client")) {
          c.subscribe(List.of(t));
          Groups.pollUntil(List.of(c), 60000, "assignment", () -> c.assignment().size() == 3);
          c.commitSync(Map.of(p0, new OffsetAndMetadata(7), p1, new OffsetAndMetadata(6), p2, new OffsetAndMetadata(1)));
          String member = c.groupMetadata().memberId();
          List<String> rows = describeRows(g);
          Compat.checkEq("Stable 1 6", rows.get(0), "state, members, total lag");
          Compat.checkEq(List.of(
              t + " 0 7 10 3 " + member + " cli-lag-client",
              t + " 1 6 6 0 " + member + " cli-lag-client",
              t + " 2 1 4 3 " + member + " cli-lag-client"), rows.subList(1, rows.size()), "partitions");
          // The table: Kafka's column names, aligned.
          Run table = weir("group", "describe", g);
          Compat.check(table.out.contains("TOPIC") && table.out.contains("CURRENT-OFFSET  LOG-END-OFFSET  LAG"), "table header: %s", table.out);
          Run refused = weir("group", "reset-offsets", g, "--topic", t, "--to-earliest", "--execute");
          Compat.check(refused.status != 0 && refused.err.contains("inactive"), "reset of an active group must be refused");
        }
        // Dry run: prints the plan, commits nothing.
        Run dry = weir("group", "reset-offsets", g, "--topic", t, "--to-offset", "2");
        Compat.checkEq(0, dry.status, "dry run exit");
        Compat.check(dry.err.contains("dry run"), "dry run says so: %s", dry.err);
        Map<TopicPartition, OffsetAndMetadata> offs = admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Compat.checkEq(List.of(7L, 6L, 1L), List.of(offs.get(p0).offset(), offs.get(p1).offset(), offs.get(p2).offset()), "offsets after the dry run");
        // Execute: shift back by 3, clamped at the log start (p2: 1 - 3 -> 0), as Kafka's tool clamps.
        Run exec = weir("group", "reset-offsets", g, "--topic", t, "--shift-by", "-3", "--execute");
        Compat.checkEq(0, exec.status, "execute exit");
        offs = admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Compat.checkEq(List.of(4L, 3L, 0L), List.of(offs.get(p0).offset(), offs.get(p1).offset(), offs.get(p2).offset()), "offsets after --execute");
        List<String> rows = describeRows(g);
        Compat.checkEq("Empty 0 13", rows.get(0), "state, members, total lag after the reset");
        // A Java consumer of the group resumes where the CLI put it.
        try (KafkaConsumer<byte[], byte[]> c = Groups.member(g)) {
          c.assign(List.of(p0, p1, p2));
          Compat.checkEq(List.of(4L, 3L, 0L), List.of(c.position(p0), c.position(p1), c.position(p2)), "positions of a resumed consumer");
        }
        Run to = weir("group", "reset-offsets", g, "--topic", t, "--to-datetime", "@0", "--execute", "-o", "json");
        Compat.check(to.status == 0 && to.out.contains("\"executed\": true"), "to-datetime execute: %s", to.out);
        offs = admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Compat.checkEq(List.of(0L, 0L, 0L), List.of(offs.get(p0).offset(), offs.get(p1).offset(), offs.get(p2).offset()), "offsets after --to-datetime @0");
        Run del = weir("group", "delete", g);
        Compat.checkEq(0, del.status, "delete exit");
        Run again = weir("group", "delete", g);
        Compat.checkEq(1, again.status, "deleting a deleted group exits 1");
        Compat.check(again.err.contains("GROUP_ID_NOT_FOUND"), "error names Kafka's code: %s", again.err);
        // A consumer-protocol (KIP-848) group: DescribeGroups does not describe it (as in Kafka 4), so
        // `group describe` asks ConsumerGroupDescribe, as kafka-consumer-groups.sh does.
        String g848 = t + "-848";
        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer("group.id", g848, "group.protocol", "consumer",
            ConsumerConfig.CLIENT_ID_CONFIG, "cli-848-client")) {
          c.subscribe(List.of(t));
          Groups.pollUntil(List.of(c), 60000, "assignment", () -> c.assignment().size() == 3);
          c.commitSync(Map.of(p0, new OffsetAndMetadata(7), p1, new OffsetAndMetadata(6), p2, new OffsetAndMetadata(1)));
          String member = c.groupMetadata().memberId();
          List<String> rows848 = describeRows(g848);
          Compat.checkEq("Stable 1 6", rows848.get(0), "consumer group: state, members, total lag");
          Compat.checkEq(List.of(
              t + " 0 7 10 3 " + member + " cli-848-client",
              t + " 1 6 6 0 " + member + " cli-848-client",
              t + " 2 1 4 3 " + member + " cli-848-client"), rows848.subList(1, rows848.size()), "consumer group partitions");
        }
      }
    });
  }
}
