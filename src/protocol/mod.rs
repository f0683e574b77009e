//! Turns one frame into a request and a response into one frame; the only caller of kafka-protocol's codecs.
//!
//! Guards the crate's decoders: frames shorter than a header, unknown API keys and versions outside what
//! Weir serves are rejected here, before any handler runs. Bytes after a parsed body are ignored, as Kafka
//! ignores them.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

mod bounds;
mod error_codes;
pub mod fetch_encode;
mod offsets_v10;
mod schema;

pub use bounds::{check_response as check_response_bounds, BoundsError};
pub use fetch_encode::{Frame, Part};

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    /// The request header (api key, version, correlation id, client id).
    pub header: RequestHeader,
    /// The API being called.
    pub api_key: ApiKey,
    /// The decoded body.
    pub body: RequestKind,
}

impl Request {
    /// The request's API version.
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }

    /// A Fetch request's response-wide `max_bytes`, for the network edge to lower when broker memory for
    /// responses is short (`net::limits`); `None` for every other request.
    pub fn fetch_max_bytes_mut(&mut self) -> Option<&mut i32> {
        match &mut self.body {
            RequestKind::Fetch(fetch) => Some(&mut fetch.max_bytes),
            _ => None,
        }
    }
}

/// Why a frame could not become a request.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Too short to hold even the api key, version and correlation id: close the connection.
    #[error("frame of {0} bytes is shorter than a request header")]
    TooShort(usize),
    /// Unknown API key: close the connection (Kafka does the same).
    #[error("unknown api key {api_key}")]
    UnknownApiKey { api_key: i16, correlation_id: i32 },
    /// Version outside what Weir serves. ApiVersions gets an error response; other APIs close the connection.
    #[error("unsupported version {version} of {api_key:?}")]
    UnsupportedVersion {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
    },
    /// The header or body did not parse, or bytes were left over: close the connection.
    #[error("malformed {api_key:?} v{version} request: {reason}")]
    Malformed {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
}

/// Smallest frame that holds api key (2), version (2) and correlation id (4).
const HEADER_FIXED_BYTES: usize = 8;

/// Most invalid UTF-8 strings one request may have repaired (see [`decode_request`]).
const UTF8_REPAIRS_MAX: usize = 16;

/// Decodes one frame (without its length prefix) into a request. `served` says which API versions have a
/// handler (the handler list); anything else is refused before the body is decoded.
///
/// A string field holding invalid UTF-8 does not close the connection: Kafka's Java readers decode
/// strings leniently (`new String(bytes, UTF_8)`), so its handlers then answer, e.g.
/// INVALID_TOPIC_EXCEPTION for such a topic name. The crate's decoder refuses them instead; so the bad
/// bytes of that string are replaced with `?` (same length, so the frame's layout is unchanged) and the
/// frame decoded again.
pub fn decode_request(
    frame: Bytes,
    served: impl Fn(ApiKey, i16) -> bool,
) -> Result<Request, DecodeError> {
    let served: &dyn Fn(ApiKey, i16) -> bool = &served;
    let mut frame = frame;
    for _ in 0..UTF8_REPAIRS_MAX {
        match decode_once(frame.clone(), served) {
            Err(Utf8Failure { end }) => match repair_string_ending_at(&frame, end) {
                Some(repaired) => frame = repaired,
                None => break,
            },
            Ok(result) => return result,
        }
    }
    decode_from(&mut frame, served)
}

/// A string field ending at byte `end` of the frame is not UTF-8.
struct Utf8Failure {
    end: usize,
}

/// Replaces the invalid UTF-8 bytes of the string that ends at `end` with `?`; the string's start is
/// found from its length prefix (int16, or compact varint of length + 1). `None` if no prefix fits.
fn repair_string_ending_at(frame: &Bytes, end: usize) -> Option<Bytes> {
    let fits = |len: usize| -> bool {
        let start = end - len;
        let int16 = start >= 2
            && i16::from_be_bytes([frame[start - 2], frame[start - 1]]) as i64 == len as i64;
        let compact = {
            let mut v = (len + 1) as u64;
            let mut enc = [0u8; 10];
            let mut n = 0;
            while v >= 0x80 {
                enc[n] = (v as u8) | 0x80;
                v >>= 7;
                n += 1;
            }
            enc[n] = v as u8;
            n += 1;
            start >= n && frame[start - n..start] == enc[..n]
        };
        (int16 || compact) && std::str::from_utf8(&frame[start..end]).is_err()
    };
    let len = (1..=end.min(i16::MAX as usize)).find(|l| fits(*l))?;
    let mut out = BytesMut::from(&frame[..]);
    let mut at = end - len;
    while at < end {
        match std::str::from_utf8(&out[at..end]) {
            Ok(_) => break,
            Err(e) => {
                let bad_start = at + e.valid_up_to();
                let bad_len = e.error_len().unwrap_or(end - bad_start);
                for b in &mut out[bad_start..bad_start + bad_len] {
                    *b = b'?';
                }
                at = bad_start + bad_len;
            }
        }
    }
    Some(out.freeze())
}

