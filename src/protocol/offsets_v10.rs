//! OffsetCommit v10 and OffsetFetch v10 requests (KIP-848: every topic named by its id, never by name),
//! which kafka-protocol 0.18 does not decode: read here into the crate's own request types (`topic_id`
//! set, `name` empty), so one handler serves every version. The responses need nothing hand-written: the
//! crate's response types already encode v10 (`topic_id` in place of the name).
//!
//! Layout (Kafka's `OffsetCommitRequest.json` / `OffsetFetchRequest.json`, v10 flexible): v9's fields
//! with the topic entry's `Name` (versions 0–9 / 8–9) replaced by `TopicId` (uuid, 10+). Every count
//! is checked against the bytes left before anything is allocated for it, as `bounds` does for the
//! crate-decoded versions. The crate's primitive decoders are private, so the primitives are here; the
//! one struct whose layout v10 kept (OffsetCommit's partition) is decoded by the crate at v9.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{ApiKey, GroupId, OffsetCommitRequest, OffsetFetchRequest};
use kafka_protocol::protocol::{Decodable, StrBytes};
use uuid::Uuid;

/// The one version decoded here.
pub const VERSION: i16 = 10;

/// The partition entry of OffsetCommit v10 is v9's, so the crate decodes it at this version.
const COMMIT_PARTITION_VERSION: i16 = 9;

/// Whether `api_key` at `version` is decoded here rather than by the crate.
pub fn handles(api_key: ApiKey, version: i16) -> bool {
    version == VERSION && matches!(api_key, ApiKey::OffsetCommit | ApiKey::OffsetFetch)
}

/// Why a v10 body did not parse.
#[derive(Debug, thiserror::Error)]
pub enum V10Error {
    /// A primitive (string, int, uuid, varint) did not parse; the crate's message.
    #[error("{0}")]
    Field(String),
    /// A count announces more elements than bytes remain.
    #[error("array of {count} elements with {remaining} bytes left")]
    Count { count: u64, remaining: usize },
    /// A non-nullable string or array was sent as null.
    #[error("non-nullable field {0} is null")]
    Null(&'static str),
}

fn field(e: impl std::fmt::Display) -> V10Error {
    V10Error::Field(format!("{e:#}"))
}

fn int32(buf: &mut Bytes) -> Result<i32, V10Error> {
    buf.try_get_i32().map_err(field)
}

fn boolean(buf: &mut Bytes) -> Result<bool, V10Error> {
    Ok(buf.try_get_u8().map_err(field)? != 0)
}

fn uuid(buf: &mut Bytes) -> Result<Uuid, V10Error> {
    buf.try_get_u128().map(Uuid::from_u128).map_err(field)
}

/// An unsigned varint of at most 5 bytes (a `u32`), as Kafka's `ByteUtils.readUnsignedVarint`.
fn varint(buf: &mut Bytes) -> Result<u32, V10Error> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let b = buf.try_get_u8().map_err(field)?;
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(V10Error::Field("varint longer than 5 bytes".into()))
}

/// A compact nullable string (length + 1, 0 for null), zero-copy from the frame.
fn compact_nullable_str(buf: &mut Bytes) -> Result<Option<StrBytes>, V10Error> {
    let Some(len) = varint(buf)?.checked_sub(1) else {
        return Ok(None);
    };
    if len as usize > buf.remaining() {
        return Err(V10Error::Field(format!(
            "string of {len} bytes with {} left",
            buf.remaining()
        )));
    }
    StrBytes::from_utf8(buf.split_to(len as usize))
        .map(Some)
        .map_err(|e| V10Error::Field(format!("invalid utf-8: {e}")))
}

fn compact_str(buf: &mut Bytes, name: &'static str) -> Result<StrBytes, V10Error> {
    compact_nullable_str(buf)?.ok_or(V10Error::Null(name))
}

/// Reads a compact array count (`None` for null); each element takes at least one byte, so a count above
/// the bytes left is refused before a `Vec` is sized by it.
fn compact_count(buf: &mut Bytes) -> Result<Option<usize>, V10Error> {
    let Some(count) = varint(buf)?.checked_sub(1) else {
        return Ok(None);
    };
    if count as usize > buf.remaining() {
        return Err(V10Error::Count {
            count: u64::from(count),
            remaining: buf.remaining(),
        });
    }
    Ok(Some(count as usize))
}

fn required_count(buf: &mut Bytes, name: &'static str) -> Result<usize, V10Error> {
    compact_count(buf)?.ok_or(V10Error::Null(name))
}

/// A flexible struct's tagged fields; none of these structs has a known tag at v10, so all are kept
/// as unknown (as the crate does).
fn tagged_fields(buf: &mut Bytes) -> Result<BTreeMap<i32, Bytes>, V10Error> {
    let n = varint(buf)?;
    if n as usize > buf.remaining() {
        return Err(V10Error::Count {
            count: u64::from(n),
            remaining: buf.remaining(),
        });
    }
    let mut out = BTreeMap::new();
    for _ in 0..n {
        let tag = varint(buf)?;
        let size = varint(buf)?;
        if size as usize > buf.remaining() {
            return Err(V10Error::Field(format!(
                "tagged field {tag} of {size} bytes with {} left",
                buf.remaining()
            )));
        }
        out.insert(tag as i32, buf.split_to(size as usize));
    }
    Ok(out)
}

