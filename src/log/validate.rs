//! Kafka's `LogValidator` for appended batches: walks every record of a batch whose header and CRC were
//! already checked ([`super::batch::validate_batches`]), before anything is stored.
//!
//! One pass over the bytes already in memory, no per-record allocation: uncompressed records are read in
//! place; compressed sections are decompressed as a stream through a small window whose output is
//! dropped as it is walked, so only [`RECORDS_BYTES_MAX`] bounds a batch's decompressed size (a bomb
//! costs CPU until the cap, never memory). What is checked (Kafka's `validateBatch`, `validateRecord`
//! and `DefaultRecord.readFrom`):
//!
//! * batch: the count matches the offset range; client batches are not control batches and carry no
//!   negative base sequence with a producer id; the codec is one of the five Kafka defines;
//! * record structure: every length and varint within its record and the section (a varint that
//!   overflows 32/64 bits is malformed), offset deltas `0..n-1` in order, exactly `recordCount` records
//!   and nothing after the last one, headers well-formed (count ≥ 0 and bounded by the bytes left, key
//!   length ≥ 0);
//! * keys present on compacted topics; timestamps per `message.timestamp.type` and
//!   `message.timestamp.before.max.ms` / `after.max.ms`.
//!
//! Record-level failures name the record's index in the batch ([`RecordError`], the Produce response's
//! `record_errors`). Kafka keeps going after a key or timestamp error to report every bad record, and
//! stops at a structural one; so does this.

use std::io::Read;

use super::batch::{BatchHeader, Compression, HEADER_LEN};
use super::LogError;

/// Largest decompressed records section accepted from a producer (64 MiB).
///
/// Kafka itself has no such cap; it streams records and would store a 512 MiB bomb. 64 MiB is 64× the
/// default `message.max.bytes`, above what real data reaches in one batch (producers close a batch by its
/// compressed size, `batch.size` 16 KiB by default, and real payloads compress 2–10×), and below the
/// cleaner's whole-batch decompression bound ([`super::batch::DECOMPRESSED_BYTES_MAX`], 256 MiB), so any
/// stored batch stays cleanable. A bomb costs at most this much decompression work (~50–200 ms).
pub const RECORDS_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Bytes of the window a compressed section is decompressed through.
const WINDOW_BYTES: usize = 32 * 1024;

/// Most record errors reported for one batch; the first ones name the problem, and an unbounded list
/// would let a 1 MiB batch of tiny keyless records on a compacted topic ask for a ~10 MiB response.
pub const RECORD_ERRORS_MAX: usize = 1000;

/// Who is appending: client batches get Kafka's client-only checks (`AppendOrigin.CLIENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A producer (Produce request).
    Client,
    /// The broker's own writers (group and transaction coordinators).
    Internal,
}

/// The topic settings validation depends on.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// `cleanup.policy` contains `compact`: every record needs a key.
    pub compacted: bool,
    /// `message.timestamp.type` is `LogAppendTime`.
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms`: how far in the past a CreateTime timestamp may be.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime timestamp may be.
    pub timestamp_after_max_ms: i64,
    /// Broker time of the append.
    pub now_ms: i64,
}

/// One rejected record (Kafka's `ProduceResponse.RecordError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Index of the record in its batch.
    pub batch_index: i32,
    /// Why it was rejected.
    pub message: String,
}

/// What validation learnt about a valid batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    /// Largest record timestamp (-1 when none has one); Kafka writes it into the batch's `maxTimestamp`.
    pub max_timestamp: i64,
}

/// `topic-partition` for messages, formatted only when a message is built.
#[derive(Debug, Clone, Copy)]
pub struct PartitionName<'a>(pub &'a str, pub i32);

impl std::fmt::Display for PartitionName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// A structural defect: where the walk stopped and why.
struct Malformed(String);

fn malformed(msg: impl Into<String>) -> Malformed {
    Malformed(msg.into())
}

