//! Length-prefixed Kafka frames: the size is checked against a limit before any buffer is allocated.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::net::tcp::OwnedReadHalf;

/// Bytes asked of the socket per read: small pipelined requests cost one read syscall, not two each.
const READ_CHUNK: usize = 16 * 1024;

/// Why no frame could be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// The length prefix is negative or above `socket.request.max.bytes`.
    #[error("frame length {len} outside 0..={max}")]
    BadLength { len: i64, max: u32 },
    /// The peer closed mid-frame or the socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A frame's length prefix as a size, refused when negative or above `max_bytes` (before anything is
/// allocated for it).
pub fn checked_len(len: i32, max_bytes: u32) -> Result<usize, FrameError> {
    match u32::try_from(len) {
        Ok(n) if n <= max_bytes => Ok(n as usize),
        _ => Err(FrameError::BadLength {
            len: i64::from(len),
            max: max_bytes,
        }),
    }
}

/// Reads frames from a connection holding no buffer while idle: a read buffer is allocated only once the
/// socket is readable and released as soon as its bytes are consumed, so an idle connection costs no
/// buffer memory. A frame is handed out as its own exact-size buffer (never a view into the read buffer,
/// which would keep a whole chunk alive behind a small request).
pub struct FrameReader {
    half: OwnedReadHalf,
    /// Read but not yet consumed; empty with no capacity between requests.
    buf: BytesMut,
}

impl FrameReader {
    /// A reader over `half` with nothing buffered.
    pub fn new(half: OwnedReadHalf) -> FrameReader {
        FrameReader {
            half,
            buf: BytesMut::new(),
        }
    }

    /// Reads a frame's length prefix and checks it against `max_bytes`; the frame body is not allocated.
    pub async fn read_len(&mut self, max_bytes: u32) -> Result<usize, FrameError> {
        while self.buf.len() < 4 {
            if !self.fill().await? {
                return Err(if self.buf.is_empty() {
                    FrameError::Closed
                } else {
                    FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())
                });
            }
        }
        let len = self.buf.get_i32();
        self.release_if_empty();
        checked_len(len, max_bytes)
    }

    /// Reads a frame body of `len` bytes (already checked by [`read_len`](Self::read_len)): what is
    /// buffered is copied (at most one read chunk), the rest is read straight into the frame's buffer.
    pub async fn read_body(&mut self, len: usize) -> Result<Bytes, FrameError> {
        let mut frame = BytesMut::with_capacity(len);
        let buffered = self.buf.len().min(len);
        frame.extend_from_slice(&self.buf[..buffered]);
        self.buf.advance(buffered);
        self.release_if_empty();
        while frame.len() < len {
            self.half.readable().await?;
            let missing = len - frame.len();
            let mut rest = (&mut frame).limit(missing);
            match self.half.try_read_buf(&mut rest) {
                Ok(0) => return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(frame.freeze())
    }

    /// Waits until the socket is readable, then reads one chunk; false at end of stream.
    async fn fill(&mut self) -> Result<bool, FrameError> {
        loop {
            self.half.readable().await?;
            self.buf.reserve(READ_CHUNK);
            match self.half.try_read_buf(&mut self.buf) {
                Ok(0) => {
                    self.release_if_empty();
                    return Ok(false);
                }
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => self.release_if_empty(),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Gives the read buffer back once everything in it is consumed.
    fn release_if_empty(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A reader over a real socket whose peer has sent `bytes` and closed.
    async fn reader_over(bytes: &[u8]) -> FrameReader {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(bytes).await.unwrap();
        client.shutdown().await.unwrap();
        FrameReader::new(server.into_split().0)
    }

    async fn read_frame(bytes: &[u8], max: u32) -> Result<Bytes, FrameError> {
        let mut r = reader_over(bytes).await;
        let len = r.read_len(max).await?;
        r.read_body(len).await
    }

    #[tokio::test]
    async fn refuses_oversized_and_negative_lengths() {
        let r = read_frame(&[0x7f, 0xff, 0xff, 0xff], 1024).await;
        assert!(matches!(r, Err(FrameError::BadLength { .. })));
        let r = read_frame(&[0xff, 0xff, 0xff, 0xff], 1024).await;
        assert!(matches!(r, Err(FrameError::BadLength { .. })));
        assert_eq!(
            &read_frame(&[0, 0, 0, 2, 9, 9], 1024).await.unwrap()[..],
            &[9, 9]
        );
        let r = read_frame(&[0, 0, 0, 4, 9], 1024).await;
        assert!(matches!(r, Err(FrameError::Io(_))));
        let r = read_frame(&[0, 0], 1024).await;
        assert!(matches!(r, Err(FrameError::Io(_))));
        assert!(matches!(
            read_frame(&[], 1024).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn pipelined_and_large_frames_come_out_whole_and_exact() {
        let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut wire = Vec::new();
        for body in [&b"abc"[..], &big[..], &b""[..], &b"z"[..]] {
            wire.extend_from_slice(&(body.len() as i32).to_be_bytes());
            wire.extend_from_slice(body);
        }
        let mut r = reader_over(&wire).await;
        for body in [&b"abc"[..], &big[..], &b""[..], &b"z"[..]] {
            let len = r.read_len(1 << 20).await.unwrap();
            let frame = r.read_body(len).await.unwrap();
            assert_eq!(&frame[..], body);
        }
        // Nothing is held once every frame has been consumed.
        assert_eq!(r.buf.capacity(), 0);
        assert!(matches!(r.read_len(1 << 20).await, Err(FrameError::Closed)));
        assert_eq!(r.buf.capacity(), 0);
    }
}
