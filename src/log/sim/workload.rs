//! The power-loss simulation: a seeded random workload on a log store over the simulated disk — appends
//! acknowledged as acks=1 or acks=all, idempotent producers, rolls, retention, compaction,
//! DeleteRecords, clean restarts and power cuts — checking after every recovery that each acknowledged
//! record is there, unchanged, and that nothing unreadable or foreign is served.
//!
//! `cargo test --lib power_loss` runs `WEIR_SIM_SEEDS` seeds (default 2000) of `WEIR_SIM_STEPS` steps
//! (default 40) from `WEIR_SIM_FIRST_SEED` (default 0), spread over the cores, plus the regression seeds;
//! `WEIR_SIM_SEED=n` replays one seed. Power cuts strike inside seam calls too unless
//! `WEIR_SIM_MID_CALL=0`. A failure prints the command that replays it. A seed fixes the workload and every crash decision; the flusher
//! thread's timing can still shift a power cut armed by call count by a call or two, so a replay hits the
//! same spot nearly always rather than always.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::disk::{SimRoot, Stats};
use super::rng::Rng;
use crate::log::batch::{self, build_batch, split_batches, BatchRecords};
use crate::log::{LogConfig, LogStore, PartitionLog, StoreOptions};

/// The simulated partitions' roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `cleanup.policy=delete` with `retention.bytes`; takes DeleteRecords.
    Delete,
    /// `cleanup.policy=compact`.
    Compact,
    /// One idempotent producer, acks=all only, no retention (its retries must stay deduplicated).
    Idempotent,
}

const KINDS: [Kind; 3] = [Kind::Delete, Kind::Compact, Kind::Idempotent];
const TOPIC: &str = "sim";
const PRODUCER_ID: i64 = 4242;
/// An armed power cut strikes at one of this many seam calls (fsyncs, renames, removals) from arming.
const CRASH_WINDOW: u64 = 300;

/// A record as appended: key and value.
type Kv = (Option<Vec<u8>>, Vec<u8>);

/// What the workload knows a partition must hold.
struct Model {
    kind: Kind,
    config: LogConfig,
    /// Every record appended and not known lost, by offset.
    records: BTreeMap<i64, Kv>,
    /// Offsets below this were acknowledged after fsync (acks=all): a crash must keep them.
    durable_end: i64,
    /// Largest acknowledged DeleteRecords offset: the log start never goes back below it.
    deleted_to: i64,
    /// Largest log start seen: recovery never moves the log start past what the log itself moved it to.
    start_seen: i64,
    /// The idempotent producer's last acknowledged batch: (bytes, base offset, last offset).
    last_idempotent: Option<(Bytes, i64, i64)>,
    /// The idempotent producer's next sequence.
    next_sequence: i32,
    /// The idempotent producer's batch whose acknowledgement the power cut swallowed: (bytes, records,
    /// base offset of the first attempt). The producer sends it again after the restart.
    unacked: Option<(Bytes, Vec<Kv>, i64)>,
}

/// One seed's run: the store, the simulated disk and the models.
struct Sim {
    seed: u64,
    rng: Rng,
    dir: tempfile::TempDir,
    disk: SimRoot,
    options: StoreOptions,
    store: Option<Arc<LogStore>>,
    logs: Vec<Arc<PartitionLog>>,
    models: Vec<Model>,
    now_ms: i64,
    counter: u64,
}