/// Sequential reads over a records section, from memory or from a decompressor.
trait Source {
    /// Next byte.
    fn byte(&mut self) -> Result<u8, Malformed>;
    /// Skips `n` bytes.
    fn skip(&mut self, n: usize) -> Result<(), Malformed>;
    /// Bytes consumed so far.
    fn position(&self) -> u64;
    /// True when the section has no byte left.
    fn at_end(&mut self) -> Result<bool, Malformed>;

    /// A zigzag varint that must fit 32 bits (Kafka's `ByteUtils.readVarint`, which allows 5 bytes;
    /// bits beyond 32 are refused rather than silently dropped as Java does).
    fn varint(&mut self) -> Result<i32, Malformed> {
        let mut z: u32 = 0;
        for i in 0..5 {
            let b = self.byte()?;
            if i == 4 && b > 0x0f {
                return Err(malformed("varint overflows 32 bits"));
            }
            z |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((z >> 1) as i32) ^ -((z & 1) as i32));
            }
        }
        Err(malformed("varint longer than 5 bytes"))
    }

    /// A zigzag varlong that must fit 64 bits (at most 10 bytes).
    fn varlong(&mut self) -> Result<i64, Malformed> {
        let mut z: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            if i == 9 && b > 0x01 {
                return Err(malformed("varlong overflows 64 bits"));
            }
            z |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        Err(malformed("varlong longer than 10 bytes"))
    }
}

/// An uncompressed section, read in place.
struct SliceSource<'a> {
    /// The records section.
    buf: &'a [u8],
    /// Read position.
    pos: usize,
}

impl Source for SliceSource<'_> {
    #[inline]
    fn byte(&mut self) -> Result<u8, Malformed> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| malformed("record runs past the end of the batch"))?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn skip(&mut self, n: usize) -> Result<(), Malformed> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.buf.len() => {
                self.pos = end;
                Ok(())
            }
            _ => Err(malformed("record runs past the end of the batch")),
        }
    }

    fn position(&self) -> u64 {
        self.pos as u64
    }

    fn at_end(&mut self) -> Result<bool, Malformed> {
        Ok(self.pos >= self.buf.len())
    }
}

/// A compressed section, decompressed through a fixed window whose bytes are dropped once walked.
struct StreamSource<'w, R: Read> {
    /// The decompressor.
    reader: R,
    /// The window (reused across batches by the caller's thread).
    window: &'w mut [u8],
    /// First unread byte in `window`.
    lo: usize,
    /// End of valid bytes in `window`.
    hi: usize,
    /// Decompressed bytes pulled from `reader` so far; bounded by [`RECORDS_BYTES_MAX`].
    pulled: u64,
}

impl<R: Read> StreamSource<'_, R> {
    /// Refills the window; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, Malformed> {
        self.lo = 0;
        self.hi = 0;
        let n = loop {
            match self.reader.read(self.window) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(malformed(format!("decompression failed: {e}"))),
            }
        };
        self.pulled += n as u64;
        if self.pulled > RECORDS_BYTES_MAX {
            return Err(malformed(format!(
                "batch decompresses to more than {RECORDS_BYTES_MAX} bytes"
            )));
        }
        self.hi = n;
        Ok(n > 0)
    }
}

impl<R: Read> Source for StreamSource<'_, R> {
    #[inline]
    fn byte(&mut self) -> Result<u8, Malformed> {
        if self.lo == self.hi && !self.fill()? {
            return Err(malformed(
                "incorrect declared batch size, premature end of the compressed records",
            ));
        }
        let b = self.window[self.lo];
        self.lo += 1;
        Ok(b)
    }

    fn skip(&mut self, mut n: usize) -> Result<(), Malformed> {
        loop {
            let take = n.min(self.hi - self.lo);
            self.lo += take;
            n -= take;
            if n == 0 {
                return Ok(());
            }
            if !self.fill()? {
                return Err(malformed(
                    "record runs past the end of the compressed records",
                ));
            }
        }
    }

    fn position(&self) -> u64 {
        self.pulled - (self.hi - self.lo) as u64
    }

    fn at_end(&mut self) -> Result<bool, Malformed> {
        Ok(self.lo == self.hi && !self.fill()?)
    }
}

