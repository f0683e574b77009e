//! The global allocator: the system allocator, except that huge requests get lazily-committed memory.
//!
//! Why this exists (measured): kafka-protocol's decoders call `Vec::with_capacity(n)` with `n` read from the
//! request, before checking that `n` elements can follow. A 15-byte Metadata frame announcing 2^31 topics
//! asked for 154 GB; the system allocator refused and Rust aborted the whole broker. Requests of
//! `HUGE_BYTES` or more are served here by an anonymous `MAP_NORESERVE` mapping instead: the address space
//! is reserved but no page is committed until written, so the decoder fails on the missing bytes and the
//! mapping is released, while the broker answers the bad request by closing that one connection.
//! Honest large buffers never reach this size (frames are capped by `socket.request.max.bytes`).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::null_mut;

/// Allocations at or above this size are mapped lazily.
const HUGE_BYTES: usize = 1 << 31;
/// Page size assumed for alignment; mappings are page-aligned.
const PAGE_BYTES: usize = 4096;

/// System allocator with lazily-committed huge allocations.
pub struct GuardedAlloc;

fn is_huge(layout: &Layout) -> bool {
    layout.size() >= HUGE_BYTES && layout.align() <= PAGE_BYTES
}

// SAFETY: every pointer handed out is either from `System` (and returned to it) or from a fresh anonymous
// mapping of at least `layout.size()` bytes, page-aligned (>= `layout.align()`), unmapped with the same
// size; `is_huge` depends only on the layout, so alloc and dealloc always take the same branch.
unsafe impl GlobalAlloc for GuardedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            let p = unsafe {
                libc::mmap(
                    null_mut(),
                    layout.size(),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return null_mut();
            }
            return p.cast();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            // Fresh anonymous mappings are zero-filled.
            return unsafe { self.alloc(layout) };
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_huge(&layout) {
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
            return;
        }
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return null_mut();
        };
        if !is_huge(&layout) && !is_huge(&new_layout) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_huge_unused_capacity_does_not_abort() {
        // 2^31 elements of 64 bytes = 128 GiB of address space, never touched.
        let v: Vec<[u8; 64]> = Vec::with_capacity(1 << 31);
        assert!(v.capacity() >= 1 << 31);
        let mut small: Vec<u8> = Vec::with_capacity(16);
        small.extend_from_slice(b"still works");
        assert_eq!(&small[..], b"still works");
    }
}
