//! Building the submission entry of an operation.

use io_uring::{opcode, squeue, types};

use super::mem::Way;
use crate::model::conn_ops::{AcceptPhase, ConnectPhase};
use crate::model::op::{OpKind, OpSlot};

/// The entries of one step of an operation.
pub(super) enum Sqes {
    One(squeue::Entry),
    /// Linked entries (transmits), all with the operation's `user_data`.
    Chain(Vec<squeue::Entry>),
}

/// The entries for `slot`'s next step.
pub(super) fn sqes(slot: &mut OpSlot, user_data: u64) -> Sqes {
    if let OpKind::Transmit(t) = &mut slot.kind {
        let socket = slot.socket.fd();
        return Sqes::Chain(super::splice::chain(
            t,
            &mut slot.mem.bufs,
            socket,
            user_data,
        ));
    }
    Sqes::One(sqe(slot, user_data))
}

/// The entry for `slot`'s next step. The entry points into `slot.mem`, which
/// is boxed and stays owned by the ring until the completion is reaped.
fn sqe(slot: &mut OpSlot, user_data: u64) -> squeue::Entry {
    if slot.serves_unread() {
        // The receive reads the socket's unread bytes at its completion.
        return opcode::Nop::new().build().user_data(user_data);
    }
    let fd = types::Fd(slot.socket.fd());
    // Receives started in a batch (or by a routine) usually find no data
    // yet: arm the poll first instead of trying the receive in vain.
    let ioprio = if slot.poll_first {
        IORING_RECVSEND_POLL_FIRST
    } else {
        0
    };
    let entry = match slot.kind {
        OpKind::Recv { flags } => {
            let stream = slot.socket.is_stream();
            // After bytes taken from the unread ones (`MSG_WAITALL`).
            let skip = slot.taken;
            if let Some((buf, len)) = stream.then(|| slot.mem.single(skip)).flatten() {
                // One buffer on a stream (the usual case): no msghdr at all.
                return opcode::Recv::new(fd, buf, len)
                    .flags(flags)
                    .ioprio(ioprio)
                    .build()
                    .user_data(user_data);
            }
            let whole = flags & libc::MSG_WAITALL != 0 && stream;
            slot.mem.prepare(skip, Way::Receive { whole });
            if let Some((buf, len)) = single_stream_buffer(slot) {
                // One buffer on a stream: the plain opcode skips the msghdr copy.
                opcode::Recv::new(fd, buf, len)
                    .flags(flags)
                    .ioprio(ioprio)
                    .build()
            } else {
                opcode::RecvMsg::new(fd, &mut slot.mem.msg)
                    .flags(flags as u32)
                    .ioprio(ioprio)
                    .build()
            }
        }
        OpKind::RecvMsg {
            flags,
            name_len,
            control_len,
            ..
        } => {
            slot.mem.prepare(0, Way::Receive { whole: false });
            slot.mem.prepare_recv_msg(name_len, control_len);
            opcode::RecvMsg::new(fd, &mut slot.mem.msg)
                .flags(flags as u32)
                .build()
        }
        OpKind::SendMsg { flags, ref spec } => {
            slot.mem.prepare(0, Way::Send);
            slot.mem
                .prepare_send_msg(spec.to.as_ref(), spec.control.as_bytes());
            opcode::SendMsg::new(fd, &slot.mem.msg)
                .flags((flags | libc::MSG_NOSIGNAL) as u32)
                .build()
        }
        OpKind::Change { .. } => {
            slot.mem.prepare(0, Way::Receive { whole: false });
            let (buf, len) = match slot.mem.iov.as_slice() {
                [one] => (
                    one.iov_base.cast::<u8>(),
                    one.iov_len.min(u32::MAX as usize) as u32,
                ),
                _ => (std::ptr::null_mut(), 0),
            };
            opcode::Read::new(fd, buf, len).build()
        }
        OpKind::Transmit(_) => unreachable!("transmits are chains (see `sqes`)"),
        OpKind::PollIn => opcode::PollAdd::new(fd, libc::POLLIN as u32).build(),
        OpKind::PollOut => opcode::PollAdd::new(fd, libc::POLLOUT as u32).build(),
        OpKind::Send { flags, done } => send(slot, fd, flags, done),
        OpKind::Accept(ref spec) => match spec.phase {
            // Wait for a connection without taking it (it stays queued).
            AcceptPhase::Short => opcode::PollAdd::new(fd, libc::POLLIN as u32).build(),
            AcceptPhase::Accepting => {
                opcode::Accept::new(fd, std::ptr::null_mut(), std::ptr::null_mut())
                    .flags(libc::SOCK_CLOEXEC)
                    .build()
            }
            AcceptPhase::Receiving => {
                // The first `receive_len` bytes of the output buffer, on the
                // accepted connection (now behind the accept socket's number).
                let target = types::Fd(spec.target.fd());
                let len = spec.receive_len;
                let buf = slot.mem.bufs.buffers_mut()[0].as_mut_ptr();
                opcode::Recv::new(target, buf, len).build()
            }
        },
        OpKind::Connect(ref spec) => match spec.phase {
            ConnectPhase::Connecting => {
                let addr = spec.addr;
                let (name, len) = slot.mem.prepare_connect(&addr);
                opcode::Connect::new(fd, name, len).build()
            }
            ConnectPhase::Sending { done } => send(slot, fd, 0, done),
        },
        OpKind::Disconnect { .. } => opcode::Shutdown::new(fd, libc::SHUT_WR).build(),
    };
    entry.user_data(user_data)
}

/// A stream (or datagram) send of the buffers from byte `done` on.
fn send(slot: &mut OpSlot, fd: types::Fd, flags: i32, done: usize) -> squeue::Entry {
    let mut flags = flags | libc::MSG_NOSIGNAL;
    if slot.socket.is_stream() {
        // The kernel then retries short stream sends itself; a send
        // that still comes back short is resubmitted by `OpSlot::step`.
        flags |= libc::MSG_WAITALL;
        if let Some((buf, len)) = slot.mem.single(done) {
            // One buffer (the usual case): no msghdr at all.
            return opcode::Send::new(fd, buf, len).flags(flags).build();
        }
    }
    slot.mem.prepare(done, Way::Send);
    if let Some((buf, len)) = single_stream_buffer(slot) {
        opcode::Send::new(fd, buf, len).flags(flags).build()
    } else {
        opcode::SendMsg::new(fd, &slot.mem.msg)
            .flags(flags as u32)
            .build()
    }
}

const IORING_RECVSEND_POLL_FIRST: u16 = 1;

/// The one buffer of a stream operation, if it has exactly one (after `prepare`).
fn single_stream_buffer(slot: &OpSlot) -> Option<(*mut u8, u32)> {
    match slot.mem.iov.as_slice() {
        [one] if slot.socket.is_stream() && one.iov_len <= u32::MAX as usize => {
            Some((one.iov_base.cast(), one.iov_len as u32))
        }
        _ => None,
    }
}
