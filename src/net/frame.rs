//! Length-prefixed Kafka frames: the size is checked against a limit before any buffer is allocated.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

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

/// Reads one frame body (without the length prefix); refuses lengths above `max_bytes` before allocating.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: u32,
) -> Result<Bytes, FrameError> {
    let len = read_frame_len(reader, max_bytes).await?;
    read_frame_body(reader, len).await
}

/// Reads a frame's length prefix and checks it against `max_bytes`; nothing is allocated.
pub async fn read_frame_len<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: u32,
) -> Result<usize, FrameError> {
    let mut len_buf = [0u8; 4];
    match reader.read_exact(&mut len_buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = i32::from_be_bytes(len_buf);
    if len < 0 || len as u32 > max_bytes {
        return Err(FrameError::BadLength {
            len: i64::from(len),
            max: max_bytes,
        });
    }
    Ok(len as usize)
}

/// Reads a frame body of `len` bytes (already checked by [`read_frame_len`]).
pub async fn read_frame_body<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: usize,
) -> Result<Bytes, FrameError> {
    // Filled straight from the socket (no zeroing); `take` keeps reads inside this frame.
    let mut buf = BytesMut::with_capacity(len);
    let mut body = reader.take(len as u64);
    while buf.len() < len {
        if body.read_buf(&mut buf).await? == 0 {
            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_oversized_and_negative_lengths() {
        let mut r: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut r, 1024).await,
            Err(FrameError::BadLength { .. })
        ));
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut r, 1024).await,
            Err(FrameError::BadLength { .. })
        ));
        let mut r: &[u8] = &[0, 0, 0, 2, 9, 9];
        assert_eq!(&read_frame(&mut r, 1024).await.unwrap()[..], &[9, 9]);
        let mut r: &[u8] = &[0, 0, 0, 4, 9];
        assert!(matches!(
            read_frame(&mut r, 1024).await,
            Err(FrameError::Io(_))
        ));
        let mut r: &[u8] = &[];
        assert!(matches!(
            read_frame(&mut r, 1024).await,
            Err(FrameError::Closed)
        ));
    }
}
