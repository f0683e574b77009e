//! A table of malformed produce requests and frames, each with Kafka's outcome (an error code, or a closed
//! connection), run one by one while a well-behaved client keeps producing and consuming on its own
//! connection without an error; after every case a consumer reading each topic from offset 0 must see
//! only the records that were validly produced (every batch CRC-valid and decodable, offsets contiguous).
//!
//! Batches are built by hand here (varints, CRC-32C from the `crc32c` crate, codecs from their own
//! crates) so the broker's validator is not its own oracle.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, MetadataRequest, ProduceResponse};
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use weir_protocol_tests::*;

const NOW_TS: i64 = 1_700_000_000_000;

// ---- hand-built batches ----------------------------------------------------------------------------

fn varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// One record: length prefix, attributes, timestamp delta, offset delta, key, value, `headers` (raw).
fn rec(delta: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8];
    varint(&mut body, delta); // timestamp delta = offset delta
    varint(&mut body, delta);
    for field in [key, value] {
        match field {
            Some(f) => {
                varint(&mut body, f.len() as i64);
                body.extend_from_slice(f);
            }
            None => varint(&mut body, -1),
        }
    }
    if headers.is_empty() {
        varint(&mut body, 0);
    } else {
        body.extend_from_slice(headers);
    }
    let mut out = Vec::new();
    varint(&mut out, body.len() as i64);
    out.extend_from_slice(&body);
    out
}

/// `n` keyed records with values `"{tag}-{i}"`, deltas 0..n-1.
fn section(n: i64, tag: &str) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            rec(
                i,
                Some(format!("k{i}").as_bytes()),
                Some(format!("{tag}-{i}").as_bytes()),
                &[],
            )
        })
        .collect()
}

/// Header fields of a hand-built batch.
#[derive(Clone, Copy)]
struct Head {
    count: i32,
    last_delta: i32,
    max_ts: i64,
    producer_id: i64,
    sequence: i32,
    attributes: i16,
}

fn head(count: i32) -> Head {
    Head {
        count,
        last_delta: count - 1,
        max_ts: NOW_TS + i64::from(count) - 1,
        producer_id: -1,
        sequence: -1,
        attributes: 0,
    }
}

fn batch(data: &[u8], h: Head) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i64(0);
    b.put_i32((49 + data.len()) as i32);
    b.put_i32(-1);
    b.put_i8(2);
    b.put_u32(0);
    b.put_i16(h.attributes);
    b.put_i32(h.last_delta);
    b.put_i64(NOW_TS);
    b.put_i64(h.max_ts);
    b.put_i64(h.producer_id);
    b.put_i16(if h.producer_id >= 0 { 0 } else { -1 });
    b.put_i32(h.sequence);
    b.put_i32(h.count);
    b.put_slice(data);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

/// Codec ids as in the batch attributes; 5 is librdkafka-style raw snappy (attribute 2, no framing).
#[derive(Clone, Copy, Debug)]
enum Codec {
    Gzip,
    Xerial,
    RawSnappy,
    Lz4,
    Zstd,
}

impl Codec {
    const ALL: [Codec; 5] = [
        Codec::Gzip,
        Codec::Xerial,
        Codec::RawSnappy,
        Codec::Lz4,
        Codec::Zstd,
    ];

    fn attribute(self) -> i16 {
        match self {
            Codec::Gzip => 1,
            Codec::Xerial | Codec::RawSnappy => 2,
            Codec::Lz4 => 3,
            Codec::Zstd => 4,
        }
    }

    fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Codec::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).expect("gzip");
                e.finish().expect("gzip")
            }
            Codec::Xerial => {
                let mut out = vec![
                    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
                ];
                for chunk in data.chunks(32 * 1024) {
                    let block = snap::raw::Encoder::new()
                        .compress_vec(chunk)
                        .expect("snappy");
                    out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                    out.extend_from_slice(&block);
                }
                out
            }
            Codec::RawSnappy => snap::raw::Encoder::new()
                .compress_vec(data)
                .expect("snappy"),
            Codec::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).expect("lz4");
                e.finish().expect("lz4")
            }
            Codec::Zstd => zstd::stream::encode_all(data, 1).expect("zstd"),
        }
    }
}

