// Shared helpers for the load-benchmark programs: argument parsing, /proc sampling of the broker and of this
// JVM, percentiles, topic admin and the one-line RESULT format that run.sh collects.
//
// Compiled together with the other benches/load/*.java files by run.sh; not a library.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

final class BenchCommon {
    private BenchCommon() {}

    /** Bytes in one "MB", as in Kafka's own perf tools (2^20). */
    static final double MB = 1024.0 * 1024.0;

    // ---------------------------------------------------------------- arguments

    /** `--key value` pairs; `--prop k=v` may repeat and lands in `props`. */
    static final class Args {
        final Map<String, String> values = new HashMap<>();
        final Properties props = new Properties();

        Args(String[] argv) {
            for (int i = 0; i < argv.length; i++) {
                String a = argv[i];
                if (!a.startsWith("--") || i + 1 >= argv.length) {
                    throw new IllegalArgumentException("expected --key value, got " + a);
                }
                String v = argv[++i];
                if (a.equals("--prop")) {
                    int eq = v.indexOf('=');
                    if (eq <= 0) throw new IllegalArgumentException("--prop expects k=v, got " + v);
                    props.setProperty(v.substring(0, eq), v.substring(eq + 1));
                } else {
                    values.put(a.substring(2), v);
                }
            }
        }

        String str(String key, String dflt) {
            String v = values.get(key);
            if (v == null && dflt == null) throw new IllegalArgumentException("missing --" + key);
            return v == null ? dflt : v;
        }

        long lng(String key, long dflt) {
            String v = values.get(key);
            return v == null ? dflt : Long.parseLong(v);
        }

        int integer(String key, int dflt) {
            return (int) lng(key, dflt);
        }

        double dbl(String key, double dflt) {
            String v = values.get(key);
            return v == null ? dflt : Double.parseDouble(v);
        }
    }

    // ---------------------------------------------------------------- /proc sampling

    /** Clock ticks per second for /proc/PID/stat times (run.sh passes `getconf CLK_TCK`). */
    static long clkTck = 100;

