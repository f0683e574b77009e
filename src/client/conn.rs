//! One client connection: length-prefixed frames, ApiVersions negotiation, typed request/response.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
#[cfg(test)]
use tokio::net::TcpListener;
use tokio::net::TcpStream;

use super::{s, ClientError};

/// Largest response frame accepted: bounds the allocation a broker can make us do.
const RESPONSE_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Highest versions this client speaks where a newer version changes the message's shape in a way
/// the CLI does not use: Produce/Fetch 13 name topics by id, OffsetFetch 8 batches groups.
const CLIENT_MAX: &[(ApiKey, i16)] = &[
    (ApiKey::Produce, 12),
    (ApiKey::Fetch, 12),
    (ApiKey::OffsetFetch, 7),
    (ApiKey::ApiVersions, 3),
];

/// A connection to one broker.
pub struct Conn {
    /// The socket.
    stream: TcpStream,
    /// Where it goes (for error messages).
    addr: String,
    /// Next correlation id.
    correlation_id: i32,
    /// The broker's (min, max) versions by API key, from ApiVersions.
    versions: HashMap<i16, (i16, i16)>,
    /// Finalized feature levels, from ApiVersions v3+ (Kafka sends `metadata.version`).
    features: Vec<(String, i16)>,
    /// Per-request time limit.
    timeout: Duration,
}

