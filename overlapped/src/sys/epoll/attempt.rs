//! One try of an operation's current step as a non-blocking system call.
//!
//! Each try either ends the step with the result io_uring would have
//! reported for it (bytes or a descriptor, or `-errno`), which the
//! operation then reads exactly as it reads a completion (`OpSlot::step`),
//! or says which readiness to wait for before trying again. Sockets keep
//! their own blocking mode (the caller's `FIONBIO`): calls that have a
//! per-call flag use `MSG_DONTWAIT`; `accept` and `connect`, which have
//! none, switch the socket to non-blocking for the one call (under one
//! process-wide lock, so two rings never interleave the switch).

use std::os::fd::RawFd;
use std::sync::Mutex;

use super::core::{Slot, IN, OUT};
use super::worker::Job;
use crate::conn_ops::{AcceptPhase, ConnectPhase};
use crate::op::OpKind;
use crate::sys::uring::mem::Way;

/// What one try found.
pub(super) enum Try {
    /// The step ended: the result io_uring would report (`res`).
    Res(i32),
    /// The call would block: wait for `events` on `fd` (`target`: the
    /// descriptor is the accept socket's, not the one the operation was
    /// issued on).
    Wait { fd: RawFd, events: u32, target: bool },
    /// A blocking file read (a transmit's): run it on a worker thread.
    Worker(Job),
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

/// Tries `slot`'s current step (every kind but transmits, see `transmit.rs`).
pub(super) fn try_step(slot: &mut Slot) -> Try {
    let fd = slot.op.socket.fd();
    match slot.op.kind {
        OpKind::Recv { flags } => recv(slot, fd, flags),
        OpKind::PollIn => poll(fd, IN),
        OpKind::PollOut => poll(fd, OUT),
        OpKind::Send { flags, done } => send(slot, fd, flags, done),
        OpKind::RecvMsg {
            flags,
            name_len,
            control_len,
            ..
        } => {
            let mem = &mut slot.op.mem;
            mem.prepare(0, Way::Receive { whole: false });
            mem.prepare_recv_msg(name_len, control_len);
            // SAFETY: `msg` points into the operation's own memory (buffers,
            // iovecs, name, control), owned by the slot for the whole call.
            let n = unsafe { libc::recvmsg(fd, &mut mem.msg, flags | libc::MSG_DONTWAIT) };
            ended_or_wait(n, fd, IN, slot)
        }
        OpKind::SendMsg { flags, ref spec } => {
            let mem = &mut slot.op.mem;
            mem.prepare(0, Way::Send);
            mem.prepare_send_msg(spec.to.as_ref(), spec.control.as_bytes());
            let f = flags | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
            // SAFETY: as above; the kernel only reads.
            let n = unsafe { libc::sendmsg(fd, &mem.msg, f) };
            ended_or_wait(n, fd, OUT, slot)
        }
        OpKind::Change { .. } => change(slot, fd),
        OpKind::Accept(ref spec) => match spec.phase {
            // Wait for a connection without taking it (it stays queued).
            AcceptPhase::Short => poll(fd, IN),
            AcceptPhase::Accepting => {
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
                if would_block(res) || res == -libc::ECONNABORTED {
                    // ECONNABORTED: that connection is gone, wait for the next.
                    Try::Wait {
                        fd,
                        events: IN,
                        target: false,
                    }
                } else {
                    Try::Res(res)
                }
            }
            AcceptPhase::Receiving => {
                let target = spec.target.fd();
                let len = spec.receive_len as usize;
                let buf = &mut slot.op.mem.bufs.buffers_mut()[0];
                let len = len.min(buf.len());
                // SAFETY: `buf` is the operation's own buffer, at least `len` long.
                let n = unsafe {
                    libc::recv(target, buf.as_mut_ptr().cast(), len, libc::MSG_DONTWAIT)
                };
                let res = if n < 0 { errno() } else { n as i32 };
                if would_block(res) {
                    Try::Wait {
                        fd: target,
                        events: IN,
                        target: true,
                    }
                } else {
                    Try::Res(res)
                }
            }
        },
        OpKind::Connect(ref spec) => match spec.phase {
            ConnectPhase::Connecting => connect(slot, fd),
            ConnectPhase::Sending { done } => send(slot, fd, 0, done),
        },
        OpKind::Disconnect { .. } => {
            // SAFETY: no memory is involved.
            let r = unsafe { libc::shutdown(fd, libc::SHUT_WR) };
            Try::Res(if r < 0 { errno() } else { 0 })
        }
        OpKind::Transmit(_) => unreachable!("transmits run in transmit.rs"),
    }
}

/// A `recv`/`recvmsg`/`sendmsg` result: ended, or wait for `events`.
fn ended_or_wait(n: isize, fd: RawFd, events: u32, slot: &mut Slot) -> Try {
    let res = if n < 0 { errno() } else { n as i32 };
    if would_block(res) {
        // Nothing arrived: nothing of a bounce buffer is to be copied.
        slot.op.mem.finish(0);
        return Try::Wait {
            fd,
            events,
            target: false,
        };
    }
    Try::Res(res)
}

/// A receive; a stream `MSG_WAITALL` one gathers until its buffers are
/// full, the stream ends, or an error (io_uring does the same).
fn recv(slot: &mut Slot, fd: RawFd, flags: i32) -> Try {
    let stream = slot.op.socket.is_stream();
    let whole = stream && flags & libc::MSG_WAITALL != 0;
    let f = (flags & !libc::MSG_WAITALL) | libc::MSG_DONTWAIT;
    loop {
        let skip = slot.got;
        let mem = &mut slot.op.mem;
        let single = if stream { mem.single(skip) } else { None };
        let n = match single {
            // SAFETY: `buf` points at `len` writable bytes of the operation's buffer.
            Some((buf, len)) => unsafe { libc::recv(fd, buf.cast(), len as usize, f) },
            None => {
                mem.prepare(skip, Way::Receive { whole });
                // SAFETY: `msg` points into the operation's own memory.
                unsafe { libc::recvmsg(fd, &mut mem.msg, f) }
            }
        };
        let res = if n < 0 { errno() } else { n as i32 };
        if would_block(res) {
            mem.finish(skip);
            return Try::Wait {
                fd,
                events: IN,
                target: false,
            };
        }
        if !whole || res <= 0 {
            // An error or the end after part of a MSG_WAITALL receive:
            // what arrived is the result.
            return Try::Res(if res <= 0 && skip > 0 {
                skip as i32
            } else {
                res + skip as i32
            });
        }
        let total = skip + res as usize;
        if total >= mem.capacity() {
            return Try::Res(total as i32);
        }
        // Part of a MSG_WAITALL receive: keep it and ask for the rest.
        mem.finish(total);
        slot.got = total;
    }
}

/// A stream (or datagram) send of the buffers from byte `done` on.
fn send(slot: &mut Slot, fd: RawFd, flags: i32, done: usize) -> Try {
    let f = (flags & !libc::MSG_WAITALL) | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    let mem = &mut slot.op.mem;
    let single = if slot.op.socket.is_stream() {
        mem.single(done)
    } else {
        None
    };
    let n = match single {
        // SAFETY: `buf` points at `len` readable bytes of the operation's buffer.
        Some((buf, len)) => unsafe { libc::send(fd, buf.cast(), len as usize, f) },
        None => {
            mem.prepare(done, Way::Send);
            // SAFETY: `msg` points into the operation's own memory; read only.
            unsafe { libc::sendmsg(fd, &mem.msg, f) }
        }
    };
    ended_or_wait(n, fd, OUT, slot)
}

/// Readiness without taking anything: the `poll` mask, or wait.
fn poll(fd: RawFd, events: u32) -> Try {
    let mut p = libc::pollfd {
        fd,
        events: events as i16,
        revents: 0,
    };
    // SAFETY: one live pollfd; no timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    match r {
        n if n > 0 => Try::Res(i32::from(p.revents as u16)),
        0 => Try::Wait {
            fd,
            events,
            target: false,
        },
        _ => Try::Res(errno()),
    }
}

