//! Frame reader + request decode: arbitrary bytes as what a client sends on a connection. Every frame
//! either decodes or is refused with an error; nothing may panic or abort.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir::net::frame::read_frame;
use weir::protocol::decode_request;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut input = data;
        // 1 MiB frames at most, as a small `socket.request.max.bytes`.
        while let Ok(frame) = read_frame(&mut input, 1 << 20).await {
            let _ = decode_request(frame);
        }
    });
});
