//! The epoll instance of the load generator's readiness client: its system calls, on an
//! event array the caller owns. With `bench/ring.rs`, `process.rs` and `uring_echo.rs`, one of
//! the program's modules with `unsafe` code.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use socket2::Socket;

/// An epoll instance.
pub struct Epoll {
    fd: OwnedFd,
    /// Whether `epoll_pwait2` may be used (cleared for good when it fails as missing).
    pwait2: bool,
}

impl Epoll {
    /// A new epoll instance (close-on-exec).
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes a flag and returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd, pwait2: true })
    }

    /// Watches `sock` for input and output, edge-triggered, under `token`.
    pub fn add(&self, sock: &Socket, token: usize) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token as u64,
        };
        // SAFETY: both descriptors are open (borrowed for the call); `ev` is a valid event
        // that the kernel only reads.
        let r = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                sock.as_raw_fd(),
                &mut ev,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `timeout` for events; returns how many of `events` were filled.
    pub fn wait(
        &mut self,
        events: &mut [libc::epoll_event],
        timeout: Duration,
    ) -> io::Result<usize> {
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        if self.pwait2 {
            let ts = libc::timespec {
                tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            // SAFETY: `events` is a writable array of `max` events that outlives the call;
            // `ts` is a valid timespec; a null signal mask leaves the mask alone.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.fd.as_raw_fd(),
                    events.as_mut_ptr(),
                    max,
                    &ts as *const libc::timespec,
                    std::ptr::null::<libc::sigset_t>(),
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // Older than Linux 5.11, or a filter that does not know the call.
                Some(libc::ENOSYS | libc::EPERM | libc::EACCES) => self.pwait2 = false,
                _ => return Err(e),
            }
        }
        // Whole milliseconds, rounded up (0 stays 0: a look without waiting).
        let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: as above, with a plain millisecond timeout.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, ms) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}
