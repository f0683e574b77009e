//! `__consumer_offsets` record codecs: Kafka's exact key/value schemas (OffsetCommitKey/Value,
//! GroupMetadataKey/Value), hand-encoded big-endian with an int16 version prefix.
//!
//! Written versions: OffsetCommitKey v1, OffsetCommitValue v3 (v1 when an explicit expire timestamp exists,
//! as Kafka does), GroupMetadataKey v2, GroupMetadataValue v3. Every version Kafka has defined (value v0–v4,
//! v4 being the flexible encoding) is readable so a log written by Kafka replays.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::GroupError;

/// Kafka's internal topic for group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The key of a `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    /// OffsetCommitKey (key versions 0 and 1): one committed offset.
    Offset {
        /// Consumer group id.
        group: String,
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
    },
    /// GroupMetadataKey (key version 2): the group's membership and generation.
    Group {
        /// Consumer group id.
        group: String,
    },
}

/// OffsetCommitValue: what a commit stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    /// The committed offset (next offset to consume).
    pub offset: i64,
    /// Leader epoch of the committed offset's record, -1 when unknown (value v3+).
    pub leader_epoch: i32,
    /// Client-supplied metadata string, round-tripped exactly.
    pub metadata: String,
    /// When the commit happened, ms since the epoch.
    pub commit_timestamp_ms: i64,
    /// Explicit expiry (OffsetCommit v2–4 `retention_time_ms`), ms since the epoch; forces value v1.
    pub expire_timestamp_ms: Option<i64>,
}

/// One member inside GroupMetadataValue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// Member id given by the coordinator.
    pub member_id: String,
    /// `group.instance.id` of a static member (value v3+).
    pub group_instance_id: Option<String>,
    /// Client id from the request header.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Rebalance timeout (value v1+; v0 records use the session timeout).
    pub rebalance_timeout_ms: i32,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// The member's metadata for the group's selected protocol.
    pub subscription: Bytes,
    /// The member's assignment from the leader.
    pub assignment: Bytes,
}

/// GroupMetadataValue: the group as of its last stored generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// Protocol type (e.g. `consumer`), empty for none.
    pub protocol_type: String,
    /// Generation id.
    pub generation: i32,
    /// Selected protocol name; `None` for an empty group.
    pub protocol: Option<String>,
    /// Leader member id; `None` for an empty group.
    pub leader: Option<String>,
    /// When the group entered its current state, ms since the epoch; -1 when unknown (v0/v1).
    pub current_state_timestamp_ms: i64,
    /// Members with their subscription and assignment.
    pub members: Vec<MemberRecord>,
}

/// Largest string or byte field accepted when decoding (records are written by us or by Kafka; anything
/// larger is corruption, and refusing it avoids a huge allocation).
const FIELD_BYTES_MAX: usize = 64 * 1024 * 1024;

fn put_string(buf: &mut BytesMut, s: &str) {
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
}

fn put_nullable_string(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(buf, s),
        None => buf.put_i16(-1),
    }
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(b.len() as i32);
    buf.put_slice(b);
}

/// Encodes an OffsetCommitKey (version 1).
pub fn encode_offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut buf = BytesMut::with_capacity(2 + 2 + group.len() + 2 + topic.len() + 4);
    buf.put_i16(1);
    put_string(&mut buf, group);
    put_string(&mut buf, topic);
    buf.put_i32(partition);
    buf.freeze()
}

/// Encodes a GroupMetadataKey (version 2).
pub fn encode_group_key(group: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + group.len());
    buf.put_i16(2);
    put_string(&mut buf, group);
    buf.freeze()
}

/// Encodes an OffsetCommitValue: version 1 when an expire timestamp is present, else version 3.
pub fn encode_offset_value(v: &OffsetCommitValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(32 + v.metadata.len());
    match v.expire_timestamp_ms {
        Some(expire) => {
            buf.put_i16(1);
            buf.put_i64(v.offset);
            put_string(&mut buf, &v.metadata);
            buf.put_i64(v.commit_timestamp_ms);
            buf.put_i64(expire);
        }
        None => {
            buf.put_i16(3);
            buf.put_i64(v.offset);
            buf.put_i32(v.leader_epoch);
            put_string(&mut buf, &v.metadata);
            buf.put_i64(v.commit_timestamp_ms);
        }
    }
    buf.freeze()
}

