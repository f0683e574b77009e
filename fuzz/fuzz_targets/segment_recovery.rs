//! Segment recovery: arbitrary bytes as the only segment of a partition after an unclean shutdown. Opening
//! the store must recover (truncating whatever is not a valid batch), and every batch then readable must
//! be whole and CRC-valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir::log::batch::{check_batch, split_batches};
use weir::log::{LogConfig, LogStore, StoreOptions};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tmp");
    let part = dir.path().join("t-0");
    std::fs::create_dir_all(&part).expect("mkdir");
    std::fs::write(part.join("00000000000000000000.log"), data).expect("write segment");
    let Ok(store) = LogStore::open(StoreOptions::new(dir.path())) else {
        return;
    };
    let Ok(log) = store.get_or_create("t", 0, LogConfig::default()) else {
        return;
    };
    let end = log.offsets().log_end;
    let mut next = log.offsets().log_start;
    while next < end {
        let r = log.read(next, 1 << 20).expect("read a recovered log");
        let mut last = None;
        for (h, b) in split_batches(&r.records) {
            check_batch(&b).expect("only whole, CRC-valid batches after recovery");
            last = Some(h.next_offset());
        }
        match last {
            Some(n) if n > next => next = n,
            _ => break,
        }
    }
    let _ = store.shutdown();
});
