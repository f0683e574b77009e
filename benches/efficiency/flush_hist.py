"""Scrapes Weir's flush-duration histogram (`weir_log_flush_duration_seconds`: one partition fdatasync by the
flusher, the wait every acks=all answer sits behind) and reports what changed between two scrapes.

usage: python3 benches/efficiency/flush_hist.py snap ADMIN_ADDR FILE      # save the cumulative buckets
       python3 benches/efficiency/flush_hist.py diff ADMIN_ADDR FILE      # flushes since FILE: n, p50/p99/max bucket
Percentiles are bucket upper bounds (the histogram's resolution), so read them as "at most".
"""
import json
import sys
import urllib.request

NAME = "weir_log_flush_duration_seconds_bucket"


def scrape(addr):
    text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(NAME + "{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[le] = float(line.rsplit(" ", 1)[1])
    return out


def bound(le):
    return float("inf") if le == "+Inf" else float(le)


def main():
    mode, addr, path = sys.argv[1:4]
    now = scrape(addr)
    if mode == "snap":
        with open(path, "w") as f:
            json.dump(now, f)
        return
    with open(path) as f:
        before = json.load(f)
    les = sorted(now, key=bound)
    cum = [(bound(le), now[le] - before.get(le, 0)) for le in les]
    total = cum[-1][1] if cum else 0

    def pct(p):
        for b, c in cum:
            if c >= p * total:
                return b
        return float("inf")

    top = next((b for b, c in cum if c >= total), float("inf"))
    print(f"flushes={total:.0f} p50_le_ms={pct(0.5) * 1000:g} p99_le_ms={pct(0.99) * 1000:g} "
          f"p999_le_ms={pct(0.999) * 1000:g} max_le_ms={top * 1000:g}")


if __name__ == "__main__":
    main()
