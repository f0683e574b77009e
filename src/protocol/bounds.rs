//! Checks every length prefix of a request body against the bytes left in its frame before kafka-protocol
//! decodes it: the crate's decoders call `Vec::with_capacity(n)` with `n` read from the wire, so a 15-byte
//! frame announcing 2^31 elements would ask the allocator for gigabytes. Kafka's own generated readers make
//! the same check (`Tried to allocate a collection of size N, but there are only M bytes remaining`).
//!
//! The walk follows `schema.rs` (generated from the crate's decoders) without allocating; it refuses an
//! array count above the bytes left, and a string or bytes length running past the frame.

use kafka_protocol::messages::ApiKey;

use super::schema;

/// How a value is laid out on the wire.
pub enum Kind {
    /// One byte (int8, boolean).
    I8,
    /// Two bytes (int16, uint16).
    I16,
    /// Four bytes.
    I32,
    /// Eight bytes (int64, float64).
    I64,
    /// Sixteen bytes.
    Uuid,
    /// int16 length, -1 for null, then bytes.
    Str,
    /// Unsigned varint length + 1, 0 for null, then bytes.
    CompactStr,
    /// int32 length, -1 for null, then bytes.
    Bytes,
    /// Unsigned varint length + 1, 0 for null, then bytes.
    CompactBytes,
    /// int32 count, -1 for null, then the elements.
    Array(&'static Kind),
    /// Unsigned varint count + 1, 0 for null, then the elements.
    CompactArray(&'static Kind),
    /// A nested struct: index into `schema::SCHEMAS`.
    Struct(usize),
    /// int8 presence (1) then a nested struct.
    OptionStruct(usize),
}

/// One field, present in an inclusive range of versions.
pub struct Field {
    /// First and last version with this layout.
    pub versions: (i16, i16),
    /// Its layout.
    pub kind: Kind,
}

/// A known tagged field (flexible versions).
pub struct Tagged {
    /// Its tag.
    pub tag: u32,
    /// Versions in which the crate decodes it.
    pub versions: (i16, i16),
    /// Its layout.
    pub kind: Kind,
}

/// A message or nested struct.
pub struct Schema {
    /// First flexible version (tagged fields follow the fields).
    pub flexible_from: i16,
    /// Fields in wire order; a field whose layout changed across versions appears once per layout.
    pub fields: &'static [Field],
    /// Tagged fields the crate decodes.
    pub tagged: &'static [Tagged],
}

/// Nesting deeper than any message has: a schema cycle would be a generator bug, not a stack overflow.
const DEPTH_MAX: usize = 16;

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BoundsError {
    /// A count announces more elements than bytes remain.
    #[error("array of {count} elements with {remaining} bytes left")]
    Count { count: u64, remaining: usize },
    /// A length, count or field runs past the frame.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// A negative length other than -1.
    #[error("negative length {0}")]
    Negative(i64),
    /// The schema nests deeper than `DEPTH_MAX`.
    #[error("nesting too deep")]
    TooDeep,
}

/// Checks the body of an `api_key` request at `version` (the bytes after its header).
pub fn check(api_key: ApiKey, version: i16, body: &[u8]) -> Result<(), BoundsError> {
    walk(schema::request(api_key), version, body)
}

/// Checks the body of an `api_key` response at `version`, for `client` (responses from other brokers).
pub fn check_response(api_key: ApiKey, version: i16, body: &[u8]) -> Result<(), BoundsError> {
    walk(schema::response(api_key), version, body)
}

fn walk(schema: Option<&Schema>, version: i16, body: &[u8]) -> Result<(), BoundsError> {
    let Some(schema) = schema else {
        return Ok(());
    };
    let mut walk = Walk { buf: body, at: 0 };
    walk.schema(schema, version, 0)?;
    debug_assert!(walk.at <= body.len());
    Ok(())
}

/// A cursor over the body.
struct Walk<'a> {
    /// The body.
    buf: &'a [u8],
    /// Bytes consumed.
    at: usize,
}

impl Walk<'_> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&[u8], BoundsError> {
        if n > self.remaining() {
            return Err(BoundsError::Truncated(self.at));
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn int(&mut self, n: usize) -> Result<i64, BoundsError> {
        let bytes = self.take(n)?;
        let mut v: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            -1
        } else {
            0
        };
        for b in bytes {
            v = (v << 8) | i64::from(*b);
        }
        Ok(v)
    }