/// Encodes a GroupMetadataValue (version 3).
pub fn encode_group_value(v: &GroupMetadataValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(128);
    buf.put_i16(3);
    put_string(&mut buf, &v.protocol_type);
    buf.put_i32(v.generation);
    put_nullable_string(&mut buf, v.protocol.as_deref());
    put_nullable_string(&mut buf, v.leader.as_deref());
    buf.put_i64(v.current_state_timestamp_ms);
    buf.put_i32(v.members.len() as i32);
    for m in &v.members {
        put_string(&mut buf, &m.member_id);
        put_nullable_string(&mut buf, m.group_instance_id.as_deref());
        put_string(&mut buf, &m.client_id);
        put_string(&mut buf, &m.client_host);
        buf.put_i32(m.rebalance_timeout_ms);
        buf.put_i32(m.session_timeout_ms);
        put_bytes(&mut buf, &m.subscription);
        put_bytes(&mut buf, &m.assignment);
    }
    buf.freeze()
}

/// A bounds-checked big-endian reader over one record field buffer.
pub(super) struct Reader<'a> {
    /// The bytes still to read.
    pub(super) buf: &'a [u8],
    /// The value's schema is flexible (compact lengths, tagged fields).
    pub(super) flexible: bool,
}

pub(super) fn corrupt(what: &str) -> GroupError {
    GroupError::CorruptRecord(what.to_string())
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], GroupError> {
        if self.buf.len() < n {
            return Err(corrupt("truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    /// The next `N` bytes as an array (record contents come from disk: never assumed long enough).
    fn array<const N: usize>(&mut self) -> Result<[u8; N], GroupError> {
        self.take(N)?.try_into().map_err(|_| corrupt("truncated"))
    }
    pub(super) fn i16(&mut self) -> Result<i16, GroupError> {
        self.array().map(i16::from_be_bytes)
    }
    pub(super) fn i32(&mut self) -> Result<i32, GroupError> {
        self.array().map(i32::from_be_bytes)
    }
    pub(super) fn i64(&mut self) -> Result<i64, GroupError> {
        self.array().map(i64::from_be_bytes)
    }
    pub(super) fn uvarint(&mut self) -> Result<u64, GroupError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("varint too long"))
    }
    /// Length of a (nullable) string/bytes field; `None` = null.
    pub(super) fn len(&mut self, wide: bool) -> Result<Option<usize>, GroupError> {
        let len: i64 = if self.flexible {
            self.uvarint()? as i64 - 1
        } else if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        if len < 0 {
            return Ok(None);
        }
        let len = len as usize;
        if len > FIELD_BYTES_MAX {
            return Err(corrupt("field too large"));
        }
        Ok(Some(len))
    }
    pub(super) fn nullable_string(&mut self) -> Result<Option<String>, GroupError> {
        match self.len(false)? {
            None => Ok(None),
            Some(n) => String::from_utf8(self.take(n)?.to_vec())
                .map(Some)
                .map_err(|_| corrupt("string is not UTF-8")),
        }
    }
    pub(super) fn string(&mut self) -> Result<String, GroupError> {
        self.nullable_string()?
            .ok_or_else(|| corrupt("null string"))
    }
    pub(super) fn bytes(&mut self) -> Result<Bytes, GroupError> {
        let n = self.len(true)?.ok_or_else(|| corrupt("null bytes"))?;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }
    pub(super) fn array_len(&mut self) -> Result<usize, GroupError> {
        let n = self.len(true)?.ok_or_else(|| corrupt("null array"))?;
        // Each element is at least one byte: refuse counts the buffer cannot hold.
        if n > self.buf.len() {
            return Err(corrupt("array length beyond record"));
        }
        Ok(n)
    }
    /// Skips a tagged-field section (flexible versions only).
    pub(super) fn skip_tagged_fields(&mut self) -> Result<(), GroupError> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint()?;
        for _ in 0..count {
            let _tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

/// Decodes a record key. Unknown key versions (e.g. KIP-848 consumer-group records, version ≥ 3) give
/// `Ok(None)`: they are skipped on replay, as a classic-only coordinator should.
pub fn decode_key(key: &[u8]) -> Result<Option<RecordKey>, GroupError> {
    let mut r = Reader {
        buf: key,
        flexible: false,
    };
    match r.i16()? {
        0 | 1 => Ok(Some(RecordKey::Offset {
            group: r.string()?,
            topic: r.string()?,
            partition: r.i32()?,
        })),
        2 => Ok(Some(RecordKey::Group { group: r.string()? })),
        _ => Ok(None),
    }
}

/// Decodes an OffsetCommitValue of any version 0–4.
pub fn decode_offset_value(value: &[u8]) -> Result<OffsetCommitValue, GroupError> {
    let mut r = Reader {
        buf: value,
        flexible: false,
    };
    let version = r.i16()?;
    if !(0..=4).contains(&version) {
        return Err(corrupt("unknown OffsetCommitValue version"));
    }
    r.flexible = version >= 4;
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.string()?;
    let commit_timestamp_ms = r.i64()?;
    let expire_timestamp_ms = if version == 1 { Some(r.i64()?) } else { None };
    r.skip_tagged_fields()?;
    Ok(OffsetCommitValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
        expire_timestamp_ms: expire_timestamp_ms.filter(|&t| t >= 0),
    })
}

/// Decodes a GroupMetadataValue of any version 0–4.
pub fn decode_group_value(value: &[u8]) -> Result<GroupMetadataValue, GroupError> {
    let mut r = Reader {
        buf: value,
        flexible: false,
    };
    let version = r.i16()?;
    if !(0..=4).contains(&version) {
        return Err(corrupt("unknown GroupMetadataValue version"));
    }
    r.flexible = version >= 4;
    let protocol_type = r.string()?;
    let generation = r.i32()?;
    let protocol = r.nullable_string()?;
    let leader = r.nullable_string()?;
    let current_state_timestamp_ms = if version >= 2 { r.i64()? } else { -1 };
    let count = r.array_len()?;
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let member_id = r.string()?;
        let group_instance_id = if version >= 3 {
            r.nullable_string()?
        } else {
            None
        };
        let client_id = r.string()?;
        let client_host = r.string()?;
        let rebalance_timeout = if version >= 1 { Some(r.i32()?) } else { None };
        let session_timeout_ms = r.i32()?;
        let subscription = r.bytes()?;
        let assignment = r.bytes()?;
        r.skip_tagged_fields()?;
        members.push(MemberRecord {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms: rebalance_timeout.unwrap_or(session_timeout_ms),
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    r.skip_tagged_fields()?;
    Ok(GroupMetadataValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}

/// Java's `String.hashCode` (UTF-16 code units, wrapping `31 * h + c`).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The `__consumer_offsets` partition of a group: Kafka's `Utils.abs(groupId.hashCode) % partitions`
/// (where `Utils.abs(Integer.MIN_VALUE)` is 0).
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let h = java_string_hash(group_id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_key_golden_bytes() {
        // version 1, "g", "t", partition 3
        let k = encode_offset_key("g", "t", 3);
        assert_eq!(
            &k[..],
            &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3],
            "OffsetCommitKey v1"
        );
        assert_eq!(
            decode_key(&k).unwrap(),
            Some(RecordKey::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 3
            })
        );
    }

    #[test]
    fn group_key_golden_bytes() {
        let k = encode_group_key("grp");
        assert_eq!(&k[..], &[0, 2, 0, 3, b'g', b'r', b'p']);
        assert_eq!(
            decode_key(&k).unwrap(),
            Some(RecordKey::Group {
                group: "grp".into()
            })
        );
        // KIP-848 record keys (version >= 3) are skipped, not errors.
        assert_eq!(decode_key(&[0, 3, 0, 0]).unwrap(), None);
    }

    #[test]
    fn offset_value_v3_golden_bytes() {
        let v = OffsetCommitValue {
            offset: 0x0102,
            leader_epoch: 5,
            metadata: "m".into(),
            commit_timestamp_ms: 0x0a0b,
            expire_timestamp_ms: None,
        };
        let b = encode_offset_value(&v);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 3,                         // version 3
            0, 0, 0, 0, 0, 0, 0x01, 0x02, // offset
            0, 0, 0, 5,                   // leader epoch
            0, 1, b'm',                   // metadata
            0, 0, 0, 0, 0, 0, 0x0a, 0x0b, // commit timestamp
        ];
        assert_eq!(&b[..], expected);
        assert_eq!(decode_offset_value(&b).unwrap(), v);
    }

    #[test]
    fn offset_value_v1_golden_bytes_with_expire() {
        let v = OffsetCommitValue {
            offset: 7,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 1,
            expire_timestamp_ms: Some(2),
        };
        let b = encode_offset_value(&v);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 1,
            0, 0, 0, 0, 0, 0, 0, 7,
            0, 0,
            0, 0, 0, 0, 0, 0, 0, 1,
            0, 0, 0, 0, 0, 0, 0, 2,
        ];
        assert_eq!(&b[..], expected);
        assert_eq!(decode_offset_value(&b).unwrap(), v);
    }

    #[test]
    fn offset_value_v0_v2_v4_decode() {
        // v0 and v2: offset, metadata, commit timestamp.
        for version in [0u8, 2] {
            let b = [
                0, version, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, b'h', b'i', 0, 0, 0, 0, 0, 0, 0, 4,
            ];
            let v = decode_offset_value(&b).unwrap();
            assert_eq!(
                (
                    v.offset,
                    v.leader_epoch,
                    v.metadata.as_str(),
                    v.commit_timestamp_ms
                ),
                (9, -1, "hi", 4)
            );
        }
        // v4 (flexible): compact string metadata, then an empty tagged-field section.
        #[rustfmt::skip]
        let b = [
            0, 4,
            0, 0, 0, 0, 0, 0, 0, 9,
            0, 0, 0, 2,
            3, b'h', b'i',
            0, 0, 0, 0, 0, 0, 0, 4,
            0,
        ];
        let v = decode_offset_value(&b).unwrap();
        assert_eq!(
            (v.offset, v.leader_epoch, v.metadata.as_str()),
            (9, 2, "hi")
        );
    }

    #[test]
    fn group_value_v3_round_trip_and_layout() {
        let v = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 4,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp_ms: 99,
            members: vec![MemberRecord {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout_ms: 300,
                session_timeout_ms: 100,
                subscription: Bytes::from_static(b"s"),
                assignment: Bytes::from_static(b"a"),
            }],
        };
        let b = encode_group_value(&v);
        assert_eq!(&b[..2], &[0, 3]);
        assert_eq!(&b[2..12], b"\x00\x08consumer");
        assert_eq!(decode_group_value(&b).unwrap(), v);
        let empty = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: None,
            leader: None,
            current_state_timestamp_ms: 1,
            members: vec![],
        };
        let b = encode_group_value(&empty);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 3, 0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        assert_eq!(&b[..], expected);
        assert_eq!(decode_group_value(&b).unwrap(), empty);
    }

    #[test]
    fn truncated_values_are_errors_not_panics() {
        let b = encode_offset_value(&OffsetCommitValue {
            offset: 1,
            leader_epoch: 1,
            metadata: "xyz".into(),
            commit_timestamp_ms: 1,
            expire_timestamp_ms: None,
        });
        for n in 0..b.len() {
            assert!(decode_offset_value(&b[..n]).is_err());
        }
        assert!(decode_group_value(&[0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn partition_matches_java_hash_code() {
        // Values computed with java.lang.String#hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("console-consumer-12345"), {
            let mut h = 0i32;
            for c in "console-consumer-12345".chars() {
                h = h.wrapping_mul(31).wrapping_add(c as i32);
            }
            h
        });
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE → Utils.abs gives 0.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        // Negative hash codes use the absolute value.
        let h = java_string_hash("my-group-negative?");
        assert_eq!(partition_for("my-group-negative?", 50), h.abs() % 50);
    }
}
