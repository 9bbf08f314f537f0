//! `TransmitFile` / `TransmitPackets` on readiness: the members of each
//! chain the record asks for ([`Request::Chain`]) run one after the
//! other, with io_uring's link rule (a member that moves fewer bytes than
//! asked, or fails, ends the chain; the rest count as cancelled).
//!
//! * memory → pipe: `write` (the plan never loads more than the pipe holds);
//! * file → pipe: `splice`, on a worker thread (`worker.rs`): a regular
//!   file's read cannot be made non-blocking;
//! * pipe → socket: the pipe's bytes are read out into the operation's own
//!   memory (`Slot::staged`) and sent from there with `MSG_DONTWAIT`, so the
//!   send never blocks whatever the socket's mode (a `splice` into a socket
//!   blocks unless the socket itself is non-blocking, which is the caller's
//!   setting); what the socket did not take stays staged for the next try;
//! * `TF_DISCONNECT`: `shutdown(SHUT_WR)`.

use std::os::fd::RawFd;

use super::attempt::{errno, Try};
use super::core::{ChainFds, Slot, OUT};
use super::worker::Job;
use crate::sys::op::{Member, Op, Request};

/// Runs `slot`'s chain from its next member until it ends, waits, or needs
/// a worker. `Try::Res` ends the chain (the record's step reads it).
pub(super) fn run<O: Op>(slot: &mut Slot<O>) -> Try {
    if !slot.planned {
        slot.op.send_inline(&slot.mem.bufs);
        let Request::Chain {
            members,
            pipe,
            files,
            socket,
        } = slot.op.request()
        else {
            unreachable!("transmit::run on another request");
        };
        let plan = slot.plan.get_or_insert_with(Box::default);
        plan.chain.clear();
        plan.chain.extend_from_slice(members);
        plan.fds = ChainFds {
            pipe,
            files: files.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect(),
            socket,
        };
        plan.member = 0;
        slot.planned = true;
    }
    loop {
        let plan = slot.plan.as_mut().expect("planned");
        let ChainFds {
            pipe: (pipe_r, pipe_w),
            socket,
            ..
        } = plan.fds;
        let res = match plan.chain[plan.member] {
            Member::Write { buf, at, len } => {
                let data = &slot.mem.bufs.buffers()[buf][at..at + len as usize];
                // SAFETY: `data` is the operation's own buffer, live for the call.
                let n = unsafe { libc::write(pipe_w, data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    errno()
                } else {
                    n as i32
                }
            }
            Member::SpliceIn { file, offset, len } => {
                return Try::Worker(Job {
                    file: plan.fds.files[file],
                    offset,
                    pipe: pipe_w,
                    len,
                });
            }
            Member::Out { len } => match out(&mut plan.staged, pipe_r, socket, len as usize) {
                Some(res) => res,
                None => {
                    return Try::Wait {
                        fd: socket,
                        events: OUT,
                    }
                }
            },
            Member::Writable => {
                // (Planned after an `EAGAIN` from an `Out`; this backend's
                // `Out` waits itself, but the member means the same here.)
                let mut p = libc::pollfd {
                    fd: socket,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one live pollfd; no timeout.
                match unsafe { libc::poll(&mut p, 1, 0) } {
                    0 => {
                        return Try::Wait {
                            fd: socket,
                            events: OUT,
                        }
                    }
                    n if n > 0 => i32::from(p.revents as u16),
                    _ => errno(),
                }
            }
            Member::Shutdown => {
                // SAFETY: no memory is involved.
                if unsafe { libc::shutdown(socket, libc::SHUT_WR) } < 0 {
                    errno()
                } else {
                    0
                }
            }
            Member::Nop => 0,
        };
        if let Some(end) = feed(slot, res) {
            return Try::Res(end);
        }
    }
}

/// Hands the result of the member that ran (here or on a worker) to the
/// operation; `Some` once the chain is over.
pub(super) fn feed<O: Op>(slot: &mut Slot<O>, res: i32) -> Option<i32> {
    let plan = slot.plan.as_mut().expect("planned");
    let member = plan.chain[plan.member];
    plan.member += 1;
    let whole = match member {
        Member::Write { len, .. } | Member::SpliceIn { len, .. } | Member::Out { len } => {
            res == len as i32
        }
        Member::Shutdown => res == 0,
        Member::Writable => res >= 0,
        Member::Nop => true,
    };
    let mut res = res;
    let mut more = slot.op.absorb(res);
    if !whole {
        // The link is broken: the rest of the chain is cancelled.
        while more {
            plan.member += 1;
            res = -libc::ECANCELED;
            more = slot.op.absorb(res);
        }
    }
    if more {
        return None;
    }
    slot.planned = false;
    Some(res)
}

/// Moves `len` bytes of the pipe's content (the staged bytes first) into
/// the socket: the bytes sent, `-errno`, or `None` when the socket has no
/// room (wait until it is writable).
fn out(staged: &mut Vec<u8>, pipe_r: RawFd, socket: RawFd, len: usize) -> Option<i32> {
    while staged.len() < len {
        let have = staged.len();
        staged.resize(len, 0);
        // SAFETY: reads into the spare tail of `staged`, which we own.
        let n = unsafe { libc::read(pipe_r, staged[have..].as_mut_ptr().cast(), len - have) };
        if n <= 0 {
            staged.truncate(have);
            return Some(if n < 0 { errno() } else { -libc::EPIPE });
        }
        staged.truncate(have + n as usize);
    }
    let f = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    // SAFETY: the first `len` staged bytes are ours and live for the call.
    let n = unsafe { libc::send(socket, staged.as_ptr().cast(), len, f) };
    if n < 0 {
        let e = errno();
        return if e == -libc::EAGAIN || e == -libc::EWOULDBLOCK {
            None
        } else {
            Some(e)
        };
    }
    staged.drain(..n as usize);
    Some(n as i32)
}
