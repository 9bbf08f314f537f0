//! The socket calls behind `FIONREAD` and `SIOCATMARK`.

use std::io;
use std::os::fd::RawFd;

/// Bytes readable now (`FIONREAD` / `SIOCINQ`): for a stream, the bytes
/// queued; for a datagram socket, the size of the next datagram.
pub(crate) fn bytes_readable(fd: RawFd) -> io::Result<u32> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which points to
    // a live local int.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n as *mut libc::c_int) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.max(0) as u32)
}

/// Whether urgent (out-of-band) data is waiting to be read with `MSG_OOB`.
pub(crate) fn urgent_pending(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: receives at most one byte into a live local byte; MSG_PEEK
    // consumes nothing and MSG_DONTWAIT never blocks.
    let r = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_OOB | libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    r > 0
}
