//! The ring itself and its operations table, as only its lock holder sees them.

use std::os::fd::RawFd;
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};
use slab::Slab;

use super::prep::Sqes;
use super::{Slot, WAKER};
use crate::sys::op::Op;
use crate::sys::OpMem;

pub(super) struct Core<O: Op> {
    pub(super) uring: IoUring,
    pub(super) slots: Slab<(u64, Slot<O>)>,
    pub(super) generation: u32,
    /// Recycled operation memory; boxed because a slot's memory must keep
    /// its address while the slab moves slots around.
    #[allow(clippy::vec_box)]
    pub(super) spare: Vec<Box<OpMem>>,
    pub(super) cqes: Vec<(u64, i32, u32)>,
    pub(super) waker_buf: Box<u64>,
    pub(super) waker_armed: bool,
    /// The owner is exiting: event-notified operations that the kernel
    /// cancels (or that need another step) are parked here, to be submitted
    /// again by the service thread (see `retire`).
    pub(super) retiring: bool,
    pub(super) parked: Vec<u64>,
}

impl<O: Op> Core<O> {
    pub(super) fn push(&mut self, sqe: &squeue::Entry) {
        loop {
            // SAFETY: every entry we build points only into memory owned by a
            // slot in `self.slots` (boxed, so it does not move) or by `self`,
            // and a slot is removed only after its completion has been reaped.
            if unsafe { self.uring.submission().push(sqe) }.is_ok() {
                return;
            }
            self.submit();
        }
    }

    /// Pushes an operation's entries: one, or a chain of linked entries that
    /// must reach the kernel in one submission (a chain split across two
    /// would be cut in two).
    pub(super) fn push_all(&mut self, sqes: Sqes) {
        match sqes {
            Sqes::One(sqe) => self.push(&sqe),
            Sqes::Chain(chain) => {
                let room = {
                    let sq = self.uring.submission();
                    sq.capacity() - sq.len()
                };
                if room < chain.len() {
                    self.submit();
                }
                for sqe in &chain {
                    self.push(sqe);
                }
            }
        }
    }

    pub(super) fn submit(&mut self) {
        loop {
            match self.uring.submit() {
                Ok(_) => return,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // The completion queue is full: the caller reaps, then we
                    // get another chance at the next submit.
                    return;
                }
                Err(_) => return,
            }
        }
    }

    pub(super) fn wait(&mut self, timeout: Option<Duration>) {
        let result = match timeout {
            None => self.uring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.uring.submitter().submit_with_args(1, &args)
            }
        };
        // ETIME (timeout), EINTR (signal) and EBUSY (overflow, reaped next)
        // all mean "go and look"; nothing else is expected here.
        let _ = result;
    }

    pub(super) fn arm_waker(&mut self, fd: RawFd) {
        if self.waker_armed {
            return;
        }
        self.waker_armed = true;
        let buf: *mut u64 = &mut *self.waker_buf;
        let sqe = opcode::Read::new(types::Fd(fd), buf.cast(), 8)
            .build()
            .user_data(WAKER);
        self.push(&sqe);
    }

    pub(super) fn collect(&mut self) {
        let mut cq = self.uring.completion();
        cq.sync();
        for cqe in &mut cq {
            self.cqes.push((cqe.user_data(), cqe.result(), cqe.flags()));
        }
    }
}
