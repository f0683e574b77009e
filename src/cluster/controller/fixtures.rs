//! Test fixtures for the controller's decision functions: metadata images built from records.

use uuid::Uuid;

use crate::cluster::image::MetadataImage;
use crate::cluster::records::{BrokerRegistration, MetadataRecord};

/// Brokers 1..=`brokers` registered and unfenced; topic "t" with `assignments` (its partitions' replicas,
/// led by the first). Returns the image and the topic's id.
pub(super) fn image_with_topic(brokers: i32, assignments: Vec<Vec<i32>>) -> (MetadataImage, Uuid) {
    let mut image = MetadataImage::default();
    let n = brokers as u64;
    for id in 1..=brokers {
        image.apply(
            id as u64,
            &MetadataRecord::RegisterBroker(BrokerRegistration {
                id,
                incarnation: Uuid::new_v4(),
                host: "127.0.0.1".into(),
                port: 9000 + id,
                rack: None,
            }),
        );
        image.apply(
            n + id as u64,
            &MetadataRecord::UnfenceBroker {
                id,
                epoch: i64::from(id),
            },
        );
    }
    let id = Uuid::new_v4();
    image.apply(
        2 * n + 1,
        &MetadataRecord::CreateTopic {
            name: "t".into(),
            id,
            configs: Default::default(),
            internal: false,
            assignments,
        },
    );
    (image, id)
}

/// Applies `records` as one metadata log entry.
pub(super) fn apply_all(image: &mut MetadataImage, records: &[MetadataRecord]) {
    let next = image.offset + 1;
    for r in records {
        image.apply(next, r);
    }
}
