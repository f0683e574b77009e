// Members leaving (close -> LeaveGroup) and dying (kill -9 of a member process -> session timeout) hand
// their partitions to the remaining members.
// timeout: 150
import java.io.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;

public class GroupTakeover {
  public static void main(String[] args) {
    if (args.length == 3 && args[0].equals("child")) {
      // A member in its own process: polls until killed, printing its assignment when it changes.
      try (KafkaConsumer<byte[], byte[]> c = Groups.member(args[2])) {
        c.subscribe(List.of(args[1]));
        Set<TopicPartition> last = Set.of();
        while (true) {
          c.poll(Duration.ofMillis(100));
          if (!c.assignment().equals(last)) {
            last = new HashSet<>(c.assignment());
            System.out.println("ASSIGNED " + last.size());
            System.out.flush();
          }
        }
      }
    }
    Compat.main("group-takeover", () -> {
      String t = Compat.topic("grp-takeover"), g = t + "-g";
      try (Admin admin = Compat.admin()) {
        Compat.createTopic(admin, t, 6);
      }
      Process child = new ProcessBuilder("java", "-Xmx256m", "-cp", System.getProperty("java.class.path"), "GroupTakeover", "child", t, g)
          .redirectErrorStream(true).start();
      BufferedReader childOut = new BufferedReader(new InputStreamReader(child.getInputStream()));
      int[] childCount = {0};
      Thread reader = new Thread(() -> {
        try {
          String line;
          while ((line = childOut.readLine()) != null) {
            if (line.startsWith("ASSIGNED ")) synchronized (childCount) { childCount[0] = Integer.parseInt(line.substring(9)); }
            else System.out.println("child: " + line);
          }
        } catch (IOException e) {
          // child gone
        }
      });
      reader.setDaemon(true);
      reader.start();
      KafkaConsumer<byte[], byte[]> a = Groups.member(g), b = Groups.member(g);
      try {
        a.subscribe(List.of(t));
        b.subscribe(List.of(t));
        List<KafkaConsumer<byte[], byte[]>> ab = List.of(a, b);
        Groups.pollUntil(ab, 60000, "three members with 2 partitions each", () -> {
          synchronized (childCount) {
            return a.assignment().size() == 2 && b.assignment().size() == 2 && childCount[0] == 2;
          }
        });
        Compat.log("stable with 3 members");
        b.close(); // leaves the group
        Groups.pollUntil(List.of(a), 60000, "a and the child split 6 after b left", () -> {
          synchronized (childCount) {
            return a.assignment().size() + childCount[0] == 6 && childCount[0] > 0 && a.assignment().size() > 0;
          }
        });
        Compat.log("after leave: a has %d", a.assignment().size());
        child.destroyForcibly(); // SIGKILL: no LeaveGroup; the coordinator must expire it (session.timeout.ms=10000)
        child.waitFor(10, TimeUnit.SECONDS);
        long killed = System.currentTimeMillis();
        Groups.pollUntil(List.of(a), 60000, "a owns all 6 after the child was killed", () -> Groups.coversDisjoint(List.of(a), t, 6));
        Compat.log("after kill: a owns all 6, %d ms after the kill", System.currentTimeMillis() - killed);
      } finally {
        child.destroyForcibly();
        a.close();
        try {
          b.close();
        } catch (Exception e) {
          // already closed
        }
      }
    });
  }
}
