//! Turns one frame into a request and a response into one frame; the only caller of kafka-protocol's codecs.
//!
//! Guards the crate's decoders: frames shorter than a header, unknown API keys and versions outside what
//! Weir serves are rejected here, before any handler runs. Bytes after a parsed body are ignored, as Kafka
//! ignores them.

pub mod versions;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

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

/// Decodes one frame (without its length prefix) into a request.
pub fn decode_request(mut frame: Bytes) -> Result<Request, DecodeError> {
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
    if !versions::is_supported(api_key, version) {
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
        RequestHeader::decode(&mut frame, header_version).map_err(|e| malformed(e.to_string()))?;
    let body =
        RequestKind::decode(api_key, &mut frame, version).map_err(|e| malformed(e.to_string()))?;
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

/// Encodes any message body with a v0 response header (used for the ApiVersions error reply).
pub fn encode_with_v0_header<M: Encodable>(
    correlation_id: i32,
    body: &M,
    version: i16,
) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    buf.put_i32(correlation_id);
    body.encode(&mut buf, version)
        .map_err(|e| EncodeError(e.to_string()))?;
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
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
