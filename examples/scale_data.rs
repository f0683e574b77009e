//! Builds a broker data folder with one topic of many partitions, a few records each, shut down cleanly:
//! the input of `benches/scale_startup.sh` (start-up time, RSS and descriptors of `weir serve`).
//!
//! Run: `cargo run --release --example scale_data -- DIR [PARTITIONS=10000] [RECORDS=3] [TOPIC=scale]`.
//! Goes through the same cluster and log-store code as CreateTopics and Produce, so the folder is exactly
//! what a broker would have written.

use std::path::PathBuf;
use std::sync::Arc;

use weir::cluster::{Cluster, NewTopic};
use weir::log::batch::{build_batch, KeyValue};
use weir::log::{LogConfig, LogStore, StoreOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Runtime::new()?.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: scale_data DIR [PARTITIONS] [RECORDS] [TOPIC]")?,
    );
    let partitions: i32 = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let records: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let topic = args.next().unwrap_or_else(|| "scale".to_string());
    let started = std::time::Instant::now();
    let store = LogStore::open(StoreOptions::new(&dir))?;
    let options = weir::Config::default().cluster_options("127.0.0.1".into(), 9092)?;
    let cluster = Cluster::start(options, Arc::clone(&store), LogConfig::default()).await?;
    cluster
        .wait_active(std::time::Duration::from_secs(10))
        .await;
    let new = NewTopic {
        name: topic.clone(),
        partitions,
        replication_factor: 1,
        ..Default::default()
    };
    cluster
        .create_topic(new, Cluster::internal_deadline())
        .await?;
    let value = [b'x'; 100];
    let recs: Vec<KeyValue<'_>> = (0..records).map(|_| (None, Some(&value[..]))).collect();
    let now = weir::log::partition::now_ms();
    for p in 0..partitions {
        let log = cluster.partition(&topic, p).ok_or("partition missing")?;
        log.append(build_batch(&recs, now, -1, -1, -1, 0), now)?;
    }
    let created = started.elapsed();
    cluster.shutdown().await;
    store.shutdown()?;
    println!(
        "{}: {partitions} partitions x {records} records; created in {:.1?}, clean shutdown after {:.1?}",
        dir.display(),
        created,
        started.elapsed()
    );
    Ok(())
}
