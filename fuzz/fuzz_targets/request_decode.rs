//! Frame split + request decode: arbitrary bytes as what a client sends on a connection. Every frame
//! either decodes or is refused with an error; nothing may panic or abort.
#![no_main]

use bytes::{Buf, Bytes};
use libfuzzer_sys::fuzz_target;
use weir::net::frame::checked_len;
use weir::protocol::decode_request;

/// 1 MiB frames at most, as a small `socket.request.max.bytes`.
const MAX_FRAME: u32 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::copy_from_slice(data);
    // The connection's framing (length checked before the body is taken), then the broker's decode
    // with every API the broker serves, as `net::session` calls it.
    while input.remaining() >= 4 {
        let Ok(len) = checked_len(input.get_i32(), MAX_FRAME) else {
            return;
        };
        if input.remaining() < len {
            return;
        }
        let frame = input.split_to(len);
        let _ = decode_request(frame, weir::handler::list::is_supported);
    }
});
