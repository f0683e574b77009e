//! The `__consumer_offsets` records of consumer groups, in Kafka's schemas (group-coordinator
//! `ConsumerGroup*Key/Value.json`): keys are version-prefixed classic encodings (types 3 and 5–8), values
//! version 0 flexible encodings. PartitionMetadata (type 4, deprecated by KIP-1101) is neither written nor
//! needed: subscribed topics are re-read from the metadata image at load.

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::{Assignment, ClassicMetadata, ConsumerGroup, MemberState};
use crate::group::records::{corrupt, Reader};
use crate::group::{GroupError, OffsetsRecord as Record};

/// ConsumerGroupMetadataKey.
pub const GROUP_METADATA: i16 = 3;
/// ConsumerGroupMemberMetadataKey.
pub const MEMBER_METADATA: i16 = 5;
/// ConsumerGroupTargetAssignmentMetadataKey.
pub const TARGET_METADATA: i16 = 6;
/// ConsumerGroupTargetAssignmentMemberKey.
pub const TARGET_MEMBER: i16 = 7;
/// ConsumerGroupCurrentMemberAssignmentKey.
pub const CURRENT_ASSIGNMENT: i16 = 8;

/// A decoded consumer-group record key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Record type (3, 5, 6, 7, 8).
    pub kind: i16,
    /// Group id.
    pub group: String,
    /// Member id (types 5, 7, 8).
    pub member: Option<String>,
}

/// ConsumerGroupMemberMetadataValue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberMetadata {
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Rack id.
    pub rack_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// Subscribed regex.
    pub subscribed_topic_regex: Option<String>,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Server assignor.
    pub server_assignor: Option<String>,
    /// Tagged field 0: set for a member that uses the classic protocol.
    pub classic: Option<ClassicMetadata>,
}

/// ConsumerGroupCurrentMemberAssignmentValue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAssignment {
    /// Member epoch.
    pub member_epoch: i32,
    /// Previous member epoch.
    pub previous_member_epoch: i32,
    /// Member state.
    pub state: MemberState,
    /// Assigned partitions.
    pub assigned: Assignment,
    /// Partitions pending revocation.
    pub revoking: Assignment,
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_uvarint(b: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn put_compact_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        None => put_uvarint(b, 0),
        Some(s) => {
            put_uvarint(b, s.len() as u64 + 1);
            b.put_slice(s.as_bytes());
        }
    }
}

fn put_assignment(b: &mut BytesMut, a: &Assignment) {
    put_uvarint(b, a.len() as u64 + 1);
    for (topic, parts) in a {
        b.put_slice(topic.as_bytes());
        put_uvarint(b, parts.len() as u64 + 1);
        for p in parts {
            b.put_i32(*p);
        }
        put_uvarint(b, 0);
    }
}

fn put_compact_bytes(b: &mut BytesMut, v: &[u8]) {
    put_uvarint(b, v.len() as u64 + 1);
    b.put_slice(v);
}

/// The ClassicMemberMetadata struct as tagged field 0 carries it: a presence marker, then the struct.
fn classic_metadata(c: &ClassicMetadata) -> BytesMut {
    let mut b = BytesMut::new();
    put_uvarint(&mut b, 1);
    b.put_i32(c.session_timeout_ms);
    put_uvarint(&mut b, c.protocols.len() as u64 + 1);
    for p in &c.protocols {
        put_compact_str(&mut b, Some(&p.name));
        put_compact_bytes(&mut b, &p.metadata);
        put_uvarint(&mut b, 0);
    }
    put_uvarint(&mut b, 0);
    b
}

fn read_classic_metadata(v: &[u8]) -> Result<Option<ClassicMetadata>, GroupError> {
    let mut r = Reader {
        buf: v,
        flexible: true,
    };
    if r.take(1)?[0] != 1 {
        return Ok(None);
    }
    let session_timeout_ms = r.i32()?;
    let mut protocols = Vec::new();
    for _ in 0..r.array_len()? {
        let name = r.string()?;
        let metadata = r.bytes()?;
        r.skip_tagged_fields()?;
        protocols.push(crate::group::Protocol { name, metadata });
    }
    Ok(Some(ClassicMetadata {
        session_timeout_ms,
        protocols,
    }))
}