    /// An unsigned varint of at most 5 bytes, as the crate reads it.
    fn uvarint(&mut self) -> Result<u64, BoundsError> {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let b = self.take(1)?[0];
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(BoundsError::Truncated(self.at))
    }

    /// A count of elements that must fit in what is left (each element takes at least a byte on the
    /// wire, so a larger count can never be decoded).
    fn count(&mut self, count: u64) -> Result<u64, BoundsError> {
        let remaining = self.remaining();
        if count > remaining as u64 {
            return Err(BoundsError::Count { count, remaining });
        }
        Ok(count)
    }

    fn skip(&mut self, len: i64) -> Result<(), BoundsError> {
        match usize::try_from(len) {
            Ok(n) => self.take(n).map(|_| ()),
            Err(_) if len == -1 => Ok(()),
            Err(_) => Err(BoundsError::Negative(len)),
        }
    }

    fn schema(&mut self, s: &Schema, version: i16, depth: usize) -> Result<(), BoundsError> {
        if depth > DEPTH_MAX {
            return Err(BoundsError::TooDeep);
        }
        let has = |(lo, hi): (i16, i16)| lo <= version && version <= hi;
        for f in s.fields.iter().filter(|f| has(f.versions)) {
            self.kind(&f.kind, version, depth)?;
        }
        if version < s.flexible_from {
            return Ok(());
        }
        let fields = self.uvarint()?;
        for _ in 0..self.count(fields)? {
            let tag = self.uvarint()?;
            let size = self.uvarint()?;
            let known = s
                .tagged
                .iter()
                .find(|t| u64::from(t.tag) == tag && has(t.versions));
            match known {
                // The crate decodes a known tagged field from the stream itself, not within `size`.
                Some(t) => self.kind(&t.kind, version, depth)?,
                None => self.skip(i64::try_from(size).unwrap_or(i64::MAX))?,
            }
        }
        Ok(())
    }

    fn kind(&mut self, kind: &Kind, version: i16, depth: usize) -> Result<(), BoundsError> {
        match kind {
            Kind::I8 => self.take(1).map(|_| ()),
            Kind::I16 => self.take(2).map(|_| ()),
            Kind::I32 => self.take(4).map(|_| ()),
            Kind::I64 => self.take(8).map(|_| ()),
            Kind::Uuid => self.take(16).map(|_| ()),
            Kind::Str => {
                let len = self.int(2)?;
                self.skip(len)
            }
            Kind::Bytes => {
                let len = self.int(4)?;
                self.skip(len)
            }
            Kind::CompactStr | Kind::CompactBytes => {
                let n = self.uvarint()?;
                self.skip(i64::try_from(n).unwrap_or(i64::MAX) - 1)
            }
            Kind::Array(elem) => match self.int(4)? {
                -1 => Ok(()),
                n if n < 0 => Err(BoundsError::Negative(n)),
                n => self.elements(n.unsigned_abs(), elem, version, depth),
            },
            Kind::CompactArray(elem) => match self.uvarint()? {
                0 => Ok(()),
                n => self.elements(n - 1, elem, version, depth),
            },
            Kind::Struct(i) => self.nested(*i, version, depth),
            Kind::OptionStruct(i) => {
                if self.int(1)? == 1 {
                    self.nested(*i, version, depth)
                } else {
                    Ok(())
                }
            }
        }
    }

    fn elements(
        &mut self,
        count: u64,
        elem: &Kind,
        version: i16,
        depth: usize,
    ) -> Result<(), BoundsError> {
        for _ in 0..self.count(count)? {
            self.kind(elem, version, depth + 1)?;
        }
        Ok(())
    }

