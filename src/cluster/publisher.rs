//! Hands each new metadata image to the node: first the local side effects (partition logs created,
//! deleted or reconfigured for the replicas this node hosts), then the image itself to every reader.
//! So a handler that sees a topic in the image finds its local partitions already there.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::image::MetadataImage;
use super::local::LocalReplicas;
use super::records::MetadataRecord;

/// Told of every new image after this node's replicas applied it and before readers see it, in order
/// (coordinators load and unload the partitions whose leadership moved). Must be quick: it runs while
/// images wait to be published.
pub trait ImageListener: Send + Sync + 'static {
    /// `old` became `new`.
    fn on_image(&self, old: &MetadataImage, new: &MetadataImage);
}

/// Publishes images; shared by the state machine (writer) and the broker (readers).
pub struct Publisher {
    tx: watch::Sender<Arc<MetadataImage>>,
    /// Set once the broker has opened its log store; until then (start-up replay) only the image moves.
    local: Mutex<Option<Arc<LocalReplicas>>>,
    /// Told of each image before readers see it.
    listeners: Mutex<Vec<Arc<dyn ImageListener>>>,
    /// Serialises publications with going live, so no image slips between the first full reconcile and
    /// the per-record effects after it. Held across the (blocking-thread) effects by design: images are
    /// published one at a time, in order.
    order: tokio::sync::Mutex<()>,
}

impl Publisher {
    /// A publisher holding an empty image.
    pub fn new() -> Arc<Publisher> {
        let (tx, _) = watch::channel(Arc::new(MetadataImage::default()));
        Arc::new(Publisher {
            tx,
            local: Mutex::new(None),
            listeners: Mutex::new(Vec::new()),
            order: tokio::sync::Mutex::new(()),
        })
    }

    /// Follows image changes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.tx.subscribe()
    }

    /// The current image.
    pub fn current(&self) -> Arc<MetadataImage> {
        self.tx.borrow().clone()
    }

    fn local(&self) -> Option<Arc<LocalReplicas>> {
        self.local.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Tells the listeners of `old` → `new`, then makes `new` current.
    fn send(&self, old: &MetadataImage, new: Arc<MetadataImage>) {
        let listeners = self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for l in &listeners {
            l.on_image(old, &new);
        }
        self.tx.send_replace(new);
    }

    /// Adds a listener, first told of the change from an empty image to the current one (so it misses
    /// nothing: no image is published in between).
    pub async fn add_listener(&self, listener: Arc<dyn ImageListener>) {
        let _order = self.order.lock().await;
        listener.on_image(&MetadataImage::default(), &self.current());
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
    }

    /// An image rebuilt at start-up, before the node serves: no side effects yet.
    pub fn publish_replayed(&self, image: Arc<MetadataImage>) {
        self.tx.send_replace(image);
    }

    /// An image after `records` were applied.
    pub async fn publish(&self, image: Arc<MetadataImage>, records: Vec<MetadataRecord>) {
        let _order = self.order.lock().await;
        let old = self.current();
        if let Some(local) = self.local() {
            let (before, new) = (old.clone(), image.clone());
            let run = move || local.apply(&before, &new, &records);
            if let Err(e) = tokio::task::spawn_blocking(run).await {
                tracing::error!(error = %e, "applying metadata locally failed");
            }
        }
        self.send(&old, image);
    }

    /// An image installed from a leader's snapshot.
    pub async fn publish_snapshot(&self, image: Arc<MetadataImage>) {
        let _order = self.order.lock().await;
        let old = self.current();
        if let Some(local) = self.local() {
            let new = image.clone();
            // A snapshot is committed state newer than anything applied here: what it no longer places
            // on this broker went while this broker was behind (Kafka deletes those on snapshot loads).
            let run = move || {
                local.reconcile(&new);
                local.delete_strays(&new);
            };
            if let Err(e) = tokio::task::spawn_blocking(run).await {
                tracing::error!(error = %e, "applying a metadata snapshot locally failed");
            }
        }
        self.send(&old, image);
    }

    /// Deletes the stray replicas; call once the current image has caught up with the quorum (it shows
    /// this broker's own registration).
    pub async fn delete_strays(&self) {
        let _order = self.order.lock().await;
        let Some(local) = self.local() else {
            return;
        };
        let image = self.current();
        if let Err(e) = tokio::task::spawn_blocking(move || local.delete_strays(&image)).await {
            tracing::error!(error = %e, "deleting stray replicas failed");
        }
    }

    /// Starts applying images to the local log store, beginning with the replicas of the current image.
    pub async fn go_live(&self, local: LocalReplicas) {
        let _order = self.order.lock().await;
        let local = Arc::new(local);
        *self.local.lock().unwrap_or_else(|p| p.into_inner()) = Some(local.clone());
        let image = self.current();
        if let Err(e) = tokio::task::spawn_blocking(move || local.reconcile(&image)).await {
            tracing::error!(error = %e, "opening local replicas failed");
        }
    }
}