/// Decompresses a fetched batch's records for kafka-protocol's decoder.
fn decompress(buf: &mut Bytes, c: Compression) -> anyhow::Result<Bytes> {
    use std::io::Read;
    let mut out = Vec::new();
    match c {
        Compression::None => out.extend_from_slice(buf),
        Compression::Gzip => {
            flate2::read::GzDecoder::new(&buf[..]).read_to_end(&mut out)?;
        }
        Compression::Snappy => {
            if buf.starts_with(&[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0]) {
                let mut pos = 16;
                while pos + 4 <= buf.len() {
                    let len = u32::from_be_bytes(buf[pos..pos + 4].try_into()?) as usize;
                    out.extend(
                        snap::raw::Decoder::new().decompress_vec(&buf[pos + 4..pos + 4 + len])?,
                    );
                    pos += 4 + len;
                }
            } else {
                out = snap::raw::Decoder::new().decompress_vec(buf)?;
            }
        }
        Compression::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(&buf[..]).read_to_end(&mut out)?;
        }
        Compression::Zstd => {
            out = zstd::stream::decode_all(&buf[..])?;
        }
    }
    Ok(Bytes::from(out))
}

// ---- the table --------------------------------------------------------------------------------------

/// What the broker must do with a case.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The partition answers this error code (and stores nothing).
    Code(i16),
    /// This error code, with `record_errors` naming exactly these batch indexes.
    RecordErrors(i16, &'static [i32]),
    /// Accepted: the records count as validly produced.
    Stored,
    /// The broker closes the connection without answering.
    Closed,
    /// A Metadata answer for one topic with this error code.
    MetadataTopic(i16),
}

/// What a case sends.
enum Send {
    /// A Produce request (by name) of one partition.
    Produce {
        version: i16,
        acks: i16,
        topic: &'static str,
        partition: i32,
        records: Option<Bytes>,
    },
    /// Raw bytes on the wire.
    Raw(Vec<u8>),
}

struct Case {
    name: String,
    send: Send,
    expect: Expect,
}

const INVALID_RECORD: i16 = 87;
const CORRUPT_MESSAGE: i16 = 2;
const INVALID_TIMESTAMP: i16 = 32;
const MESSAGE_TOO_LARGE: i16 = 10;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_REQUIRED_ACKS: i16 = 21;
const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;
const INVALID_TOPIC_EXCEPTION: i16 = 17;

fn produce(name: impl Into<String>, topic: &'static str, records: Bytes, expect: Expect) -> Case {
    Case {
        name: name.into(),
        send: Send::Produce {
            version: 9,
            acks: -1,
            topic,
            partition: 0,
            records: Some(records),
        },
        expect,
    }
}

fn raw(name: &str, bytes: Vec<u8>) -> Case {
    Case {
        name: name.into(),
        send: Send::Raw(bytes),
        expect: Expect::Closed,
    }
}

