//! One try of an operation's current step as a non-blocking system call.
//!
//! Each try either ends the step with the result io_uring would have
//! reported for the same [`Request`] (bytes or a descriptor, or `-errno`),
//! which the record then reads exactly as it reads a completion
//! (`Op::step`), or says which readiness to wait for before trying again.
//! Sockets keep their own blocking mode (the caller's `FIONBIO`): calls
//! that have a per-call flag use `MSG_DONTWAIT`; `accept` and `connect`,
//! which have none, switch the socket to non-blocking for the one call
//! (`sys::nonblock`: under the process-wide lock every reader and writer
//! of the mode takes, so nobody sees the switched state).

use std::net::SocketAddr;
use std::os::fd::RawFd;

use super::core::{Slot, IN, OUT};
use super::worker::Job;
use crate::sys::mem::Way;
use crate::sys::nonblock::nonblocking_once;
use crate::sys::op::{Op, Request};
use crate::sys::OpMem;

/// What one try found.
pub(super) enum Try {
    /// The step ended: the result io_uring would report (`res`).
    Res(i32),
    /// The call would block: wait for `events` on `fd` (the descriptor of
    /// a socket the operation names: the one it was issued on, or an
    /// `AcceptEx`'s accept socket).
    Wait { fd: RawFd, events: u32 },
    /// A blocking file read (a transmit's): run it on a worker thread.
    Worker(Job),
}

fn wait(fd: RawFd, events: u32) -> Try {
    Try::Wait { fd, events }
}

