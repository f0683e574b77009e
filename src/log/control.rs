//! Transaction markers as control batches (Kafka's `EndTransactionMarker`): a batch with the
//! transactional and control attribute bits, base sequence -1, and one record whose key is
//! `version:int16 = 0, type:int16` (0 abort, 1 commit) and whose value is
//! `version:int16 = 0, coordinatorEpoch:int32`.

use bytes::Bytes;

use super::batch::{build_batch, BatchRecords, ATTR_CONTROL, ATTR_TRANSACTIONAL};
use super::producer_state::ControlType;

/// Control record key version Kafka writes and reads.
const KEY_VERSION: i16 = 0;
/// `EndTransactionMarker` value version.
const VALUE_VERSION: i16 = 0;

/// A marker batch (base offset 0; the log stamps it) closing `producer_id`'s transaction.
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    control: ControlType,
    timestamp_ms: i64,
) -> Bytes {
    let kind: i16 = match control {
        ControlType::Abort => 0,
        ControlType::Commit => 1,
    };
    let mut key = [0u8; 4];
    key[..2].copy_from_slice(&KEY_VERSION.to_be_bytes());
    key[2..].copy_from_slice(&kind.to_be_bytes());
    let mut value = [0u8; 6];
    value[..2].copy_from_slice(&VALUE_VERSION.to_be_bytes());
    value[2..].copy_from_slice(&coordinator_epoch.to_be_bytes());
    build_batch(
        &[(Some(&key[..]), Some(&value[..]))],
        timestamp_ms,
        producer_id,
        producer_epoch,
        -1,
        ATTR_TRANSACTIONAL | ATTR_CONTROL,
    )
}

/// The marker type of a control record key; `None` for an unknown type or a malformed key (Kafka
/// ignores control records it does not know).
pub fn control_type_of_key(key: &[u8]) -> Option<ControlType> {
    let kind = i16::from_be_bytes([*key.get(2)?, *key.get(3)?]);
    match kind {
        0 => Some(ControlType::Abort),
        1 => Some(ControlType::Commit),
        _ => None,
    }
}

/// A commit or abort marker as read from its control batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndMarker {
    /// Commit or abort.
    pub control: ControlType,
    /// Epoch of the transaction coordinator that wrote it (-1 when the value does not carry one: such a
    /// marker fences nothing and is fenced by nothing).
    pub coordinator_epoch: i32,
}

/// The marker type of a whole control batch (its first record's key).
pub fn control_type(batch: &Bytes) -> Option<ControlType> {
    end_marker(batch).map(|m| m.control)
}

/// The marker of a whole control batch: its first record's key and value.
pub fn end_marker(batch: &Bytes) -> Option<EndMarker> {
    let mut records = BatchRecords::new(batch).ok()?;
    if !records.header().is_control() {
        return None;
    }
    let record = records.next()?.ok()?;
    let control = control_type_of_key(record.key.as_deref()?)?;
    let coordinator_epoch = record
        .value
        .as_deref()
        .and_then(|v| Some(i32::from_be_bytes(v.get(2..6)?.try_into().ok()?)))
        .unwrap_or(-1);
    Some(EndMarker {
        control,
        coordinator_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::BatchHeader;

    #[test]
    fn marker_roundtrip_in_kafkas_layout() {
        let b = marker_batch(42, 3, 7, ControlType::Commit, 1_000);
        let h = BatchHeader::parse(&b).expect("header");
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 3, -1)
        );
        assert_eq!(h.record_count, 1);
        let r = BatchRecords::new(&b)
            .expect("records")
            .next()
            .expect("one")
            .expect("ok");
        assert_eq!(r.key.as_deref(), Some(&[0u8, 0, 0, 1][..]));
        assert_eq!(r.value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 7][..]));
        assert_eq!(control_type(&b), Some(ControlType::Commit));
        assert_eq!(
            end_marker(&b),
            Some(EndMarker {
                control: ControlType::Commit,
                coordinator_epoch: 7
            })
        );
        let a = marker_batch(42, 3, 7, ControlType::Abort, 1_000);
        assert_eq!(control_type(&a), Some(ControlType::Abort));
        assert_eq!(control_type_of_key(&[0, 0, 0, 9]), None);
        assert_eq!(control_type_of_key(&[0]), None);
    }
}