fn configs(rng: &mut Rng) -> Vec<LogConfig> {
    let segment_bytes = 400 + rng.below(3000);
    let base = LogConfig {
        segment_bytes,
        index_interval_bytes: 64 + rng.below(512) as u32,
        retention_ms: -1,
        ..LogConfig::default()
    };
    KINDS
        .iter()
        .map(|kind| match kind {
            Kind::Delete => LogConfig {
                retention_bytes: (segment_bytes * (2 + rng.below(4))) as i64,
                ..base.clone()
            },
            Kind::Compact => LogConfig {
                cleanup_compact: true,
                cleanup_delete: false,
                min_cleanable_dirty_ratio: 0.01,
                ..base.clone()
            },
            Kind::Idempotent => base.clone(),
        })
        .collect()
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = Rng::new(seed);
        let dir = super::disk::scratch_dir().expect("tmp");
        let disk = SimRoot::register(dir.path()).expect("register the simulated disk");
        let mut options = StoreOptions::new(dir.path().join("data"));
        options.max_open_files = 2 + rng.below(4) as usize;
        let models = configs(&mut rng)
            .into_iter()
            .zip(KINDS)
            .map(|(config, kind)| Model {
                kind,
                config,
                records: BTreeMap::new(),
                durable_end: 0,
                deleted_to: 0,
                start_seen: 0,
                last_idempotent: None,
                next_sequence: 0,
                unacked: None,
            })
            .collect();
        Sim {
            seed,
            rng,
            dir,
            disk,
            options,
            store: None,
            logs: Vec::new(),
            models,
            // The store reads the wall clock at start-up (producer expiry): the workload's clock starts there.
            now_ms: crate::log::partition::now_ms(),
            counter: 0,
        }
    }

    fn store(&self) -> &Arc<LogStore> {
        self.store.as_ref().expect("store open")
    }

    fn open(&mut self) {
        let store = LogStore::open(self.options.clone())
            .unwrap_or_else(|e| panic!("seed {}: open after recovery: {e}", self.seed));
        self.logs = self
            .models
            .iter()
            .enumerate()
            .map(|(p, m)| {
                store
                    .get_or_create(TOPIC, p as i32, m.config.clone())
                    .expect("partition")
            })
            .collect();
        store.wait_flusher_idle();
        self.store = Some(store);
    }

    /// A record value, unique, of varying size.
    fn value(&mut self) -> Vec<u8> {
        self.counter += 1;
        let pad = self.rng.below(300) as usize;
        let mut v = format!("s{}-r{}-", self.seed, self.counter).into_bytes();
        v.extend(std::iter::repeat_n(b'.', pad));
        v
    }

    fn records(&mut self, p: usize) -> Vec<Kv> {
        let n = 1 + self.rng.below(6) as usize;
        (0..n)
            .map(|_| {
                let key = match self.models[p].kind {
                    Kind::Compact => Some(format!("k{}", self.rng.below(6)).into_bytes()),
                    _ => None,
                };
                (key, self.value())
            })
            .collect()
    }

    /// Appends a batch; with `acks_all` waits for the acknowledgement (fsync) as a producer would.
    async fn append(&mut self, p: usize, acks_all: bool) {
        let recs = self.records(p);
        let kvs: Vec<batch::KeyValue<'_>> = recs
            .iter()
            .map(|(k, v)| (k.as_deref(), Some(&v[..])))
            .collect();
        let idempotent = self.models[p].kind == Kind::Idempotent;
        let bytes = if idempotent {
            let seq = self.models[p].next_sequence;
            build_batch(&kvs, self.now_ms, PRODUCER_ID, 0, seq, 0)
        } else {
            build_batch(&kvs, self.now_ms, -1, -1, -1, 0)
        };
        let log = self.logs[p].clone();
        let info = log
            .append(bytes.clone(), self.now_ms)
            .unwrap_or_else(|e| panic!("seed {}: append: {e}", self.seed));
        for (i, kv) in recs.iter().enumerate() {
            self.models[p]
                .records
                .insert(info.base_offset + i as i64, kv.clone());
        }
        if acks_all || idempotent {
            log.wait_durable(info.last_offset, info.leader_epoch)
                .await
                .unwrap_or_else(|e| panic!("seed {}: acks=all: {e}", self.seed));
            if self.disk.crashed() {
                // The power went before the acknowledgement left: the producer never saw it.
                if idempotent {
                    self.models[p].unacked = Some((bytes, recs, info.base_offset));
                }
                return;
            }
        }
        let model = &mut self.models[p];
        if acks_all || idempotent {
            model.durable_end = model.durable_end.max(info.last_offset + 1);
        }
        if idempotent {
            model.next_sequence += (info.last_offset - info.base_offset + 1) as i32;
            model.last_idempotent = Some((bytes, info.base_offset, info.last_offset));
        }
    }

    async fn delete_records(&mut self, p: usize) {
        let log = self.logs[p].clone();
        let o = log.offsets();
        let to = o.log_start + self.rng.below((o.high_watermark - o.log_start + 1) as u64) as i64;
        let start = self
            .store()
            .delete_records(&log, to)
            .await
            .unwrap_or_else(|e| panic!("seed {}: DeleteRecords: {e}", self.seed));
        if !self.disk.crashed() {
            self.models[p].deleted_to = self.models[p].deleted_to.max(start);
        }
    }

    fn maintenance(&mut self) {
        self.store()
            .run_maintenance(self.now_ms)
            .unwrap_or_else(|e| panic!("seed {}: maintenance: {e}", self.seed));
    }

    /// Notes the log starts the store moved to (retention, DeleteRecords).
    fn observe(&mut self) {
        for (m, log) in self.models.iter_mut().zip(&self.logs) {
            m.start_seen = m.start_seen.max(log.offsets().log_start);
        }
    }

    /// Arms a power cut at one of the next [`CRASH_WINDOW`] seam calls.
    fn arm(&mut self) {
        let after = 1 + self.rng.below(CRASH_WINDOW);
        let rng = Rng::new(self.rng.next_u64());
        if mid_call_crashes() {
            self.disk.arm(after, rng);
        }
    }

    /// Stops the store — by cutting the power now (`cut_now`), by an armed power cut that already struck,
    /// or cleanly, unless an armed cut strikes during the shutdown — then restarts it (a power cut may
    /// strike again during recovery) and checks every partition.
    async fn restart(&mut self, cut_now: bool) {
        let store = self.store.take().expect("store open");
        store.wait_flusher_idle();
        let mut image = None;
        if cut_now && !self.disk.crashed() {
            image = Some(self.disk.crash(&mut self.rng).expect("the image"));
        }
        // After a power cut this only stops the store's threads: nothing it writes is kept.
        let shutdown = store.shutdown();
        self.logs.clear();
        drop(store);
        let mut crashed = self.disk.crashed();
        if !crashed {
            shutdown.unwrap_or_else(|e| panic!("seed {}: clean shutdown: {e}", self.seed));
        }
        loop {
            if let Some(image) = image.take().or_else(|| self.disk.take_image()) {
                self.disk.restore(&image).expect("restore the image");
            }
            if self.rng.one_in(4) {
                self.arm();
            }
            self.open();
            if !self.disk.crashed() {
                break;
            }
            // The power went during recovery.
            crashed = true;
            let store = self.store.take().expect("store open");
            let _ = store.shutdown();
            self.logs.clear();
        }
        for p in 0..self.models.len() {
            self.check(p, crashed);
        }
        if self.rng.one_in(2) {
            self.arm();
        }
        self.resend_unacked().await;
        self.retry_idempotent();
    }

    /// The idempotent producer sends again the batch whose acknowledgement a power cut swallowed: a
    /// duplicate (same offsets) if the batch survived, appended anew if not.
    async fn resend_unacked(&mut self) {
        let Some(p) = self.models.iter().position(|m| m.kind == Kind::Idempotent) else {
            return;
        };
        let Some((bytes, recs, first_base)) = self.models[p].unacked.take() else {
            return;
        };
        let log = self.logs[p].clone();
        let survived = log.offsets().log_end > first_base;
        let info = log
            .append(bytes.clone(), self.now_ms)
            .unwrap_or_else(|e| panic!("seed {}: idempotent resend: {e}", self.seed));
        assert_eq!(
            (info.duplicate, info.base_offset == first_base || !survived),
            (survived, true),
            "seed {}: resent idempotent batch first at {first_base}: {info:?}",
            self.seed
        );
        for (i, kv) in recs.iter().enumerate() {
            self.models[p]
                .records
                .insert(info.base_offset + i as i64, kv.clone());
        }
        log.wait_durable(info.last_offset, info.leader_epoch)
            .await
            .unwrap_or_else(|e| panic!("seed {}: acks=all: {e}", self.seed));
        let crashed = self.disk.crashed();
        let model = &mut self.models[p];
        if crashed {
            model.unacked = Some((bytes, recs, info.base_offset));
            return;
        }
        model.durable_end = model.durable_end.max(info.last_offset + 1);
        model.next_sequence += recs.len() as i32;
        model.last_idempotent = Some((bytes, info.base_offset, info.last_offset));
    }

    /// After a restart: acknowledged records and deletions are kept, everything served is valid and
    /// was appended at that offset. Forgets what was lost.
    fn check(&mut self, p: usize, crash: bool) {
        let seed = self.seed;
        let log = self.logs[p].clone();
        let o = log.offsets();
        let model = &mut self.models[p];
        let what = format!("seed {seed} partition {p} ({:?}) {o:?}", model.kind);
        assert!(o.log_start <= o.log_end, "{what}: log start past log end");
        assert!(
            o.log_end >= model.durable_end,
            "{what}: acknowledged records up to {} lost",
            model.durable_end
        );
        assert!(
            o.high_watermark >= model.durable_end,
            "{what}: acknowledged records hidden"
        );
        assert!(
            o.log_start >= model.deleted_to,
            "{what}: acknowledged DeleteRecords to {} undone",
            model.deleted_to
        );
        assert!(
            o.log_start <= model.start_seen.max(model.deleted_to),
            "{what}: log start moved past {}",
            model.start_seen
        );
        if !crash {
            let last = model.records.keys().next_back().map_or(0, |o| o + 1);
            assert!(o.log_end >= last, "{what}: clean shutdown lost records");
        }
        let seen = read_all(&log, o.log_start, o.log_end, &what);
        for (offset, kv) in &seen {
            let expected = model.records.get(offset);
            assert_eq!(
                expected,
                Some(kv),
                "{what}: offset {offset} holds a foreign record; model offsets {:?}; segments {:?}",
                model.records.keys().collect::<Vec<_>>(),
                log.lock()
                    .segments
                    .iter()
                    .map(|s| (s.base_offset, s.next_offset))
                    .collect::<Vec<_>>()
            );
        }
        match model.kind {
            Kind::Delete | Kind::Idempotent => {
                // Offsets the model still holds: records an earlier crash lost (never acknowledged
                // with an fsync) are forgotten below, and may leave a gap that a later acks=all does
                // not fill (seed 133: 69..73 lost at one crash, the rolled segment 74 kept).
                let first_missing = model
                    .records
                    .range(o.log_start..)
                    .map(|(offset, _)| *offset)
                    .take_while(|offset| *offset < model.durable_end)
                    .find(|x| !seen.contains_key(x));
                assert_eq!(
                    first_missing,
                    None,
                    "{what}: acknowledged record missing (acknowledged up to {}); read {:?}; segments {:?}",
                    model.durable_end,
                    seen.keys().collect::<Vec<_>>(),
                    log.lock()
                        .segments
                        .iter()
                        .map(|s| (s.base_offset, s.next_offset))
                        .collect::<Vec<_>>()
                );
            }
            Kind::Compact => check_compacted(model, &seen, o.log_start, &what),
        }
        model
            .records
            .retain(|k, _| *k >= o.log_start && *k < o.log_end && seen.contains_key(k));
        model.start_seen = o.log_start;
    }

    /// The idempotent producer retries its last acknowledged batch (its ack was "lost"): the store must
    /// recognise it, with its original offsets.
    fn retry_idempotent(&mut self) {
        let Some(p) = self.models.iter().position(|m| m.kind == Kind::Idempotent) else {
            return;
        };
        let Some((bytes, base, last)) = self.models[p].last_idempotent.clone() else {
            return;
        };
        let info = self.logs[p]
            .append(bytes, self.now_ms)
            .unwrap_or_else(|e| panic!("seed {}: idempotent retry: {e}", self.seed));
        assert!(
            info.duplicate && (info.base_offset, info.last_offset) == (base, last),
            "seed {}: retried idempotent batch {base}..={last} not deduplicated: {info:?}",
            self.seed
        );
    }

    async fn step(&mut self) {
        self.now_ms += 1 + self.rng.below(2000) as i64;
        let p = self.rng.below(KINDS.len() as u64) as usize;
        match self.rng.below(100) {
            0..=34 => self.append(p, false).await,
            35..=69 => self.append(p, true).await,
            70..=79 => self.maintenance(),
            80..=84 => self.delete_records(0).await,
            85..=91 => self.restart(true).await,
            92..=95 => self.restart(false).await,
            _ => self.retry_idempotent(),
        }
        // What the step queued on the flusher runs before the next step (fewer thread interleavings
        // for a seed to replay).
        self.store().wait_flusher_idle();
        // Before any restart: a power cut during retention or DeleteRecords may keep where it was taking
        // the log start, which the store (running on, unpowered) has now reached.
        self.observe();
        // A loop: the idempotent resend at the end of a restart may lose the power again (seed 14093:
        // the next step then appended on the unpowered store, on top of the resent batch).
        while self.disk.crashed() {
            self.restart(false).await;
        }
    }

    async fn run(mut self, steps: usize) -> Stats {
        std::fs::create_dir_all(&self.options.dir).expect("data dir");
        crate::log::fs::sync_dir(self.dir.path()).expect("sync");
        self.open();
        self.arm();
        for _ in 0..steps {
            self.step().await;
        }
        self.restart(true).await;
        if let Some(store) = self.store.take() {
            let _ = store.shutdown();
        }
        self.disk.stats()
    }
}

