"""How removing a large file stalls another file's fdatasync (the acks=all path), unlink vs paced truncation.

usage: python3 benches/efficiency/removal_probe.py DIR [GIB]

Writes a GIB-GiB file in DIR (default 2), then for each mode (`unlink`: one unlink, as before; `paced`: what
`log::remove` does, 16 MiB truncations each fdatasynced, pausing as long as each took) measures a
1 KiB append + fdatasync loop on another file in DIR for 3 s quiet and then while the removal runs.
Prints p50/p99/max of the appender's fdatasync latency in both windows.
"""
import os
import statistics
import sys
import threading
import time

STEP = 16 << 20


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * (len(xs) - 1)))] if xs else float("nan")


def big_file(path, gib):
    buf = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(gib << 10):
            f.write(buf)
        f.flush()
        os.fsync(f.fileno())


def remove_paced(path):
    fd = os.open(path, os.O_WRONLY)
    size = os.fstat(fd).st_size
    while size > STEP:
        t = time.perf_counter()
        size -= STEP
        os.ftruncate(fd, size)
        os.fdatasync(fd)
        time.sleep(max(time.perf_counter() - t, 0.002))
    os.close(fd)
    os.unlink(path)


def run(dir_, gib, mode):
    big = os.path.join(dir_, f"big-{mode}")
    big_file(big, gib)
    lat = []  # (start, seconds)
    stop = threading.Event()

    def appender():
        fd = os.open(os.path.join(dir_, f"small-{mode}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        rec = b"x" * 1024
        while not stop.is_set():
            t = time.perf_counter()
            os.write(fd, rec)
            os.fdatasync(fd)
            lat.append((t, time.perf_counter() - t))
        os.close(fd)

    th = threading.Thread(target=appender)
    th.start()
    time.sleep(3)
    t0 = time.perf_counter()
    if mode == "unlink":
        os.unlink(big)
    else:
        remove_paced(big)
    took = time.perf_counter() - t0
    time.sleep(0.5)
    stop.set()
    th.join()
    os.unlink(os.path.join(dir_, f"small-{mode}"))
    quiet = [d * 1000 for s, d in lat if s < t0]
    during = [d * 1000 for s, d in lat if t0 <= s <= t0 + took + 0.5]
    for name, xs in (("quiet", quiet), ("during removal", during)):
        print(f"{mode:6} {name:15} n={len(xs):6} p50 {pct(xs, 50):7.2f} ms  p99 {pct(xs, 99):7.2f} ms  "
              f"max {max(xs) if xs else float('nan'):8.2f} ms", flush=True)
    print(f"{mode:6} removal of {gib} GiB took {took:.2f} s", flush=True)


def main():
    dir_ = sys.argv[1]
    gib = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    os.makedirs(dir_, exist_ok=True)
    for mode in ("unlink", "paced", "unlink", "paced"):
        run(dir_, gib, mode)


if __name__ == "__main__":
    main()
