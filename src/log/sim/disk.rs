//! The simulated disk behind `log::fs` in test builds: remembers what each fsync made durable and, at a
//! simulated power cut, builds what a real disk could hold afterwards.
//!
//! The scratch folder under a registered root plays the page cache (every write lands there at once);
//! this module keeps the durable state beside it: each file's contents as of its last fsync, and the
//! folder tree as of the last folder fsyncs. Folder changes (creates, found by looking at the tree before
//! each call that may depend on them; renames; removals) queue in order; a folder fsync makes every
//! queued change up to its last one in that folder durable (a journaling filesystem commits metadata in
//! order). At the power cut a prefix of the queued changes survives, and every file not fsynced since
//! its last write survives as its durable contents, its newest, or a mix of 512-byte sectors of both at
//! any length between (torn and reordered writes; unwritten sectors read as zeros). Calls under no
//! registered root go to the kernel.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::rng::Rng;
use crate::log::fs::{Disk, RealDisk};

/// Sector size of the simulated disk: the unit in which unsynced data survives or not.
pub const SECTOR_BYTES: usize = 512;

/// Number of registered roots; 0 lets every call go straight to the kernel.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Registered roots and their state.
static ROOTS: Mutex<Vec<Arc<Mutex<State>>>> = Mutex::new(Vec::new());

/// A path relative to the root, `/`-separated (`""` is the root itself). Plain strings, not `PathBuf`s:
/// the simulator compares paths all the time and component-wise comparison dominated its cost.
type Rel = String;

/// One folder's entries as last listed: (name, is folder, inode), sorted by name.
type Listing = Vec<(String, bool, u64)>;