fn key(kind: i16, group: &str, member: Option<&str>) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(kind);
    put_str(&mut b, group);
    if let Some(m) = member {
        put_str(&mut b, m);
    }
    b.freeze()
}

fn value(fill: impl FnOnce(&mut BytesMut)) -> Option<Bytes> {
    tagged_value(fill, None)
}

/// A version-0 value with at most tagged field 0.
fn tagged_value(fill: impl FnOnce(&mut BytesMut), tag0: Option<BytesMut>) -> Option<Bytes> {
    let mut b = BytesMut::new();
    b.put_i16(0);
    fill(&mut b);
    match tag0 {
        None => put_uvarint(&mut b, 0),
        Some(field) => {
            put_uvarint(&mut b, 1);
            put_uvarint(&mut b, 0);
            put_uvarint(&mut b, field.len() as u64);
            b.put_slice(&field);
        }
    }
    Some(b.freeze())
}

/// The group's epoch record.
pub fn group_epoch_record(g: &ConsumerGroup) -> Record {
    (
        key(GROUP_METADATA, &g.group_id, None),
        value(|b| b.put_i32(g.group_epoch)),
    )
}

/// The target assignment: one record per member, then the metadata record with its epoch (Kafka writes
/// the metadata last so a partial write is never taken for a complete one).
pub fn target_records(g: &ConsumerGroup) -> Vec<Record> {
    let mut out: Vec<Record> = g
        .target
        .iter()
        .map(|(m, a)| {
            (
                key(TARGET_MEMBER, &g.group_id, Some(m)),
                value(|b| put_assignment(b, a)),
            )
        })
        .collect();
    out.push((
        key(TARGET_METADATA, &g.group_id, None),
        value(|b| b.put_i32(g.assignment_epoch)),
    ));
    out
}

/// One member's target-assignment record (a static member's new incarnation inherits its target).
pub fn target_member_record(g: &ConsumerGroup, member_id: &str) -> Option<Record> {
    let a = g.target.get(member_id)?;
    Some((
        key(TARGET_MEMBER, &g.group_id, Some(member_id)),
        value(|b| put_assignment(b, a)),
    ))
}

/// A member's metadata and current-assignment records.
pub fn member_records(g: &ConsumerGroup, member_id: &str) -> Vec<Record> {
    let Some(m) = g.members.get(member_id) else {
        return Vec::new();
    };
    let metadata = tagged_value(
        |b| {
            put_compact_str(b, m.instance_id.as_deref());
            put_compact_str(b, m.rack_id.as_deref());
            put_compact_str(b, Some(&m.client_id));
            put_compact_str(b, Some(&m.client_host));
            put_uvarint(b, m.subscribed_topic_names.len() as u64 + 1);
            for t in &m.subscribed_topic_names {
                put_compact_str(b, Some(t));
            }
            put_compact_str(b, m.subscribed_topic_regex.as_deref());
            b.put_i32(m.rebalance_timeout_ms);
            put_compact_str(b, m.server_assignor.as_deref());
        },
        m.classic.as_ref().map(classic_metadata),
    );
    let current = value(|b| {
        b.put_i32(m.member_epoch);
        b.put_i32(m.previous_member_epoch);
        b.put_i8(match m.state {
            MemberState::Stable => 0,
            MemberState::UnrevokedPartitions => 1,
            MemberState::UnreleasedPartitions => 2,
        });
        put_assignment(b, &m.assigned);
        put_assignment(b, &m.revoking);
    });
    vec![
        (key(MEMBER_METADATA, &g.group_id, Some(member_id)), metadata),
        (
            key(CURRENT_ASSIGNMENT, &g.group_id, Some(member_id)),
            current,
        ),
    ]
}

/// Tombstones for everything a removed member had (Kafka's order: current assignment, target, metadata).
pub fn member_tombstones(group: &str, member_id: &str) -> Vec<Record> {
    [CURRENT_ASSIGNMENT, TARGET_MEMBER, MEMBER_METADATA]
        .into_iter()
        .map(|k| (key(k, group, Some(member_id)), None))
        .collect()
}

/// Tombstones for an emptied group being deleted.
pub fn group_tombstones(group: &str) -> Vec<Record> {
    vec![
        (key(TARGET_METADATA, group, None), None),
        (key(GROUP_METADATA, group, None), None),
    ]
}

