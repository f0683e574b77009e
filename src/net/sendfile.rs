//! Writes encoded response frames to a socket: runs of in-memory parts in one vectored write, record
//! ranges straight from their segment files with `sendfile` (page cache to socket, no user-space copy).
//!
//! The socket is non-blocking (tokio's): `sendfile` writes what the socket buffer takes and the rest waits
//! for writable readiness, as a vectored write does. A range that comes back short of its length (its
//! segment was truncated after the response was encoded: retention's paced removal, a follower's log
//! truncation) is an error, which closes the connection: the frame's length prefixes are already sent,
//! and a client must never get bytes other than those promised.

use std::io::{self, IoSlice};

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedWriteHalf;

use crate::protocol::{Frame, Part};

/// Most in-memory slices handed to one vectored write.
const IOVECS_MAX: usize = 64;

/// Most bytes asked of one `sendfile` call (Linux caps a call at about 2 GiB anyway).
const SENDFILE_CHUNK_MAX: usize = 1 << 30;

/// One piece of what is to be written, borrowed from the frames.
enum Piece<'a> {
    Mem(&'a [u8]),
    File(&'a crate::log::FileSlice),
}

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Mem(b) => b.len(),
            Piece::File(f) => usize::try_from(f.len).unwrap_or(usize::MAX),
        }
    }
}

/// Writes every frame, in order, with as few system calls as the socket takes.
pub async fn write_frames<'a>(
    out: &mut OwnedWriteHalf,
    frames: impl Iterator<Item = &'a Frame>,
) -> io::Result<()> {
    let mut pieces: Vec<Piece<'_>> = Vec::new();
    for frame in frames {
        match frame {
            Frame::Whole(b) => pieces.push(Piece::Mem(b)),
            Frame::Parts { parts, .. } => pieces.extend(parts.iter().map(|p| match p {
                Part::Bytes(b) => Piece::Mem(b),
                Part::File(f) => Piece::File(f),
            })),
        }
    }
    pieces.retain(|p| p.len() > 0);
    let (mut i, mut offset) = (0usize, 0usize);
    while i < pieces.len() {
        let n = match &pieces[i] {
            Piece::Mem(first) => {
                let slices: Vec<IoSlice<'_>> = std::iter::once(&first[offset..])
                    .chain(pieces[i + 1..].iter().map_while(|p| match p {
                        Piece::Mem(b) => Some(&b[..]),
                        Piece::File(_) => None,
                    }))
                    .take(IOVECS_MAX)
                    .map(IoSlice::new)
                    .collect();
                out.write_vectored(&slices).await?
            }
            Piece::File(f) => send_range(out, f, offset).await?,
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        // Advance over what was written.
        let mut n = n;
        while i < pieces.len() && n >= pieces[i].len() - offset {
            n -= pieces[i].len() - offset;
            i += 1;
            offset = 0;
        }
        offset += n;
    }
    Ok(())
}

/// Sends part of a file range from `done` bytes in: waits until the socket is writable, then one
/// `sendfile`. Returns the bytes sent (never 0: a range cut short is an error).
async fn send_range(
    out: &mut OwnedWriteHalf,
    slice: &crate::log::FileSlice,
    done: usize,
) -> io::Result<usize> {
    let stream: &tokio::net::TcpStream = out.as_ref();
    let left = usize::try_from(slice.len)
        .unwrap_or(usize::MAX)
        .saturating_sub(done)
        .min(SENDFILE_CHUNK_MAX);
    loop {
        stream.writable().await?;
        let mut at = slice.pos + done as u64;
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream, &*slice.file, Some(&mut at), left).map_err(io::Error::from)
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "record range ended early (segment truncated while queued)",
                ))
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use bytes::Bytes;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::log::FileSlice;

    /// A connected pair: the writer's half and the reader's stream.
    async fn pair() -> (OwnedWriteHalf, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (_, write) = client.expect("connect").into_split();
        (write, accepted.expect("accept").0)
    }

    fn file_of(data: &[u8]) -> Arc<std::fs::File> {
        let mut f = tempfile::tempfile().expect("tempfile");
        f.write_all(data).expect("write");
        Arc::new(f)
    }

    #[tokio::test]
    async fn frames_go_out_in_order_with_ranges_sent_from_their_files() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let file = file_of(&data);
        let frames = [
            Frame::Whole(Bytes::from_static(b"first")),
            Frame::Parts {
                parts: vec![
                    Part::Bytes(Bytes::from_static(b"head")),
                    Part::File(FileSlice {
                        file: file.clone(),
                        pos: 7,
                        len: 250_000,
                    }),
                    Part::Bytes(Bytes::from_static(b"mid")),
                    Part::File(FileSlice {
                        file,
                        pos: 0,
                        len: 3,
                    }),
                ],
                len: 4 + 250_000 + 3 + 3,
            },
        ];
        let (mut write, mut read) = pair().await;
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            read.read_to_end(&mut got).await.expect("read");
            got
        });
        write_frames(&mut write, frames.iter())
            .await
            .expect("write");
        drop(write);
        let mut expected = b"firsthead".to_vec();
        expected.extend_from_slice(&data[7..250_007]);
        expected.extend_from_slice(b"mid");
        expected.extend_from_slice(&data[..3]);
        assert_eq!(reader.await.expect("reader"), expected);
    }

    #[tokio::test]
    async fn a_range_cut_short_by_truncation_is_an_error_not_other_bytes() {
        let file = file_of(&[7u8; 1000]);
        let frame = Frame::Parts {
            parts: vec![Part::File(FileSlice {
                file: file.clone(),
                pos: 0,
                len: 1000,
            })],
            len: 1000,
        };
        file.set_len(400).expect("truncate");
        let (mut write, _read) = pair().await;
        let err = write_frames(&mut write, std::iter::once(&frame))
            .await
            .expect_err("a short range must fail");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
