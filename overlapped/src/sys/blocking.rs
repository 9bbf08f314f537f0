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