thread_local! {
    /// Each thread's decompression window, allocated once.
    static WINDOW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Validates one whole batch (`batch` is exactly the batch, header included, its CRC already checked).
pub fn validate_batch(
    header: &BatchHeader,
    batch: &[u8],
    origin: Origin,
    rules: &Rules,
    partition: PartitionName<'_>,
) -> Result<Validated, LogError> {
    check_batch_fields(header, origin, partition)?;
    let codec = header.compression().ok_or_else(|| {
        LogError::InvalidRecord(format!(
            "unknown compression type id {} in the batch attributes",
            header.attributes & super::batch::ATTR_COMPRESSION_MASK
        ))
    })?;
    let section = batch.get(HEADER_LEN..).unwrap_or_default();
    let mut walk = Walk::new(header, rules, partition);
    let outcome = if codec == Compression::None {
        walk.records(&mut SliceSource {
            buf: section,
            pos: 0,
        })
    } else {
        let reader = super::batch::decoder(codec, section, RECORDS_BYTES_MAX as usize)
            .map_err(|e| LogError::InvalidRecord(e.to_string()))?;
        WINDOW.with(|w| {
            let mut w = w.borrow_mut();
            if w.len() < WINDOW_BYTES {
                w.resize(WINDOW_BYTES, 0);
            }
            walk.records(&mut StreamSource {
                reader,
                window: &mut w[..],
                lo: 0,
                hi: 0,
                pulled: 0,
            })
        })
    };
    if let Err(Malformed(m)) = outcome {
        walk.structural(m);
    }
    walk.finish()
}

/// Kafka's `validateBatch` for what the header alone tells (count and offset range were checked with the
/// header: `recordCount > 0` and `lastOffsetDelta == recordCount - 1`).
fn check_batch_fields(
    header: &BatchHeader,
    origin: Origin,
    partition: PartitionName<'_>,
) -> Result<(), LogError> {
    if origin != Origin::Client {
        return Ok(());
    }
    if header.is_control() {
        return Err(LogError::InvalidRecord(format!(
            "Clients are not allowed to write control records in topic partition {partition}"
        )));
    }
    if header.has_producer_id() && header.base_sequence < 0 {
        return Err(LogError::InvalidRecord(format!(
            "Invalid sequence number {} in record batch with producerId {} in topic partition {partition}",
            header.base_sequence, header.producer_id
        )));
    }
    Ok(())
}

/// State of one batch's record walk.
struct Walk<'a> {
    /// The batch header (count, base timestamp, timestamp type).
    header: &'a BatchHeader,
    /// Topic rules.
    rules: &'a Rules,
    /// `topic-partition`, for messages.
    partition: PartitionName<'a>,
    /// Records rejected so far (allocated only on the first error).
    errors: Vec<RecordError>,
    /// Record errors seen, including those beyond [`RECORD_ERRORS_MAX`].
    error_count: usize,
    /// True once a timestamp was among the reasons (INVALID_TIMESTAMP instead of INVALID_RECORD).
    timestamp_error: bool,
    /// Index of the record being walked.
    index: i32,
    /// Largest record timestamp seen.
    max_timestamp: i64,
}