/// Decodes an OffsetCommit v10 body (after the request header).
pub fn decode_offset_commit(buf: &mut Bytes) -> Result<OffsetCommitRequest, V10Error> {
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(compact_str(buf, "GroupId")?);
    req.generation_id_or_member_epoch = int32(buf)?;
    req.member_id = compact_str(buf, "MemberId")?;
    req.group_instance_id = compact_nullable_str(buf)?;
    let topics = required_count(buf, "Topics")?;
    req.topics = Vec::with_capacity(topics);
    for _ in 0..topics {
        let mut topic = OffsetCommitRequestTopic::default();
        topic.topic_id = uuid(buf)?;
        let partitions = required_count(buf, "Partitions")?;
        topic.partitions = Vec::with_capacity(partitions);
        for _ in 0..partitions {
            topic.partitions.push(
                OffsetCommitRequestPartition::decode(buf, COMMIT_PARTITION_VERSION)
                    .map_err(field)?,
            );
        }
        topic.unknown_tagged_fields = tagged_fields(buf)?;
        req.topics.push(topic);
    }
    req.unknown_tagged_fields = tagged_fields(buf)?;
    Ok(req)
}

/// Decodes an OffsetFetch v10 body (after the request header).
pub fn decode_offset_fetch(buf: &mut Bytes) -> Result<OffsetFetchRequest, V10Error> {
    let mut req = OffsetFetchRequest::default();
    let groups = required_count(buf, "Groups")?;
    req.groups = Vec::with_capacity(groups);
    for _ in 0..groups {
        req.groups.push(decode_fetch_group(buf)?);
    }
    req.require_stable = boolean(buf)?;
    req.unknown_tagged_fields = tagged_fields(buf)?;
    Ok(req)
}