/// `name` inside folder `dir` (relative).
fn rel_join(dir: &str, name: &str) -> Rel {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// A folder's entries; type and inode come from the listing itself (no `stat` per entry).
fn list(dir: &Path) -> io::Result<Listing> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let is_dir = match entry.file_type() {
            Ok(t) => t.is_dir(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push((name, is_dir, entry.ino()));
    }
    out.sort_unstable();
    Ok(out)
}

/// The folder `p` is in (`""` for the root's entries).
fn rel_parent(p: &str) -> &str {
    p.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// True when `p` is `dir` or inside it.
fn under(p: &str, dir: &str) -> bool {
    p.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// An entry of the simulated folder tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    /// A file by identity (stable across renames, unlike its path; never reused, unlike inode numbers).
    File(u64),
}

/// A folder change not yet known to be durable.
#[derive(Debug, Clone)]
enum Op {
    Create(Rel, Node),
    Remove(Rel),
    Rename(Rel, Rel),
}

impl Op {
    /// True when the change is an entry of folder `dir` (relative path).
    fn touches(&self, dir: &str) -> bool {
        match self {
            Op::Create(p, _) | Op::Remove(p) => rel_parent(p) == dir,
            Op::Rename(a, b) => rel_parent(a) == dir || rel_parent(b) == dir,
        }
    }
}

/// Counters of what the simulator saw, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub file_syncs: u64,
    pub dir_syncs: u64,
    pub folder_changes: u64,
    pub crashes: u64,
    /// Power cuts that struck inside a seam call (mid-flush, mid-compaction, mid-recovery...).
    pub crashes_mid_call: u64,
    /// Seam calls seen (fsyncs, renames, removals).
    pub calls: u64,
    pub changes_lost: u64,
    pub files_torn: u64,
}

/// One root's simulated disk.
struct State {
    /// Canonical path of the root folder.
    root: PathBuf,
    /// Set at a power cut: calls pass to the kernel untracked until [`SimRoot::restore`].
    frozen: bool,
    next_id: u64,
    /// Live inode number → file identity.
    ino_to_id: HashMap<u64, u64>,
    /// The tree as the scratch folder holds it (relative paths).
    current: BTreeMap<Rel, Node>,
    /// The tree a power cut keeps for sure.
    durable: BTreeMap<Rel, Node>,
    /// Folder changes since, in order.
    pending: Vec<Op>,
    /// Each folder's listing when its entries in `current` last matched it (dropped when a change
    /// touches the folder), so an unchanged folder is not compared again.
    listings: HashMap<Rel, Listing>,
    /// Each file's contents as of its last fsync.
    synced: HashMap<u64, Vec<u8>>,
    /// Newest contents of files unlinked from the scratch folder (a lost unlink brings them back).
    unlinked: HashMap<u64, Vec<u8>>,
    /// The seam call at which the power goes (see [`SimRoot::arm`]), by count.
    crash_at: Option<u64>,
    /// Draws what survives an armed power cut.
    crash_rng: Rng,
    /// What the last power cut left, until [`SimRoot::take_image`].
    image: Option<CrashImage>,
    stats: Stats,
}

/// What a power cut left: every entry of the tree, with file contents.
pub struct CrashImage {
    entries: Vec<(Rel, Option<Vec<u8>>)>,
}

/// A registered root; unregistered on drop.
pub struct SimRoot {
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimRoot {
    /// Simulates the disk under `root` (an existing folder) from now on; what is there counts as durable.
    pub fn register(root: &Path) -> io::Result<SimRoot> {
        let mut state = State {
            root: root.canonicalize()?,
            frozen: false,
            next_id: 1,
            ino_to_id: HashMap::new(),
            current: BTreeMap::new(),
            durable: BTreeMap::new(),
            pending: Vec::new(),
            listings: HashMap::new(),
            synced: HashMap::new(),
            unlinked: HashMap::new(),
            crash_at: None,
            crash_rng: Rng::new(0),
            image: None,
            stats: Stats::default(),
        };
        state.reset_durable()?;
        let state = Arc::new(Mutex::new(state));
        ROOTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(state.clone());
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Ok(SimRoot { state })
    }

    /// Cuts the power now: freezes the simulated disk and returns what survives, drawn from `rng`.
    pub fn crash(&self, rng: &mut Rng) -> io::Result<CrashImage> {
        let mut s = lock(&self.state);
        s.scan()?;
        s.frozen = true;
        s.crash_at = None;
        s.stats.crashes += 1;
        s.image(rng)
    }

    /// Arms a power cut at the `after`-th seam call from now (whichever thread makes it), just before
    /// that call takes effect; what survives is drawn from `rng`. The image waits in
    /// [`SimRoot::take_image`]; the store runs on, its writes no longer durable, until the test notices.
    pub fn arm(&self, after: u64, rng: Rng) {
        let mut s = lock(&self.state);
        s.crash_at = Some(s.stats.calls + after.max(1));
        s.crash_rng = rng;
    }

    /// True once the power is cut (until [`SimRoot::restore`]).
    pub fn crashed(&self) -> bool {
        lock(&self.state).frozen
    }

    /// The image an armed power cut left, if it struck.
    pub fn take_image(&self) -> Option<CrashImage> {
        lock(&self.state).image.take()
    }

    /// Replaces the scratch folder by `image` (the machine restarts); all of it counts as durable.
    pub fn restore(&self, image: &CrashImage) -> io::Result<()> {
        let mut s = lock(&self.state);
        for entry in std::fs::read_dir(&s.root)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        for (rel, contents) in &image.entries {
            let path = s.root.join(rel);
            match contents {
                None => std::fs::create_dir_all(&path)?,
                Some(bytes) => std::fs::write(&path, bytes)?,
            }
        }
        s.reset_durable()?;
        s.frozen = false;
        s.crash_at = None;
        s.image = None;
        Ok(())
    }

    /// What the simulator saw so far.
    pub fn stats(&self) -> Stats {
        lock(&self.state).stats
    }
}

impl Drop for SimRoot {
    fn drop(&mut self) {
        let mut roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
        roots.retain(|r| !Arc::ptr_eq(r, &self.state));
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A fresh scratch folder for a simulated disk: in `/dev/shm` (tmpfs) when there is one. The scratch
/// folder only plays the page cache, and on tmpfs the creates, folder walks and rewrites the simulator
/// makes cost a third of their kernel time on ext4 (measured in BENCHMARKS.md).
pub fn scratch_dir() -> io::Result<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::Builder::new().prefix("weir-sim").tempdir_in(shm) {
            return Ok(dir);
        }
    }
    tempfile::tempdir()
}

/// The root simulating `path` and `path` relative to it, if any.
fn find(path: &Path) -> Option<(Arc<Mutex<State>>, Rel)> {
    if ACTIVE.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    roots.iter().find_map(|r| {
        let root = lock(r).root.clone();
        let rel = path
            .strip_prefix(&root)
            .ok()?
            .to_string_lossy()
            .into_owned();
        Some((r.clone(), rel))
    })
}

/// The path an open file was opened under (Linux `/proc`), if a root may be simulating it.
fn path_of(file: &File) -> Option<PathBuf> {
    if ACTIVE.load(Ordering::SeqCst) == 0 {
        return None;
    }
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

/// Absolute form of `path` (the store joins relative paths onto its data folder, which may be relative).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The test builds' [`Disk`]: the simulator for paths under a registered root, the kernel elsewhere.
pub(crate) struct SimDisk;

impl SimDisk {
    fn sync_file(&self, file: &File, data_only: bool) -> io::Result<()> {
        let sim = path_of(file).and_then(|p| find(&p));
        let Some((state, _)) = sim else {
            return if data_only {
                RealDisk.sync_data(file)
            } else {
                RealDisk.sync_all(file)
            };
        };
        let mut s = lock(&state);
        if s.tick()? {
            return Ok(());
        }
        s.stats.file_syncs += 1;
        let ino = file.metadata()?.ino();
        // A file sync changes no folder, so the folder walk is only needed to learn of a file not seen
        // yet (about half the seam calls are file syncs of known files: skipping the walk there is most
        // of the simulator's saving). Creates it would have found are queued at the next walk, before
        // any folder change the seam makes, so their order is unchanged.
        if !s.ino_to_id.contains_key(&ino) {
            s.scan()?;
        }
        if let Some(id) = s.ino_to_id.get(&ino).copied() {
            // Through /proc: the descriptor may be write-only.
            let bytes = std::fs::read(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
            s.synced.insert(id, bytes);
        }
        Ok(())
    }
}

impl Disk for SimDisk {
    fn sync_data(&self, file: &File) -> io::Result<()> {
        self.sync_file(file, true)
    }

    fn sync_all(&self, file: &File) -> io::Result<()> {
        self.sync_file(file, false)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let Some((state, rel)) = find(&absolute(dir)) else {
            return RealDisk.sync_dir(dir);
        };
        let mut s = lock(&state);
        if s.tick()? {
            return Ok(());
        }
        // Fails as the kernel would when the folder is missing.
        File::open(dir)?;
        s.scan()?;
        s.stats.dir_syncs += 1;
        if let Some(last) = s.pending.iter().rposition(|op| op.touches(&rel)) {
            let done: Vec<Op> = s.pending.drain(..=last).collect();
            for op in &done {
                apply(&mut s.durable, op);
            }
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (absolute(from), absolute(to));
        let (Some((state, rel_from)), Some((_, rel_to))) = (find(&from), find(&to)) else {
            return RealDisk.rename(&from, &to);
        };
        let mut s = lock(&state);
        if s.tick()? {
            return RealDisk.rename(&from, &to);
        }
        s.scan()?;
        if let Some(Node::File(id)) = s.current.get(&rel_to).copied() {
            s.keep_unlinked(id, &to);
        }
        RealDisk.rename(&from, &to)?;
        s.change(Op::Rename(rel_from, rel_to));
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let path = absolute(path);
        let Some((state, rel)) = find(&path) else {
            return RealDisk.remove_file(&path);
        };
        let mut s = lock(&state);
        if s.tick()? {
            return RealDisk.remove_file(&path);
        }
        s.scan()?;
        if let Some(Node::File(id)) = s.current.get(&rel).copied() {
            s.keep_unlinked(id, &path);
        }
        RealDisk.remove_file(&path)?;
        s.change(Op::Remove(rel));
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let path = absolute(path);
        let Some((state, rel)) = find(&path) else {
            return RealDisk.remove_dir(&path);
        };
        let mut s = lock(&state);
        if s.tick()? {
            return RealDisk.remove_dir(&path);
        }
        s.scan()?;
        RealDisk.remove_dir(&path)?;
        s.change(Op::Remove(rel));
        Ok(())
    }
}

/// Applies a folder change to a tree (a folder's entries move or go with it).
fn apply(tree: &mut BTreeMap<Rel, Node>, op: &Op) {
    match op {
        Op::Create(p, node) => {
            tree.insert(p.clone(), *node);
        }
        Op::Remove(p) => {
            tree.retain(|k, _| !under(k, p));
        }
        Op::Rename(from, to) => {
            // A source missing from this tree (its creation not kept) renames nothing.
            if !tree.contains_key(from) {
                return;
            }
            tree.retain(|k, _| !under(k, to));
            let moved: Vec<(Rel, Node)> = tree
                .iter()
                .filter(|(k, _)| under(k, from))
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            for (k, v) in moved {
                tree.remove(&k);
                tree.insert(format!("{to}{}", &k[from.len()..]), v);
            }
        }
    }
}

impl State {
    /// Counts a seam call; cuts the power if it is the armed one. True when the power is off (the call
    /// then reaches the kernel untracked, or is skipped if it is an fsync).
    fn tick(&mut self) -> io::Result<bool> {
        if self.frozen {
            return Ok(true);
        }
        self.stats.calls += 1;
        if self.crash_at == Some(self.stats.calls) {
            self.scan()?;
            self.frozen = true;
            self.crash_at = None;
            self.stats.crashes += 1;
            self.stats.crashes_mid_call += 1;
            let mut rng = self.crash_rng.clone();
            self.image = Some(self.image(&mut rng)?);
        }
        Ok(self.frozen)
    }

    /// Queues a folder change that already happened in the scratch folder.
    fn change(&mut self, op: Op) {
        match &op {
            Op::Create(p, _) | Op::Remove(p) => self.forget_listings(p),
            Op::Rename(a, b) => {
                self.forget_listings(a);
                self.forget_listings(b);
            }
        }
        apply(&mut self.current, &op);
        self.pending.push(op);
        self.stats.folder_changes += 1;
    }

    /// Drops the cached listings a change at `p` may make stale: its folder's and any inside it.
    fn forget_listings(&mut self, p: &str) {
        self.listings.remove(rel_parent(p));
        self.listings.retain(|k, _| !under(k, p));
    }

    /// Keeps the newest contents of a file about to be unlinked or replaced.
    fn keep_unlinked(&mut self, id: u64, path: &Path) {
        if let Ok(bytes) = std::fs::read(path) {
            self.unlinked.insert(id, bytes);
        }
        if let Ok(meta) = std::fs::metadata(path) {
            self.ino_to_id.remove(&meta.ino());
        }
    }

    /// Queues the folder changes made without the seam (creates, mostly) since the last look. Every
    /// folder is listed, but only one whose listing differs from the last is compared entry by entry with
    /// the tree (that comparison, not the listing, was most of the simulator's cost).
    fn scan(&mut self) -> io::Result<()> {
        let mut todo = vec![String::new()];
        while let Some(rel_dir) = todo.pop() {
            let listing = match list(&self.root.join(&rel_dir)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && !rel_dir.is_empty() => continue,
                r => r?,
            };
            for (name, is_dir, _) in &listing {
                if *is_dir {
                    todo.push(rel_join(&rel_dir, name));
                }
            }
            if self.listings.get(&rel_dir) != Some(&listing) {
                self.scan_folder(&rel_dir, &listing);
                self.listings.insert(rel_dir, listing);
            }
        }
        Ok(())
    }

    /// Queues the changes that make folder `rel_dir`'s entries in the tree match `listing`: removals
    /// first, then creates.
    fn scan_folder(&mut self, rel_dir: &str, listing: &Listing) {
        let prefix = if rel_dir.is_empty() {
            String::new()
        } else {
            format!("{rel_dir}/")
        };
        let lookup = |name: &str| {
            listing
                .binary_search_by(|(n, _, _)| n.as_str().cmp(name))
                .ok()
                .map(|i| (listing[i].1, listing[i].2))
        };
        let gone: Vec<Rel> = self
            .current
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, node)| {
                rel_parent(p) == rel_dir && !self.same(lookup(&p[prefix.len()..]).as_ref(), **node)
            })
            .map(|(p, _)| p.clone())
            .collect();
        for p in gone {
            self.change(Op::Remove(p));
        }
        for (name, is_dir, ino) in listing {
            let p = rel_join(rel_dir, name);
            if self.current.contains_key(&p) {
                continue;
            }
            let node = if *is_dir {
                Node::Dir
            } else {
                Node::File(self.id_of(*ino))
            };
            self.change(Op::Create(p, node));
        }
    }

    /// True when the scratch folder's entry is still `node`.
    fn same(&self, real: Option<&(bool, u64)>, node: Node) -> bool {
        match (real, node) {
            (Some((true, _)), Node::Dir) => true,
            (Some((false, ino)), Node::File(id)) => self.ino_to_id.get(ino) == Some(&id),
            _ => false,
        }
    }

    /// The identity of inode `ino`, new if unknown.
    fn id_of(&mut self, ino: u64) -> u64 {
        if let Some(id) = self.ino_to_id.get(&ino) {
            return *id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.ino_to_id.insert(ino, id);
        id
    }

    /// Forgets history: the scratch folder as it is now is all durable.
    fn reset_durable(&mut self) -> io::Result<()> {
        self.ino_to_id.clear();
        self.current.clear();
        self.pending.clear();
        self.listings.clear();
        self.synced.clear();
        self.unlinked.clear();
        self.scan()?;
        self.pending.clear();
        self.durable = self.current.clone();
        let files: Vec<(Rel, u64)> = self
            .current
            .iter()
            .filter_map(|(p, n)| match n {
                Node::File(id) => Some((p.clone(), *id)),
                Node::Dir => None,
            })
            .collect();
        for (p, id) in files {
            let bytes = std::fs::read(self.root.join(&p))?;
            self.synced.insert(id, bytes);
        }
        Ok(())
    }

    /// Newest contents of file `id`: the scratch folder's, or kept at its unlink.
    fn newest(&self, id: u64) -> Option<Vec<u8>> {
        let at = self
            .current
            .iter()
            .find(|(_, n)| **n == Node::File(id))
            .map(|(p, _)| self.root.join(p));
        match at {
            Some(path) => std::fs::read(path).ok(),
            None => self.unlinked.get(&id).cloned(),
        }
    }

    /// What survives the power cut.
    fn image(&mut self, rng: &mut Rng) -> io::Result<CrashImage> {
        let n = self.pending.len();
        let kept = match rng.below(4) {
            0 => 0,
            1 => n,
            _ => rng.below(n as u64 + 1) as usize,
        };
        self.stats.changes_lost += (n - kept) as u64;
        let mut tree = self.durable.clone();
        for op in &self.pending[..kept] {
            apply(&mut tree, op);
        }
        let mut entries = Vec::new();
        for (path, node) in &tree {
            // An entry whose folder was lost goes with it.
            let parent = rel_parent(path);
            if !parent.is_empty() && tree.get(parent) != Some(&Node::Dir) {
                continue;
            }
            let contents = match node {
                Node::Dir => None,
                Node::File(id) => {
                    let durable = self.synced.get(id).cloned().unwrap_or_default();
                    let newest = self.newest(*id).unwrap_or_else(|| durable.clone());
                    let (bytes, torn) = survive(&durable, &newest, rng);
                    self.stats.files_torn += u64::from(torn);
                    Some(bytes)
                }
            };
            entries.push((path.clone(), contents));
        }
        Ok(CrashImage { entries })
    }
}

/// What of a file written since its last fsync survives: the durable contents, the newest, or sectors
/// of each at a length between them (torn, reordered writes; a sector never written reads as zeros).
/// True in the second place when the result is a mix.
fn survive(durable: &[u8], newest: &[u8], rng: &mut Rng) -> (Vec<u8>, bool) {
    if durable == newest {
        return (durable.to_vec(), false);
    }
    match rng.below(4) {
        0 => return (durable.to_vec(), false),
        1 => return (newest.to_vec(), false),
        _ => {}
    }
    let len = if newest.len() > durable.len() {
        durable.len() + rng.below((newest.len() - durable.len()) as u64 + 1) as usize
    } else if rng.below(2) == 0 {
        newest.len()
    } else {
        durable.len()
    };
    let mut out = vec![0u8; len];
    for (i, sector) in out.chunks_mut(SECTOR_BYTES).enumerate() {
        let from = if rng.below(2) == 0 { durable } else { newest };
        let start = i * SECTOR_BYTES;
        if start < from.len() {
            let end = (start + sector.len()).min(from.len());
            sector[..end - start].copy_from_slice(&from[start..end]);
        }
    }
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_creates_and_data_can_be_lost_synced_ones_survive() {
        let dir = scratch_dir().expect("tmp");
        let sim = SimRoot::register(dir.path()).expect("register");
        let root = dir.path().canonicalize().expect("canon");
        let durable = root.join("durable");
        let f = File::create(&durable).expect("create");
        std::io::Write::write_all(&mut &f, &[7u8; 1500]).expect("write");
        crate::log::fs::sync_data(&f).expect("sync");
        crate::log::fs::sync_dir(&root).expect("sync dir");
        std::io::Write::write_all(&mut &f, &[9u8; 700]).expect("write more");
        std::fs::write(root.join("loose"), b"x").expect("write");
        let mut seen_loose = [false, false];
        let mut lengths = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let image = sim.crash(&mut Rng::new(seed)).expect("crash");
            let get = |name: &str| {
                image
                    .entries
                    .iter()
                    .find(|(p, _)| p == name)
                    .and_then(|(_, c)| c.clone())
            };
            let d = get("durable").expect("a synced file in a synced folder survives");
            assert!(d.len() >= 1500 && d[..1024] == [7u8; 1024]);
            lengths.insert(d.len());
            seen_loose[usize::from(get("loose").is_some())] = true;
            lock(&sim.state).frozen = false;
        }
        assert_eq!(
            seen_loose,
            [true, true],
            "an unsynced create may go or stay"
        );
        assert!(lengths.contains(&1500) && lengths.contains(&2200) && lengths.len() > 2);
    }

    #[test]
    fn a_lost_rename_keeps_the_old_name_and_contents() {
        let dir = scratch_dir().expect("tmp");
        let sim = SimRoot::register(dir.path()).expect("register");
        let root = dir.path().canonicalize().expect("canon");
        std::fs::write(root.join("a"), b"old").expect("write");
        std::fs::write(root.join("b"), b"new").expect("write");
        crate::log::fs::sync_all(&File::open(root.join("a")).expect("open")).expect("sync");
        crate::log::fs::sync_all(&File::open(root.join("b")).expect("open")).expect("sync");
        crate::log::fs::sync_dir(&root).expect("sync dir");
        crate::log::fs::rename(root.join("b"), root.join("a")).expect("rename");
        let mut outcomes = std::collections::BTreeSet::new();
        for seed in 0..100 {
            let image = sim.crash(&mut Rng::new(seed)).expect("crash");
            let names: Vec<(String, Vec<u8>)> = image
                .entries
                .iter()
                .map(|(p, c)| (p.clone(), c.clone().unwrap_or_default()))
                .collect();
            outcomes.insert(names);
            lock(&sim.state).frozen = false;
        }
        let before = vec![("a".into(), b"old".to_vec()), ("b".into(), b"new".to_vec())];
        let after = vec![("a".into(), b"new".to_vec())];
        assert_eq!(outcomes, [before, after].into_iter().collect());
    }
}
