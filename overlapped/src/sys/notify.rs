//! The kernel's change sources: rtnetlink sockets subscribed to address and
//! route groups, and inotify instances. Each is handed up as an `OwnedFd`
//! that the ring reads like any socket (`OpKind::Change`).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use inotify::{Inotify, WatchMask};

/// `RTMGRP_LINK`.
pub(crate) const RTMGRP_LINK: u32 = 0x1;
/// `RTMGRP_IPV4_IFADDR`.
pub(crate) const RTMGRP_IPV4_IFADDR: u32 = 0x10;
/// `RTMGRP_IPV4_ROUTE`.
pub(crate) const RTMGRP_IPV4_ROUTE: u32 = 0x40;
/// `RTMGRP_IPV6_IFADDR`.
pub(crate) const RTMGRP_IPV6_IFADDR: u32 = 0x100;
/// `RTMGRP_IPV6_ROUTE`.
pub(crate) const RTMGRP_IPV6_ROUTE: u32 = 0x400;

/// A `NETLINK_ROUTE` socket bound to the multicast `groups`: from now on
/// the kernel queues a message on it for every change in those groups.
pub(crate) fn route_socket(groups: u32) -> io::Result<OwnedFd> {
    let mut sock = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)?;
    sock.bind(&netlink_sys::SocketAddr::new(0, groups))?;
    // A large receive buffer makes an overrun (ENOBUFS) unlikely; one would
    // complete the notification anyway (a change may have been lost).
    let _ = sock.set_rx_buf_sz(256 * 1024);
    let raw = sock.into_raw_fd();
    // SAFETY: `into_raw_fd` gave up ownership of this open descriptor, so
    // nothing else will close it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// What an inotify watch on a directory reports: a file written and closed
/// (`IN_CLOSE_WRITE`: an editor, `>`), moved in or out (a resolv.conf
/// manager writes a new file and renames it over the old one:
/// `IN_MOVED_TO`), deleted, and the directory itself going away. Not
/// `IN_MODIFY` or `IN_CREATE`: they come while a file is still being written.
pub(crate) fn watch_mask() -> u32 {
    (WatchMask::CLOSE_WRITE
        | WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::DELETE
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF)
        .bits()
}

/// The event bits that mean the directory's watch is gone or events were
/// lost (`IN_DELETE_SELF`, `IN_MOVE_SELF`, `IN_IGNORED`, `IN_Q_OVERFLOW`).
pub(crate) const IN_WATCH_LOST: u32 = 0x400 | 0x800 | IN_IGNORED | IN_Q_OVERFLOW;

/// `IN_CREATE` | `IN_MOVED_TO`: what a watch on the nearest existing
/// ancestor of a missing directory adds, to hear the directory (re)appear.
pub(crate) const IN_APPEARS: u32 = 0x100 | 0x80;

/// An inotify instance watching `dirs` (each with its event mask: the bits
/// of [`watch_mask`], or more); returns the descriptor and each directory's
/// watch descriptor (in the order of `dirs`; `None` where the directory
/// does not exist).
pub(crate) fn inotify_watching(dirs: &[(&Path, u32)]) -> io::Result<(OwnedFd, Vec<Option<i32>>)> {
    let inotify = Inotify::init()?;
    let raw = inotify.into_raw_fd();
    // SAFETY: `into_raw_fd` gave up ownership of this open descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let wds = add_watches(fd.as_raw_fd(), dirs)?;
    // Blocking: the ring waits for events itself; a non-blocking descriptor
    // might make a read complete with EAGAIN at once on some kernels.
    set_blocking(&fd)?;
    Ok((fd, wds))
}

/// Adds (or, for a directory already watched by the instance `fd`, updates)
/// a watch per directory; `None` where the directory does not exist (now).
pub(crate) fn add_watches(fd: RawFd, dirs: &[(&Path, u32)]) -> io::Result<Vec<Option<i32>>> {
    use std::os::unix::ffi::OsStrExt;
    let mut wds = Vec::with_capacity(dirs.len());
    for (dir, mask) in dirs {
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a NUL-terminated path that lives across the call; the
        // kernel only reads it.
        let wd = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), *mask) };
        if wd >= 0 {
            wds.push(Some(wd));
            continue;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => wds.push(None),
            _ => return Err(e),
        }
    }
    Ok(wds)
}

