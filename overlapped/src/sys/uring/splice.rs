//! The linked entries of one step of a transmit: memory written into the
//! operation's pipe, file ranges spliced into it, the pipe spliced into the
//! socket, and `TF_DISCONNECT`'s shutdown ([`Request::Chain`](crate::sys::op::Request::Chain)).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use io_uring::{opcode, squeue, types};

use crate::sys::buf::BufList;
use crate::sys::op::Member;

/// Builds a chain's entries, linked in order. Every entry points only into
/// memory the operation owns until its completion is reaped: `bufs` (moved
/// into the operation), the pipe and the `files` (held by its record).
pub(super) fn chain(
    members: &[Member],
    (pipe_r, pipe_w): (RawFd, RawFd),
    files: &[OwnedFd],
    bufs: &mut BufList,
    socket: RawFd,
    user_data: u64,
) -> Vec<squeue::Entry> {
    let last = members.len() - 1;
    members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let entry = match *m {
                Member::Write { buf, at, len } => {
                    let ptr = bufs.buffers_mut()[buf][at..].as_mut_ptr();
                    opcode::Write::new(types::Fd(pipe_w), ptr, len).build()
                }
                Member::SpliceIn { file, offset, len } => {
                    // -1: the file's own position (and it advances).
                    let off = offset.map_or(-1, |o| o as i64);
                    opcode::Splice::new(
                        types::Fd(files[file].as_raw_fd()),
                        off,
                        types::Fd(pipe_w),
                        -1,
                        len,
                    )
                    .build()
                }
                Member::Out { len } => {
                    opcode::Splice::new(types::Fd(pipe_r), -1, types::Fd(socket), -1, len).build()
                }
                Member::Writable => {
                    opcode::PollAdd::new(types::Fd(socket), libc::POLLOUT as u32).build()
                }
                Member::Shutdown => opcode::Shutdown::new(types::Fd(socket), libc::SHUT_WR).build(),
                Member::Nop => opcode::Nop::new().build(),
            };
            let entry = entry.user_data(user_data);
            if i < last {
                entry.flags(squeue::Flags::IO_LINK)
            } else {
                entry
            }
        })
        .collect()
}
