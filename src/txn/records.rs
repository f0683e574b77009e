//! `__transaction_state` record codecs: Kafka's TransactionLogKey (v0) and TransactionLogValue (v0, and
//! the flexible v1 for reading), big-endian with an int16 version prefix.
//!
//! Weir writes value v0, as Kafka does until `transaction.version` 1 is enabled, so a log written by
//! either replays in the other.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};

use super::error::TxnError;
use super::state::TxnState;

/// TransactionLogValue: a transactional id's producer and transaction as of its last transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogValue {
    /// Producer id in use by the transactional id.
    pub producer_id: i64,
    /// Epoch of that producer id.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms` the producer asked for.
    pub timeout_ms: i32,
    /// Transaction state.
    pub state: TxnState,
    /// Partitions in the transaction (empty, and written as null, in state Empty).
    pub partitions: BTreeSet<(String, i32)>,
    /// Last transition, ms since the epoch.
    pub last_update_ms: i64,
    /// When the ongoing transaction started, -1 when none.
    pub start_ms: i64,
}

fn put_string(buf: &mut BytesMut, s: &str) {
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
}

/// TransactionLogKey v0.
pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + transactional_id.len());
    buf.put_i16(0);
    put_string(&mut buf, transactional_id);
    buf.freeze()
}

/// TransactionLogValue v0.
pub fn encode_value(v: &TxnLogValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(0);
    buf.put_i64(v.producer_id);
    buf.put_i16(v.producer_epoch);
    buf.put_i32(v.timeout_ms);
    buf.put_i8(v.state.id());
    if v.state == TxnState::Empty {
        buf.put_i32(-1);
    } else {
        let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
        for (topic, partition) in &v.partitions {
            match topics.last_mut() {
                Some((t, ps)) if *t == topic.as_str() => ps.push(*partition),
                _ => topics.push((topic.as_str(), vec![*partition])),
            }
        }
        buf.put_i32(topics.len() as i32);
        for (topic, partitions) in topics {
            put_string(&mut buf, topic);
            buf.put_i32(partitions.len() as i32);
            for p in partitions {
                buf.put_i32(p);
            }
        }
    }
    buf.put_i64(v.last_update_ms);
    buf.put_i64(v.start_ms);
    buf.freeze()
}

/// A bounds-checked reader over one record key or value.
struct Reader<'a> {
    buf: &'a [u8],
    /// Flexible (v1+) encoding: compact strings and arrays, tagged fields.
    flexible: bool,
}