/// One decoding attempt; `Err` only for a string that is not UTF-8 (the caller may repair it).
fn decode_once(
    mut frame: Bytes,
    served: &dyn Fn(ApiKey, i16) -> bool,
) -> Result<Result<Request, DecodeError>, Utf8Failure> {
    let total = frame.len();
    let result = decode_from(&mut frame, served);
    match &result {
        Err(DecodeError::Malformed { reason, .. }) if reason.contains("utf-8") => {
            Err(Utf8Failure {
                end: total - frame.remaining(),
            })
        }
        _ => Ok(result),
    }
}

fn decode_from(
    frame: &mut Bytes,
    served: &dyn Fn(ApiKey, i16) -> bool,
) -> Result<Request, DecodeError> {
    if frame.len() < HEADER_FIXED_BYTES {
        return Err(DecodeError::TooShort(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key = ApiKey::try_from(raw_key).map_err(|_| DecodeError::UnknownApiKey {
        api_key: raw_key,
        correlation_id,
    })?;
    if !served(api_key, version) {
        return Err(DecodeError::UnsupportedVersion {
            api_key,
            version,
            correlation_id,
        });
    }
    let malformed = |reason: String| DecodeError::Malformed {
        api_key,
        version,
        reason,
    };
    let header_version = api_key.request_header_version(version);
    let header =
        RequestHeader::decode(frame, header_version).map_err(|e| malformed(format!("{e:#}")))?;
    let body = if offsets_v10::handles(api_key, version) {
        decode_v10(api_key, frame).map_err(|e| malformed(e.to_string()))?
    } else {
        // Every length prefix fits in the frame before the crate allocates for it.
        bounds::check(api_key, version, frame.chunk()).map_err(|e| malformed(e.to_string()))?;
        RequestKind::decode(api_key, frame, version).map_err(|e| malformed(format!("{e:#}")))?
    };
    if frame.has_remaining() {
        // Kafka ignores bytes after a parsed body, and real clients depend on it: librdkafka 2.x sends 3
        // extra bytes after its Metadata v13 body. Rejecting them would cut those clients off.
        tracing::debug!(
            ?api_key,
            version,
            trailing = frame.remaining(),
            "ignoring bytes after the request body"
        );
    }
    Ok(Request {
        header,
        api_key,
        body,
    })
}

/// The versions of an API's request this layer can decode: the crate's range, extended by the versions
/// decoded by hand here (OffsetCommit and OffsetFetch v10, see [`offsets_v10`]).
pub fn decodable_versions(api_key: ApiKey) -> (i16, i16) {
    let crate_range = api_key.valid_versions();
    let max = if offsets_v10::handles(api_key, offsets_v10::VERSION) {
        crate_range.max.max(offsets_v10::VERSION)
    } else {
        crate_range.max
    };
    (crate_range.min, max)
}

fn decode_v10(api_key: ApiKey, frame: &mut Bytes) -> Result<RequestKind, offsets_v10::V10Error> {
    Ok(match api_key {
        ApiKey::OffsetCommit => {
            RequestKind::OffsetCommit(offsets_v10::decode_offset_commit(frame)?)
        }
        _ => RequestKind::OffsetFetch(offsets_v10::decode_offset_fetch(frame)?),
    })
}

/// Encodes a response as a complete frame, length prefix included.
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<Bytes, EncodeError> {
    let header_version = api_key.response_header_version(version);
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| EncodeError(e.to_string()))?;
    body.encode(&mut buf, version)
        .map_err(|e| EncodeError(e.to_string()))?;
    let len =
        i32::try_from(buf.len() - 4).map_err(|_| EncodeError("response over 2 GiB".into()))?;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Encodes a response whose record sets stay in files (see [`fetch_encode`]): partitions with `records`
/// `None` take the `slices`, in order. Only Fetch carries record sets.
///
/// Every response the Kafka listener sends is encoded here, so this is where `/metrics` counts the
/// error codes responses carry (`weir_errors_total`), whichever layer set them: a walk over the
/// response's error fields (per partition for Produce and Fetch), one relaxed add per nonzero code.
pub fn encode_response_with_records(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: ResponseKind,
    slices: Vec<crate::log::FileSlice>,
) -> Result<Frame, EncodeError> {
    let metrics = crate::metrics::global();
    error_codes::for_each(&body, version, &mut |code| {
        metrics.error(api_key as i16, code)
    });
    match body {
        ResponseKind::Fetch(fetch) => {
            fetch_encode::encode_fetch_response(version, correlation_id, fetch, slices)
        }
        other if slices.is_empty() => {
            encode_response(api_key, version, correlation_id, &other).map(Frame::Whole)
        }
        _ => Err(EncodeError(format!("{api_key:?} has no record sets"))),
    }
}

/// A response that could not be encoded (a bug: responses are built by our handlers).
#[derive(Debug, thiserror::Error)]
#[error("encode: {0}")]
pub struct EncodeError(pub String);

/// Kafka's name of an API key (`Produce`, `Fetch`, …), for metrics labels.
pub fn api_name(api_key: i16) -> Option<String> {
    ApiKey::try_from(api_key).ok().map(|k| format!("{k:?}"))
}

/// Kafka's name of an error code (`UNKNOWN_TOPIC_OR_PARTITION`), for metrics labels.
pub fn error_name(code: i16) -> String {
    match kafka_protocol::ResponseError::try_from_code(code) {
        None => "NONE".into(),
        Some(kafka_protocol::ResponseError::Unknown(c)) => format!("UNKNOWN_{c}"),
        Some(e) => {
            let camel = e.to_string();
            let mut out = String::with_capacity(camel.len() + 8);
            for (i, c) in camel.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metadata v4 for one topic named `name`.
    fn metadata_v4(name: &[u8]) -> Bytes {
        let mut m = BytesMut::new();
        m.put_i16(3);
        m.put_i16(4);
        m.put_i32(7);
        m.put_i16(-1);
        m.put_i32(1);
        m.put_i16(name.len() as i16);
        m.put_slice(name);
        m.put_u8(0);
        m.freeze()
    }

    #[test]
    fn every_error_code_of_a_response_is_counted_once_when_encoded() {
        use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
        use kafka_protocol::messages::FetchResponse;
        // Codes no broker path answers with, so tests running beside this one do not move them.
        let (top, per_partition) = (124, 125);
        let partition = |code| PartitionData::default().with_error_code(code);
        let body = FetchResponse::default()
            .with_error_code(top)
            .with_responses(vec![
                FetchableTopicResponse::default()
                    .with_partitions(vec![partition(per_partition), partition(0)]),
                FetchableTopicResponse::default().with_partitions(vec![partition(per_partition)]),
            ]);
        let m = crate::metrics::global();
        let key = ApiKey::Fetch as i16;
        let before = (m.error_count(key, top), m.error_count(key, per_partition));
        let encode = |version| {
            let body = ResponseKind::Fetch(body.clone());
            encode_response_with_records(ApiKey::Fetch, version, 1, body, vec![]).expect("encodes")
        };
        encode(12);
        assert_eq!(m.error_count(key, top), before.0 + 1);
        assert_eq!(m.error_count(key, per_partition), before.1 + 2);
        // Fetch v4-6 has no top-level error code on the wire: it is not counted there.
        encode(6);
        assert_eq!(m.error_count(key, top), before.0 + 1);
        assert_eq!(m.error_count(key, per_partition), before.1 + 4);
        assert_eq!(m.error_count(key, 0), 0, "NONE is not an error");
    }

    #[test]
    fn invalid_utf8_strings_are_decoded_leniently() {
        let r = decode_request(metadata_v4(&[b'a', 0xff, 0xfe, b'b']), |_, _| true);
        match r {
            Ok(Request {
                body: RequestKind::Metadata(m),
                ..
            }) => {
                let topics = m.topics.expect("topics");
                assert_eq!(topics[0].name.as_deref().map(|n| n.as_str()), Some("a??b"));
            }
            other => panic!("{other:?}"),
        }
    }
}
