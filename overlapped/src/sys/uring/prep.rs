//! Building the submission entry of an operation.

use io_uring::{opcode, squeue, types};

use crate::op::{OpKind, OpSlot};

/// The entry for `slot`'s next step. The entry points into `slot.mem`, which
/// is boxed and stays owned by the ring until the completion is reaped.
pub(super) fn sqe(slot: &mut OpSlot, user_data: u64) -> squeue::Entry {
    let fd = types::Fd(slot.socket.fd());
    let entry = match slot.kind {
        OpKind::Recv { flags } => {
            slot.mem.prepare(0);
            opcode::RecvMsg::new(fd, &mut slot.mem.msg)
                .flags(flags as u32)
                .build()
        }
        OpKind::PollIn => opcode::PollAdd::new(fd, libc::POLLIN as u32).build(),
        OpKind::Send { flags, done } => {
            slot.mem.prepare(done);
            let mut flags = flags | libc::MSG_NOSIGNAL;
            if slot.socket.is_stream() {
                // The kernel then retries short stream sends itself; a send
                // that still comes back short is resubmitted by `OpSlot::step`.
                flags |= libc::MSG_WAITALL;
            }
            opcode::SendMsg::new(fd, &slot.mem.msg)
                .flags(flags as u32)
                .build()
        }
    };
    entry.user_data(user_data)
}
