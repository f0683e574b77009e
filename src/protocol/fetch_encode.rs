//! Encodes a Fetch response whose record sets stay in their segment files: the frame becomes a list of
//! parts (encoded bytes, then file ranges the writer sends with `sendfile`), so record bytes are never
//! copied in user space.
//!
//! The fields around the records are encoded by kafka-protocol itself, twice: once with each file-backed
//! partition's records set to null and once set to empty. The two encodings differ only in those
//! records' length prefixes (null is int32 -1 / compact 0, empty is int32 0 / compact 1: the same
//! width), which finds where each record set goes; the real length prefix and the file range are put
//! there. Everything else is byte for byte the crate's encoding.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseHeader};
use kafka_protocol::protocol::Encodable;

use super::EncodeError;
use crate::log::FileSlice;

/// First Fetch version with flexible (compact, tagged) encoding.
const FLEXIBLE_FROM: i16 = 12;

/// One piece of an encoded response frame.
#[derive(Debug, Clone)]
pub enum Part {
    /// Encoded bytes.
    Bytes(Bytes),
    /// Record batches sent from their file as they are.
    File(FileSlice),
}

/// An encoded response frame, length prefix included: one buffer, or parts to write in order.
#[derive(Debug, Clone)]
pub enum Frame {
    /// The whole frame in one buffer.
    Whole(Bytes),
    /// Encoded bytes and file ranges, in order; `len` is their total.
    Parts { parts: Vec<Part>, len: usize },
}

impl Frame {
    /// Bytes on the wire.
    pub fn len(&self) -> usize {
        match self {
            Frame::Whole(b) => b.len(),
            Frame::Parts { len, .. } => *len,
        }
    }

    /// True for a frame with nothing to write (a reply that sends nothing).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Bytes> for Frame {
    fn from(b: Bytes) -> Frame {
        Frame::Whole(b)
    }
}

/// Encodes `body` as a complete frame. Each partition whose `records` is `None` is a placeholder for the
/// next of `slices`, in the order partitions are encoded (topics, then their partitions).
pub fn encode_fetch_response(
    version: i16,
    correlation_id: i32,
    mut body: FetchResponse,
    slices: Vec<FileSlice>,
) -> Result<Frame, EncodeError> {
    let nulled = encode(version, correlation_id, &body)?;
    if slices.is_empty() {
        return frame_of(nulled).map(Frame::Whole);
    }
    for p in body
        .responses
        .iter_mut()
        .flat_map(|t| t.partitions.iter_mut())
    {
        if p.records.is_none() {
            p.records = Some(Bytes::new());
        }
    }
    let emptied = encode(version, correlation_id, &body)?;
    let flexible = version >= FLEXIBLE_FROM;
    let width = if flexible { 1 } else { 4 };
    let places = placeholders(&nulled, &emptied, width);
    if places.len() != slices.len() || nulled.len() != emptied.len() {
        return Err(EncodeError(format!(
            "fetch response has {} record placeholders for {} file ranges",
            places.len(),
            slices.len()
        )));
    }
    // The encoded bytes with each placeholder replaced by its real length prefix, cut where ranges go.
    let mut mem = BytesMut::with_capacity(nulled.len() + slices.len() * 4);
    let mut cuts = Vec::with_capacity(slices.len());
    let mut from = 0;
    for (at, slice) in places.iter().zip(&slices) {
        mem.put_slice(&nulled[from..*at]);
        let len =
            i32::try_from(slice.len).map_err(|_| EncodeError("record range over 2 GiB".into()))?;
        if flexible {
            put_uvarint(&mut mem, len as u32 + 1);
        } else {
            mem.put_i32(len);
        }
        cuts.push(mem.len());
        from = at + width;
    }
    mem.put_slice(&nulled[from..]);
    let file_bytes: u64 = slices.iter().map(|s| s.len).sum();
    let total = u64::try_from(mem.len()).unwrap_or(u64::MAX) + file_bytes;
    let body_len =
        i32::try_from(total - 4).map_err(|_| EncodeError("response over 2 GiB".into()))?;
    mem[0..4].copy_from_slice(&body_len.to_be_bytes());
    let mem = mem.freeze();
    let mut parts = Vec::with_capacity(slices.len() * 2 + 1);
    let mut start = 0;
    for (cut, slice) in cuts.into_iter().zip(slices) {
        parts.push(Part::Bytes(mem.slice(start..cut)));
        if slice.len > 0 {
            parts.push(Part::File(slice));
        }
        start = cut;
    }
    if start < mem.len() {
        parts.push(Part::Bytes(mem.slice(start..)));
    }
    Ok(Frame::Parts {
        parts,
        len: usize::try_from(total).unwrap_or(usize::MAX),
    })
}

/// Positions where the two encodings differ, each the start of a `width`-byte placeholder.
fn placeholders(a: &[u8], b: &[u8], width: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < a.len().min(b.len()) {
        if a[i] != b[i] {
            out.push(i);
            i += width;
        } else {
            i += 1;
        }
    }
    out
}

/// Header and body with a zero length prefix (set by [`frame_of`] or the caller).
fn encode(
    version: i16,
    correlation_id: i32,
    body: &FetchResponse,
) -> Result<BytesMut, EncodeError> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, ApiKey::Fetch.response_header_version(version))
        .map_err(|e| EncodeError(e.to_string()))?;
    body.encode(&mut buf, version)
        .map_err(|e| EncodeError(e.to_string()))?;
    Ok(buf)
}