    /** utime+stime of a process in seconds, or NaN if it cannot be read. */
    static double cpuSeconds(String pid) {
        if (pid == null || pid.isEmpty()) return Double.NaN;
        try {
            String stat = Files.readString(Path.of("/proc", pid, "stat"));
            // The command name may contain spaces or parentheses: fields start after the last ')'.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
            // After ')': f[0] = state (field 3), so utime (field 14) = f[11], stime (field 15) = f[12].
            long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
            return ticks / (double) clkTck;
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /**
     * Seconds the process's threads spent runnable but waiting for a CPU (second field of
     * /proc/PID/task/TID/schedstat, summed over live threads), or NaN. On a shared 2-core machine this says
     * how much the numbers were bent by other load.
     */
    static double runQueueWaitSeconds(String pid) {
        if (pid == null || pid.isEmpty()) return Double.NaN;
        try (var tasks = Files.list(Path.of("/proc", pid, "task"))) {
            long ns = 0;
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    String[] f = Files.readString(t.resolve("schedstat")).trim().split(" ");
                    ns += Long.parseLong(f[1]);
                } catch (IOException | RuntimeException e) {
                    // thread went away
                }
            }
            return ns / 1e9;
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** The 1-minute load average, or NaN. */
    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** VmRSS of a process in MiB, or NaN. */
    static double rssMiB(String pid) {
        if (pid == null || pid.isEmpty()) return Double.NaN;
        try {
            for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                if (line.startsWith("VmRSS:")) {
                    String[] f = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(f[0]) / 1024.0; // kB
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return Double.NaN;
    }

    /**
     * Samples broker and client CPU at the exact boundaries of a measured window, and the broker's RSS every
     * 100 ms in between (peak and last). The window excludes JVM start-up, metadata fetch and topic creation.
     */
    static final class Window implements AutoCloseable {
        final String brokerPid;
        final String selfPid = Long.toString(ProcessHandle.current().pid());
        long startNs;
        long endNs;
        double brokerCpu0, brokerCpu1, clientCpu0, clientCpu1, brokerWait0, brokerWait1, load1;
        volatile double rssPeak = Double.NaN;
        volatile double rssLast = Double.NaN;
        private volatile boolean running;
        private Thread sampler;

        Window(String brokerPid) {
            this.brokerPid = brokerPid;
        }

        void start() {
            running = true;
            rssPeak = rssMiB(brokerPid);
            sampler = new Thread(() -> {
                while (running) {
                    double r = rssMiB(brokerPid);
                    if (!Double.isNaN(r)) {
                        rssLast = r;
                        if (Double.isNaN(rssPeak) || r > rssPeak) rssPeak = r;
                    }
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "rss-sampler");
            sampler.setDaemon(true);
            sampler.start();
            brokerWait0 = runQueueWaitSeconds(brokerPid);
            brokerCpu0 = cpuSeconds(brokerPid);
            clientCpu0 = cpuSeconds(selfPid);
            startNs = System.nanoTime();
        }

        void stop() {
            endNs = System.nanoTime();
            brokerCpu1 = cpuSeconds(brokerPid);
            clientCpu1 = cpuSeconds(selfPid);
            brokerWait1 = runQueueWaitSeconds(brokerPid);
            load1 = loadAverage();
            running = false;
            double r = rssMiB(brokerPid);
            if (!Double.isNaN(r)) {
                rssLast = r;
                if (Double.isNaN(rssPeak) || r > rssPeak) rssPeak = r;
            }
        }

        double seconds() {
            return (endNs - startNs) / 1e9;
        }

        double brokerCpu() {
            return brokerCpu1 - brokerCpu0;
        }

        double clientCpu() {
            return clientCpu1 - clientCpu0;
        }

        @Override
        public void close() {
            running = false;
        }
    }

    // ---------------------------------------------------------------- latency

    /** Latencies in microseconds, one slot per sample; percentiles by sorting at the end. */
    static final class Latencies {
        private int[] us;
        private int n;

        Latencies(int expected) {
            us = new int[Math.max(16, expected)];
        }

        synchronized void add(long micros) {
            if (n == us.length) us = Arrays.copyOf(us, us.length * 2);
            us[n++] = (int) Math.min(Integer.MAX_VALUE, Math.max(0, micros));
        }

        synchronized int count() {
            return n;
        }

        /** Writes every sample in arrival order, one microsecond figure per line (for timelines). */
        synchronized void dump(String path) throws java.io.IOException {
            try (java.io.PrintWriter w = new java.io.PrintWriter(path)) {
                for (int i = 0; i < n; i++) w.println(us[i]);
            }
        }

        /** {p50, p99, p999, max} in milliseconds; NaN when empty. */
        synchronized double[] summaryMs() {
            if (n == 0) return new double[] {Double.NaN, Double.NaN, Double.NaN, Double.NaN};
            int[] s = Arrays.copyOf(us, n);
            Arrays.sort(s);
            return new double[] {pct(s, 50), pct(s, 99), pct(s, 99.9), s[n - 1] / 1000.0};
        }

        private static double pct(int[] sorted, double p) {
            int idx = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, idx))] / 1000.0;
        }
    }

    // ---------------------------------------------------------------- admin

    static Properties clientProps(String bootstrap) {
        Properties p = new Properties();
        p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return p;
    }

    /** Creates the topic (replication factor 1), deleting an existing one of that name first if asked. */
    static void createTopic(String bootstrap, String topic, int partitions, boolean recreate) throws Exception {
        createTopic(bootstrap, topic, partitions, (short) 1, recreate);
    }

    static void createTopic(String bootstrap, String topic, int partitions, short replicationFactor,
                            boolean recreate) throws Exception {
        try (Admin admin = Admin.create(clientProps(bootstrap))) {
            if (recreate) deleteTopic(admin, topic);
            for (int attempt = 0; ; attempt++) {
                try {
                    admin.createTopics(List.of(new NewTopic(topic, partitions, replicationFactor))).all()
                            .get(30, TimeUnit.SECONDS);
                    return;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof TopicExistsException && !recreate) return;
                    // A just-deleted topic may still be going away; retry briefly.
                    if (attempt >= 20) throw e;
                    Thread.sleep(250);
                }
            }
        }
    }

    static void deleteTopic(String bootstrap, String topic) throws Exception {
        try (Admin admin = Admin.create(clientProps(bootstrap))) {
            deleteTopic(admin, topic);
        }
    }

    private static void deleteTopic(Admin admin, String topic) throws Exception {
        Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
        if (!names.contains(topic)) return;
        try {
            admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) throw e;
        }
    }

    // ---------------------------------------------------------------- output

    /** One `RESULT k=v k=v ...` line on stdout (values without spaces); run.sh and Report.java parse it. */
    static final class Result {
        final Map<String, String> fields = new LinkedHashMap<>();

        Result put(String k, String v) {
            fields.put(k, v.replace(' ', '_'));
            return this;
        }

        Result put(String k, long v) {
            return put(k, Long.toString(v));
        }

        Result put(String k, double v) {
            return put(k, Double.isNaN(v) ? "NaN" : String.format(Locale.ROOT, "%.4f", v));
        }

        /** Throughput, CPU and RSS fields common to every phase. */
        Result window(Window w, long records, long payloadBytes) {
            double secs = w.seconds();
            double mb = payloadBytes / MB;
            put("records", records);
            put("payload_mb", mb);
            put("seconds", secs);
            put("records_per_s", records / secs);
            put("mb_per_s", mb / secs);
            put("broker_cpu_s", w.brokerCpu());
            put("mb_per_broker_cpu_s", mb / w.brokerCpu());
            put("client_cpu_s", w.clientCpu());
            put("broker_runq_wait_s", w.brokerWait1 - w.brokerWait0);
            put("loadavg1", w.load1);
            put("broker_rss_peak_mib", w.rssPeak);
            put("broker_rss_end_mib", w.rssLast);
            return this;
        }

        Result latency(String prefix, Latencies l) {
            double[] s = l.summaryMs();
            put(prefix + "p50_ms", s[0]);
            put(prefix + "p99_ms", s[1]);
            put(prefix + "p999_ms", s[2]);
            put(prefix + "max_ms", s[3]);
            return this;
        }

        void print() {
            List<String> parts = new ArrayList<>();
            for (Map.Entry<String, String> e : fields.entrySet()) parts.add(e.getKey() + "=" + e.getValue());
            System.out.println("RESULT " + String.join(" ", parts));
            System.out.flush();
        }
    }

    static void log(String fmt, Object... args) {
        System.err.println("[" + Thread.currentThread().getName() + "] " + String.format(Locale.ROOT, fmt, args));
    }
}
