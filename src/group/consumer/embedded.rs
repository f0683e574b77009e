//! The consumer protocol embedded in classic JoinGroup/SyncGroup bytes (Kafka's
//! `ConsumerProtocolSubscription` v0–3 and `ConsumerProtocolAssignment` v0–3, non-flexible): read when a
//! classic member joins a consumer group or a classic group is upgraded, written when such a member is
//! handed its assignment or a consumer group is downgraded.

use bytes::{BufMut, Bytes, BytesMut};

use crate::group::records::{corrupt, Reader};
use crate::group::GroupError;

/// Highest ConsumerProtocolAssignment version (Kafka serializes at min(member's version, this)).
const ASSIGNMENT_VERSION_MAX: i16 = 3;

/// What a classic member's subscription says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Schema version the member wrote (its assignment is written back at this version).
    pub version: i16,
    /// Subscribed topic names.
    pub topics: Vec<String>,
    /// Partitions the member owns (v1+; empty for eager assignors, which revoke before joining).
    pub owned: Vec<(String, Vec<i32>)>,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
}

fn reader(b: &[u8]) -> Reader<'_> {
    Reader {
        buf: b,
        flexible: false,
    }
}

fn topic_partitions(r: &mut Reader<'_>) -> Result<Vec<(String, Vec<i32>)>, GroupError> {
    let mut out = Vec::new();
    for _ in 0..r.array_len()? {
        let topic = r.string()?;
        let n = r.array_len()?;
        let mut parts = Vec::with_capacity(n);
        for _ in 0..n {
            parts.push(r.i32()?);
        }
        out.push((topic, parts));
    }
    Ok(out)
}

/// Decodes a ConsumerProtocolSubscription. Versions above 3 are read as 3 (Kafka's readers ignore the
/// fields they do not know, and later versions only append fields).
pub fn decode_subscription(b: &[u8]) -> Result<Subscription, GroupError> {
    let mut r = reader(b);
    let version = r.i16()?;
    if version < 0 {
        return Err(corrupt("negative consumer protocol version"));
    }
    let mut topics = Vec::new();
    for _ in 0..r.array_len()? {
        topics.push(r.string()?);
    }
    let _user_data = r.len(true)?.map(|n| r.take(n)).transpose()?;
    let owned = if version >= 1 {
        topic_partitions(&mut r)?
    } else {
        Vec::new()
    };
    if version >= 2 {
        let _generation = r.i32()?;
    }
    let rack_id = if version >= 3 {
        r.nullable_string()?
    } else {
        None
    };
    Ok(Subscription {
        version,
        topics,
        owned,
        rack_id,
    })
}

/// Decodes the partitions of a ConsumerProtocolAssignment (empty bytes: nothing assigned).
pub fn decode_assignment(b: &[u8]) -> Result<Vec<(String, Vec<i32>)>, GroupError> {
    if b.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = reader(b);
    if r.i16()? < 0 {
        return Err(corrupt("negative consumer protocol version"));
    }
    topic_partitions(&mut r)
}

/// Encodes a ConsumerProtocolAssignment with no user data at `version` (capped at 3).
pub fn encode_assignment(version: i16, partitions: &[(String, Vec<i32>)]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(version.clamp(0, ASSIGNMENT_VERSION_MAX));
    b.put_i32(partitions.len() as i32);
    for (topic, parts) in partitions {
        b.put_i16(topic.len() as i16);
        b.put_slice(topic.as_bytes());
        b.put_i32(parts.len() as i32);
        for p in parts {
            b.put_i32(*p);
        }
    }
    b.put_i32(-1);
    b.freeze()
}

/// The schema version of a subscription (0 when unreadable, as Kafka's `deserializeVersion` fails
/// only on a buffer too short for it).
pub fn subscription_version(b: &[u8]) -> i16 {
    b.get(..2)
        .map(|v| i16::from_be_bytes([v[0], v[1]]).max(0))
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) fn encode_subscription(
    version: i16,
    topics: &[&str],
    owned: &[(&str, Vec<i32>)],
    rack: Option<&str>,
) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(version);
    b.put_i32(topics.len() as i32);
    for t in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    }
    b.put_i32(-1);
    if version >= 1 {
        b.put_i32(owned.len() as i32);
        for (t, ps) in owned {
            b.put_i16(t.len() as i16);
            b.put_slice(t.as_bytes());
            b.put_i32(ps.len() as i32);
            for p in ps {
                b.put_i32(*p);
            }
        }
    }
    if version >= 2 {
        b.put_i32(-1);
    }
    if version >= 3 {
        match rack {
            Some(r) => {
                b.put_i16(r.len() as i16);
                b.put_slice(r.as_bytes());
            }
            None => b.put_i16(-1),
        }
    }
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_of_every_version_decode() {
        for v in 0..=3 {
            let raw = encode_subscription(v, &["a", "b"], &[("a", vec![1, 2])], Some("r1"));
            let s = decode_subscription(&raw).unwrap();
            assert_eq!(s.version, v);
            assert_eq!(s.topics, vec!["a".to_string(), "b".to_string()]);
            let owned = if v >= 1 {
                vec![("a".to_string(), vec![1, 2])]
            } else {
                vec![]
            };
            assert_eq!(s.owned, owned);
            assert_eq!(s.rack_id.as_deref(), (v >= 3).then_some("r1"));
            assert_eq!(subscription_version(&raw), v);
        }
    }

    #[test]
    fn assignment_round_trips_and_truncation_is_an_error() {
        let parts = vec![("t".to_string(), vec![0, 3]), ("u".to_string(), vec![])];
        let raw = encode_assignment(7, &parts);
        assert_eq!(&raw[..2], &[0, 3], "version capped at 3");
        assert_eq!(decode_assignment(&raw).unwrap(), parts);
        assert!(decode_assignment(&raw[..raw.len() - 9]).is_err());
        assert!(decode_subscription(&[0, 1, 0, 0, 0, 9]).is_err());
        assert_eq!(decode_assignment(&[]).unwrap(), vec![]);
    }
}