impl Conn {
    /// Connects and negotiates API versions.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Conn, ClientError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Connect {
                addr: addr.to_string(),
                reason: "timed out".into(),
            })?
            .map_err(|e| ClientError::Connect {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            addr: addr.to_string(),
            correlation_id: 0,
            versions: HashMap::new(),
            features: Vec::new(),
            timeout,
        };
        conn.negotiate().await?;
        Ok(conn)
    }

    /// ApiVersions at our highest version. A broker that does not know it answers UNSUPPORTED_VERSION
    /// with a v0 body listing its range (KIP-511); we then ask again at v0, as Kafka's client does.
    async fn negotiate(&mut self) -> Result<(), ClientError> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(s("weir-cli"))
            .with_client_software_version(s(env!("CARGO_PKG_VERSION")));
        for version in [3, 0] {
            let resp = match self.send_version(&req, version).await {
                Ok(r) => r,
                // The v0 error body does not parse as v3; the frame was read whole, so retry in place.
                Err(ClientError::Protocol(_)) if version > 0 => continue,
                Err(e) => return Err(e),
            };
            if resp.error_code == 35 && version > 0 {
                continue;
            }
            ClientError::check(resp.error_code, None)?;
            for k in &resp.api_keys {
                self.versions
                    .insert(k.api_key, (k.min_version, k.max_version));
            }
            self.features = resp
                .finalized_features
                .iter()
                .map(|f| (f.name.to_string(), f.max_version_level))
                .collect();
            return Ok(());
        }
        Err(ClientError::Protocol(format!(
            "{}: ApiVersions negotiation failed",
            self.addr
        )))
    }

    /// The broker's (min, max) version of each API.
    pub fn api_versions(&self) -> Vec<(i16, i16, i16)> {
        let mut v: Vec<_> = self
            .versions
            .iter()
            .map(|(k, (lo, hi))| (*k, *lo, *hi))
            .collect();
        v.sort_unstable();
        v
    }

    /// The broker's finalized feature levels (name, level), as ApiVersions v3+ reported them.
    pub fn features(&self) -> &[(String, i16)] {
        &self.features
    }

    /// The version to use for `R`: the highest both sides speak.
    pub fn version_for<R: Request>(&self) -> Result<i16, ClientError> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| ClientError::Protocol("api key".into()))?;
        let ours_max = CLIENT_MAX
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(R::VERSIONS.max, |(_, v)| *v)
            .min(R::VERSIONS.max);
        let (lo, hi) = self
            .versions
            .get(&R::KEY)
            .copied()
            .ok_or(ClientError::Unsupported { api: key })?;
        let v = ours_max.min(hi);
        if v < lo.max(R::VERSIONS.min) {
            return Err(ClientError::Unsupported { api: key });
        }
        Ok(v)
    }

    /// Sends `req` at the negotiated version and waits for its response.
    pub async fn send<R: Request>(&mut self, req: &R) -> Result<R::Response, ClientError> {
        let v = self.version_for::<R>()?;
        self.send_version(req, v).await
    }

    /// Sends `req` at the negotiated version without waiting (acks=0 produce).
    pub async fn send_no_response<R: Request>(&mut self, req: &R) -> Result<(), ClientError> {
        let v = self.version_for::<R>()?;
        let frame = self.encode(req, v)?;
        self.write(&frame).await
    }

    /// Sends `req` at `version` and waits for its response.
    pub async fn send_version<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        let correlation_id = self.correlation_id;
        let frame = self.encode(req, version)?;
        self.write(&frame).await?;
        let mut body = self.read_frame().await?;
        // ApiVersions answers always carry a v0 header (KIP-511), whatever the request version.
        let header_version = if R::KEY == 18 {
            0
        } else {
            R::Response::header_version(version)
        };
        let header = ResponseHeader::decode(&mut body, header_version)
            .map_err(|e| self.protocol(format!("response header: {e}")))?;
        if header.correlation_id != correlation_id {
            return Err(self.protocol(format!(
                "correlation id {} answered, {correlation_id} expected",
                header.correlation_id
            )));
        }
        let key = ApiKey::try_from(R::KEY).map_err(|_| self.protocol("api key".into()))?;
        // A peer's lengths are checked against its frame before the decoder allocates for them.
        crate::protocol::check_response_bounds(key, version, &body)
            .map_err(|e| self.protocol(format!("{key:?} v{version} response: {e}")))?;
        R::Response::decode(&mut body, version)
            .map_err(|e| self.protocol(format!("{key:?} v{version} response: {e}")))
    }

    fn encode<R: Request>(&mut self, req: &R, version: i16) -> Result<Bytes, ClientError> {
        let correlation_id = self.correlation_id;
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(s("weir-cli")));
        let mut buf = BytesMut::with_capacity(128);
        buf.put_i32(0);
        header
            .encode(&mut buf, R::header_version(version))
            .map_err(|e| self.protocol(format!("request header: {e}")))?;
        req.encode(&mut buf, version)
            .map_err(|e| self.protocol(format!("request: {e}")))?;
        let len =
            i32::try_from(buf.len() - 4).map_err(|_| self.protocol("request over 2 GiB".into()))?;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        Ok(buf.freeze())
    }

    async fn write(&mut self, frame: &[u8]) -> Result<(), ClientError> {
        let io = tokio::time::timeout(self.timeout, self.stream.write_all(frame)).await;
        self.io_result(io)
    }

    async fn read_frame(&mut self) -> Result<Bytes, ClientError> {
        let timeout = self.timeout;
        let read = async {
            let len = self.stream.read_i32().await?;
            let len = usize::try_from(len)
                .ok()
                .filter(|l| *l <= RESPONSE_BYTES_MAX)
                .ok_or_else(|| std::io::Error::other(format!("response frame of {len} bytes")))?;
            let mut buf = vec![0u8; len];
            self.stream.read_exact(&mut buf).await?;
            Ok(Bytes::from(buf))
        };
        let r = tokio::time::timeout(timeout, read).await;
        self.io_result(r)
    }

    fn io_result<T>(
        &self,
        r: Result<std::io::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, ClientError> {
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ClientError::Connect {
                addr: self.addr.clone(),
                reason: e.to_string(),
            }),
            Err(_) => Err(ClientError::Connect {
                addr: self.addr.clone(),
                reason: format!("no answer within {} ms", self.timeout.as_millis()),
            }),
        }
    }

    fn protocol(&self, what: String) -> ClientError {
        ClientError::Protocol(format!("{}: {what}", self.addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::ApiVersionsResponse;

    /// Answers one ApiVersions request with `body` encoded at `version` (v0 response header).
    async fn answer(stream: &mut TcpStream, body: &ApiVersionsResponse, version: i16) -> i16 {
        let len = stream.read_i32().await.unwrap() as usize;
        let mut frame = vec![0u8; len];
        stream.read_exact(&mut frame).await.unwrap();
        let asked = i16::from_be_bytes([frame[2], frame[3]]);
        let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let mut out = BytesMut::new();
        out.put_i32(0);
        out.put_i32(correlation);
        body.encode(&mut out, version).unwrap();
        let n = (out.len() - 4) as i32;
        out[0..4].copy_from_slice(&n.to_be_bytes());
        stream.write_all(&out).await.unwrap();
        asked
    }

    /// A broker without ApiVersions v3 (Kafka before 2.4) answers UNSUPPORTED_VERSION with a v0 body;
    /// the client asks again at v0 and keeps the ranges from that answer.
    #[tokio::test]
    async fn falls_back_to_api_versions_v0() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let range =
                |k: i16, hi: i16| ApiVersion::default().with_api_key(k).with_max_version(hi);
            let refuse = ApiVersionsResponse::default()
                .with_error_code(35)
                .with_api_keys(vec![range(18, 2)]);
            let first = answer(&mut s, &refuse, 0).await;
            let ok = ApiVersionsResponse::default().with_api_keys(vec![range(18, 2), range(3, 8)]);
            let second = answer(&mut s, &ok, 0).await;
            (first, second)
        });
        let conn = Conn::connect(&addr, Duration::from_secs(5)).await.unwrap();
        assert_eq!(server.await.unwrap(), (3, 0));
        assert_eq!(conn.api_versions(), vec![(3, 0, 8), (18, 0, 2)]);
        assert_eq!(
            conn.version_for::<kafka_protocol::messages::MetadataRequest>()
                .unwrap(),
            8
        );
    }
}