/// Re-signs a batch after a header edit (so only the edit is wrong, not the CRC).
fn resign(mut b: Vec<u8>) -> Bytes {
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

fn frame_of(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn uncompressed_cases() -> Vec<Case> {
    let bad = |body: &[u8]| batch(&[&[(body.len() as u8) << 1][..], body].concat(), head(1));
    let ir = Expect::RecordErrors(INVALID_RECORD, &[0]);
    let mut c = vec![
        produce(
            "valid uncompressed batch",
            "plain",
            batch(&section(3, "valid"), head(3)),
            Expect::Stored,
        ),
        produce(
            "count 5 holding 1 record",
            "plain",
            batch(&section(1, "bad"), head(5)),
            Expect::RecordErrors(INVALID_RECORD, &[1]),
        ),
        produce(
            "count 1 holding 3 records",
            "plain",
            batch(&section(3, "bad"), head(1)),
            ir,
        ),
        produce(
            "count 20,000,000 holding 1 record",
            "plain",
            batch(&section(1, "bad"), head(20_000_000)),
            Expect::RecordErrors(INVALID_RECORD, &[1]),
        ),
        produce(
            "count 0",
            "plain",
            batch(&[], head(0)),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "count -1",
            "plain",
            batch(&[], head(-1)),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "lastOffsetDelta disagrees with count",
            "plain",
            batch(
                &section(2, "bad"),
                Head {
                    last_delta: 5,
                    ..head(2)
                },
            ),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "record length past the batch",
            "plain",
            batch(&[40, 0, 0, 0, 2, b'k', 0, 0], head(1)),
            ir,
        ),
        produce(
            "negative record length",
            "plain",
            batch(&[3, 0, 0, 0, 2, b'k', 0, 0], head(1)),
            ir,
        ),
        produce(
            "key length past the record",
            "plain",
            bad(&[0, 0, 0, 40, b'k', 0, 0]),
            ir,
        ),
        produce(
            "value length past the record",
            "plain",
            bad(&[0, 0, 0, 2, b'k', 40, b'v', 0]),
            ir,
        ),
        produce(
            "header count past the record",
            "plain",
            bad(&[0, 0, 0, 2, b'k', 0, 100]),
            ir,
        ),
        produce(
            "negative header count",
            "plain",
            bad(&[0, 0, 0, 2, b'k', 0, 1]),
            ir,
        ),
        produce(
            "negative header key length",
            "plain",
            bad(&[0, 0, 0, 2, b'k', 0, 2, 3, 0]),
            ir,
        ),
        produce(
            "header value past the record",
            "plain",
            bad(&[0, 0, 0, 2, b'k', 0, 2, 2, b'h', 40]),
            ir,
        ),
        produce(
            "overflowing varint (key length)",
            "plain",
            bad(&[0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0]),
            ir,
        ),
        produce(
            "varint longer than 5 bytes",
            "plain",
            bad(&[0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0]),
            ir,
        ),
        produce(
            "overflowing varlong (timestamp delta)",
            "plain",
            bad(&[
                0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 2, b'k', 0, 0,
            ]),
            ir,
        ),
        produce(
            "bytes left inside the record",
            "plain",
            bad(&[0, 0, 0, 2, b'k', 0, 0, 9, 9]),
            ir,
        ),
        produce("record cut short", "plain", bad(&[0, 0]), ir),
        produce(
            "garbage after the last record",
            "plain",
            batch(&[section(2, "bad"), vec![1, 2, 3]].concat(), head(2)),
            Expect::RecordErrors(INVALID_RECORD, &[1]),
        ),
    ];
    let mut gap = rec(0, Some(b"a"), Some(b"bad"), &[]);
    gap.extend(rec(2, Some(b"b"), Some(b"bad"), &[]));
    c.push(produce(
        "offset deltas skip one",
        "plain",
        batch(&gap, head(2)),
        Expect::RecordErrors(INVALID_RECORD, &[1]),
    ));
    let mut dup = rec(0, Some(b"a"), Some(b"bad"), &[]);
    dup.extend(rec(0, Some(b"b"), Some(b"bad"), &[]));
    c.push(produce(
        "offset delta repeated",
        "plain",
        batch(&dup, head(2)),
        Expect::RecordErrors(INVALID_RECORD, &[1]),
    ));
    let mut valid_headers = vec![];
    varint(&mut valid_headers, 1);
    varint(&mut valid_headers, 1);
    valid_headers.push(b'h');
    varint(&mut valid_headers, -1);
    c.push(produce(
        "valid record with a null-valued header",
        "plain",
        batch(
            &rec(0, Some(b"k"), Some(b"valid-h"), &valid_headers),
            head(1),
        ),
        Expect::Stored,
    ));
    c
}

fn compressed_cases() -> Vec<Case> {
    let mut c = Vec::new();
    let attrs = |codec: Codec| Head {
        attributes: codec.attribute(),
        ..head(3)
    };
    for codec in Codec::ALL {
        let good = codec.compress(&section(3, "valid"));
        c.push(produce(
            format!("valid {codec:?} batch"),
            "plain",
            batch(&good, attrs(codec)),
            Expect::Stored,
        ));
        c.push(produce(
            format!("{codec:?} garbage payload"),
            "plain",
            batch(&[0x5a; 300], attrs(codec)),
            Expect::RecordErrors(INVALID_RECORD, &[0]),
        ));
        let long = codec.compress(&section(200, "bad"));
        c.push(produce(
            format!("{codec:?} truncated stream"),
            "plain",
            batch(
                &long[..long.len() / 2],
                Head {
                    attributes: codec.attribute(),
                    ..head(200)
                },
            ),
            Expect::Code(INVALID_RECORD),
        ));
        let one = codec.compress(&section(1, "bad"));
        c.push(produce(
            format!("{codec:?} count 5 holding 1 record"),
            "plain",
            batch(
                &one,
                Head {
                    attributes: codec.attribute(),
                    ..head(5)
                },
            ),
            Expect::RecordErrors(INVALID_RECORD, &[1]),
        ));
        let three = codec.compress(&section(3, "bad"));
        c.push(produce(
            format!("{codec:?} count 1 holding 3 records"),
            "plain",
            batch(
                &three,
                Head {
                    attributes: codec.attribute(),
                    ..head(1)
                },
            ),
            Expect::RecordErrors(INVALID_RECORD, &[0]),
        ));
    }
    let mut x = Codec::Xerial.compress(&section(3, "bad"));
    x[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    c.push(produce(
        "xerial chunk length past the data",
        "plain",
        batch(
            &x,
            Head {
                attributes: 2,
                ..head(3)
            },
        ),
        Expect::Code(INVALID_RECORD),
    ));
    for codec_id in [5i16, 6, 7] {
        c.push(produce(
            format!("undefined codec {codec_id}"),
            "plain",
            batch(
                &section(1, "bad"),
                Head {
                    attributes: codec_id,
                    ..head(1)
                },
            ),
            Expect::Code(INVALID_RECORD),
        ));
    }
    // Decompression bombs: one record whose value is 72 MiB of zeros (above the 64 MiB cap), under 1 MiB
    // compressed.
    let bomb = |mib: usize| rec(0, Some(b"k"), Some(&vec![0u8; mib << 20]), &[]);
    let b = bomb(72);
    for codec in [Codec::Gzip, Codec::Lz4] {
        c.push(produce(
            format!("{codec:?} bomb (72 MiB)"),
            "plain",
            batch(
                &codec.compress(&b),
                Head {
                    attributes: codec.attribute(),
                    ..head(1)
                },
            ),
            Expect::Code(INVALID_RECORD),
        ));
    }
    let z = Codec::Zstd.compress(&bomb(72));
    c.push(produce(
        "zstd bomb (72 MiB)",
        "plain",
        batch(
            &z,
            Head {
                attributes: 4,
                ..head(1)
            },
        ),
        Expect::Code(INVALID_RECORD),
    ));
    c.push(produce(
        "zstd bomb on a compacted topic",
        "compacted",
        batch(
            &z,
            Head {
                attributes: 4,
                ..head(1)
            },
        ),
        Expect::Code(INVALID_RECORD),
    ));
    c
}

fn rule_cases() -> Vec<Case> {
    let keyless: Vec<u8> = (0..4)
        .flat_map(|i| {
            rec(
                i,
                if i % 2 == 1 { Some(&b"k"[..]) } else { None },
                Some(b"bad"),
                &[],
            )
        })
        .collect();
    let mut c = vec![
        produce(
            "keyless records on a compacted topic",
            "compacted",
            batch(&keyless, head(4)),
            Expect::RecordErrors(INVALID_RECORD, &[0, 2]),
        ),
        produce(
            "keyless records on a compacted topic, lz4",
            "compacted",
            batch(
                &Codec::Lz4.compress(&keyless),
                Head {
                    attributes: 3,
                    ..head(4)
                },
            ),
            Expect::RecordErrors(INVALID_RECORD, &[0, 2]),
        ),
        produce(
            "keyed records on a compacted topic",
            "compacted",
            batch(&section(2, "valid"), head(2)),
            Expect::Stored,
        ),
        produce(
            "keyless records on a delete topic",
            "plain",
            batch(&rec(0, None, Some(b"valid-nokey"), &[]), head(1)),
            Expect::Stored,
        ),
        produce(
            "control batch from a client",
            "plain",
            batch(
                &section(1, "bad"),
                Head {
                    attributes: 0x20,
                    ..head(1)
                },
            ),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "transactional control batch from a client",
            "plain",
            batch(
                &section(1, "bad"),
                Head {
                    attributes: 0x30,
                    producer_id: 9,
                    sequence: 0,
                    ..head(1)
                },
            ),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "idempotent batch with sequence -1",
            "plain",
            batch(
                &section(1, "bad"),
                Head {
                    producer_id: 5,
                    sequence: -1,
                    ..head(1)
                },
            ),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "idempotent batch with sequence -7",
            "plain",
            batch(
                &section(1, "bad"),
                Head {
                    producer_id: 5,
                    sequence: -7,
                    ..head(1)
                },
            ),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "timestamp an hour too old",
            "strict",
            batch(&section(1, "bad"), head(1)),
            Expect::RecordErrors(INVALID_TIMESTAMP, &[0]),
        ),
        produce(
            "LogAppendTime flag from a client on a LogAppendTime topic",
            "appendtime",
            batch(
                &section(1, "bad"),
                Head {
                    attributes: 0x08,
                    ..head(1)
                },
            ),
            Expect::RecordErrors(INVALID_TIMESTAMP, &[0]),
        ),
        produce(
            "LogAppendTime flag with no timestamp on a CreateTime topic",
            "plain",
            batch(
                &section(1, "bad"),
                Head {
                    attributes: 0x08,
                    max_ts: -1,
                    ..head(1)
                },
            ),
            Expect::RecordErrors(INVALID_TIMESTAMP, &[0]),
        ),
    ];
    // Far future on the strict topic: rebuild with a base timestamp two hours ahead.
    let mut future = batch(&section(1, "bad"), head(1)).to_vec();
    let ts = i64::MAX / 2;
    future[27..35].copy_from_slice(&ts.to_be_bytes());
    future[35..43].copy_from_slice(&ts.to_be_bytes());
    c.push(produce(
        "timestamp far in the future",
        "strict",
        resign(future),
        Expect::RecordErrors(INVALID_TIMESTAMP, &[0]),
    ));
    c
}

fn header_cases() -> Vec<Case> {
    let good = batch(&section(2, "bad"), head(2)).to_vec();
    let mut crc = good.clone();
    let last = crc.len() - 1;
    crc[last] ^= 0xff;
    let mut magic1 = good.clone();
    magic1[16] = 1;
    let mut magic3 = good.clone();
    magic3[16] = 3;
    let mut short_len = good.clone();
    short_len[8..12].copy_from_slice(&10i32.to_be_bytes());
    let mut mid_len = good.clone();
    mid_len[8..12].copy_from_slice(&20i32.to_be_bytes());
    let mut long_len = good.clone();
    long_len[8..12].copy_from_slice(&(good.len() as i32 + 100).to_be_bytes());
    let two = [good.clone(), good.clone()].concat();
    let big = batch(&section(1, &"x".repeat(200_000)), head(1));
    vec![
        produce(
            "CRC mismatch",
            "plain",
            Bytes::from(crc),
            Expect::Code(CORRUPT_MESSAGE),
        ),
        produce(
            "magic 1",
            "plain",
            resign(magic1),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "magic 3",
            "plain",
            resign(magic3),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "batch length below the smallest record",
            "plain",
            Bytes::from(short_len),
            Expect::Code(CORRUPT_MESSAGE),
        ),
        produce(
            "batch length below the v2 header",
            "plain",
            Bytes::from(mid_len[..32].to_vec()),
            Expect::Code(CORRUPT_MESSAGE),
        ),
        produce(
            "batch length past the records",
            "plain",
            Bytes::from(long_len),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "records shorter than a batch header",
            "plain",
            Bytes::from(good[..40].to_vec()),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "two batches in one partition",
            "plain",
            Bytes::from(two),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "bytes after the batch",
            "plain",
            Bytes::from([good.clone(), vec![0; 7]].concat()),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "batch above max.message.bytes",
            "small",
            big,
            Expect::Code(MESSAGE_TOO_LARGE),
        ),
        produce(
            "empty records",
            "plain",
            Bytes::new(),
            Expect::Code(INVALID_RECORD),
        ),
        produce(
            "unknown partition",
            "plain",
            Bytes::from(good.clone()),
            Expect::Code(UNKNOWN_TOPIC_OR_PARTITION),
        )
        .with_partition(7),
        Case {
            name: "acks=5".into(),
            send: Send::Produce {
                version: 9,
                acks: 5,
                topic: "plain",
                partition: 0,
                records: Some(Bytes::from(good.clone())),
            },
            expect: Expect::Code(INVALID_REQUIRED_ACKS),
        },
        Case {
            name: "zstd before Produce v7".into(),
            send: Send::Produce {
                version: 6,
                acks: -1,
                topic: "plain",
                partition: 0,
                records: Some(batch(
                    &Codec::Zstd.compress(&section(1, "bad")),
                    Head {
                        attributes: 4,
                        ..head(1)
                    },
                )),
            },
            expect: Expect::Code(UNSUPPORTED_COMPRESSION_TYPE),
        },
        Case {
            name: "corrupt batch with acks=0".into(),
            send: Send::Produce {
                version: 9,
                acks: 0,
                topic: "plain",
                partition: 0,
                records: Some(Bytes::from(crc_clone(&good))),
            },
            expect: Expect::Closed,
        },
        Case {
            name: "keyless records on a compacted topic with acks=0".into(),
            send: Send::Produce {
                version: 9,
                acks: 0,
                topic: "compacted",
                partition: 0,
                records: Some(batch(&rec(0, None, Some(b"bad"), &[]), head(1))),
            },
            expect: Expect::Closed,
        },
    ]
}

fn crc_clone(good: &[u8]) -> Vec<u8> {
    let mut v = good.to_vec();
    v[30] ^= 1;
    v
}

impl Case {
    fn with_partition(mut self, p: i32) -> Case {
        if let Send::Produce { partition, .. } = &mut self.send {
            *partition = p;
        }
        self
    }
}

fn frame_cases() -> Vec<Case> {
    let produce_body = encode_request(
        9,
        1,
        &produce_request("plain", 0, batch(&section(1, "bad"), head(1)), -1),
    );
    // The frame says it is 20 bytes shorter than the request: the body ends inside the records.
    let truncated_frame = frame_of(&produce_body[4..produce_body.len() - 20]);
    // Produce v9 with a topic array claiming 2^31-1 entries.
    let mut huge = BytesMut::new();
    huge.put_i16(0);
    huge.put_i16(9);
    huge.put_i32(1);
    huge.put_i16(-1); // client id
    huge.put_u8(0); // header tags
    huge.put_u8(0); // transactional id: null compact string
    huge.put_i16(-1);
    huge.put_i32(1000);
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]); // compact array length 2^31-1
    let mut bad_utf8_produce = BytesMut::new();
    bad_utf8_produce.put_i16(0);
    bad_utf8_produce.put_i16(3);
    bad_utf8_produce.put_i32(1);
    bad_utf8_produce.put_i16(-1);
    bad_utf8_produce.put_i16(-1); // transactional id
    bad_utf8_produce.put_i16(-1);
    bad_utf8_produce.put_i32(1000);
    bad_utf8_produce.put_i32(1);
    bad_utf8_produce.put_i16(4);
    bad_utf8_produce.extend_from_slice(&[b'a', 0xc3, 0x28, b'b']);
    bad_utf8_produce.put_i32(1);
    bad_utf8_produce.put_i32(0);
    let records = batch(&section(1, "bad"), head(1));
    bad_utf8_produce.put_i32(records.len() as i32);
    bad_utf8_produce.extend_from_slice(&records);
    vec![
        raw("negative frame length", vec![0xff, 0xff, 0xff, 0xf0]),
        raw(
            "frame above socket.request.max.bytes",
            vec![0x7f, 0xff, 0xff, 0xff],
        ),
        raw("frame shorter than a header", frame_of(&[0, 0, 0])),
        raw(
            "unknown api key",
            frame_of(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff]),
        ),
        raw(
            "Produce v2 (below what is served)",
            frame_of(&[0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff]),
        ),
        raw("truncated Produce body", truncated_frame),
        raw("Produce topic array of 2^31-1 entries", frame_of(&huge)),
        Case {
            name: "invalid UTF-8 topic name in Produce v3".into(),
            send: Send::Raw(frame_of(&bad_utf8_produce)),
            expect: Expect::Code(UNKNOWN_TOPIC_OR_PARTITION),
        },
        Case {
            name: "invalid UTF-8 topic name in Metadata v4".into(),
            send: Send::Raw({
                let mut m = BytesMut::new();
                m.put_i16(3);
                m.put_i16(4);
                m.put_i32(1);
                m.put_i16(-1);
                m.put_i32(1);
                m.put_i16(4);
                m.extend_from_slice(&[b'a', 0xff, 0xfe, b'b']);
                m.put_u8(0); // allow auto topic creation: false
                frame_of(&m)
            }),
            expect: Expect::MetadataTopic(INVALID_TOPIC_EXCEPTION),
        },
    ]
}

