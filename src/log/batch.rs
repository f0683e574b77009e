//! Record batches as bytes: parse and validate the 61-byte v2 header, stamp offsets in place, build small
//! batches, and (only for the cleaner and internal topics) iterate the records inside one.
//!
//! The produce path uses [`validate_batches`], [`stamp_base_offset`] and [`stamp_log_append_time`] and never
//! decodes a record. [`BatchRecords`] decodes records (decompressing gzip, snappy, lz4 or zstd) for the
//! cleaner, timestamp lookups, and the group / transaction coordinators.

use std::io::Read;

use bytes::{BufMut, Bytes, BytesMut};

use super::LogError;

/// Size of the v2 batch header (`baseOffset` .. `recordCount`), the part the produce path parses.
pub const HEADER_LEN: usize = 61;
/// `baseOffset` + `batchLength`: the bytes of a batch not counted by `batchLength`.
pub const LOG_OVERHEAD: usize = 12;
/// Where the CRC-covered region (`attributes` .. end of batch) starts.
pub const CRC_START: usize = 21;

const OFF_BATCH_LENGTH: usize = 8;
const OFF_LEADER_EPOCH: usize = 12;
const OFF_MAGIC: usize = 16;
const OFF_CRC: usize = 17;
const OFF_ATTRIBUTES: usize = 21;
const OFF_LAST_OFFSET_DELTA: usize = 23;
const OFF_BASE_TIMESTAMP: usize = 27;
const OFF_MAX_TIMESTAMP: usize = 35;
const OFF_PRODUCER_ID: usize = 43;
const OFF_PRODUCER_EPOCH: usize = 51;
const OFF_BASE_SEQUENCE: usize = 53;
const OFF_RECORD_COUNT: usize = 57;

/// Attribute bits 0..2: compression codec.
pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: timestamps are LogAppendTime (set by the broker).
pub const ATTR_LOG_APPEND_TIME: i16 = 0x08;
/// Attribute bit 4: part of a transaction.
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
/// Attribute bit 5: a control batch (transaction marker).
pub const ATTR_CONTROL: i16 = 0x20;

