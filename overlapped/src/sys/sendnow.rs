//! A small transmit sent on the calling thread, the way a readiness server
//! sends a small file: `send(MSG_DONTWAIT)` for memory and `sendfile` for
//! a file range, straight into the socket, with no pipe, no io_uring
//! worker and no wake-up. Only when nothing can block: the socket is in
//! non-blocking mode (the caller's `FIONBIO`; `sendfile` has no per-call
//! "do not wait" flag), the file range is wholly in the page cache
//! (`cachestat(2)`, Linux 6.5, one system call: a disk read never makes the
//! thread wait), and `SIGPIPE` is ignored (a `sendfile` into a connection
//! the peer reset raises it; `send` here has `MSG_NOSIGNAL`). The mode is
//! the one the caller set through the library and `SIGPIPE` is looked at
//! once, so the checks cost no system call but `cachestat`.

use std::cell::Cell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

thread_local! {
    /// Transmits this thread sent inline, wholly or in part (for tests).
    static INLINE: Cell<u64> = const { Cell::new(0) };
}

/// Counts one transmit sent inline (some of its bytes) by this thread.
pub(crate) fn count_inline() {
    INLINE.with(|c| c.set(c.get() + 1));
}

/// Transmits this thread sent inline, wholly or in part.
pub(crate) fn inline_count() -> u64 {
    INLINE.with(Cell::get)
}

/// `cachestat`'s number (the same on every architecture: the syscall
/// table is shared from 425 on).
const SYS_CACHESTAT: libc::c_long = 451;

/// `cachestat` answered `ENOSYS` / `EPERM` once (an older kernel, a
/// seccomp filter): never asked again.
static NO_CACHESTAT: AtomicBool = AtomicBool::new(false);

#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

fn errno() -> i32 {
    -std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Whether every page of `len` bytes of `file` from `off` is in the page
/// cache now. False when the kernel cannot say (no `cachestat`: then the
/// caller keeps its asynchronous path).
pub(crate) fn cached(file: RawFd, off: u64, len: u64) -> bool {
    if len == 0 {
        return true;
    }
    if NO_CACHESTAT.load(Relaxed) {
        return false;
    }
    let page = u64::from(super::page_size());
    let want = (off + len - 1) / page - off / page + 1;
    let range = CachestatRange { off, len };
    let mut stat = Cachestat::default();
    // SAFETY: `range` and `stat` are live, properly laid out (the kernel's
    // `struct cachestat_range` / `struct cachestat`), and only for the call;
    // a bad descriptor is an error, not UB.
    let r = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file,
            &range as *const CachestatRange,
            &mut stat as *mut Cachestat,
            0u32,
        )
    };
    if r < 0 {
        let e = -errno();
        if e == libc::ENOSYS || e == libc::EPERM {
            NO_CACHESTAT.store(true, Relaxed);
        }
        return false;
    }
    stat.nr_cache >= want
}

/// `SIGPIPE`'s disposition as first seen: 0 not yet asked, 1 ignored, 2 not.
static SIGPIPE: AtomicU8 = AtomicU8::new(0);

/// Whether `SIGPIPE` is ignored in this process (Rust programs ignore it
/// from the start; a C program may not). Asked once, at the first inline
/// attempt: a program that stops ignoring it later must not keep sockets
/// in non-blocking mode for transmits (documented with `TransmitFlags`).
pub(crate) fn sigpipe_ignored() -> bool {
    match SIGPIPE.load(Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    // SAFETY: an all-zero `sigaction` is a valid value to be overwritten.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `old`.
    let r = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) };
    let ignored = r == 0 && old.sa_sigaction == libc::SIG_IGN;
    SIGPIPE.store(if ignored { 1 } else { 2 }, Relaxed);
    ignored
}

/// Sends what of `buf` the socket takes now (`MSG_DONTWAIT`; `more`:
/// `MSG_MORE`, more bytes follow at once): bytes, or `-errno`.
pub(crate) fn send(socket: RawFd, buf: &[u8], more: bool) -> i32 {
    let mut flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    if more {
        flags |= libc::MSG_MORE;
    }
    // SAFETY: `buf` is live for the call; the kernel only reads it.
    let n = unsafe { libc::send(socket, buf.as_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        errno()
    } else {
        n as i32
    }
}

/// Sends `len` bytes of `file` from `offset` into `socket` in the kernel
/// (`sendfile`), as much as the socket takes now (it must be non-blocking:
/// [`may_send`]): bytes (fewer at the end of the file), or `-errno`.
pub(crate) fn sendfile(socket: RawFd, file: RawFd, offset: u64, len: usize) -> i32 {
    let mut off = offset as libc::off_t;
    // SAFETY: `off` is live for the call; the descriptors are the caller's.
    let n = unsafe { libc::sendfile(socket, file, &mut off, len) };
    if n < 0 {
        errno()
    } else {
        n as i32
    }
}
