// The Java producer with default settings (idempotence on, acks=all, 5 requests in flight) keeps order and
// never duplicates when its connection is cut mid-stream. A private broker advertises a cutting TCP proxy.
// timeout: 180
import java.io.*;
import java.net.*;
import java.nio.ByteBuffer;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

public class IdempotentReconnect {
  /** Forwards loopback TCP to the broker; while cutting is on, drops a connection after it forwarded
   *  cutAfterBytes of client->broker traffic, swallowing the broker's next response. */
  static final class Proxy implements Closeable {
    final ServerSocket server;
    volatile int target;
    final AtomicBoolean cutting = new AtomicBoolean(false);
    final AtomicInteger cuts = new AtomicInteger();
    final int cutAfterBytes;
    final Set<Socket> open = ConcurrentHashMap.newKeySet();
    static final int MAX_CUTS = 8; // then let the rest of the stream finish cleanly

    Proxy(int cutAfterBytes) throws IOException {
      this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      this.cutAfterBytes = cutAfterBytes;
    }

    /** Starts forwarding to the broker's real port. */
    void start(int target) {
      this.target = target;
      Thread a = new Thread(this::acceptLoop, "proxy-accept");
      a.setDaemon(true);
      a.start();
    }

    int port() {
      return server.getLocalPort();
    }

    void acceptLoop() {
      while (!server.isClosed()) {
        try {
          Socket client = server.accept();
          Socket broker = new Socket(InetAddress.getLoopbackAddress(), target);
          client.setTcpNoDelay(true);
          broker.setTcpNoDelay(true);
          open.add(client);
          open.add(broker);
          AtomicBoolean armed = new AtomicBoolean(false);
          pump(client, broker, true, armed);
          pump(broker, client, false, armed);
        } catch (IOException e) {
          // closed
        }
      }
    }

    /** Client->broker: after cutAfterBytes, arm the cut. Broker->client: once armed, swallow the next
     *  response bytes (the broker did process the request) and then close both sides, so the producer
     *  never learns the outcome and must retry. */
    void pump(Socket from, Socket to, boolean upstream, AtomicBoolean armed) {
      Thread th = new Thread(() -> {
        byte[] buf = new byte[16384];
        long forwarded = 0;
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
          int n;
          while ((n = in.read(buf)) > 0) {
            if (!upstream && armed.get()) {
              cuts.incrementAndGet();
              break; // drop this response and the connection
            }
            out.write(buf, 0, n);
            out.flush();
            forwarded += n;
            if (upstream && cutting.get() && forwarded >= cutAfterBytes && cuts.get() < MAX_CUTS) armed.set(true);
          }
        } catch (Exception e) {
          // connection closed
        } finally {
          close(from);
          close(to);
        }
      }, "proxy-pump");
      th.setDaemon(true);
      th.start();
    }

    void close(Socket s) {
      try {
        s.close();
      } catch (IOException e) {
        // ignore
      }
      open.remove(s);
    }

    public void close() throws IOException {
      server.close();
      for (Socket s : open) close(s);
    }
  }

  static String run(String... cmd) throws Exception {
    Process pr = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(pr.getInputStream().readAllBytes()).trim();
    Compat.check(pr.waitFor() == 0, "command failed: %s", String.join(" ", cmd));
    return out;
  }

  public static void main(String[] args) {
    Compat.main("idempotent-reconnect", () -> {
      String brokerSh = System.getenv("WEIR_BROKER");
      Compat.check(brokerSh != null, "WEIR_BROKER is not set");
      // The proxy listens before the broker starts so the broker can advertise its port.
      Proxy proxy = new Proxy(256 * 1024);
      int proxyPort = proxy.port();
      String brokerAddr = run(brokerSh, "start", "idem", "--advertised-listener", "127.0.0.1:" + proxyPort);
      int brokerPort = Integer.parseInt(brokerAddr.substring(brokerAddr.lastIndexOf(':') + 1));
      Compat.log("private broker at %s advertising 127.0.0.1:%d", brokerAddr, proxyPort);
      proxy.start(brokerPort);
      String bootstrap = "127.0.0.1:" + proxyPort;
      String t = Compat.topic("idem");
      final int N = 60_000;
      try {
        try (Admin admin = Compat.admin(bootstrap)) {
          Compat.createTopic(admin, t, 1);
        }
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, org.apache.kafka.common.serialization.ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, org.apache.kafka.common.serialization.ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.LINGER_MS_CONFIG, 2);
        pp.put(ProducerConfig.BATCH_SIZE_CONFIG, 8192); // many small batches: several in flight at a cut
        pp.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, 20);
        AtomicReference<Exception> err = new AtomicReference<>();
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
          p.send(new ProducerRecord<>(t, 0, null, ByteBuffer.allocate(4).putInt(-1).array())).get(30, TimeUnit.SECONDS);
          proxy.cutting.set(true);
          for (int i = 0; i < N; i++) {
            byte[] v = ByteBuffer.allocate(4 + 100).putInt(i).array();
            p.send(new ProducerRecord<>(t, 0, null, v), (md, e) -> {
              if (e != null) err.compareAndSet(null, e);
            });
          }
          p.flush();
        }
        proxy.cutting.set(false);
        Compat.log("connections cut: %d", proxy.cuts.get());
        if (err.get() != null) throw new AssertionError("a send failed", err.get());
        Compat.check(proxy.cuts.get() >= 3, "the proxy cut only %d connections; the test did not exercise retries", proxy.cuts.get());

        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
          TopicPartition tp = new TopicPartition(t, 0);
          c.assign(List.of(tp));
          c.seekToBeginning(List.of(tp));
          long end = c.endOffsets(List.of(tp)).get(tp);
          Compat.log("log end offset %d (expected %d)", end, N + 1);
          List<ConsumerRecord<byte[], byte[]>> got = Compat.pollN(c, (int) Math.min(end, Integer.MAX_VALUE), 60000);
          int expectNext = -1;
          for (ConsumerRecord<byte[], byte[]> r : got) {
            int v = ByteBuffer.wrap(r.value()).getInt();
            Compat.check(v == expectNext, "at offset %d: value %d, expected %d (%s)", r.offset(), v, expectNext,
                v < expectNext ? "duplicate" : "gap / reordering");
            expectNext++;
          }
          Compat.checkEq(N, expectNext, "records read");
          Compat.checkEq((long) N + 1, end, "log end offset");
        }
      } finally {
        proxy.close();
        run(brokerSh, "stop", "idem");
      }
    });
  }
}