impl<'a> Walk<'a> {
    fn new(header: &'a BatchHeader, rules: &'a Rules, partition: PartitionName<'a>) -> Walk<'a> {
        Walk {
            header,
            rules,
            partition,
            errors: Vec::new(),
            error_count: 0,
            timestamp_error: false,
            index: 0,
            max_timestamp: -1,
        }
    }

    /// Walks exactly `recordCount` records, then requires the section to end.
    fn records(&mut self, src: &mut impl Source) -> Result<(), Malformed> {
        while self.index < self.header.record_count {
            self.record(src)?;
            self.index += 1;
        }
        if !src.at_end()? {
            return Err(malformed(
                "Incorrect declared batch size, records still remaining in file",
            ));
        }
        Ok(())
    }

    /// One record (`DefaultRecord.readFrom`), then its key and timestamp rules.
    fn record(&mut self, src: &mut impl Source) -> Result<(), Malformed> {
        let size = src.varint()?;
        let size = u64::try_from(size)
            .map_err(|_| malformed(format!("Invalid negative record size {size}")))?;
        let start = src.position();
        let end = start + size;
        let _attributes = src.byte()?;
        let timestamp_delta = src.varlong()?;
        let offset_delta = src.varint()?;
        if offset_delta != self.index {
            return Err(malformed(format!(
                "offset delta {offset_delta} where {} was expected (deltas must run 0..recordCount-1)",
                self.index
            )));
        }
        let key_len = src.varint()?;
        self.skip_field(src, key_len, end)?;
        let value_len = src.varint()?;
        self.skip_field(src, value_len, end)?;
        let headers = src.varint()?;
        if headers < 0 {
            return Err(malformed(format!(
                "Found invalid number of record headers {headers}"
            )));
        }
        // Each header takes at least two bytes (two varints), so the count is bounded by what is left.
        if u64::from(headers.unsigned_abs()) > end.saturating_sub(src.position()) {
            return Err(malformed(format!(
                "Found invalid number of record headers {headers}: more than the bytes left in the record"
            )));
        }
        for _ in 0..headers {
            let key = src.varint()?;
            if key < 0 {
                return Err(malformed("Invalid negative header key size"));
            }
            self.skip_field(src, key, end)?;
            let value = src.varint()?;
            self.skip_field(src, value, end)?;
        }
        let read = src.position() - start;
        if read != size {
            return Err(malformed(format!(
                "Invalid record size: expected to read {size} bytes in record payload, but instead read {read}"
            )));
        }
        if key_len < 0 && self.rules.compacted {
            self.record_error(format!(
                "Compacted topic cannot accept message without key in topic partition {}",
                self.partition
            ));
        }
        self.timestamp(timestamp_delta);
        Ok(())
    }

    /// Skips a nullable byte field of `len` bytes (negative: null), which must end by `end`.
    fn skip_field(&self, src: &mut impl Source, len: i32, end: u64) -> Result<(), Malformed> {
        let Ok(len) = usize::try_from(len) else {
            return Ok(());
        };
        if src.position() + len as u64 > end {
            return Err(malformed(format!(
                "a field of {len} bytes runs past the end of its record"
            )));
        }
        src.skip(len)
    }

    /// Kafka's `validateTimestamp`.
    fn timestamp(&mut self, delta: i64) {
        let h = self.header;
        let ts = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(delta)
        };
        self.max_timestamp = self.max_timestamp.max(ts);
        let now = self.rules.now_ms;
        if !self.rules.log_append_time && ts != -1 {
            let diff = now.wrapping_sub(ts);
            if diff > self.rules.timestamp_before_max_ms
                || diff.wrapping_neg() > self.rules.timestamp_after_max_ms
            {
                self.timestamp_error = true;
                self.record_error(format!(
                    "Timestamp {ts} of message with offset {} is out of range. The timestamp should be within [{}, {}]",
                    self.index,
                    now.wrapping_sub(self.rules.timestamp_before_max_ms),
                    now.wrapping_add(self.rules.timestamp_after_max_ms)
                ));
            }
        } else if h.is_log_append_time() {
            self.timestamp_error = true;
            self.record_error(
                "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime."
                    .to_string(),
            );
        }
    }

    fn record_error(&mut self, message: String) {
        self.error_count += 1;
        if self.errors.len() < RECORD_ERRORS_MAX {
            self.errors.push(RecordError {
                batch_index: self.index,
                message,
            });
        }
    }

    /// A structural defect at the current record ends the walk.
    fn structural(&mut self, message: String) {
        let message = format!("Found invalid record structure: {message}");
        self.error_count += 1;
        self.errors.push(RecordError {
            batch_index: self.index.min(self.header.record_count.saturating_sub(1)),
            message,
        });
    }