// ---- running ----------------------------------------------------------------------------------------

/// Runs one case on a fresh connection and checks its outcome; returns records stored (for `Stored`).
async fn run_case(broker: &TestBroker, case: &Case) -> i64 {
    let mut c = broker.client().await;
    let (bytes, version) = match &case.send {
        Send::Raw(b) => (b.clone(), 4),
        Send::Produce {
            version,
            acks,
            topic,
            partition,
            records,
        } => {
            let mut req = produce_request(
                topic,
                *partition,
                records.clone().unwrap_or_default(),
                *acks,
            );
            req.topic_data[0].partition_data[0].records = records.clone();
            (encode_request(*version, 1, &req).to_vec(), *version)
        }
    };
    save_seed(case, &bytes);
    let _ = c.try_send_raw(&bytes).await;
    match case.expect {
        Expect::Closed => {
            c.expect_closed().await;
            0
        }
        Expect::MetadataTopic(code) => {
            let frame = c
                .recv_frame()
                .await
                .unwrap_or_else(|| panic!("{}: closed", case.name));
            let (_, resp) = decode_response::<kafka_protocol::messages::MetadataResponse>(
                kafka_protocol::messages::ApiKey::Metadata,
                version,
                frame,
            );
            assert_eq!(resp.topics.len(), 1, "{}", case.name);
            assert_eq!(resp.topics[0].error_code, code, "{}", case.name);
            0
        }
        expect => {
            let frame = c
                .recv_frame()
                .await
                .unwrap_or_else(|| panic!("{}: the broker closed the connection", case.name));
            let (_, resp) = decode_response::<ProduceResponse>(
                kafka_protocol::messages::ApiKey::Produce,
                version,
                frame,
            );
            let p = &resp.responses[0].partition_responses[0];
            let msg = p.error_message.as_deref().map(|s| s.to_string());
            match expect {
                Expect::Stored => {
                    assert_eq!(p.error_code, 0, "{}: {msg:?}", case.name);
                    let Send::Produce {
                        records: Some(r), ..
                    } = &case.send
                    else {
                        unreachable!()
                    };
                    i64::from(i32::from_be_bytes(r[57..61].try_into().expect("count")))
                }
                Expect::Code(code) => {
                    assert_eq!(p.error_code, code, "{}: {msg:?}", case.name);
                    0
                }
                Expect::RecordErrors(code, indexes) => {
                    assert_eq!(p.error_code, code, "{}: {msg:?}", case.name);
                    let got: Vec<i32> = p.record_errors.iter().map(|e| e.batch_index).collect();
                    assert_eq!(
                        got, indexes,
                        "{}: record_errors {:?}",
                        case.name, p.record_errors
                    );
                    assert!(p
                        .record_errors
                        .iter()
                        .all(|e| e.batch_index_error_message.is_some()));
                    assert!(msg.is_some(), "{}: error_message", case.name);
                    0
                }
                _ => unreachable!(),
            }
        }
    }
}