    fn nested(&mut self, i: usize, version: i16, depth: usize) -> Result<(), BoundsError> {
        match schema::SCHEMAS.get(i) {
            Some(s) => self.schema(s, version, depth + 1),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{
        CreateTopicsRequest, FetchRequest, JoinGroupRequest, MetadataRequest, ProduceRequest,
        TopicName,
    };
    use kafka_protocol::protocol::{Encodable, StrBytes};

    use super::*;

    fn name(s: &str) -> TopicName {
        TopicName(StrBytes::from_string(s.to_string()))
    }

    /// Walks `body` encoded at every version of `range` and checks the walk ends exactly at its end.
    fn walks_whole<M: Encodable>(api_key: ApiKey, range: (i16, i16), body: &M) {
        for v in range.0..=range.1 {
            let mut buf = BytesMut::new();
            body.encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("{api_key:?} v{v}: encode: {e}"));
            let schema = schema::request(api_key).expect("schema");
            let mut walk = Walk { buf: &buf, at: 0 };
            walk.schema(schema, v, 0)
                .unwrap_or_else(|e| panic!("{api_key:?} v{v}: {e}"));
            assert_eq!(walk.at, buf.len(), "{api_key:?} v{v}: walked all of it");
        }
    }

    #[test]
    fn real_requests_walk_to_their_end_at_every_version() {
        let topics = (0..3)
            .map(|i| MetadataRequestTopic::default().with_name(Some(name(&format!("t{i}")))))
            .collect();
        walks_whole(
            ApiKey::Metadata,
            (0, 13),
            &MetadataRequest::default().with_topics(Some(topics)),
        );
        let partitions: Vec<_> = (0..4)
            .map(|p| FetchPartition::default().with_partition(p))
            .collect();
        let by_name = FetchRequest::default()
            .with_topics(vec![FetchTopic::default()
                .with_topic(name("a"))
                .with_partitions(partitions.clone())])
            .with_forgotten_topics_data(vec![ForgottenTopic::default()
                .with_topic(name("b"))
                .with_partitions(vec![1, 2])]);
        walks_whole(ApiKey::Fetch, (7, 12), &by_name);
        // v13+: topic ids, and a known tagged field (cluster id).
        let by_id = FetchRequest::default()
            .with_topics(vec![FetchTopic::default()
                .with_topic_id(uuid::Uuid::from_u128(1))
                .with_partitions(partitions)])
            .with_cluster_id(Some(StrBytes::from_static_str("c")));
        walks_whole(ApiKey::Fetch, (13, 18), &by_id);
        let produce = ProduceRequest::default().with_topic_data(vec![TopicProduceData::default()
            .with_name(name("a"))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(bytes::Bytes::from_static(&[7; 100])))])]);
        walks_whole(ApiKey::Produce, (3, 12), &produce);
        let create = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(name("a"))
            .with_configs(vec![CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str("k"))
                .with_value(Some(StrBytes::from_static_str("v")))])]);
        walks_whole(ApiKey::CreateTopics, (2, 7), &create);
        let join = JoinGroupRequest::default()
            .with_protocol_type(StrBytes::from_static_str("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(StrBytes::from_static_str("range"))
                .with_metadata(bytes::Bytes::from_static(&[1, 2, 3]))]);
        walks_whole(ApiKey::JoinGroup, (0, 9), &join);
    }

    #[test]
    fn counts_beyond_the_frame_are_refused_before_decoding() {
        // Metadata v1: topic count 2^31 - 1 and one byte.
        let mut b = BytesMut::new();
        b.put_i32(0x7fff_ffff);
        b.put_u8(0);
        assert!(matches!(
            check(ApiKey::Metadata, 1, &b),
            Err(BoundsError::Count {
                count: 0x7fff_ffff,
                remaining: 1
            })
        ));
        // The same through a compact (v9+) array.
        let b = [0xff, 0xff, 0xff, 0xff, 0x07];
        assert!(matches!(
            check(ApiKey::Metadata, 12, &b),
            Err(BoundsError::Count { .. })
        ));
        // Nested: a Fetch v4 topic announcing 2^30 partitions.
        let mut b = BytesMut::new();
        b.put_slice(&[0; 17]); // replica id, max wait, min bytes, max bytes, isolation
        b.put_i32(1);
        b.put_i16(1);
        b.put_u8(b'a');
        b.put_i32(1 << 30);
        assert!(matches!(
            check(ApiKey::Fetch, 4, &b),
            Err(BoundsError::Count {
                count: 0x4000_0000,
                ..
            })
        ));
        // A string running past the frame, and a negative array count.
        let mut b = BytesMut::new();
        b.put_i32(1);
        b.put_i16(200);
        assert!(matches!(
            check(ApiKey::Metadata, 1, &b),
            Err(BoundsError::Truncated(_))
        ));
        assert!(matches!(
            check(ApiKey::Metadata, 1, &(-2i32).to_be_bytes()),
            Err(BoundsError::Negative(-2))
        ));
    }
}
