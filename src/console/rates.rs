//! Produce-rate history per topic for the topics page's sparklines: whoever serves the console feeds it
//! each topic's running total every few seconds — a broker its own records-in counters (no request on
//! its Kafka listener), `weir console` the sum of each topic's high watermarks read with ListOffsets.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::client::{Client, ClientError};

/// Samples kept per topic …
const SAMPLES_MAX: usize = 60;
/// … taken this often.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// Records/s per topic, oldest first, and the totals of the last sample.
#[derive(Default)]
pub struct Rates {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    series: BTreeMap<String, VecDeque<f64>>,
    last: BTreeMap<String, u64>,
}

impl Rates {
    /// Records one sample: each topic's running total (records appended since some fixed point). Topics
    /// gone from `totals` are dropped; a topic's first sample counts as 0/s.
    pub fn record(&self, totals: BTreeMap<String, u64>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Inner { series, last } = &mut *inner;
        series.retain(|t, _| totals.contains_key(t));
        for (topic, total) in &totals {
            let before = last.get(topic).copied().unwrap_or(*total);
            let s = series.entry(topic.clone()).or_default();
            s.push_back(total.saturating_sub(before) as f64 / SAMPLE_INTERVAL.as_secs_f64());
            if s.len() > SAMPLES_MAX {
                s.pop_front();
            }
        }
        *last = totals;
    }

    /// The series of every topic, oldest sample first.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<f64>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .series
            .iter()
            .map(|(t, v)| (t.clone(), v.iter().copied().collect()))
            .collect()
    }
}

/// Samples a cluster through the Kafka protocol until `shutdown`: every topic's summed high watermarks
/// (one Metadata and one ListOffsets per leader each time), reconnecting after a failure.
pub async fn sample_remote(
    bootstrap: String,
    timeout: Duration,
    rates: std::sync::Arc<Rates>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    let mut client: Option<Client> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if client.is_none() {
            client = Client::connect(&bootstrap, timeout).await.ok();
        }
        let Some(c) = client.as_mut() else {
            continue;
        };
        match totals(c).await {
            Ok(t) => rates.record(t),
            Err(e) => {
                tracing::debug!(error = %e, "rate sample failed; reconnecting");
                client = None;
            }
        }
    }
}

/// Each topic's high watermarks summed.
async fn totals(c: &mut Client) -> Result<BTreeMap<String, u64>, ClientError> {
    let topics = c.topics(None).await?;
    let ends: HashMap<(String, i32), i64> =
        c.offsets_of(&topics, crate::client::admin::LATEST).await?;
    let mut out: BTreeMap<String, u64> = topics.iter().map(|t| (t.name.clone(), 0)).collect();
    for ((topic, _), end) in ends {
        if let Some(sum) = out.get_mut(&topic) {
            *sum += u64::try_from(end).unwrap_or(0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_deltas_per_second_and_drop_deleted_topics() {
        let r = Rates::default();
        let totals = |v: &[(&str, u64)]| v.iter().map(|(t, n)| (t.to_string(), *n)).collect();
        r.record(totals(&[("a", 100), ("b", 7)]));
        r.record(totals(&[("a", 150), ("b", 7)]));
        let s = r.snapshot();
        assert_eq!(s["a"], vec![0.0, 50.0 / SAMPLE_INTERVAL.as_secs_f64()]);
        assert_eq!(s["b"], vec![0.0, 0.0]);
        r.record(totals(&[("a", 150)]));
        assert!(!r.snapshot().contains_key("b"));
    }
}