/// `-errno` of the last failed call.
pub(super) fn errno() -> i32 {
    -std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn would_block(res: i32) -> bool {
    res == -libc::EAGAIN || res == -libc::EWOULDBLOCK
}

/// Tries `slot`'s current step (a chain runs in `transmit.rs`). A plain
/// stream receive for which `quiet` says the socket is empty since its
/// last edge (see `Core::quiet`) waits for the next edge untried.
pub(super) fn try_step<O: Op>(
    slot: &mut Slot<O>,
    quiet: impl FnOnce(RawFd, &O::Socket) -> bool,
) -> Try {
    if slot.planned {
        return super::transmit::run(slot);
    }
    let mem = &mut *slot.mem;
    match slot.op.request() {
        Request::Recv {
            fd,
            flags,
            at,
            stream,
        } => {
            // A plain stream receive that found nothing, or read less than
            // asked (it took all there was), leaves the socket empty.
            let plain = stream && flags & (libc::MSG_PEEK | libc::MSG_OOB) == 0;
            if plain && quiet(fd, slot.op.socket_of(fd)) {
                // A try could only say `EAGAIN`.
                return wait(fd, IN);
            }
            let tried = recv(mem, &mut slot.got, fd, flags, at, stream);
            let empty = match tried {
                Try::Wait { .. } => true,
                Try::Res(n) => n > 0 && (n as usize) < mem.capacity() - at,
                Try::Worker(_) => false,
            };
            slot.drained = (plain && empty).then_some(fd);
            return tried;
        }
        Request::RecvMsg {
            fd,
            flags,
            name_len,
            control_len,
        } => {
            mem.prepare(0, Way::Receive { whole: false });
            mem.prepare_recv_msg(name_len, control_len);
            // SAFETY: `msg` points into the operation's own memory (buffers,
            // iovecs, name, control), owned by the slot for the whole call.
            let n = unsafe { libc::recvmsg(fd, &mut mem.msg, flags | libc::MSG_DONTWAIT) };
            return ended_or_wait(n, fd, IN, mem);
        }
        Request::Send {
            fd,
            flags,
            done,
            stream,
        } => return send(mem, fd, flags, done, stream),
        Request::SendMsg {
            fd,
            flags,
            to,
            control,
        } => {
            mem.prepare(0, Way::Send);
            mem.prepare_send_msg(to.as_ref(), control);
            let f = flags | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
            // SAFETY: as above; the kernel only reads.
            let n = unsafe { libc::sendmsg(fd, &mem.msg, f) };
            return ended_or_wait(n, fd, OUT, mem);
        }
        Request::Read { fd } => return change(mem, fd),
        Request::Poll { fd, events } => {
            let interest = if events & libc::POLLOUT != 0 { OUT } else { IN };
            return poll(fd, events, interest);
        }
        Request::Accept { fd } => {
            let res = nonblocking_once(fd, || {
                // SAFETY: no memory is involved (no address asked for).
                let r = unsafe {
                    libc::accept4(
                        fd,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC,
                    )
                };
                if r < 0 {
                    errno()
                } else {
                    r
                }
            });
            return if would_block(res) || res == -libc::ECONNABORTED {
                // ECONNABORTED: that connection is gone, wait for the next.
                wait(fd, IN)
            } else {
                Try::Res(res)
            };
        }
        Request::RecvFirst { fd, len } => {
            let buf = &mut mem.bufs.buffers_mut()[0];
            let len = (len as usize).min(buf.len());
            // SAFETY: `buf` is the operation's own buffer, at least `len` long.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), len, libc::MSG_DONTWAIT) };
            let res = if n < 0 { errno() } else { n as i32 };
            return if would_block(res) {
                Try::Wait { fd, events: IN }
            } else {
                Try::Res(res)
            };
        }
        Request::Connect { fd, addr } => return connect(mem, &mut slot.connecting, fd, addr),
        Request::Shutdown { fd } => {
            // SAFETY: no memory is involved.
            let r = unsafe { libc::shutdown(fd, libc::SHUT_WR) };
            return Try::Res(if r < 0 { errno() } else { 0 });
        }
        Request::Nop => return Try::Res(0),
        Request::Chain { .. } => {}
    }
    super::transmit::run(slot)
}

/// The descriptor of `slot`'s step if it is a plain stream receive (one
/// that takes what it reads: not `MSG_PEEK`, not urgent data) on a socket
/// that `quiet` says is empty since its last edge: its first try could
/// only say `EAGAIN`.
pub(super) fn quiet_recv<O: Op>(
    slot: &mut Slot<O>,
    quiet: impl FnOnce(RawFd, &O::Socket) -> bool,
) -> Option<RawFd> {
    if slot.planned {
        return None;
    }
    match slot.op.request() {
        Request::Recv {
            fd,
            flags,
            stream: true,
            ..
        } if flags & (libc::MSG_PEEK | libc::MSG_OOB) == 0 => {
            quiet(fd, slot.op.socket_of(fd)).then_some(fd)
        }
        _ => None,
    }
}

/// A `recv`/`recvmsg`/`sendmsg` result: ended, or wait for `events`.
fn ended_or_wait(n: isize, fd: RawFd, events: u32, mem: &mut OpMem) -> Try {
    let res = if n < 0 { errno() } else { n as i32 };
    if would_block(res) {
        // Nothing arrived: nothing of a bounce buffer is to be copied.
        mem.finish(0);
        return wait(fd, events);
    }
    Try::Res(res)
}

/// A receive into the buffers from byte `at`; a stream `MSG_WAITALL` one
/// gathers (`got`: bytes of earlier tries) until its buffers are full, the
/// stream ends, or an error, as io_uring does.
fn recv(mem: &mut OpMem, got: &mut usize, fd: RawFd, flags: i32, at: usize, stream: bool) -> Try {
    let whole = stream && flags & libc::MSG_WAITALL != 0;
    let f = (flags & !libc::MSG_WAITALL) | libc::MSG_DONTWAIT;
    loop {
        let skip = at + *got;
        let single = if stream { mem.single(skip) } else { None };
        let n = match single {
            // SAFETY: `buf` points at `len` writable bytes of the operation's buffer.
            Some((buf, len)) => unsafe { raw_recv(fd, buf, len as usize, f) },
            None => {
                mem.prepare(skip, Way::Receive { whole });
                // SAFETY: `msg` points into the operation's own memory.
                unsafe { libc::recvmsg(fd, &mut mem.msg, f) }
            }
        };
        let res = if n < 0 { errno() } else { n as i32 };
        if would_block(res) {
            mem.finish(0);
            return wait(fd, IN);
        }
        if !whole || res <= 0 {
            // An error or the end after part of a MSG_WAITALL receive:
            // what arrived is the result.
            return Try::Res(if res <= 0 && *got > 0 {
                *got as i32
            } else {
                res + *got as i32
            });
        }
        *got += res as usize;
        if skip + res as usize >= mem.capacity() {
            return Try::Res(*got as i32);
        }
        // Part of a MSG_WAITALL receive: keep it and ask for the rest.
        mem.finish(skip + res as usize);
    }
}

/// `recv(2)` as the bare system call. glibc's `recv` is a cancellation
/// point: in a process with more than one thread each call enables and
/// disables asynchronous cancellation around the system call (~60
/// instructions per echoed message with `send`), which nothing here uses.
///
/// # Safety
/// `buf` points at `len` writable bytes that stay live for the call.
unsafe fn raw_recv(fd: RawFd, buf: *mut u8, len: usize, flags: i32) -> isize {
    // (Every argument as the `long` the variadic `syscall` reads.)
    let (fd, buf, len, flags) = (
        fd as libc::c_long,
        buf as libc::c_long,
        len as libc::c_long,
        flags as libc::c_long,
    );
    // SAFETY: recvfrom with no source address; the caller vouches for `buf`.
    unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd,
            buf,
            len,
            flags,
            0 as libc::c_long,
            0 as libc::c_long,
        ) as isize
    }
}

