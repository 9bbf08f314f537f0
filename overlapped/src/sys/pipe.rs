//! The pipes that file data crosses on its way to a socket (`TransmitFile`,
//! `TransmitPackets`): `splice` moves page references file → pipe → socket,
//! so the bytes never enter user memory.
//!
//! Pipes are pooled: an operation takes one and gives it back empty; a pipe
//! that may still hold bytes (the operation failed part way) is closed.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// Asked-for capacity: 1 MiB (the unprivileged `pipe-max-size` default).
/// Where the kernel refuses, the pipe keeps its default (64 KiB).
const WANTED: i32 = 1 << 20;
/// Pipes kept for reuse, at most.
const POOL_MAX: usize = 256;

static POOL: Mutex<Vec<Pipe>> = Mutex::new(Vec::new());

/// One pipe: its two ends and its capacity in pages (pipe buffers).
pub(crate) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    slots: u32,
}

impl Pipe {
    /// A pooled pipe, or a new one (`pipe2` + `F_SETPIPE_SZ`).
    pub(crate) fn take() -> io::Result<Pipe> {
        if let Some(p) = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(p);
        }
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` is a valid array of two descriptors for the kernel to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are fresh and owned by nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on a descriptor we own; failure is reported, not UB.
        let mut size = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, WANTED) };
        if size < 0 {
            // SAFETY: as above.
            size = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ) };
        }
        let size = if size > 0 { size as u32 } else { 65536 };
        Ok(Pipe {
            read,
            write,
            slots: size / page_size(),
        })
    }

    /// Returns an empty pipe to the pool.
    pub(crate) fn recycle(self) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(self);
        }
    }

    pub(crate) fn read_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    pub(crate) fn write_fd(&self) -> RawFd {
        self.write.as_raw_fd()
    }

    /// Capacity in pipe buffers (one page each at most).
    pub(crate) fn slots(&self) -> u32 {
        self.slots
    }
}

/// The page size: a pipe buffer holds at most one page.
pub(crate) fn page_size() -> u32 {
    use std::sync::OnceLock;
    static PAGE: OnceLock<u32> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 {
            p as u32
        } else {
            4096
        }
    })
}

/// Whether a file descriptor was opened for reading (a transmit reads it).
pub(crate) fn readable(fd: &impl AsRawFd) -> bool {
    // SAFETY: F_GETFL on a descriptor the caller owns; failure is reported.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    fl >= 0 && (fl & libc::O_ACCMODE) != libc::O_WRONLY
}
