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