/// Compacted partition: for every key, the last acknowledged record or a newer one of the key is there.
fn check_compacted(model: &Model, seen: &BTreeMap<i64, Kv>, log_start: i64, what: &str) {
    let mut last_acked: BTreeMap<&[u8], i64> = BTreeMap::new();
    for (offset, (key, _)) in model.records.range(log_start..model.durable_end) {
        if let Some(k) = key {
            last_acked.insert(k, *offset);
        }
    }
    for (key, offset) in last_acked {
        let kept = seen
            .range(offset..)
            .any(|(_, (k, _))| k.as_deref() == Some(key));
        assert!(
            kept,
            "{what}: key {:?} lost its acknowledged record at {offset}",
            String::from_utf8_lossy(key)
        );
    }
}

/// Every record from `from` to `end` as consumers and followers read it; panics on anything invalid.
fn read_all(log: &PartitionLog, from: i64, end: i64, what: &str) -> BTreeMap<i64, Kv> {
    let mut out = BTreeMap::new();
    let mut next = from;
    while next < end {
        let r = log
            .read_to_log_end(next, 1 + (next as usize % 3000))
            .unwrap_or_else(|e| panic!("{what}: read at {next}: {e}"));
        let mut consumed = 0usize;
        let mut progressed = false;
        let mut got = Vec::new();
        for (h, b) in split_batches(&r.records) {
            got.push((h.base_offset, h.last_offset()));
            consumed += b.len();
            batch::check_batch(&b).unwrap_or_else(|e| panic!("{what}: invalid batch: {e}"));
            let records = BatchRecords::new(&b).unwrap_or_else(|e| panic!("{what}: {e}"));
            for rec in records {
                let rec = rec.unwrap_or_else(|e| panic!("{what}: bad record: {e}"));
                if rec.offset >= from {
                    let kv = (
                        rec.key.map(|k| k.to_vec()),
                        rec.value.map(|v| v.to_vec()).unwrap_or_default(),
                    );
                    out.insert(rec.offset, kv);
                }
            }
            if h.last_offset() >= next {
                next = h.last_offset() + 1;
                progressed = true;
            }
        }
        assert_eq!(
            consumed,
            r.records.len(),
            "{what}: trailing bytes in a read"
        );
        if !progressed {
            // Nothing at or after `next` though the log end is higher: the records there were lost
            // (acks=1) and the log end is an empty segment's base. Kafka serves nothing there either;
            // acknowledged records are checked by the caller.
            assert!(
                r.records.is_empty(),
                "{what}: read at {next} went backwards: {got:?}"
            );
            break;
        }
    }
    out
}

