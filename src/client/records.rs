//! Records on the client side: building a produce batch (with the log store's batch builder and
//! codecs) and reading the records of fetched batches.

use bytes::{Bytes, BytesMut};

use crate::log::batch::{self, BatchRecords, Compression};

use super::ClientError;

/// One record to produce.
#[derive(Debug, Clone, Default)]
pub struct OutRecord {
    /// Key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Value; `None` is a null value.
    pub value: Option<Bytes>,
    /// Headers in order (a key may repeat, as Kafka allows).
    pub headers: Vec<(String, Bytes)>,
}

/// One consumed record.
#[derive(Debug, Clone)]
pub struct InRecord {
    /// Partition it came from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// CreateTime or LogAppendTime, in ms.
    pub timestamp_ms: i64,
    /// Key; `None` is null.
    pub key: Option<Bytes>,
    /// Value; `None` is null.
    pub value: Option<Bytes>,
    /// Decoded headers.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Builds one v2 batch of `records`, compressed with `codec`, all stamped `timestamp_ms`.
pub fn build_batch(
    records: &[OutRecord],
    timestamp_ms: i64,
    codec: Compression,
) -> Result<Bytes, ClientError> {
    let size: usize = records
        .iter()
        .map(|r| {
            r.key.as_ref().map_or(0, Bytes::len)
                + r.value.as_ref().map_or(0, Bytes::len)
                + r.headers
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 10)
                    .sum::<usize>()
                + 24
        })
        .sum();
    let mut body = BytesMut::with_capacity(size);
    let mut headers = BytesMut::new();
    for (i, r) in records.iter().enumerate() {
        headers.clear();
        if !r.headers.is_empty() {
            encode_headers(&mut headers, &r.headers);
        }
        let delta = i32::try_from(i).map_err(|_| ClientError::Config("batch too large".into()))?;
        batch::encode_record(
            &mut body,
            delta,
            0,
            r.key.as_deref(),
            r.value.as_deref(),
            &headers,
        );
    }
    let section = match codec {
        Compression::None => body.freeze(),
        c => Bytes::from(
            batch::compress(c, &body).map_err(|e| ClientError::Config(format!("compress: {e}")))?,
        ),
    };
    let count = records.len() as i32;
    Ok(batch::assemble_batch(
        &section,
        count,
        (count - 1).max(0),
        timestamp_ms,
        timestamp_ms,
        -1,
        -1,
        -1,
        codec.attribute_bits(),
    ))
}

/// The records of a fetch answer's record set at or after `from` (a fetch may start inside a batch),
/// skipping control batches.
pub fn read_records(
    partition: i32,
    records: &Bytes,
    from: i64,
    out: &mut Vec<InRecord>,
) -> Result<(), ClientError> {
    for (header, bytes) in batch::split_batches(records) {
        if header.is_control() || header.last_offset() < from {
            continue;
        }
        let iter = BatchRecords::new(&bytes)
            .map_err(|e| ClientError::Protocol(format!("fetched batch: {e}")))?;
        for r in iter {
            let r = r.map_err(|e| ClientError::Protocol(format!("fetched record: {e}")))?;
            if r.offset < from {
                continue;
            }
            out.push(InRecord {
                partition,
                offset: r.offset,
                timestamp_ms: r.timestamp_ms,
                key: r.key,
                value: r.value,
                headers: decode_headers(&r.headers)?,
            });
        }
    }
    Ok(())
}

/// The offset after the last whole batch in `records` (where the next fetch starts when a batch held
/// only control records or records before `from`).
pub fn next_offset(records: &Bytes) -> Option<i64> {
    batch::split_batches(records)
        .last()
        .map(|(h, _)| h.next_offset())
}

fn put_varint(out: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.extend_from_slice(&[(z as u8) | 0x80]);
        z >>= 7;
    }
    out.extend_from_slice(&[z as u8]);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut z: u64 = 0;
    for shift in (0..70).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
    }
    None
}

/// Encodes a record's header section: varint count, then (key, value) pairs.
fn encode_headers(out: &mut BytesMut, headers: &[(String, Bytes)]) {
    put_varint(out, headers.len() as i64);
    for (k, v) in headers {
        put_varint(out, k.len() as i64);
        out.extend_from_slice(k.as_bytes());
        put_varint(out, v.len() as i64);
        out.extend_from_slice(v);
    }
}

/// Decodes a record's raw header section.
pub fn decode_headers(raw: &Bytes) -> Result<Vec<(String, Option<Bytes>)>, ClientError> {
    let bad = || ClientError::Protocol("malformed record headers".into());
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let mut pos = 0;
    let count = get_varint(raw, &mut pos).ok_or_else(bad)?;
    // Each header takes at least two bytes: bounds the allocation by the input.
    let count = usize::try_from(count)
        .ok()
        .filter(|c| *c <= raw.len())
        .ok_or_else(bad)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let klen =
            usize::try_from(get_varint(raw, &mut pos).ok_or_else(bad)?).map_err(|_| bad())?;
        let key = raw.get(pos..pos + klen).ok_or_else(bad)?;
        let key = String::from_utf8_lossy(key).into_owned();
        pos += klen;
        let vlen = get_varint(raw, &mut pos).ok_or_else(bad)?;
        let value = if vlen < 0 {
            None
        } else {
            let vlen = usize::try_from(vlen).map_err(|_| bad())?;
            if pos + vlen > raw.len() {
                return Err(bad());
            }
            let v = raw.slice(pos..pos + vlen);
            pos += vlen;
            Some(v)
        };
        out.push((key, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_batches_read_back_with_every_codec() {
        let recs: Vec<OutRecord> = (0..5)
            .map(|i| OutRecord {
                key: (i % 2 == 0).then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(format!("value {i}"))),
                headers: vec![("h".into(), Bytes::from(format!("{i}")))],
            })
            .collect();
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let b = build_batch(&recs, 1_700_000_000_000, codec).unwrap();
            batch::check_batch(&b).unwrap();
            let mut out = Vec::new();
            read_records(0, &b, 2, &mut out).unwrap();
            assert_eq!(out.len(), 3, "{codec:?}");
            assert_eq!(out[0].offset, 2);
            assert_eq!(out[0].key.as_deref(), Some(&b"k2"[..]));
            assert_eq!(out[1].key, None);
            assert_eq!(out[2].value.as_deref(), Some(&b"value 4"[..]));
            assert_eq!(
                out[2].headers,
                vec![("h".to_string(), Some(Bytes::from_static(b"4")))]
            );
            assert_eq!(next_offset(&b), Some(5));
        }
    }

    #[test]
    fn hostile_header_counts_are_errors() {
        let mut raw = BytesMut::new();
        put_varint(&mut raw, i64::from(i32::MAX));
        assert!(decode_headers(&raw.freeze()).is_err());
    }
}