/// `send(2)` as the bare system call (see `raw_recv`).
///
/// # Safety
/// `buf` points at `len` readable bytes that stay live for the call.
unsafe fn raw_send(fd: RawFd, buf: *const u8, len: usize, flags: i32) -> isize {
    let (fd, buf, len, flags) = (
        fd as libc::c_long,
        buf as libc::c_long,
        len as libc::c_long,
        flags as libc::c_long,
    );
    // SAFETY: sendto with no destination; the caller vouches for `buf`.
    unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf,
            len,
            flags,
            0 as libc::c_long,
            0 as libc::c_long,
        ) as isize
    }
}

/// A stream (or datagram) send of the buffers from byte `done` on.
fn send(mem: &mut OpMem, fd: RawFd, flags: i32, done: usize, stream: bool) -> Try {
    let f = (flags & !libc::MSG_WAITALL) | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    let single = if stream { mem.single(done) } else { None };
    let n = match single {
        // SAFETY: `buf` points at `len` readable bytes of the operation's buffer.
        Some((buf, len)) => unsafe { raw_send(fd, buf, len as usize, f) },
        None => {
            mem.prepare(done, Way::Send);
            // SAFETY: `msg` points into the operation's own memory; read only.
            unsafe { libc::sendmsg(fd, &mem.msg, f) }
        }
    };
    ended_or_wait(n, fd, OUT, mem)
}

/// Readiness without taking anything: the `poll` mask, or wait for
/// `interest`.
fn poll(fd: RawFd, events: i16, interest: u32) -> Try {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one live pollfd; no timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    match r {
        n if n > 0 => Try::Res(i32::from(p.revents as u16)),
        0 => wait(fd, interest),
        _ => Try::Res(errno()),
    }
}

/// A change source (rtnetlink socket, inotify instance): read into the
/// first buffer once it is readable. The operation is its only reader, so
/// a read after a positive poll does not block.
fn change(mem: &mut OpMem, fd: RawFd) -> Try {
    if let Try::Wait { .. } = poll(fd, libc::POLLIN, IN) {
        return wait(fd, IN);
    }
    mem.prepare(0, Way::Receive { whole: false });
    let (buf, len) = match mem.iov.as_slice() {
        [one] => (one.iov_base, one.iov_len),
        _ => (std::ptr::null_mut(), 0),
    };
    // SAFETY: `buf` is the operation's one buffer, `len` bytes long.
    let n = unsafe { libc::read(fd, buf, len) };
    let res = if n < 0 { errno() } else { n as i32 };
    if would_block(res) {
        return wait(fd, IN);
    }
    Try::Res(res)
}

/// `ConnectEx`'s connect: `connect` on the socket switched to non-blocking,
/// and again once it is writable, as a blocking `connect` does on wake-up:
/// that second call reads the outcome and moves the socket to its connected
/// (or unconnected) state (`connecting` marks that the first call was made).
fn connect(mem: &mut OpMem, connecting: &mut bool, fd: RawFd, addr: SocketAddr) -> Try {
    let started = *connecting;
    let (name, len) = mem.prepare_connect(&addr);
    let call = || {
        nonblocking_once(fd, || {
            // SAFETY: `name` points at `len` bytes of the operation's memory.
            if unsafe { libc::connect(fd, name, len) } < 0 {
                errno()
            } else {
                0
            }
        })
    };
    let mut res = call();
    if !started && res == -libc::ECONNABORTED {
        // The socket's last connect failed: this call only reset its
        // state (as io_uring's connect does, try once more).
        res = call();
    }
    match res {
        e if e == -libc::EINPROGRESS || e == -libc::EALREADY => {
            *connecting = true;
            wait(fd, OUT)
        }
        // The second call on a connection that came up.
        e if e == -libc::EISCONN && started => Try::Res(0),
        res => Try::Res(res),
    }
}