/// Upper bound on the decompressed size of one batch; refuses decompression bombs.
pub const DECOMPRESSED_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Compression codec of a batch (attribute bits 0..2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// The codec named by attribute bits 0..2; `None` for the unused codes 5..7.
    pub fn from_attributes(attributes: i16) -> Option<Compression> {
        match attributes & ATTR_COMPRESSION_MASK {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// Attribute bits for this codec.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }
}

/// The fixed 61-byte header of a magic-v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record; stamped by the log on append.
    pub base_offset: i64,
    /// Bytes after this field (so the batch is `batch_length + 12` bytes); at least 49.
    pub batch_length: i32,
    /// Leader epoch when appended; stamped by the log (outside the CRC).
    pub partition_leader_epoch: i32,
    /// Message format; only 2 is accepted.
    pub magic: i8,
    /// CRC-32C of `attributes` .. end of batch.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control bits.
    pub attributes: i16,
    /// `last offset - base offset`; equals `record_count - 1` for producer batches.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (CreateTime).
    pub base_timestamp: i64,
    /// Largest record timestamp (or the broker time under LogAppendTime).
    pub max_timestamp: i64,
    /// Idempotent / transactional producer id; -1 when none.
    pub producer_id: i64,
    /// Producer epoch; -1 when none.
    pub producer_epoch: i16,
    /// Sequence of the first record; -1 when none.
    pub base_sequence: i32,
    /// Number of records; > 0 for producer batches.
    pub record_count: i32,
}

#[inline]
fn arr<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = buf.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

impl BatchHeader {
    /// Parses the header at the start of `buf` (needs at least 61 bytes). Checks nothing but length.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, LogError> {
        if buf.len() < HEADER_LEN {
            return Err(LogError::CorruptMessage(format!(
                "batch header needs {HEADER_LEN} bytes, got {}",
                buf.len()
            )));
        }
        Ok(BatchHeader {
            base_offset: i64::from_be_bytes(arr(buf, 0)),
            batch_length: i32::from_be_bytes(arr(buf, OFF_BATCH_LENGTH)),
            partition_leader_epoch: i32::from_be_bytes(arr(buf, OFF_LEADER_EPOCH)),
            magic: i8::from_be_bytes(arr(buf, OFF_MAGIC)),
            crc: u32::from_be_bytes(arr(buf, OFF_CRC)),
            attributes: i16::from_be_bytes(arr(buf, OFF_ATTRIBUTES)),
            last_offset_delta: i32::from_be_bytes(arr(buf, OFF_LAST_OFFSET_DELTA)),
            base_timestamp: i64::from_be_bytes(arr(buf, OFF_BASE_TIMESTAMP)),
            max_timestamp: i64::from_be_bytes(arr(buf, OFF_MAX_TIMESTAMP)),
            producer_id: i64::from_be_bytes(arr(buf, OFF_PRODUCER_ID)),
            producer_epoch: i16::from_be_bytes(arr(buf, OFF_PRODUCER_EPOCH)),
            base_sequence: i32::from_be_bytes(arr(buf, OFF_BASE_SEQUENCE)),
            record_count: i32::from_be_bytes(arr(buf, OFF_RECORD_COUNT)),
        })
    }

    /// Whole size of the batch in bytes (`batch_length + 12`); 0 if `batch_length` is negative.
    pub fn total_len(&self) -> usize {
        usize::try_from(self.batch_length).map_or(0, |l| l + LOG_OVERHEAD)
    }

    /// Offset of the last record. Saturating: the base offset is outside the CRC, so a corrupt file or
    /// peer can put any value there, and a wrapped sum would pass range checks (found by fuzzing
    /// segment recovery); callers reject a saturated result as out of range.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// Offset following this batch (saturating, as [`last_offset`](Self::last_offset)).
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The compression codec, if the code is known.
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_attributes(self.attributes)
    }

    /// True when the batch carries a transaction marker.
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// True when the batch is part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// True when the broker stamped LogAppendTime.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_LOG_APPEND_TIME != 0
    }

    /// True when the batch comes from an idempotent or transactional producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence of the last record, wrapping at `i32::MAX` to 0 like Kafka.
    pub fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `sequence + increment`, wrapping past `i32::MAX` to 0 (Kafka's `DefaultRecordBatch.incrementSequence`).
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// CRC-32C (Castagnoli, Kafka's batch checksum) of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    // The Castagnoli polynomial is "CRC-32/ISCSI" in the CRC catalogue; the value fits 32 bits.
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, data) as u32
}

/// CRC-32C of the CRC-covered region of one whole batch.
pub fn compute_crc(batch: &[u8]) -> u32 {
    batch.get(CRC_START..).map_or(0, crc32c)
}

/// Checks one batch's structure: length field against the buffer, magic, CRC. Returns its header.
///
/// `buf` starts at the batch and may extend beyond it; the batch is `header.total_len()` bytes.
pub fn check_batch(buf: &[u8]) -> Result<BatchHeader, LogError> {
    let header = BatchHeader::parse(buf)?;
    if (header.batch_length as i64) < (HEADER_LEN - LOG_OVERHEAD) as i64 {
        return Err(LogError::CorruptMessage(format!(
            "batch length {} is below the v2 header size",
            header.batch_length
        )));
    }
    let total = header.total_len();
    if total > buf.len() {
        return Err(LogError::CorruptMessage(format!(
            "batch claims {total} bytes but only {} remain",
            buf.len()
        )));
    }
    match header.magic {
        2 => {}
        0 | 1 => {
            return Err(LogError::InvalidRecord(format!(
                "message format v{} is not supported, only v2",
                header.magic
            )))
        }
        m => return Err(LogError::CorruptMessage(format!("unknown magic {m}"))),
    }
    let crc = compute_crc(&buf[..total]);
    if crc != header.crc {
        return Err(LogError::CorruptMessage(format!(
            "crc mismatch: stored {:#010x}, computed {crc:#010x}",
            header.crc
        )));
    }
    Ok(header)
}

