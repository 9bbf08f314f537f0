//! A look at a ring's completion queue without taking the ring: whether the
//! kernel has posted completions nobody has reaped yet.
//!
//! The owner's wait opens each round with a non-blocking turn (reap what is
//! ready before looking at its condition). Most of the time nothing is
//! ready, and that turn would only take and release the ring; with this
//! look it is skipped. The look reads the queue's head and tail through a
//! second, read-only mapping of the ring's shared memory, with atomic loads
//! only: the head is written by whichever thread holds the ring (its owner
//! or the service thread), the tail by the kernel, so nothing here may read
//! them non-atomically (io-uring's own `CompletionStatus` assumes one
//! consumer thread, which the service thread breaks).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering::Acquire};

use io_uring::{IoUring, Parameters};

/// `IORING_OFF_CQ_RING`: the mmap offset of the completion queue ring.
const OFF_CQ_RING: libc::off_t = 0x800_0000;

/// The kernel's `struct io_uring_params` (its ABI; `io_uring::Parameters` is
/// a transparent wrapper over it): the words we read are `cq_off.head`,
/// `cq_off.tail` and `cq_off.cqes`.
#[repr(C)]
struct RawParams {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: [u32; 10],
    cq_head: u32,
    cq_tail: u32,
    cq_ring_mask: u32,
    cq_ring_entries: u32,
    cq_overflow: u32,
    cq_cqes: u32,
    cq_flags: u32,
    cq_resv1: u32,
    cq_user_addr: u64,
}

const _: () = assert!(std::mem::size_of::<RawParams>() == 120);
const _: () = assert!(std::mem::size_of::<Parameters>() == 120);

/// A read-only view of one ring's completion queue head and tail.
pub(super) struct CqPeek {
    map: *mut libc::c_void,
    len: usize,
    head: *const AtomicU32,
    tail: *const AtomicU32,
}

// SAFETY: the view is a read-only shared mapping that lives as long as the
// value; it is only ever read through atomics, from any thread.
unsafe impl Send for CqPeek {}
// SAFETY: as above: concurrent atomic loads of kernel-shared memory.
unsafe impl Sync for CqPeek {}

impl CqPeek {
    /// Maps the completion queue of `uring` (descriptor `fd`) once more,
    /// read-only. `None` if the kernel refuses (the caller then never skips).
    pub(super) fn new(uring: &IoUring, fd: RawFd) -> Option<CqPeek> {
        let params: &Parameters = uring.params();
        // SAFETY: `Parameters` is `#[repr(transparent)]` over the kernel's
        // `io_uring_params`, whose layout `RawParams` repeats (sizes checked
        // above); both are plain integers, valid for any bit pattern.
        let raw = unsafe { &*(params as *const Parameters).cast::<RawParams>() };
        let len = raw.cq_cqes as usize + raw.cq_entries as usize * 16;
        let (head, tail) = (raw.cq_head as usize, raw.cq_tail as usize);
        if head + 4 > len || tail + 4 > len || head % 4 != 0 || tail % 4 != 0 {
            return None;
        }
        // SAFETY: a new read-only shared mapping of the ring's completion
        // queue (offset IORING_OFF_CQ_RING of the ring's descriptor, the
        // length the kernel's offsets give); nothing is overwritten; we
        // check the result.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                OFF_CQ_RING,
            )
        };
        if map == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: both offsets lie inside the mapping (checked above) and
        // are 4-aligned; the kernel keeps a u32 there for the ring's life.
        let (head, tail) = unsafe {
            (
                map.cast::<u8>().add(head).cast::<AtomicU32>(),
                map.cast::<u8>().add(tail).cast::<AtomicU32>(),
            )
        };
        Some(CqPeek {
            map,
            len,
            head,
            tail,
        })
    }

    /// Whether every completion posted so far has been reaped. A hint: a
    /// completion may be posted right after (as with any look).
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        // SAFETY: both point into our live mapping (see `new`); atomic loads
        // only, so concurrent writers (the kernel, the ring's holder) are fine.
        unsafe { (*self.head).load(Acquire) == (*self.tail).load(Acquire) }
    }
}

impl Drop for CqPeek {
    fn drop(&mut self) {
        // SAFETY: our own mapping, made in `new` with this length; nothing
        // refers to it after this.
        unsafe { libc::munmap(self.map, self.len) };
    }
}