/// With `WEIR_FUZZ_SEEDS=<dir>`, keeps every case's bytes as fuzzing seeds: the whole frame for
/// `request_decode`, the records for `batch_validate` (`fuzz/README.md`).
fn save_seed(case: &Case, frame: &[u8]) {
    let Some(dir) = std::env::var_os("WEIR_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let name: String = case
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let write = |target: &str, bytes: &[u8]| {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).expect("seed dir");
        std::fs::write(d.join(&name), bytes).expect("seed");
    };
    write("request_decode", frame);
    if let Send::Produce {
        records: Some(r), ..
    } = &case.send
    {
        write("batch_validate", r);
        write("segment_recovery", r);
    }
}

/// Reads `topic` from offset 0 to its end and checks it holds exactly `expected` valid records.
async fn check_topic(broker: &TestBroker, topic: &str, expected: i64, after: &str) {
    let mut c = broker.client().await;
    let mut offset = 0i64;
    loop {
        let req = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(8 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(8 << 20)])]);
        let resp: FetchResponse = c.call(12, &req).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "after {after}: fetch {topic}");
        assert_eq!(
            p.high_watermark, expected,
            "after {after}: {topic} holds only valid records"
        );
        if offset >= p.high_watermark {
            return;
        }
        let mut records = p.records.clone().unwrap_or_default();
        let mut pos = 0;
        while pos + 12 <= records.len() {
            let len = i32::from_be_bytes(records[pos + 8..pos + 12].try_into().expect("len"))
                as usize
                + 12;
            assert_eq!(
                crc32c::crc32c(&records[pos + 21..pos + len]),
                u32::from_be_bytes(records[pos + 17..pos + 21].try_into().expect("crc")),
                "after {after}: stored batch CRC"
            );
            pos += len;
        }
        let mut sets = Vec::new();
        while !records.is_empty() {
            sets.push(
                RecordBatchDecoder::decode_with_custom_compression(&mut records, Some(decompress))
                    .unwrap_or_else(|e| panic!("after {after}: {topic} batches decode: {e}")),
            );
        }
        for set in sets {
            for r in set.records {
                assert_eq!(r.offset, offset, "after {after}: offsets contiguous");
                let v = r.value.expect("value");
                assert!(
                    v.starts_with(b"valid"),
                    "after {after}: {topic} offset {} holds {:?}",
                    r.offset,
                    &v[..v.len().min(20)]
                );
                offset += 1;
            }
        }
    }
}