fn corrupt(what: &str) -> TxnError {
    TxnError::CorruptRecord(what.to_string())
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], TxnError> {
        if self.buf.len() < n {
            return Err(corrupt("truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn i8(&mut self) -> Result<i8, TxnError> {
        Ok(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Result<i16, TxnError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, TxnError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, TxnError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn uvarint(&mut self) -> Result<u64, TxnError> {
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
    /// Array or string length; `None` for null.
    fn len(&mut self) -> Result<Option<usize>, TxnError> {
        let n = if self.flexible {
            self.uvarint()? as i64 - 1
        } else {
            i64::from(self.i32()?)
        };
        match n {
            -1 => Ok(None),
            n if n < 0 || n as usize > self.buf.len() => Err(corrupt("bad length")),
            n => Ok(Some(n as usize)),
        }
    }
    fn string(&mut self) -> Result<String, TxnError> {
        let n = if self.flexible {
            self.len()?.ok_or_else(|| corrupt("null string"))?
        } else {
            usize::try_from(self.i16()?).map_err(|_| corrupt("null string"))?
        };
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("string not UTF-8"))
    }
    fn skip_tagged_fields(&mut self) -> Result<(), TxnError> {
        if self.flexible {
            for _ in 0..self.uvarint()? {
                let _tag = self.uvarint()?;
                let size = self.uvarint()? as usize;
                self.take(size)?;
            }
        }
        Ok(())
    }
}

/// The transactional id of a TransactionLogKey; `Ok(None)` for a key version Weir does not know.
pub fn decode_key(key: &[u8]) -> Result<Option<String>, TxnError> {
    let mut r = Reader {
        buf: key,
        flexible: false,
    };
    match r.i16()? {
        0 => Ok(Some(r.string()?)),
        _ => Ok(None),
    }
}

/// A TransactionLogValue of version 0 or 1.
pub fn decode_value(value: &[u8]) -> Result<TxnLogValue, TxnError> {
    let mut r = Reader {
        buf: value,
        flexible: false,
    };
    let version = r.i16()?;
    if !(0..=1).contains(&version) {
        return Err(corrupt("unknown TransactionLogValue version"));
    }
    r.flexible = version >= 1;
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let state = TxnState::from_id(r.i8()?).ok_or_else(|| corrupt("unknown transaction state"))?;
    let mut partitions = BTreeSet::new();
    if let Some(topics) = r.len()? {
        for _ in 0..topics {
            let topic = r.string()?;
            let count = r.len()?.unwrap_or(0);
            for _ in 0..count {
                partitions.insert((topic.clone(), r.i32()?));
            }
            r.skip_tagged_fields()?;
        }
    }
    let last_update_ms = r.i64()?;
    let start_ms = r.i64()?;
    r.skip_tagged_fields()?;
    if state == TxnState::Empty {
        partitions.clear();
    }
    Ok(TxnLogValue {
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        last_update_ms,
        start_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_matches_kafka_bytes() {
        // TransactionLogKey v0 of "tx": version 0, int16 length 2, "tx".
        assert_eq!(&encode_key("tx")[..], &[0, 0, 0, 2, b't', b'x']);
        assert_eq!(
            decode_key(&encode_key("tx")).unwrap().as_deref(),
            Some("tx")
        );
        assert_eq!(decode_key(&[0, 9, 0, 0]).unwrap(), None);
        assert!(decode_key(&[0, 0, 0, 5, b'a']).is_err());
    }

    #[test]
    fn value_v0_round_trips_and_matches_kafka_layout() {
        let mut v = TxnLogValue {
            producer_id: 7,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: [
                ("a".to_string(), 1),
                ("a".to_string(), 0),
                ("b".to_string(), 2),
            ]
            .into_iter()
            .collect(),
            last_update_ms: 10,
            start_ms: 9,
        };
        let bytes = encode_value(&v);
        assert_eq!(decode_value(&bytes).unwrap(), v);
        // version, pid, epoch, timeout, state, then 2 topics: "a" [0, 1], "b" [2].
        let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 3, 0, 0, 0xea, 0x60, 1];
        expected.extend([0, 0, 0, 2, 0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend([0, 1, b'b', 0, 0, 0, 1, 0, 0, 0, 2]);
        expected.extend([0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 9]);
        assert_eq!(&bytes[..], &expected[..]);
        // State Empty writes a null partition array.
        v.state = TxnState::Empty;
        v.partitions.clear();
        let bytes = encode_value(&v);
        assert_eq!(&bytes[17..21], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(decode_value(&bytes).unwrap(), v);
    }

    #[test]
    fn value_v1_flexible_is_readable() {
        // v1: compact array of 1 topic "t" with partitions [4], tagged fields (one unknown tag skipped).
        let mut b = vec![0, 1];
        b.extend(42i64.to_be_bytes());
        b.extend(1i16.to_be_bytes());
        b.extend(1000i32.to_be_bytes());
        b.push(TxnState::PrepareCommit.id() as u8);
        b.extend([2, 2, b't', 2, 0, 0, 0, 4, 0]); // 1 topic, "t", [4], no tags
        b.extend(5i64.to_be_bytes());
        b.extend(4i64.to_be_bytes());
        b.extend([1, 0, 2, 0xff, 0xff]); // one tagged field (tag 0, 2 bytes)
        let v = decode_value(&b).unwrap();
        assert_eq!(
            (v.producer_id, v.producer_epoch, v.timeout_ms),
            (42, 1, 1000)
        );
        assert_eq!(v.state, TxnState::PrepareCommit);
        assert_eq!(
            v.partitions.into_iter().collect::<Vec<_>>(),
            vec![("t".to_string(), 4)]
        );
        assert_eq!((v.last_update_ms, v.start_ms), (5, 4));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &[][..],
            &[0, 0, 1],
            &[0, 7, 0, 0],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            assert!(decode_value(bad).is_err());
        }
    }
}
