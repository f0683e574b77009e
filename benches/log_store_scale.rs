//! Log store at scale: `LogStore::open` of 10,000 partitions (3 records each) after a clean shutdown, and
//! one read of every partition through the default `log.max.open.files` (4096).
//!
//! Run: `cargo bench --bench log_store_scale`. The data folder is built once (under a minute, mostly the
//! shutdown's fsyncs) in `target/bench-data/scale-10000` and reused. An open changes nothing on disk but
//! the clean-shutdown marker, so each iteration puts the marker back, times one open and drops the store
//! without a shutdown. Also prints, once, the process's open descriptors and RSS around a full read.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use weir::log::batch::{build_batch, KeyValue};
use weir::log::store::CLEAN_SHUTDOWN_FILE;
use weir::log::{LogConfig, LogStore, StoreOptions};

/// Partitions in the data folder.
const PARTITIONS: i32 = 10_000;
/// Records of 100 bytes per partition (one batch).
const RECORDS: usize = 3;

fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data")
        .join(format!("scale-{PARTITIONS}"));
    let done = dir.join("complete");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let store = LogStore::open(StoreOptions::new(&dir)).expect("open");
    let value = [b'x'; 100];
    let recs: Vec<KeyValue<'_>> = (0..RECORDS).map(|_| (None, Some(&value[..]))).collect();
    for p in 0..PARTITIONS {
        let log = store
            .get_or_create("scale", p, LogConfig::default())
            .expect("create");
        log.append(build_batch(&recs, 1_700_000_000_000, -1, -1, -1, 0), 0)
            .expect("append");
    }
    store.shutdown().expect("shutdown");
    std::fs::File::create(&done).expect("marker");
    eprintln!("built {} in {:.1?}", dir.display(), started.elapsed());
    dir
}

fn open_clean(dir: &Path) -> Arc<LogStore> {
    std::fs::File::create(dir.join(CLEAN_SHUTDOWN_FILE)).expect("marker");
    LogStore::open(StoreOptions::new(dir)).expect("open")
}

/// Open descriptors and resident memory (KiB) of this process.
fn fds_and_rss() -> (usize, u64) {
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    (fds, rss)
}

fn read_all(store: &LogStore) -> usize {
    let mut bytes = 0;
    for p in 0..PARTITIONS {
        let log = store
            .get_or_create("scale", p, LogConfig::default())
            .expect("get");
        bytes += log.read(0, 1 << 20).expect("read").records.len();
    }
    bytes
}

fn scale(c: &mut Criterion) {
    let dir = data_dir();
    {
        let before = fds_and_rss();
        let store = open_clean(&dir);
        let opened = fds_and_rss();
        let bytes = read_all(&store);
        let read = fds_and_rss();
        eprintln!(
            "fds / VmRSS KiB: before open {before:?}, after open {opened:?}, after reading all \
             {PARTITIONS} partitions once ({bytes} bytes) {read:?}; {:?}",
            store.file_cache_stats()
        );
    }
    let mut g = c.benchmark_group("scale_10k_partitions");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    g.bench_function("open_clean", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                std::fs::File::create(dir.join(CLEAN_SHUTDOWN_FILE)).expect("marker");
                let start = Instant::now();
                let store = LogStore::open(StoreOptions::new(&dir)).expect("open");
                total += start.elapsed();
                assert_eq!(store.existing().len(), PARTITIONS as usize);
            }
            total
        })
    });
    g.bench_function("open_clean_then_read_each_once", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                std::fs::File::create(dir.join(CLEAN_SHUTDOWN_FILE)).expect("marker");
                let start = Instant::now();
                let store = LogStore::open(StoreOptions::new(&dir)).expect("open");
                read_all(&store);
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    std::fs::File::create(dir.join(CLEAN_SHUTDOWN_FILE)).expect("marker");
}

criterion_group!(benches, scale);
criterion_main!(benches);