#[tokio::test]
async fn malformed_requests_get_kafkas_answer_and_store_nothing() {
    bounded(Duration::from_secs(600), async {
        let broker = TestBroker::start_with(|c| c.message_max_bytes = 1 << 20).await;
        let mut admin = broker.client().await;
        for (topic, configs) in [
            ("plain", vec![]),
            ("compacted", vec![("cleanup.policy", "compact")]),
            (
                "strict",
                vec![
                    ("message.timestamp.before.max.ms", "3600000"),
                    ("message.timestamp.after.max.ms", "3600000"),
                ],
            ),
            (
                "appendtime",
                vec![("message.timestamp.type", "LogAppendTime")],
            ),
            ("small", vec![("max.message.bytes", "100000")]),
            ("steady", vec![]),
        ] {
            admin.create_topic_with_configs(topic, 1, &configs).await;
        }
        // The well-behaved client: produces and reads back on its own connection throughout.
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let steady = {
            let (stop, rounds, addr) = (stop.clone(), rounds.clone(), broker.addr());
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await;
                let mut next = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let p = c
                        .produce("steady", 0, value_batch("valid", 10, NOW_TS))
                        .await;
                    assert_eq!(p.error_code, 0, "steady produce");
                    assert_eq!(p.base_offset, next, "steady offsets");
                    next += 10;
                    let req = FetchRequest::default()
                        .with_max_wait_ms(0)
                        .with_max_bytes(1 << 20)
                        .with_topics(vec![FetchTopic::default()
                            .with_topic(topic_name("steady"))
                            .with_partitions(vec![FetchPartition::default()
                                .with_fetch_offset(next - 10)
                                .with_partition_max_bytes(1 << 20)])]);
                    let resp: FetchResponse = c.call(12, &req).await;
                    let part = &resp.responses[0].partitions[0];
                    assert_eq!(part.error_code, 0, "steady fetch");
                    assert_eq!(part.high_watermark, next, "steady high watermark");
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
                next
            })
        };
        let cases: Vec<Case> = [
            uncompressed_cases(),
            compressed_cases(),
            rule_cases(),
            header_cases(),
            frame_cases(),
        ]
        .into_iter()
        .flatten()
        .collect();
        assert!(cases.len() >= 60, "{} cases", cases.len());
        let mut stored: std::collections::HashMap<&str, i64> = Default::default();
        for case in &cases {
            eprintln!("case: {}", case.name);
            let n = run_case(&broker, case).await;
            if let Send::Produce { topic, .. } = &case.send {
                *stored.entry(topic).or_default() += n;
            }
            for topic in ["plain", "compacted", "strict", "appendtime", "small"] {
                check_topic(
                    &broker,
                    topic,
                    stored.get(topic).copied().unwrap_or(0),
                    &case.name,
                )
                .await;
            }
        }
        // The metadata of the odd topic names did not create anything.
        let md = admin
            .call::<MetadataRequest>(
                12,
                &MetadataRequest::default()
                    .with_topics(None)
                    .with_allow_auto_topic_creation(false),
            )
            .await;
        assert_eq!(
            md.topics.len(),
            6,
            "topics: {:?}",
            md.topics.iter().map(|t| t.name.clone()).collect::<Vec<_>>()
        );
        stop.store(true, Ordering::Relaxed);
        let produced = steady.await.expect("the well-behaved client saw no error");
        assert!(produced > 0 && rounds.load(Ordering::Relaxed) > 0);
        eprintln!(
            "{} cases; the steady client completed {} rounds",
            cases.len(),
            rounds.load(Ordering::Relaxed)
        );
        broker.shutdown().await;
    })
    .await;
}