    /// Kafka's `processRecordErrors`.
    fn finish(self) -> Result<Validated, LogError> {
        if self.errors.is_empty() {
            return Ok(Validated {
                max_timestamp: self.max_timestamp,
            });
        }
        let message = if self.timestamp_error {
            "One or more records have been rejected due to invalid timestamp".to_string()
        } else {
            let shown: Vec<String> = self
                .errors
                .iter()
                .take(3)
                .map(|e| {
                    format!(
                        "RecordError(batchIndex={}, message='{}')",
                        e.batch_index, e.message
                    )
                })
                .collect();
            format!(
                "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
                self.error_count,
                shown.join(", ")
            )
        };
        Err(LogError::RecordErrors {
            timestamp: self.timestamp_error,
            message,
            errors: self.errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::log::batch::{assemble_batch, check_batch, compress, encode_record, ATTR_CONTROL};

    const NOW: i64 = 1_700_000_000_000;

    fn rules() -> Rules {
        Rules {
            compacted: false,
            log_append_time: false,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: i64::MAX,
            now_ms: NOW,
        }
    }

    /// `n` records with keys, deltas 0..n-1, timestamps NOW + i.
    fn section(n: i32) -> BytesMut {
        let mut body = BytesMut::new();
        for i in 0..n {
            let key = format!("k{i}");
            encode_record(
                &mut body,
                i,
                i64::from(i),
                Some(key.as_bytes()),
                Some(b"value"),
                &[],
            );
        }
        body
    }

    fn batch(section: &[u8], count: i32, codec: Compression) -> Vec<u8> {
        let data = compress(codec, section).expect("compress");
        assemble_batch(
            &data,
            count,
            count - 1,
            NOW,
            NOW + i64::from(count) - 1,
            -1,
            -1,
            -1,
            codec.attribute_bits(),
        )
        .to_vec()
    }

    fn run(b: &[u8], rules: &Rules) -> Result<Validated, LogError> {
        let h = check_batch(b).expect("header and crc valid");
        validate_batch(&h, b, Origin::Client, rules, PartitionName("t", 0))
    }

    /// The record-level error at `index`, or panics.
    fn record_error(r: Result<Validated, LogError>) -> (bool, Vec<RecordError>) {
        match r {
            Err(LogError::RecordErrors {
                timestamp, errors, ..
            }) => (timestamp, errors),
            other => panic!("expected record errors, got {other:?}"),
        }
    }

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn valid_batches_pass_with_every_codec() {
        for codec in CODECS {
            let b = batch(&section(50), 50, codec);
            let v = run(&b, &rules()).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
            assert_eq!(v.max_timestamp, NOW + 49, "{codec:?}");
        }
        // librdkafka's raw (unframed) snappy.
        let raw = snap::raw::Encoder::new()
            .compress_vec(&section(5))
            .expect("snappy");
        let b = assemble_batch(&raw, 5, 4, NOW, NOW + 4, -1, -1, -1, 2).to_vec();
        run(&b, &rules()).expect("raw snappy");
    }

    #[test]
    fn count_must_match_the_records_present() {
        for codec in CODECS {
            // Declares 5, holds 1: the walk runs out of records.
            let b = batch(&section(1), 5, codec);
            let (_, errs) = record_error(run(&b, &rules()));
            assert_eq!(errs.len(), 1, "{codec:?}");
            assert_eq!(errs[0].batch_index, 1, "{codec:?}");
            // Declares 1, holds 3: records remain after the declared count.
            let b = batch(&section(3), 1, codec);
            let (_, errs) = record_error(run(&b, &rules()));
            assert!(
                errs[0].message.contains("records still remaining"),
                "{codec:?}: {errs:?}"
            );
        }
        // A huge count holding one record fails at once.
        let b = batch(&section(1), 20_000_000, Compression::None);
        record_error(run(&b, &rules()));
    }

    #[test]
    fn offset_deltas_must_be_contiguous() {
        let mut body = BytesMut::new();
        encode_record(&mut body, 0, 0, Some(b"a"), Some(b"v"), &[]);
        encode_record(&mut body, 2, 0, Some(b"b"), Some(b"v"), &[]);
        let b = batch(&body, 2, Compression::None);
        let (_, errs) = record_error(run(&b, &rules()));
        assert_eq!(errs[0].batch_index, 1);
    }

    /// One uncompressed record with hand-written bytes after the length prefix.
    fn raw_record(body: &[u8]) -> Vec<u8> {
        let mut s = BytesMut::new();
        // Zigzag varint of the body length (small: one byte).
        assert!(body.len() < 64);
        s.extend_from_slice(&[(body.len() as u8) << 1]);
        s.extend_from_slice(body);
        batch(&s, 1, Compression::None)
    }

    #[test]
    fn malformed_records_are_rejected() {
        let cases: &[(&str, &[u8])] = &[
            // attributes, ts delta, offset delta, key len, key, value len, headers
            ("well-formed", &[0, 0, 0, 2, b'k', 0, 0]),
            ("key length past the record", &[0, 0, 0, 40, b'k', 0, 0]),
            ("value length past the record", &[0, 0, 0, 2, b'k', 40, 0]),
            (
                "overflowing varint",
                &[0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0],
            ),
            (
                "varlong too long",
                &[
                    0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0,
                ],
            ),
            ("negative header count", &[0, 0, 0, 2, b'k', 0, 1]),
            ("header count above bytes left", &[0, 0, 0, 2, b'k', 0, 100]),
            (
                "negative header key length",
                &[0, 0, 0, 2, b'k', 0, 2, 3, 0],
            ),
            (
                "header value past the record",
                &[0, 0, 0, 2, b'k', 0, 2, 2, b'h', 40],
            ),
            ("bytes left in the record", &[0, 0, 0, 2, b'k', 0, 0, 9, 9]),
            ("truncated record", &[0, 0]),
        ];
        for (name, body) in cases {
            let r = run(&raw_record(body), &rules());
            if *name == "well-formed" {
                r.unwrap_or_else(|e| panic!("{name}: {e}"));
            } else {
                let (ts, errs) = record_error(r);
                assert!(!ts, "{name}");
                assert_eq!(errs[0].batch_index, 0, "{name}");
            }
        }
        // Garbage after the last record.
        let mut s = section(2);
        s.extend_from_slice(&[1, 2, 3]);
        record_error(run(&batch(&s, 2, Compression::None), &rules()));
    }

    #[test]
    fn undecodable_compressed_payloads_are_rejected() {
        let garbage = [7u8; 200];
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let b = assemble_batch(&garbage, 1, 0, NOW, NOW, -1, -1, -1, codec.attribute_bits())
                .to_vec();
            record_error(run(&b, &rules()));
            // A truncated stream.
            let good = compress(codec, &section(100)).expect("compress");
            let b = assemble_batch(
                &good[..good.len() / 2],
                100,
                99,
                NOW,
                NOW,
                -1,
                -1,
                -1,
                codec.attribute_bits(),
            )
            .to_vec();
            record_error(run(&b, &rules()));
        }
        // Xerial framing whose chunk length runs past the data.
        let mut x = compress(Compression::Snappy, &section(3)).expect("compress");
        x[16..20].copy_from_slice(&1000u32.to_be_bytes());
        let b = assemble_batch(&x, 3, 2, NOW, NOW, -1, -1, -1, 2).to_vec();
        record_error(run(&b, &rules()));
        // Codec 7 is not defined.
        let b = assemble_batch(&section(1), 1, 0, NOW, NOW, -1, -1, -1, 7).to_vec();
        assert!(matches!(run(&b, &rules()), Err(LogError::InvalidRecord(_))));
    }

    #[test]
    fn decompression_bombs_stop_at_the_cap() {
        // One record whose value is 80 MiB of zeros: tiny compressed, over the cap decompressed.
        let value = vec![0u8; 80 << 20];
        let mut body = BytesMut::new();
        encode_record(&mut body, 0, 0, Some(b"k"), Some(&value), &[]);
        for codec in [Compression::Gzip, Compression::Zstd, Compression::Lz4] {
            let b = batch(&body, 1, codec);
            assert!(b.len() < 1 << 20, "{codec:?} bomb is {} bytes", b.len());
            let (_, errs) = record_error(run(&b, &rules()));
            assert!(errs[0].message.contains("more than"), "{codec:?}: {errs:?}");
        }
        // Xerial snappy (ratio ~21x): under the cap, so it passes; a raw block above the cap is refused
        // from its declared length before any allocation.
        let mut huge = [0u8; 10];
        let mut n = RECORDS_BYTES_MAX + 1;
        let mut i = 0;
        while n >= 0x80 {
            huge[i] = (n as u8) | 0x80;
            n >>= 7;
            i += 1;
        }
        huge[i] = n as u8;
        let b = assemble_batch(&huge[..=i], 1, 0, NOW, NOW, -1, -1, -1, 2).to_vec();
        record_error(run(&b, &rules()));
    }

    #[test]
    fn client_only_batch_rules() {
        let b = assemble_batch(&section(1), 1, 0, NOW, NOW, -1, -1, -1, ATTR_CONTROL).to_vec();
        assert!(matches!(run(&b, &rules()), Err(LogError::InvalidRecord(_))));
        let h = check_batch(&b).expect("valid");
        validate_batch(&h, &b, Origin::Internal, &rules(), PartitionName("t", 0))
            .expect("internal control batch");
        // An idempotent batch with sequence -1.
        let b = assemble_batch(&section(1), 1, 0, NOW, NOW, 7, 0, -1, 0).to_vec();
        assert!(matches!(run(&b, &rules()), Err(LogError::InvalidRecord(_))));
    }

    #[test]
    fn compacted_topics_need_keys_and_every_keyless_record_is_named() {
        let mut body = BytesMut::new();
        for i in 0..4 {
            let key: Option<&[u8]> = if i % 2 == 0 { None } else { Some(b"k") };
            encode_record(&mut body, i, 0, key, Some(b"v"), &[]);
        }
        let b = batch(&body, 4, Compression::Lz4);
        run(&b, &rules()).expect("keys are optional on delete topics");
        let compacted = Rules {
            compacted: true,
            ..rules()
        };
        let (ts, errs) = record_error(run(&b, &compacted));
        assert!(!ts);
        assert_eq!(
            errs.iter().map(|e| e.batch_index).collect::<Vec<_>>(),
            vec![0, 2]
        );
        assert!(errs[0]
            .message
            .contains("Compacted topic cannot accept message without key"));
    }

    #[test]
    fn timestamps_follow_the_topic_bounds() {
        let b = batch(&section(3), 3, Compression::None); // NOW, NOW+1, NOW+2
        let strict = Rules {
            timestamp_before_max_ms: 1000,
            timestamp_after_max_ms: 1,
            ..rules()
        };
        let (ts, errs) = record_error(run(&b, &strict));
        assert!(ts);
        assert_eq!(
            errs.iter().map(|e| e.batch_index).collect::<Vec<_>>(),
            vec![2]
        );
        let old = Rules {
            now_ms: NOW + 5000,
            ..strict
        };
        assert_eq!(record_error(run(&b, &old)).1.len(), 3);
        // LogAppendTime topics ignore CreateTime values but refuse client batches flagged LogAppendTime.
        let lat = Rules {
            log_append_time: true,
            ..old
        };
        run(&b, &lat).expect("CreateTime batch on a LogAppendTime topic");
        let flagged = assemble_batch(&section(1), 1, 0, NOW, NOW, -1, -1, -1, 0x08).to_vec();
        assert!(record_error(run(&flagged, &lat)).0);
    }
}