/// A change source (rtnetlink socket, inotify instance): read once it is
/// readable. The operation is its only reader, so a read after a
/// positive poll does not block.
fn change(slot: &mut Slot, fd: RawFd) -> Try {
    if let Try::Wait { .. } = poll(fd, IN) {
        return Try::Wait {
            fd,
            events: IN,
            target: false,
        };
    }
    let mem = &mut slot.op.mem;
    mem.prepare(0, Way::Receive { whole: false });
    let (buf, len) = match mem.iov.as_slice() {
        [one] => (one.iov_base, one.iov_len),
        _ => (std::ptr::null_mut(), 0),
    };
    // SAFETY: `buf` is the operation's one buffer, `len` bytes long.
    let n = unsafe { libc::read(fd, buf, len) };
    let res = if n < 0 { errno() } else { n as i32 };
    if would_block(res) {
        return Try::Wait {
            fd,
            events: IN,
            target: false,
        };
    }
    Try::Res(res)
}

/// `ConnectEx`'s connect: `connect` on the socket switched to non-blocking,
/// and again once it is writable, as a blocking `connect` does on wake-up:
/// that second call reads the outcome and moves the socket to its connected
/// (or unconnected) state (`got` marks that the first call was made).
fn connect(slot: &mut Slot, fd: RawFd) -> Try {
    let OpKind::Connect(ref spec) = slot.op.kind else {
        unreachable!("connect on another kind");
    };
    let addr = spec.addr;
    let (name, len) = slot.op.mem.prepare_connect(&addr);
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
    if slot.got == 0 && res == -libc::ECONNABORTED {
        // The socket's last connect failed: this call only reset its
        // state (as io_uring's connect does, try once more).
        res = call();
    }
    let started = slot.got != 0;
    match res {
        e if e == -libc::EINPROGRESS || e == -libc::EALREADY => {
            slot.got = 1;
            Try::Wait {
                fd,
                events: OUT,
                target: false,
            }
        }
        // The second call on a connection that came up.
        e if e == -libc::EISCONN && started => Try::Res(0),
        res => Try::Res(res),
    }
}

/// Runs `call` with `fd` switched to non-blocking (if it was not), and
/// switched back after; `call` returns its result with the errno in it.
fn nonblocking_once(fd: RawFd, call: impl FnOnce() -> i32) -> i32 {
    static SWITCH: Mutex<()> = Mutex::new(());
    // SAFETY: F_GETFL on a descriptor the operation keeps open.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 || fl & libc::O_NONBLOCK != 0 {
        return call();
    }
    let _one = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: F_SETFL on a descriptor the operation keeps open; no memory.
    unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) };
    let res = call();
    // SAFETY: as above: back to the caller's blocking mode.
    unsafe { libc::fcntl(fd, libc::F_SETFL, fl) };
    res
}
