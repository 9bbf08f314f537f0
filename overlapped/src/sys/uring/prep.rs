//! Building the submission entries of an operation's request.

use io_uring::{opcode, squeue, types};

use super::Slot;
use crate::sys::mem::Way;
use crate::sys::op::{Op, Request};
use crate::sys::OpMem;

/// The entries of one step of an operation.
pub(super) enum Sqes {
    One(squeue::Entry),
    /// Linked entries (transmits), all with the operation's `user_data`.
    Chain(Vec<squeue::Entry>),
}

/// The entries for `slot`'s next step. They point into `slot.mem` (boxed,
/// owned by the ring until the completion is reaped) or into memory the
/// record owns (held by the ring as long).
pub(super) fn sqes<O: Op>(slot: &mut Slot<O>, user_data: u64) -> Sqes {
    let poll_first = slot.poll_first;
    let mem = &mut *slot.mem;
    slot.op.send_inline(&mem.bufs);
    let request = slot.op.request();
    if let Request::Chain {
        members,
        pipe,
        files,
        socket,
    } = request
    {
        return Sqes::Chain(super::splice::chain(
            members,
            pipe,
            files,
            &mut mem.bufs,
            socket,
            user_data,
        ));
    }
    Sqes::One(sqe(request, mem, poll_first).user_data(user_data))
}

/// The entry of one (not chained) request.
#[inline]
fn sqe(request: Request<'_>, mem: &mut OpMem, poll_first: bool) -> squeue::Entry {
    // Receives started in a batch (or by a routine) usually find no data
    // yet: arm the poll first instead of trying the receive in vain.
    let ioprio = if poll_first {
        IORING_RECVSEND_POLL_FIRST
    } else {
        0
    };
    match request {
        Request::Recv {
            fd,
            flags,
            at,
            stream,
        } => {
            let fd = types::Fd(fd);
            if let Some((buf, len)) = stream.then(|| mem.single(at)).flatten() {
                // One buffer on a stream (the usual case): no msghdr at all.
                return opcode::Recv::new(fd, buf, len)
                    .flags(flags)
                    .ioprio(ioprio)
                    .build();
            }
            let whole = flags & libc::MSG_WAITALL != 0 && stream;
            mem.prepare(at, Way::Receive { whole });
            if let Some((buf, len)) = single_stream_buffer(mem, stream) {
                // One buffer on a stream: the plain opcode skips the msghdr copy.
                opcode::Recv::new(fd, buf, len)
                    .flags(flags)
                    .ioprio(ioprio)
                    .build()
            } else {
                opcode::RecvMsg::new(fd, &mut mem.msg)
                    .flags(flags as u32)
                    .ioprio(ioprio)
                    .build()
            }
        }
        Request::RecvMsg {
            fd,
            flags,
            name_len,
            control_len,
        } => {
            mem.prepare(0, Way::Receive { whole: false });
            mem.prepare_recv_msg(name_len, control_len);
            opcode::RecvMsg::new(types::Fd(fd), &mut mem.msg)
                .flags(flags as u32)
                .build()
        }
        Request::SendMsg {
            fd,
            flags,
            to,
            control,
        } => {
            mem.prepare(0, Way::Send);
            mem.prepare_send_msg(to.as_ref(), control);
            opcode::SendMsg::new(types::Fd(fd), &mem.msg)
                .flags((flags | libc::MSG_NOSIGNAL) as u32)
                .build()
        }
        Request::Read { fd } => {
            mem.prepare(0, Way::Receive { whole: false });
            let (buf, len) = match mem.iov.as_slice() {
                [one] => (
                    one.iov_base.cast::<u8>(),
                    one.iov_len.min(u32::MAX as usize) as u32,
                ),
                _ => (std::ptr::null_mut(), 0),
            };
            opcode::Read::new(types::Fd(fd), buf, len).build()
        }
        Request::Poll { fd, events } => opcode::PollAdd::new(types::Fd(fd), events as u32).build(),
        Request::Send {
            fd,
            flags,
            done,
            stream,
        } => send(mem, types::Fd(fd), flags, done, stream),
        Request::Accept { fd } => {
            opcode::Accept::new(types::Fd(fd), std::ptr::null_mut(), std::ptr::null_mut())
                .flags(libc::SOCK_CLOEXEC)
                .build()
        }
        Request::RecvFirst { fd, len } => {
            let buf = mem.bufs.buffers_mut()[0].as_mut_ptr();
            opcode::Recv::new(types::Fd(fd), buf, len).build()
        }
        Request::Connect { fd, addr } => {
            let (name, len) = mem.prepare_connect(&addr);
            opcode::Connect::new(types::Fd(fd), name, len).build()
        }
        Request::Shutdown { fd } => opcode::Shutdown::new(types::Fd(fd), libc::SHUT_WR).build(),
        Request::Nop => opcode::Nop::new().build(),
        Request::Chain { .. } => unreachable!("chains are built by `sqes`"),
    }
}

/// A stream (or datagram) send of the buffers from byte `done` on.
fn send(mem: &mut OpMem, fd: types::Fd, flags: i32, done: usize, stream: bool) -> squeue::Entry {
    let mut flags = flags | libc::MSG_NOSIGNAL;
    if stream {
        // The kernel then retries short stream sends itself; a send
        // that still comes back short is resubmitted by the record's `step`.
        flags |= libc::MSG_WAITALL;
        if let Some((buf, len)) = mem.single(done) {
            // One buffer (the usual case): no msghdr at all.
            return opcode::Send::new(fd, buf, len).flags(flags).build();
        }
    }
    mem.prepare(done, Way::Send);
    if let Some((buf, len)) = single_stream_buffer(mem, stream) {
        opcode::Send::new(fd, buf, len).flags(flags).build()
    } else {
        opcode::SendMsg::new(fd, &mem.msg)
            .flags(flags as u32)
            .build()
    }
}

const IORING_RECVSEND_POLL_FIRST: u16 = 1;

/// The one buffer of a stream operation, if it has exactly one (after `prepare`).
fn single_stream_buffer(mem: &OpMem, stream: bool) -> Option<(*mut u8, u32)> {
    match mem.iov.as_slice() {
        [one] if stream && one.iov_len <= u32::MAX as usize => {
            Some((one.iov_base.cast(), one.iov_len as u32))
        }
        _ => None,
    }
}