/// Validates every batch of a produce payload without decoding records.
///
/// Checks, per batch: header present, `batchLength` consistent with the buffer (no truncation, no trailing
/// garbage), magic 2, size ≤ `max_message_bytes`, CRC-32C, `recordCount > 0` and
/// `lastOffsetDelta == recordCount - 1`. Returns the headers in order.
pub fn validate_batches(
    buf: &[u8],
    max_message_bytes: usize,
) -> Result<Vec<BatchHeader>, LogError> {
    if buf.is_empty() {
        return Err(LogError::CorruptMessage("empty record set".into()));
    }
    let mut headers = Vec::with_capacity(1);
    let mut pos = 0usize;
    while pos < buf.len() {
        let rest = &buf[pos..];
        if rest.len() < HEADER_LEN {
            return Err(LogError::CorruptMessage(format!(
                "{} trailing bytes after the last batch",
                rest.len()
            )));
        }
        // Size check first, before trusting anything else (Kafka reports MESSAGE_TOO_LARGE before CRC).
        let header = BatchHeader::parse(rest)?;
        let total = header.total_len();
        if total > max_message_bytes {
            return Err(LogError::MessageTooLarge {
                size: total,
                max: max_message_bytes,
            });
        }
        let header = check_batch(rest)?;
        if header.record_count <= 0 {
            return Err(LogError::InvalidRecord(format!(
                "record count {} must be > 0",
                header.record_count
            )));
        }
        if i64::from(header.last_offset_delta) != i64::from(header.record_count) - 1 {
            return Err(LogError::InvalidRecord(format!(
                "last offset delta {} does not match record count {}",
                header.last_offset_delta, header.record_count
            )));
        }
        headers.push(header);
        pos += total;
    }
    Ok(headers)
}

/// Writes `base_offset` into a batch (outside the CRC, so the CRC stays valid).
pub fn stamp_base_offset(batch: &mut [u8], base_offset: i64) {
    if let Some(dst) = batch.get_mut(0..8) {
        dst.copy_from_slice(&base_offset.to_be_bytes());
    }
}

/// Writes `partitionLeaderEpoch` into a batch (outside the CRC).
pub fn stamp_leader_epoch(batch: &mut [u8], epoch: i32) {
    if let Some(dst) = batch.get_mut(OFF_LEADER_EPOCH..OFF_LEADER_EPOCH + 4) {
        dst.copy_from_slice(&epoch.to_be_bytes());
    }
}