/// Seeds `cargo test` runs (about a minute in a debug build on two busy cores, see BENCHMARKS.md);
/// soaks set `WEIR_SIM_SEEDS`.
const DEFAULT_SEEDS: u64 = 2000;

/// Steps per seed `cargo test` runs: short seeds, many of them (a seed's cost grows faster than its
/// length, as its logs and folders grow); soaks set `WEIR_SIM_STEPS`.
const DEFAULT_STEPS: usize = 40;

/// Seeds that once failed, with their step counts, run every time. 1348 (cuts between steps): a rebuilt
/// index that kept pre-crash entries on disk. 133 and 14093 (cuts inside calls) were the workload's, not
/// the store's: acks=1 records lost at one crash left a gap a later acks=all then spanned; a power cut
/// during a restart's idempotent resend went unnoticed until the next step.
const REGRESSION_SEEDS: [(u64, usize); 3] = [(1348, 120), (133, 120), (14093, 40)];

/// Seeds to run with their step counts: `WEIR_SIM_SEED` alone, else `WEIR_SIM_SEEDS` from
/// `WEIR_SIM_FIRST_SEED` plus the regression seeds.
fn seeds() -> Vec<(u64, usize)> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let steps = var("WEIR_SIM_STEPS").map_or(DEFAULT_STEPS, |s| s as usize);
    if let Some(seed) = var("WEIR_SIM_SEED") {
        return vec![(seed, steps)];
    }
    let first = var("WEIR_SIM_FIRST_SEED").unwrap_or(0);
    let count = var("WEIR_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let mut seeds: Vec<(u64, usize)> = (first..first + count).map(|s| (s, steps)).collect();
    for run in REGRESSION_SEEDS {
        if !seeds.contains(&run) {
            seeds.push(run);
        }
    }
    seeds
}

