// Turns the RESULT lines collected by run.sh (one per phase per run) into a Markdown table of medians.
// Usage: java Report results.txt [header text]

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public final class Report {
    public static void main(String[] argv) throws Exception {
        if (argv.length > 0 && argv[0].equals("--client-version")) {
            System.out.println(org.apache.kafka.common.utils.AppInfoParser.getVersion());
            return;
        }
        Map<String, List<Map<String, String>>> byPhase = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of(argv[0]))) {
            if (!line.startsWith("RESULT ")) continue;
            Map<String, String> f = new LinkedHashMap<>();
            for (String kv : line.substring(7).trim().split(" ")) {
                int eq = kv.indexOf('=');
                if (eq > 0) f.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
            byPhase.computeIfAbsent(f.getOrDefault("phase", "?"), k -> new ArrayList<>()).add(f);
        }
        StringBuilder out = new StringBuilder();
        out.append("| phase | runs | records/s | MB/s | MB per broker CPU-s | broker CPU s | client CPU s "
                + "| p50 ms | p99 ms | p999 ms | max ms | broker RSS peak MiB | broker run-queue wait s | load avg |\n");
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Map.Entry<String, List<Map<String, String>>> e : byPhase.entrySet()) {
            List<Map<String, String>> runs = e.getValue();
            String kind = runs.get(0).getOrDefault("kind", "");
            boolean hasLatency = !kind.equals("consume") && !kind.equals("fill");
            out.append("| ").append(e.getKey())
                    .append(" | ").append(runs.size())
                    .append(" | ").append(fmt(median(runs, "records_per_s"), 0))
                    .append(" | ").append(fmt(median(runs, "mb_per_s"), 1))
                    .append(" | ").append(fmt(median(runs, "mb_per_broker_cpu_s"), 1))
                    .append(" | ").append(fmt(median(runs, "broker_cpu_s"), 2))
                    .append(" | ").append(fmt(median(runs, "client_cpu_s"), 2))
                    .append(" | ").append(hasLatency ? fmt(median(runs, "p50_ms"), 2) : "–")
                    .append(" | ").append(hasLatency ? fmt(median(runs, "p99_ms"), 2) : "–")
                    .append(" | ").append(hasLatency ? fmt(median(runs, "p999_ms"), 2) : "–")
                    .append(" | ").append(hasLatency ? fmt(median(runs, "max_ms"), 2) : "–")
                    .append(" | ").append(fmt(median(runs, "broker_rss_peak_mib"), 0))
                    .append(" | ").append(fmt(median(runs, "broker_runq_wait_s"), 2))
                    .append(" | ").append(fmt(median(runs, "loadavg1"), 1))
                    .append(" |\n");
        }
        // For e2e, the split that says whether the producer side (send -> ack) or the client's own schedule
        // (send() called late because the client process did not get CPU) explains the latency.
        for (Map.Entry<String, List<Map<String, String>>> e : byPhase.entrySet()) {
            List<Map<String, String>> runs = e.getValue();
            if (!runs.get(0).getOrDefault("kind", "").equals("e2e")) continue;
            out.append("\n").append(e.getKey()).append(" (medians): producer send->ack p50 ")
                    .append(fmt(median(runs, "ack_p50_ms"), 2)).append(" ms, p99 ")
                    .append(fmt(median(runs, "ack_p99_ms"), 2)).append(" ms; worst lateness of a send() call "
                            + "against its schedule ")
                    .append(fmt(median(runs, "send_lateness_max_ms"), 1)).append(" ms; achieved send rate ")
                    .append(fmt(median(runs, "achieved_send_rate"), 0)).append(" of ")
                    .append(fmt(median(runs, "target_rate"), 0)).append(" records/s\n");
        }
        // Problems worth seeing next to the numbers.
        for (Map.Entry<String, List<Map<String, String>>> e : byPhase.entrySet()) {
            for (Map<String, String> r : e.getValue()) {
                for (String k : new String[] {"failed", "missing"}) {
                    String v = r.get(k);
                    if (v != null && !v.equals("0")) {
                        out.append("\n**").append(e.getKey()).append(": ").append(k).append('=').append(v)
                                .append("**");
                    }
                }
                String exp = r.get("expected");
                if (exp != null && !exp.equals(r.get("records"))) {
                    out.append("\n**").append(e.getKey()).append(": read ").append(r.get("records"))
                            .append(" of ").append(exp).append(" records**");
                }
            }
        }
        System.out.print(out);
        System.out.println();
    }

    static double median(List<Map<String, String>> runs, String key) {
        double[] v = runs.stream().map(r -> r.get(key)).filter(s -> s != null && !s.equals("NaN"))
                .mapToDouble(Double::parseDouble).toArray();
        if (v.length == 0) return Double.NaN;
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    static String fmt(double v, int decimals) {
        if (Double.isNaN(v) || Double.isInfinite(v)) return "n/a";
        return String.format(Locale.ROOT, "%,." + decimals + "f", v);
    }
}