/// LogAppendTime: sets the timestamp-type bit and `maxTimestamp = now_ms`, then recomputes the CRC.
pub fn stamp_log_append_time(batch: &mut [u8], now_ms: i64) {
    if batch.len() < HEADER_LEN {
        return;
    }
    let attributes = i16::from_be_bytes(arr(batch, OFF_ATTRIBUTES)) | ATTR_LOG_APPEND_TIME;
    batch[OFF_ATTRIBUTES..OFF_ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[OFF_MAX_TIMESTAMP..OFF_MAX_TIMESTAMP + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

/// CreateTime: clears the timestamp-type bit and sets `maxTimestamp = max_ms`, then recomputes the CRC
/// (Kafka's `setMaxTimestamp` when a producer's header disagrees with its records).
pub fn stamp_create_time_max(batch: &mut [u8], max_ms: i64) {
    if batch.len() < HEADER_LEN {
        return;
    }
    let attributes = i16::from_be_bytes(arr(batch, OFF_ATTRIBUTES)) & !ATTR_LOG_APPEND_TIME;
    batch[OFF_ATTRIBUTES..OFF_ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[OFF_MAX_TIMESTAMP..OFF_MAX_TIMESTAMP + 8].copy_from_slice(&max_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

// ---------------------------------------------------------------------------------------------------------
// Varints (zigzag, as in the v2 record format)
// ---------------------------------------------------------------------------------------------------------

fn put_varint(out: &mut BytesMut, v: i32) {
    put_varlong(out, i64::from(v));
}

fn put_varlong(out: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.put_u8((z as u8) | 0x80);
        z >>= 7;
    }
    out.put_u8(z as u8);
}

fn varlong_len(v: i64) -> usize {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

/// Reads a zigzag varlong at `*pos`, advancing it; `None` when malformed or truncated.
fn get_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut z: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    Some(((z >> 1) as i64) ^ -((z & 1) as i64))
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    get_varlong(buf, pos).and_then(|v| i32::try_from(v).ok())
}

// ---------------------------------------------------------------------------------------------------------
// Building batches
// ---------------------------------------------------------------------------------------------------------

/// A record to build: (key, value); `None` is null.
pub type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// Builds an uncompressed v2 batch of `records` (key, value), all with `timestamp_ms`, base offset 0.
///
/// Used by internal writers (group coordinator, transaction markers) and tests. `attributes` is written as
/// given (its compression bits should be 0). An empty `records` yields a batch with `recordCount` 0.
pub fn build_batch(
    records: &[KeyValue<'_>],
    timestamp_ms: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    attributes: i16,
) -> Bytes {
    let mut body = BytesMut::with_capacity(
        records
            .iter()
            .map(|(k, v)| k.map_or(0, <[u8]>::len) + v.map_or(0, <[u8]>::len) + 16)
            .sum(),
    );
    for (i, (key, value)) in records.iter().enumerate() {
        encode_record(&mut body, i as i32, 0, *key, *value, &[]);
    }
    let count = records.len() as i32;
    assemble_batch(
        &body,
        count,
        (count - 1).max(0),
        timestamp_ms,
        timestamp_ms,
        producer_id,
        producer_epoch,
        base_sequence,
        attributes,
    )
}

/// Appends one encoded record (length-prefixed) to `out`. `headers` is the raw encoded header section
/// (varint count followed by the headers); empty means zero headers.
pub fn encode_record(
    out: &mut BytesMut,
    offset_delta: i32,
    timestamp_delta: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[u8],
) {
    let headers_len = if headers.is_empty() { 1 } else { headers.len() };
    let key_len = key.map_or(-1, |k| k.len() as i32);
    let value_len = value.map_or(-1, |v| v.len() as i32);
    let body_len = 1
        + varlong_len(timestamp_delta)
        + varlong_len(i64::from(offset_delta))
        + varlong_len(i64::from(key_len))
        + key.map_or(0, <[u8]>::len)
        + varlong_len(i64::from(value_len))
        + value.map_or(0, <[u8]>::len)
        + headers_len;
    put_varint(out, body_len as i32);
    out.put_u8(0);
    put_varlong(out, timestamp_delta);
    put_varint(out, offset_delta);
    put_varint(out, key_len);
    if let Some(k) = key {
        out.put_slice(k);
    }
    put_varint(out, value_len);
    if let Some(v) = value {
        out.put_slice(v);
    }
    if headers.is_empty() {
        put_varint(out, 0);
    } else {
        out.put_slice(headers);
    }
}

/// Wraps an already encoded (and, if `attributes` says so, compressed) records section in a v2 header.
#[allow(clippy::too_many_arguments)]
pub fn assemble_batch(
    records_section: &[u8],
    record_count: i32,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    attributes: i16,
) -> Bytes {
    let total = HEADER_LEN + records_section.len();
    let mut out = BytesMut::with_capacity(total);
    out.put_i64(0);
    out.put_i32((total - LOG_OVERHEAD) as i32);
    out.put_i32(-1);
    out.put_i8(2);
    out.put_u32(0);
    out.put_i16(attributes);
    out.put_i32(last_offset_delta);
    out.put_i64(base_timestamp);
    out.put_i64(max_timestamp);
    out.put_i64(producer_id);
    out.put_i16(producer_epoch);
    out.put_i32(base_sequence);
    out.put_i32(record_count);
    out.put_slice(records_section);
    let crc = compute_crc(&out);
    out[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_be_bytes());
    out.freeze()
}

// ---------------------------------------------------------------------------------------------------------
// Compression
// ---------------------------------------------------------------------------------------------------------

/// The xerial snappy-java stream header (Java clients frame snappy this way).
const XERIAL_MAGIC: &[u8] = &[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];

fn too_big() -> LogError {
    LogError::CorruptMessage(format!(
        "batch decompresses to more than {DECOMPRESSED_BYTES_MAX} bytes"
    ))
}

fn read_bounded(mut r: impl Read, hint: usize) -> Result<Vec<u8>, LogError> {
    let mut out = Vec::with_capacity(hint.min(DECOMPRESSED_BYTES_MAX));
    (&mut r)
        .take(DECOMPRESSED_BYTES_MAX as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| LogError::CorruptMessage(format!("decompression failed: {e}")))?;
    if out.len() > DECOMPRESSED_BYTES_MAX {
        return Err(too_big());
    }
    Ok(out)
}

/// A streaming decompressor over a compressed records section; the one place that knows the codecs.
pub enum Decoder<'a> {
    /// gzip (RFC 1952) as Kafka's `GZIPOutputStream` writes it.
    Gzip(Box<flate2::read::GzDecoder<&'a [u8]>>),
    /// LZ4 frame format.
    Lz4(Box<lz4_flex::frame::FrameDecoder<&'a [u8]>>),
    /// zstd frames.
    Zstd(Box<zstd::stream::read::Decoder<'static, &'a [u8]>>),
    /// snappy, xerial-framed (Java) or one raw block (librdkafka).
    Snappy(SnappyReader<'a>),
}

impl Read for Decoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Lz4(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Snappy(d) => d.read(buf),
        }
    }
}

/// A decoder for `data` compressed with `codec` (not `Compression::None`). Snappy blocks are refused
/// before allocation when they declare more than `block_bytes_max`.
pub fn decoder(
    codec: Compression,
    data: &[u8],
    block_bytes_max: usize,
) -> Result<Decoder<'_>, LogError> {
    Ok(match codec {
        Compression::None => {
            return Err(LogError::InvalidRecord(
                "an uncompressed section has no decoder".into(),
            ))
        }
        Compression::Gzip => Decoder::Gzip(Box::new(flate2::read::GzDecoder::new(data))),
        Compression::Lz4 => Decoder::Lz4(Box::new(lz4_flex::frame::FrameDecoder::new(data))),
        Compression::Zstd => Decoder::Zstd(Box::new(
            zstd::stream::read::Decoder::with_buffer(data)
                .map_err(|e| LogError::CorruptMessage(format!("zstd: {e}")))?,
        )),
        Compression::Snappy => Decoder::Snappy(SnappyReader::new(data, block_bytes_max)),
    })
}

/// Reads snappy block by block: xerial framing (`[len u32 BE][raw block]*` after a 16-byte header) or a
/// single raw block. Only one decompressed block is held at a time.
pub struct SnappyReader<'a> {
    /// Compressed input.
    data: &'a [u8],
    /// Next unread input byte.
    pos: usize,
    /// True for xerial framing, false for one raw block.
    xerial: bool,
    /// The current decompressed block (reused for every block).
    block: Vec<u8>,
    /// Bytes of `block` already returned.
    block_pos: usize,
    /// Largest decompressed block accepted (checked from the block's own length before allocating).
    block_bytes_max: usize,
}

impl<'a> SnappyReader<'a> {
    fn new(data: &'a [u8], block_bytes_max: usize) -> SnappyReader<'a> {
        let xerial = data.len() >= 16 && data.starts_with(XERIAL_MAGIC);
        SnappyReader {
            data,
            pos: if xerial { 16 } else { 0 },
            xerial,
            block: Vec::new(),
            block_pos: 0,
            block_bytes_max,
        }
    }

    /// Decompresses the next block into `self.block`; false at the end of the input.
    fn next_block(&mut self) -> std::io::Result<bool> {
        let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
        if self.pos >= self.data.len() {
            return Ok(false);
        }
        let chunk = if self.xerial {
            let len = self
                .data
                .get(self.pos..self.pos + 4)
                .map(|b| u32::from_be_bytes(arr(b, 0)) as usize)
                .ok_or_else(|| bad("truncated xerial snappy chunk length".into()))?;
            let start = self.pos + 4;
            let chunk = self
                .data
                .get(start..start.saturating_add(len))
                .ok_or_else(|| bad("truncated xerial snappy chunk".into()))?;
            self.pos = start + len;
            chunk
        } else {
            self.pos = self.data.len();
            self.data
        };
        let len = snap::raw::decompress_len(chunk).map_err(|e| bad(format!("snappy: {e}")))?;
        if len > self.block_bytes_max {
            return Err(bad(format!(
                "snappy block of {len} bytes exceeds {}",
                self.block_bytes_max
            )));
        }
        self.block.resize(len, 0);
        snap::raw::Decoder::new()
            .decompress(chunk, &mut self.block)
            .map_err(|e| bad(format!("snappy: {e}")))?;
        self.block_pos = 0;
        Ok(true)
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.block_pos >= self.block.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.block.len() - self.block_pos);
        buf[..n].copy_from_slice(&self.block[self.block_pos..self.block_pos + n]);
        self.block_pos += n;
        Ok(n)
    }
}

/// Decompresses a records section; snappy accepts both xerial framing and raw blocks.
pub fn decompress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, LogError> {
    if codec == Compression::None {
        return Ok(data.to_vec());
    }
    let d = decoder(codec, data, DECOMPRESSED_BYTES_MAX)?;
    read_bounded(d, data.len() * 4)
}

/// Compresses a records section with `codec` (snappy uses xerial framing, like the Java client).
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, LogError> {
    use std::io::Write;
    let io = |e: std::io::Error| LogError::Io(e);
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).map_err(io)?;
            enc.finish().map_err(io)
        }
        Compression::Lz4 => {
            let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
            enc.write_all(data).map_err(io)?;
            enc.finish()
                .map_err(|e| LogError::Io(std::io::Error::other(e)))
        }
        Compression::Zstd => zstd::stream::encode_all(data, 3).map_err(io),
        Compression::Snappy => {
            let mut out = Vec::with_capacity(data.len() / 2 + 32);
            out.extend_from_slice(XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for chunk in data.chunks(32 * 1024) {
                let block = enc
                    .compress_vec(chunk)
                    .map_err(|e| LogError::Io(std::io::Error::other(e)))?;
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Iterating records
// ---------------------------------------------------------------------------------------------------------

/// One decoded record; `key`, `value` and `headers` are slices of the (decompressed) batch, not copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (`baseOffset + offsetDelta`).
    pub offset: i64,
    /// CreateTime of the record, or the batch's `maxTimestamp` under LogAppendTime.
    pub timestamp_ms: i64,
    /// Record key; `None` for a null key.
    pub key: Option<Bytes>,
    /// Record value; `None` for a null value (a tombstone under compaction).
    pub value: Option<Bytes>,
    /// Raw encoded header section (varint count, then headers).
    pub headers: Bytes,
}

/// Iterator over the records of one batch; yields an error and stops at the first malformed record.
pub struct BatchRecords {
    /// The batch header (offsets, timestamps, attributes).
    header: BatchHeader,
    /// The records section, decompressed.
    data: Bytes,
    /// Read position in `data`.
    pos: usize,
    /// Records still to yield, bounded by the header's `recordCount`.
    remaining: i32,
}

impl BatchRecords {
    /// Prepares iteration over one whole batch (the header is parsed, not CRC-checked; callers that read
    /// untrusted bytes call [`check_batch`] first).
    pub fn new(batch: &Bytes) -> Result<BatchRecords, LogError> {
        let header = BatchHeader::parse(batch)?;
        let total = header.total_len();
        if total < HEADER_LEN || total > batch.len() {
            return Err(LogError::CorruptMessage(
                "batch length does not match buffer".into(),
            ));
        }
        let codec = header.compression().ok_or_else(|| {
            LogError::CorruptMessage(format!(
                "unknown compression in attributes {}",
                header.attributes
            ))
        })?;
        let section = batch.slice(HEADER_LEN..total);
        let data = match codec {
            Compression::None => section,
            c => Bytes::from(decompress(c, &section)?),
        };
        Ok(BatchRecords {
            header,
            data,
            pos: 0,
            remaining: header.record_count.max(0),
        })
    }

    /// The batch header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    fn next_record(&mut self) -> Option<Record> {
        let buf = &self.data[..];
        let mut pos = self.pos;
        let len = usize::try_from(get_varint(buf, &mut pos)?).ok()?;
        let end = pos.checked_add(len)?;
        if end > buf.len() {
            return None;
        }
        let rec = &buf[..end];
        pos += 1; // attributes
        let ts_delta = get_varlong(rec, &mut pos)?;
        let off_delta = get_varint(rec, &mut pos)?;
        let key = self.bytes_field(rec, &mut pos)?;
        let value = self.bytes_field(rec, &mut pos)?;
        if pos > end {
            return None;
        }
        let headers = self.data.slice(pos..end);
        self.pos = end;
        let timestamp_ms = if self.header.is_log_append_time() {
            self.header.max_timestamp
        } else {
            self.header.base_timestamp.wrapping_add(ts_delta)
        };
        Some(Record {
            offset: self.header.base_offset + i64::from(off_delta),
            timestamp_ms,
            key,
            value,
            headers,
        })
    }

    /// Reads a varint-length-prefixed nullable byte field; outer `None` = malformed.
    fn bytes_field(&self, rec: &[u8], pos: &mut usize) -> Option<Option<Bytes>> {
        let len = get_varint(rec, pos)?;
        if len < 0 {
            return Some(None);
        }
        let end = pos.checked_add(len as usize)?;
        if end > rec.len() {
            return None;
        }
        let out = self.data.slice(*pos..end);
        *pos = end;
        Some(Some(out))
    }
}

impl Iterator for BatchRecords {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining <= 0 {
            return None;
        }
        match self.next_record() {
            Some(r) => {
                self.remaining -= 1;
                Some(Ok(r))
            }
            None => {
                self.remaining = 0;
                Some(Err(LogError::CorruptMessage(format!(
                    "malformed record in batch at offset {}",
                    self.header.base_offset
                ))))
            }
        }
    }
}

/// Iterates the whole batches in a buffer of concatenated batches (e.g. a read result); stops at the first
/// incomplete batch. Yields `(header, batch bytes)`.
pub fn split_batches(buf: &Bytes) -> impl Iterator<Item = (BatchHeader, Bytes)> + '_ {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let header = BatchHeader::parse(buf.get(pos..)?).ok()?;
        let total = header.total_len();
        if total < HEADER_LEN || pos + total > buf.len() {
            return None;
        }
        let out = buf.slice(pos..pos + total);
        pos += total;
        Some((header, out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kv(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| (format!("k{i}").into_bytes(), vec![i as u8; i * 3]))
            .collect()
    }

    fn batch_of(n: usize) -> Bytes {
        let recs = kv(n);
        let refs: Vec<_> = recs
            .iter()
            .map(|(k, v)| (Some(&k[..]), Some(&v[..])))
            .collect();
        build_batch(&refs, 1_000, 7, 1, 0, 0)
    }

    #[test]
    fn crc32c_is_castagnoli() {
        // The CRC catalogue's check value for CRC-32C and an RFC 3720 (iSCSI) vector.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn build_parse_validate_roundtrip() {
        let b = batch_of(5);
        let hs = validate_batches(&b, 1 << 20).expect("valid");
        assert_eq!(hs.len(), 1);
        let h = hs[0];
        assert_eq!(
            (
                h.record_count,
                h.last_offset_delta,
                h.producer_id,
                h.producer_epoch
            ),
            (5, 4, 7, 1)
        );
        assert_eq!(h.total_len(), b.len());
        let recs: Vec<Record> = BatchRecords::new(&b)
            .expect("iter")
            .collect::<Result<_, _>>()
            .expect("recs");
        assert_eq!(recs.len(), 5);
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(r.offset, i as i64);
            assert_eq!(r.timestamp_ms, 1_000);
            assert_eq!(r.key.as_deref(), Some(format!("k{i}").as_bytes()));
            assert_eq!(r.value.as_deref().map(<[u8]>::len), Some(i * 3));
        }
    }

    #[test]
    fn validation_errors() {
        let b = batch_of(2);
        // Trailing garbage.
        let mut v = b.to_vec();
        v.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(
            validate_batches(&v, 1 << 20),
            Err(LogError::CorruptMessage(_))
        ));
        // Truncated.
        assert!(matches!(
            validate_batches(&b[..b.len() - 1], 1 << 20),
            Err(LogError::CorruptMessage(_))
        ));
        // Flipped byte in the CRC region.
        let mut v = b.to_vec();
        let last = v.len() - 1;
        v[last] ^= 0xff;
        assert!(matches!(
            validate_batches(&v, 1 << 20),
            Err(LogError::CorruptMessage(_))
        ));
        // Too large.
        assert!(matches!(
            validate_batches(&b, 10),
            Err(LogError::MessageTooLarge { .. })
        ));
        // Wrong magic.
        let mut v = b.to_vec();
        v[16] = 1;
        assert!(matches!(
            validate_batches(&v, 1 << 20),
            Err(LogError::InvalidRecord(_))
        ));
        // Empty batch (recordCount 0) with valid CRC.
        let empty = build_batch(&[], 0, -1, -1, -1, 0);
        assert!(matches!(
            validate_batches(&empty, 1 << 20),
            Err(LogError::InvalidRecord(_))
        ));
        // Two batches back to back are fine.
        let mut two = b.to_vec();
        two.extend_from_slice(&batch_of(3));
        assert_eq!(validate_batches(&two, 1 << 20).expect("two").len(), 2);
    }

    #[test]
    fn stamping_keeps_crc_valid() {
        let mut v = batch_of(3).to_vec();
        stamp_base_offset(&mut v, 42);
        stamp_leader_epoch(&mut v, 3);
        let h = check_batch(&v).expect("crc ok");
        assert_eq!((h.base_offset, h.partition_leader_epoch), (42, 3));
        stamp_log_append_time(&mut v, 99);
        let h = check_batch(&v).expect("crc ok after log append time");
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 99);
        let recs: Vec<Record> = BatchRecords::new(&Bytes::from(v))
            .expect("iter")
            .collect::<Result<_, _>>()
            .expect("recs");
        assert!(recs.iter().all(|r| r.timestamp_ms == 99));
        assert_eq!(recs[2].offset, 44);
    }

    #[test]
    fn compressed_batches_iterate() {
        let recs = kv(20);
        let mut body = BytesMut::new();
        for (i, (k, v)) in recs.iter().enumerate() {
            encode_record(&mut body, i as i32, i as i64, Some(k), Some(v), &[]);
        }
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let section = compress(codec, &body).expect("compress");
            let b = assemble_batch(
                &section,
                20,
                19,
                500,
                519,
                -1,
                -1,
                -1,
                codec.attribute_bits(),
            );
            check_batch(&b).expect("valid");
            let out: Vec<Record> = BatchRecords::new(&b)
                .expect("iter")
                .collect::<Result<_, _>>()
                .expect("recs");
            assert_eq!(out.len(), 20, "{codec:?}");
            assert_eq!(out[19].timestamp_ms, 519);
            assert_eq!(out[7].key.as_deref(), Some(&b"k7"[..]));
        }
        // Raw (unframed) snappy as librdkafka may send it.
        let raw = snap::raw::Encoder::new()
            .compress_vec(&body)
            .expect("snappy");
        let b = assemble_batch(
            &raw,
            20,
            19,
            500,
            519,
            -1,
            -1,
            -1,
            Compression::Snappy.attribute_bits(),
        );
        assert_eq!(BatchRecords::new(&b).expect("iter").count(), 20);
    }

    #[test]
    fn sequence_wraps() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }

    proptest! {
        #[test]
        fn varlong_roundtrip(v in any::<i64>()) {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            prop_assert_eq!(b.len(), varlong_len(v));
            let mut pos = 0;
            prop_assert_eq!(get_varlong(&b, &mut pos), Some(v));
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = validate_batches(&data, 1 << 20);
            let b = Bytes::from(data);
            if let Ok(it) = BatchRecords::new(&b) {
                for r in it { let _ = r; }
            }
        }
    }
}