fn decode_fetch_group(buf: &mut Bytes) -> Result<OffsetFetchRequestGroup, V10Error> {
    let mut group = OffsetFetchRequestGroup::default();
    group.group_id = GroupId(compact_str(buf, "GroupId")?);
    group.member_id = compact_nullable_str(buf)?;
    group.member_epoch = int32(buf)?;
    group.topics = match compact_count(buf)? {
        None => None,
        Some(n) => {
            let mut topics = Vec::with_capacity(n);
            for _ in 0..n {
                let mut topic = OffsetFetchRequestTopics::default();
                topic.topic_id = uuid(buf)?;
                let count = required_count(buf, "PartitionIndexes")?;
                topic.partition_indexes = Vec::with_capacity(count);
                for _ in 0..count {
                    topic.partition_indexes.push(int32(buf)?);
                }
                topic.unknown_tagged_fields = tagged_fields(buf)?;
                topics.push(topic);
            }
            Some(topics)
        }
    };
    group.unknown_tagged_fields = tagged_fields(buf)?;
    Ok(group)
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
    };
    use kafka_protocol::messages::{OffsetCommitResponse, OffsetFetchResponse};
    use kafka_protocol::protocol::Encodable;

    use super::*;

    const TOPIC: Uuid = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);

    fn compact_str(b: &mut BytesMut, s: Option<&str>) {
        match s {
            None => b.put_u8(0),
            Some(s) => {
                b.put_u8(s.len() as u8 + 1);
                b.put_slice(s.as_bytes());
            }
        }
    }

    /// OffsetCommit v10 as Kafka's JSON lays it out, one topic id with two partitions.
    fn commit_body() -> Bytes {
        let mut b = BytesMut::new();
        compact_str(&mut b, Some("g"));
        b.put_i32(7); // member epoch
        compact_str(&mut b, Some("m"));
        compact_str(&mut b, None); // group instance id
        b.put_u8(2); // one topic
        b.put_slice(TOPIC.as_bytes());
        b.put_u8(3); // two partitions
        for (p, o, meta) in [(0, 42i64, Some("x")), (1, 7, None)] {
            b.put_i32(p);
            b.put_i64(o);
            b.put_i32(5); // leader epoch
            compact_str(&mut b, meta);
            b.put_u8(0);
        }
        b.put_u8(0); // topic tags
        b.put_u8(0); // request tags
        b.freeze()
    }

    #[test]
    fn offset_commit_v10_decodes_topic_ids() {
        let mut body = commit_body();
        let req = decode_offset_commit(&mut body).expect("decodes");
        assert!(!body.has_remaining());
        assert_eq!(req.group_id.as_str(), "g");
        assert_eq!(req.generation_id_or_member_epoch, 7);
        assert_eq!(req.member_id.as_str(), "m");
        assert_eq!(req.group_instance_id, None);
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].topic_id, TOPIC);
        assert!(req.topics[0].name.is_empty());
        let parts: Vec<_> = req.topics[0]
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata.as_ref().map(|m| m.to_string()),
                )
            })
            .collect();
        assert_eq!(
            parts,
            vec![(0, 42, 5, Some("x".into())), (1, 7, 5, None)],
            "partitions"
        );
    }

    #[test]
    fn offset_fetch_v10_decodes_topic_ids_and_null_topics() {
        let mut b = BytesMut::new();
        b.put_u8(3); // two groups
        compact_str(&mut b, Some("g"));
        compact_str(&mut b, Some("m"));
        b.put_i32(4);
        b.put_u8(2); // one topic
        b.put_slice(TOPIC.as_bytes());
        b.put_u8(3);
        b.put_i32(0);
        b.put_i32(2);
        b.put_u8(0);
        b.put_u8(0);
        compact_str(&mut b, Some("h"));
        compact_str(&mut b, None);
        b.put_i32(-1);
        b.put_u8(0); // null topics: every committed partition
        b.put_u8(0);
        b.put_u8(1); // require stable
        b.put_u8(0);
        let mut body = b.freeze();
        let req = decode_offset_fetch(&mut body).expect("decodes");
        assert!(!body.has_remaining());
        assert!(req.require_stable);
        assert_eq!(req.groups.len(), 2);
        let g = &req.groups[0];
        assert_eq!(
            (g.group_id.as_str(), g.member_id.as_deref(), g.member_epoch),
            ("g", Some("m"), 4)
        );
        let topics = g.topics.as_ref().expect("topics");
        assert_eq!(topics[0].topic_id, TOPIC);
        assert_eq!(topics[0].partition_indexes, vec![0, 2]);
        let h = &req.groups[1];
        assert_eq!((h.member_id.as_deref(), h.member_epoch), (None, -1));
        assert!(h.topics.is_none());
    }

    /// Truncated bodies and counts above the bytes left are errors, never panics or huge allocations.
    #[test]
    fn truncated_and_oversized_counts_are_refused() {
        let full = commit_body();
        for cut in 0..full.len() {
            let mut body = full.slice(..cut);
            assert!(decode_offset_commit(&mut body).is_err(), "cut at {cut}");
        }
        let mut b = BytesMut::new();
        b.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // 2^32 - 2 groups
        let mut body = b.freeze();
        assert!(matches!(
            decode_offset_fetch(&mut body),
            Err(V10Error::Count { .. })
        ));
    }

    /// The crate's v10 response encoding is Kafka's: v9's layout with the 16-byte topic id in place of
    /// the topic name (checked byte for byte against both).
    #[test]
    fn crate_encodes_v10_responses_with_topic_ids() {
        let mut topic = OffsetCommitResponseTopic::default();
        topic.topic_id = TOPIC;
        topic.name = kafka_protocol::messages::TopicName(StrBytes::from_static_str("t"));
        let mut part = OffsetCommitResponsePartition::default();
        part.partition_index = 1;
        part.error_code = 100;
        topic.partitions = vec![part];
        let mut resp = OffsetCommitResponse::default();
        resp.topics = vec![topic];
        let mut v10 = BytesMut::new();
        resp.encode(&mut v10, 10).expect("v10");
        let mut v9 = BytesMut::new();
        resp.encode(&mut v9, 9).expect("v9");
        let mut want = BytesMut::new();
        want.put_i32(0); // throttle
        want.put_u8(2);
        want.put_slice(TOPIC.as_bytes());
        want.put_u8(2);
        want.put_i32(1);
        want.put_i16(100);
        want.put_u8(0);
        want.put_u8(0);
        want.put_u8(0);
        assert_eq!(&v10[..], &want[..]);
        // v9 carries the name ("t": length 2, one byte) where v10 carries the id.
        assert_eq!(&v9[..5], &want[..5]);
        assert_eq!(&v9[5..7], &[2, b't']);
        assert_eq!(&v9[7..], &want[21..]);

        let mut p = OffsetFetchResponsePartitions::default();
        p.partition_index = 0;
        p.committed_offset = 42;
        p.committed_leader_epoch = 3;
        p.metadata = Some(StrBytes::from_static_str("x"));
        let mut t = OffsetFetchResponseTopics::default();
        t.topic_id = TOPIC;
        t.partitions = vec![p];
        let mut g = OffsetFetchResponseGroup::default();
        g.group_id = GroupId(StrBytes::from_static_str("g"));
        g.topics = vec![t];
        let mut resp = OffsetFetchResponse::default();
        resp.groups = vec![g];
        let mut got = BytesMut::new();
        resp.encode(&mut got, 10).expect("v10");
        let mut want = BytesMut::new();
        want.put_i32(0); // throttle
        want.put_u8(2); // one group
        want.put_slice(&[2, b'g']);
        want.put_u8(2); // one topic
        want.put_slice(TOPIC.as_bytes());
        want.put_u8(2); // one partition
        want.put_i32(0);
        want.put_i64(42);
        want.put_i32(3);
        want.put_slice(&[2, b'x']);
        want.put_i16(0);
        want.put_u8(0); // partition tags
        want.put_u8(0); // topic tags
        want.put_i16(0); // group error
        want.put_u8(0); // group tags
        want.put_u8(0); // response tags
        assert_eq!(&got[..], &want[..]);
    }
}