/// Removes watch `wd` from the instance `fd` (already gone: nothing to do).
pub(crate) fn remove_watch(fd: RawFd, wd: i32) {
    // SAFETY: no memory is involved; a stale `wd` gives EINVAL, ignored.
    unsafe { libc::inotify_rm_watch(fd, wd) };
}

fn set_blocking(fd: &OwnedFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own; no memory is involved.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(raw, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Discards the events queued on an idle inotify instance (no read of the
/// ring is pending on it), so that a request reusing it hears only what
/// happens after it was posted.
pub(crate) fn drain(fd: RawFd) {
    let mut buf = [0u8; 4096];
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd; a zero timeout never blocks.
        if unsafe { libc::poll(&mut pfd, 1, 0) } <= 0 || pfd.revents & libc::POLLIN == 0 {
            return;
        }
        // SAFETY: reads at most `buf.len()` bytes into a live local buffer;
        // it cannot block, the descriptor was just reported readable and
        // nothing else reads it.
        if unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } <= 0 {
            return;
        }
    }
}

/// Reads what the inotify instance `fd` has within `ms` milliseconds into
/// `buf`: the byte count, 0 if nothing came (for tests).
#[cfg(test)]
pub(crate) fn read_within(fd: RawFd, buf: &mut [u8], ms: i32) -> usize {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd; the wait is bounded by `ms`.
    if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 || pfd.revents & libc::POLLIN == 0 {
        return 0;
    }
    // SAFETY: reads at most `buf.len()` bytes into a live buffer; it does
    // not block, the descriptor was just reported readable.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    n.max(0) as usize
}

/// `IN_Q_OVERFLOW`: events were lost.
pub(crate) const IN_Q_OVERFLOW: u32 = 0x4000;
/// `IN_IGNORED`: the watch was removed (its directory is gone).
pub(crate) const IN_IGNORED: u32 = 0x8000;

/// One `struct inotify_event` as read from an inotify descriptor.
#[derive(Debug)]
pub(crate) struct InotifyEvent {
    pub(crate) wd: i32,
    pub(crate) mask: u32,
    pub(crate) name: OsString,
}

/// Splits what one read of an inotify descriptor returned into its events
/// (`wd`, `mask`, `cookie`, `len`, then `len` bytes of NUL-padded name).
/// The inotify crate parses only buffers it read itself; ours come from the
/// ring, so the fixed 16-byte header is decoded here.
pub(crate) fn inotify_events(mut read: &[u8]) -> Vec<InotifyEvent> {
    let mut out = Vec::new();
    while read.len() >= 16 {
        let word = |i: usize| [read[i], read[i + 1], read[i + 2], read[i + 3]];
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let end = (16 + len).min(read.len());
        let name = read[16..end].split(|b| *b == 0).next().unwrap_or(&[]);
        out.push(InotifyEvent {
            wd,
            mask,
            name: OsString::from_vec(name.to_vec()),
        });
        read = &read[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inotify_events_are_split_with_their_names() {
        let mut buf = Vec::new();
        for (wd, mask, name) in [(1i32, 0x80u32, &b"hosts"[..]), (2, 0x100, b"")] {
            let padded = if name.is_empty() { 0 } else { 16 };
            buf.extend_from_slice(&wd.to_ne_bytes());
            buf.extend_from_slice(&mask.to_ne_bytes());
            buf.extend_from_slice(&0u32.to_ne_bytes());
            buf.extend_from_slice(&(padded as u32).to_ne_bytes());
            let mut n = name.to_vec();
            n.resize(padded, 0);
            buf.extend_from_slice(&n);
        }
        let ev = inotify_events(&buf);
        assert_eq!(ev.len(), 2);
        assert_eq!(
            (ev[0].wd, ev[0].mask, ev[0].name.to_str()),
            (1, 0x80, Some("hosts"))
        );
        assert_eq!((ev[1].wd, ev[1].mask, ev[1].name.len()), (2, 0x100, 0));
    }
}
