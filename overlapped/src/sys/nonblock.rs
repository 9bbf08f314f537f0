//! A socket's blocking mode (`O_NONBLOCK`), which is the caller's
//! (`ioctlsocket(FIONBIO)`), and the epoll backend's one-call switch of it.
//!
//! `accept` and `connect` have no per-call "don't wait" flag, so the epoll
//! backend makes those calls on a blocking socket by switching it to
//! non-blocking for the one call and back ([`nonblocking_once`]). Every
//! reader and writer of the mode takes the same process-wide lock, so
//! none ever sees the switched state: not another ring (which, had it read
//! `O_NONBLOCK` there and called `accept4` after the switch back, would
//! block inside the kernel holding its ring — issue 15's stall), and not
//! the library's own synchronous calls (a blocking `accept` must not fail
//! with `WSAEWOULDBLOCK` because a ring's `AcceptEx` was being tried).

use std::io;
use std::os::fd::RawFd;
use std::sync::{Mutex, MutexGuard};

static SWITCH: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    SWITCH.lock().unwrap_or_else(|e| e.into_inner())
}

fn flags(fd: RawFd) -> io::Result<i32> {
    // SAFETY: F_GETFL involves no memory; a bad descriptor is an error.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(fl)
    }
}

fn set_flags(fd: RawFd, fl: i32) -> io::Result<()> {
    // SAFETY: F_SETFL involves no memory; a bad descriptor is an error.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, fl) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The caller's blocking mode of `fd`: true if non-blocking.
pub(crate) fn nonblocking(fd: RawFd) -> io::Result<bool> {
    let _one = lock();
    Ok(flags(fd)? & libc::O_NONBLOCK != 0)
}

/// Sets the caller's blocking mode of `fd`.
pub(crate) fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    let _one = lock();
    let fl = flags(fd)?;
    let want = if on {
        fl | libc::O_NONBLOCK
    } else {
        fl & !libc::O_NONBLOCK
    };
    if want == fl {
        return Ok(());
    }
    set_flags(fd, want)
}

/// Runs `call` with `fd` non-blocking: switched for the call (and back
/// after) if the caller's mode is blocking. `call` returns its result with
/// the errno in it (`-errno`), as does this on a descriptor whose flags
/// cannot be read. The lock is held across the call, which therefore must
/// never wait (it does not: the descriptor is non-blocking throughout).
pub(crate) fn nonblocking_once(fd: RawFd, call: impl FnOnce() -> i32) -> i32 {
    let _one = lock();
    // Read under the lock: outside it, another ring's switch could show
    // `O_NONBLOCK` here and be undone before `call` runs.
    let fl = match flags(fd) {
        Ok(fl) => fl,
        Err(e) => return -e.raw_os_error().unwrap_or(libc::EBADF),
    };
    if fl & libc::O_NONBLOCK != 0 {
        return call();
    }
    if let Err(e) = set_flags(fd, fl | libc::O_NONBLOCK) {
        return -e.raw_os_error().unwrap_or(libc::EBADF);
    }
    let res = call();
    // Back to the caller's blocking mode.
    let _ = set_flags(fd, fl);
    res
}