/// Runs one seed on its own runtime; says how to replay it if it fails.
fn run_seed(seed: u64, steps: usize) -> Stats {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(Sim::new(seed).run(steps))
    }));
    match outcome {
        Ok(stats) => stats,
        Err(e) => {
            eprintln!(
                "power-loss simulation failed at seed {seed}; replay with: WEIR_SIM_SEED={seed} \
                 WEIR_SIM_STEPS={steps} WEIR_SIM_MID_CALL={} cargo test --lib power_loss -- --nocapture",
                u8::from(mid_call_crashes())
            );
            std::panic::resume_unwind(e)
        }
    }
}

/// Power cuts inside seam calls (mid-flush, mid-compaction, mid-recovery), on unless
/// `WEIR_SIM_MID_CALL=0`; besides them the power goes between workload steps.
fn mid_call_crashes() -> bool {
    std::env::var("WEIR_SIM_MID_CALL").map_or(true, |v| v != "0")
}

/// Adds one run's counters to a total.
fn add(total: &mut Stats, s: &Stats) {
    total.crashes += s.crashes;
    total.crashes_mid_call += s.crashes_mid_call;
    total.calls += s.calls;
    total.file_syncs += s.file_syncs;
    total.dir_syncs += s.dir_syncs;
    total.folder_changes += s.folder_changes;
    total.changes_lost += s.changes_lost;
    total.files_torn += s.files_torn;
}

#[test]
fn power_loss_keeps_every_acknowledged_record() {
    let seeds = seeds();
    let started = std::time::Instant::now();
    // Seeds are independent: spread them over the cores.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let per_thread: Vec<Stats> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut total = Stats::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let (seed, steps) = match seeds.get(i) {
                            Some(&run) if !failed.load(std::sync::atomic::Ordering::Relaxed) => run,
                            _ => return total,
                        };
                        let run = std::panic::catch_unwind(|| run_seed(seed, steps));
                        match run {
                            Ok(s) => add(&mut total, &s),
                            Err(e) => {
                                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                std::panic::resume_unwind(e)
                            }
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut total = Stats::default();
    for s in &per_thread {
        add(&mut total, s);
    }
    eprintln!(
        "power-loss simulation: {} seeds ({} steps in all) in {:.1?}: {total:?}",
        seeds.len(),
        seeds.iter().map(|(_, steps)| steps).sum::<usize>(),
        started.elapsed()
    );
    assert!(total.crashes >= seeds.len() as u64);
    if seeds.len() >= 20 {
        assert!(total.files_torn > 0 && total.changes_lost > 0);
        assert!(total.crashes_mid_call > 0 || !mid_call_crashes());
    }
}