/// Decodes a consumer-group key; `None` for other record types.
pub fn decode_key(k: &[u8]) -> Result<Option<Key>, GroupError> {
    let mut r = Reader {
        buf: k,
        flexible: false,
    };
    let kind = r.i16()?;
    let with_member = match kind {
        GROUP_METADATA | TARGET_METADATA => false,
        MEMBER_METADATA | TARGET_MEMBER | CURRENT_ASSIGNMENT => true,
        _ => return Ok(None),
    };
    let group = r.string()?;
    let member = if with_member { Some(r.string()?) } else { None };
    Ok(Some(Key {
        kind,
        group,
        member,
    }))
}

fn value_reader(v: &[u8]) -> Result<Reader<'_>, GroupError> {
    let mut r = Reader {
        buf: v,
        flexible: false,
    };
    if r.i16()? != 0 {
        return Err(corrupt("unknown consumer group record value version"));
    }
    r.flexible = true;
    Ok(r)
}

/// Decodes the int32 of a ConsumerGroupMetadataValue or TargetAssignmentMetadataValue.
pub fn decode_epoch(v: &[u8]) -> Result<i32, GroupError> {
    value_reader(v)?.i32()
}

fn read_assignment(r: &mut Reader<'_>) -> Result<Assignment, GroupError> {
    let mut a = Assignment::new();
    for _ in 0..r.array_len()? {
        let id = Uuid::from_slice(r.take(16)?).map_err(|_| corrupt("topic id"))?;
        let n = r.array_len()?;
        let parts = a.entry(id).or_default();
        for _ in 0..n {
            parts.insert(r.i32()?);
        }
        r.skip_tagged_fields()?;
    }
    Ok(a)
}

/// Decodes a TargetAssignmentMemberValue.
pub fn decode_target(v: &[u8]) -> Result<Assignment, GroupError> {
    read_assignment(&mut value_reader(v)?)
}

/// Decodes a MemberMetadataValue.
pub fn decode_member(v: &[u8]) -> Result<MemberMetadata, GroupError> {
    let mut r = value_reader(v)?;
    let instance_id = r.nullable_string()?;
    let rack_id = r.nullable_string()?;
    let client_id = r.string()?;
    let client_host = r.string()?;
    let mut subscribed_topic_names = Vec::new();
    for _ in 0..r.array_len()? {
        subscribed_topic_names.push(r.string()?);
    }
    let subscribed_topic_regex = r.nullable_string()?;
    let rebalance_timeout_ms = r.i32()?;
    let server_assignor = r.nullable_string()?;
    let mut classic = None;
    for _ in 0..r.uvarint()? {
        let tag = r.uvarint()?;
        let size = usize::try_from(r.uvarint()?).map_err(|_| corrupt("tagged field size"))?;
        let field = r.take(size)?;
        if tag == 0 {
            classic = read_classic_metadata(field)?;
        }
    }
    Ok(MemberMetadata {
        instance_id,
        rack_id,
        client_id,
        client_host,
        subscribed_topic_names,
        subscribed_topic_regex,
        rebalance_timeout_ms,
        server_assignor,
        classic,
    })
}

