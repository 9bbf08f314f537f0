//! Synchronous `recvmsg`/`sendmsg` on a descriptor, for the calls made with
//! neither an overlapped record nor a completion routine.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::RawFd;

/// `recvmsg` into `bufs`; returns (bytes, Linux `msg_flags`).
pub(crate) fn recv(fd: RawFd, bufs: &mut [IoSliceMut<'_>], flags: i32) -> io::Result<(usize, i32)> {
    // SAFETY: msghdr is a plain C struct for which all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSliceMut is guaranteed ABI-compatible with iovec on Unix.
    msg.msg_iov = bufs.as_mut_ptr().cast();
    msg.msg_iovlen = bufs.len();
    // SAFETY: `msg` points at `bufs`, live and writable for the whole call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize, msg.msg_flags))
}

/// `sendmsg` from `bufs`; returns bytes sent.
pub(crate) fn send(fd: RawFd, bufs: &[IoSlice<'_>], flags: i32) -> io::Result<usize> {
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len();
    // SAFETY: `msg` points at `bufs`, live for the whole call; the kernel only reads them.
    let n = unsafe { libc::sendmsg(fd, &msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Lets go of the socket behind `fd` while keeping the number taken: the
/// number is pointed at `/dev/null` (`dup3`), so the socket itself is
/// released (its port freed, an abortive close's reset sent) as soon as the
/// kernel's own references to it go, and the number cannot name a new
/// socket while operations in flight still name it ([pitfall 1](crate::semantics#pitfall-1)). Closing
/// `fd` later closes the placeholder. The caller must own `fd` and keep it
/// open during the call.
pub(crate) fn release_keeping_number(fd: RawFd) -> io::Result<()> {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::sync::OnceLock;
    static NULL: OnceLock<Option<OwnedFd>> = OnceLock::new();
    let null = NULL.get_or_init(|| std::fs::File::open("/dev/null").ok().map(OwnedFd::from));
    let Some(null) = null else {
        return Err(io::Error::other("/dev/null could not be opened"));
    };
    loop {
        // SAFETY: both descriptors are open (the caller owns `fd`; `null` is
        // a static); dup3 replaces `fd`'s open file atomically.
        let r = unsafe { libc::dup3(null.as_raw_fd(), fd, libc::O_CLOEXEC) };
        if r >= 0 {
            super::fd::bump_epoch(fd);
            if super::choice::is_epoll() {
                super::epoll::replaced(fd);
            }
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