/// Sets the length prefix of a whole frame.
fn frame_of(mut buf: BytesMut) -> Result<Bytes, EncodeError> {
    let len =
        i32::try_from(buf.len() - 4).map_err(|_| EncodeError("response over 2 GiB".into()))?;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint,
        PartitionData, SnapshotId,
    };
    use kafka_protocol::messages::{BrokerId, ProducerId, ResponseKind, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::handler::fetch::Fetch;
    use crate::handler::Handler;

    /// The bytes a frame puts on the wire.
    fn flatten(frame: &Frame) -> Vec<u8> {
        match frame {
            Frame::Whole(b) => b.to_vec(),
            Frame::Parts { parts, len } => {
                let mut out = Vec::new();
                for p in parts {
                    match p {
                        Part::Bytes(b) => out.extend_from_slice(b),
                        Part::File(f) => out.extend_from_slice(&f.to_bytes().expect("range")),
                    }
                }
                assert_eq!(out.len(), *len);
                out
            }
        }
    }

    /// A partition with every field set that `version` carries, records left to the caller.
    fn partition(version: i16, index: i32) -> PartitionData {
        let mut p = PartitionData::default()
            .with_partition_index(index)
            .with_error_code(if index == 3 { 1 } else { 0 })
            .with_high_watermark(1_000 + i64::from(index))
            .with_last_stable_offset(900)
            .with_log_start_offset(7)
            .with_aborted_transactions(Some(vec![AbortedTransaction::default()
                .with_producer_id(ProducerId(42))
                .with_first_offset(5)]));
        if version >= 11 {
            p = p.with_preferred_read_replica(BrokerId(-1));
        }
        if version >= 12 && index % 2 == 1 {
            p = p
                .with_diverging_epoch(EpochEndOffset::default().with_epoch(3).with_end_offset(77))
                .with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(2))
                        .with_leader_epoch(9),
                )
                .with_snapshot_id(SnapshotId::default().with_end_offset(5).with_epoch(1));
        }
        p
    }

    /// A response of two topics: file ranges of several sizes (varint widths 1 to 3 bytes), inline
    /// records and empty ones mixed; the same response with the ranges' bytes inline.
    fn responses(
        version: i16,
        file: &Arc<std::fs::File>,
    ) -> (FetchResponse, Vec<FileSlice>, FetchResponse) {
        let ranges = [(0u64, 100u64), (100, 300), (1_000, 20_000), (30_000, 40)];
        let mut slices = Vec::new();
        let mut with_ranges = Vec::new();
        let mut inline = Vec::new();
        for t in 0..2 {
            let mut a = FetchableTopicResponse::default();
            if version >= 13 {
                a.topic_id = uuid::Uuid::from_u128(0x1234 + t as u128);
            } else {
                a.topic = TopicName(StrBytes::from_string(format!("topic-{t}")));
            }
            let mut b = a.clone();
            for i in 0..4 {
                let p = partition(version, i);
                let k = (t * 4 + i) as usize;
                if k % 3 == 2 {
                    let r = Some(Bytes::from(vec![k as u8; 30]));
                    a.partitions.push(p.clone().with_records(r.clone()));
                    b.partitions.push(p.with_records(r));
                } else if k == 7 {
                    a.partitions
                        .push(p.clone().with_records(Some(Bytes::new())));
                    b.partitions.push(p.with_records(Some(Bytes::new())));
                } else {
                    let (pos, len) = ranges[slices.len() % ranges.len()];
                    let slice = FileSlice {
                        file: file.clone(),
                        pos,
                        len,
                    };
                    b.partitions.push(
                        p.clone()
                            .with_records(Some(slice.to_bytes().expect("read"))),
                    );
                    a.partitions.push(p.with_records(None));
                    slices.push(slice);
                }
            }
            with_ranges.push(a);
            inline.push(b);
        }
        let endpoints = if version >= 16 {
            vec![NodeEndpoint::default()
                .with_node_id(BrokerId(2))
                .with_host(StrBytes::from_static_str("h"))
                .with_port(9)]
        } else {
            Vec::new()
        };
        let top = |r| {
            FetchResponse::default()
                .with_throttle_time_ms(3)
                .with_session_id(if version >= 7 { 77 } else { 0 })
                .with_responses(r)
                .with_node_endpoints(endpoints.clone())
        };
        (top(with_ranges), slices, top(inline))
    }

    fn data_file() -> Arc<std::fs::File> {
        let mut tmp = tempfile::tempfile().expect("tempfile");
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 31 % 251) as u8).collect();
        tmp.write_all(&data).expect("write");
        Arc::new(tmp)
    }

    #[test]
    fn file_ranges_encode_byte_for_byte_as_the_crate_does_in_every_version_served() {
        let file = data_file();
        let (min, max) = Fetch::VERSIONS;
        for version in min..=max {
            let (body, slices, inline) = responses(version, &file);
            let n = slices.len();
            let frame = encode_fetch_response(version, 99, body, slices).expect("encode");
            assert!(
                matches!(&frame, Frame::Parts { parts, .. }
                    if parts.iter().filter(|p| matches!(p, Part::File(_))).count() == n),
                "v{version}: file ranges stay file ranges"
            );
            let expected = super::super::encode_response(
                ApiKey::Fetch,
                version,
                99,
                &ResponseKind::Fetch(inline),
            )
            .expect("crate encode");
            assert_eq!(flatten(&frame), expected.to_vec(), "v{version}");
        }
    }

    #[test]
    fn a_placeholder_without_its_range_is_an_error() {
        let (body, mut slices, _) = responses(12, &data_file());
        slices.pop();
        assert!(encode_fetch_response(12, 1, body, slices).is_err());
    }
}