/// Decodes a CurrentMemberAssignmentValue.
pub fn decode_current(v: &[u8]) -> Result<CurrentAssignment, GroupError> {
    let mut r = value_reader(v)?;
    let member_epoch = r.i32()?;
    let previous_member_epoch = r.i32()?;
    let state = match r.take(1)?[0] {
        1 => MemberState::UnrevokedPartitions,
        2 => MemberState::UnreleasedPartitions,
        _ => MemberState::Stable,
    };
    Ok(CurrentAssignment {
        member_epoch,
        previous_member_epoch,
        state,
        assigned: read_assignment(&mut r)?,
        revoking: read_assignment(&mut r)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::consumer::ConsumerMember;

    #[test]
    fn records_round_trip() {
        let t = Uuid::from_bytes([3; 16]);
        let mut g = ConsumerGroup::new("g".into());
        g.group_epoch = 4;
        g.assignment_epoch = 4;
        let mut m = ConsumerMember::new("m1".into());
        m.instance_id = Some("i".into());
        m.client_id = "c".into();
        m.client_host = "/h".into();
        m.subscribed_topic_names = vec!["a".into(), "b".into()];
        m.subscribed_topic_regex = Some("t.*".into());
        m.rebalance_timeout_ms = 300_000;
        m.server_assignor = Some("range".into());
        m.member_epoch = 4;
        m.previous_member_epoch = 3;
        m.state = MemberState::UnrevokedPartitions;
        m.assigned = Assignment::from([(t, [0, 2].into())]);
        m.revoking = Assignment::from([(t, [1].into())]);
        g.members.insert("m1".into(), m.clone());
        g.target
            .insert("m1".into(), Assignment::from([(t, [0, 2, 5].into())]));

        let recs = member_records(&g, "m1");
        let k = decode_key(&recs[0].0).unwrap().unwrap();
        assert_eq!(
            (k.kind, k.group.as_str(), k.member.as_deref()),
            (MEMBER_METADATA, "g", Some("m1"))
        );
        let md = decode_member(recs[0].1.as_ref().unwrap()).unwrap();
        assert_eq!(md.instance_id.as_deref(), Some("i"));
        assert_eq!(md.subscribed_topic_names, m.subscribed_topic_names);
        assert_eq!(md.subscribed_topic_regex, m.subscribed_topic_regex);
        assert_eq!(md.rebalance_timeout_ms, 300_000);
        assert_eq!(md.server_assignor.as_deref(), Some("range"));
        assert_eq!(md.classic, None);
        let cur = decode_current(recs[1].1.as_ref().unwrap()).unwrap();
        assert_eq!(
            (cur.member_epoch, cur.previous_member_epoch, cur.state),
            (4, 3, MemberState::UnrevokedPartitions)
        );
        assert_eq!(
            (cur.assigned, cur.revoking),
            (m.assigned.clone(), m.revoking.clone())
        );

        let target = target_records(&g);
        assert_eq!(
            decode_target(target[0].1.as_ref().unwrap()).unwrap(),
            g.target["m1"]
        );
        assert_eq!(
            decode_key(&target[1].0).unwrap().unwrap().kind,
            TARGET_METADATA
        );
        assert_eq!(decode_epoch(target[1].1.as_ref().unwrap()).unwrap(), 4);
        assert_eq!(
            decode_epoch(group_epoch_record(&g).1.as_ref().unwrap()).unwrap(),
            4
        );
    }

    #[test]
    fn classic_member_metadata_is_tagged_field_zero() {
        let mut g = ConsumerGroup::new("g".into());
        let mut m = ConsumerMember::new("m".into());
        m.classic = Some(ClassicMetadata {
            session_timeout_ms: 45_000,
            protocols: vec![crate::group::Protocol {
                name: "range".into(),
                metadata: Bytes::from_static(&[0, 3, 9]),
            }],
        });
        g.members.insert("m".into(), m.clone());
        let v = member_records(&g, "m")[0].1.clone().unwrap();
        // Kafka's generated writer: 1 tagged field, tag 0, size, marker 1, int32, array of 1 + 1, "range",
        // 3 bytes + 1, empty tagged sections of the element and the struct.
        let tail: &[u8] = &[
            1, 0, 18, 1, 0, 0, 0xaf, 0xc8, 2, 6, b'r', b'a', b'n', b'g', b'e', 4, 0, 3, 9, 0, 0,
        ];
        assert!(v.ends_with(tail), "{:?}", &v[..]);
        assert_eq!(decode_member(&v).unwrap().classic, m.classic);
    }

    #[test]
    fn layout_matches_kafka_schema() {
        // ConsumerGroupMetadataKey: int16 type 3, int16-length group id.
        let mut g = ConsumerGroup::new("ab".into());
        g.group_epoch = 7;
        let (k, v) = group_epoch_record(&g);
        assert_eq!(&k[..], &[0, 3, 0, 2, b'a', b'b']);
        // Value: int16 version 0, int32 epoch, empty tagged-field section.
        assert_eq!(&v.unwrap()[..], &[0, 0, 0, 0, 0, 7, 0]);
    }

    #[test]
    fn truncated_values_are_errors() {
        assert!(decode_current(&[0, 0, 0, 0]).is_err());
        assert!(decode_member(&[0, 0, 5]).is_err());
        assert!(decode_target(&[0, 1]).is_err());
        assert_eq!(decode_key(&[0, 1, 0, 0]).unwrap(), None);
    }
}
