//! Requests for a ring from any thread (cancel one operation, cancel a
//! socket's operations, start the next operation of a socket lane, a
//! worker's result), and the per-socket lanes' hand-over between rings.
//! Whoever posts a request performs it at once if the ring is free (any
//! thread may drive an epoll ring); otherwise the holder does, as it lets go.

use std::os::fd::RawFd;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Weak};

use super::core::{Core, Wait};
use super::{transmit, Ring};
use crate::sys::op::Op;
use crate::sys::Driver;

pub(super) enum Mail<O: Op> {
    Cancel(u64),
    /// Cancel every operation of this ring on the socket (weak: a socket
    /// that is gone has no operations left).
    CancelSocket(Weak<O::Socket>),
    /// The socket is closing: as `CancelSocket`, plus the operations that
    /// name it as their target (an `AcceptEx` whose accept socket it is,
    /// [fact 93](crate::semantics#fact-93)).
    CloseSocket(Weak<O::Socket>),
    /// Start an operation that was queued behind another in its socket lane.
    Submit(u64),
    /// A worker's result for an operation's file read.
    Worked(u64, i32),
    /// Another open file was put behind this descriptor number (`dup3`):
    /// operations waiting on the old one end as it ended.
    Replaced(RawFd),
}

impl<O: Op> Ring<O> {
    /// Cancels one operation, from any thread.
    pub(crate) fn cancel(&self, user_data: u64) {
        self.post(Mail::Cancel(user_data));
    }

    /// Cancels every operation of this ring on `socket`, from any thread.
    pub(crate) fn cancel_socket(&self, socket: &Arc<O::Socket>) {
        self.post(Mail::CancelSocket(Arc::downgrade(socket)));
    }

    /// `socket` is closing: cancels its operations on this ring, and those
    /// that name it as their target.
    pub(crate) fn close_socket(&self, socket: &Arc<O::Socket>) {
        self.post(Mail::CloseSocket(Arc::downgrade(socket)));
    }

    pub(super) fn post(&self, mail: Mail<O>) {
        if self.foreign() {
            return;
        }
        self.mail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(mail);
        self.has_mail.store(true, SeqCst);
        self.serve();
    }

    pub(super) fn drain_mail(&self, core: &mut Core<O>) {
        if !self.has_mail.load(SeqCst) || !self.has_mail.swap(false, SeqCst) {
            return;
        }
        let mail = std::mem::take(&mut *self.mail.lock().unwrap_or_else(|e| e.into_inner()));
        for m in mail {
            match m {
                Mail::Cancel(ud) => self.cancel_one(core, ud),
                Mail::CancelSocket(socket) => self.cancel_on(core, socket, false),
                Mail::CloseSocket(socket) => self.cancel_on(core, socket, true),
                Mail::Submit(ud) => self.submit_queued(core, ud),
                Mail::Worked(ud, res) => self.worked_in(core, ud, res),
                Mail::Replaced(fd) => self.replaced_in(core, fd),
            }
        }
    }

    fn cancel_one(&self, core: &mut Core<O>, ud: u64) {
        let submitted = match core.slots.get_mut((ud & 0xffff_ffff) as usize) {
            Some((stored, slot)) if *stored == ud => {
                slot.cancelled = true;
                slot.submitted
            }
            _ => return, // already completed: nothing to cancel
        };
        if submitted {
            self.stop(core, ud);
        } else {
            // Queued in its lane: withdrawn now (or, already popped with its
            // `Submit` on the way, ended by `submit_queued`).
            self.withdraw(core, |slot_ud, _| slot_ud == ud);
        }
    }

    /// Descriptor `fd` names another open file now: the operations waiting
    /// on the old one end the way they would have on it, had it stayed
    /// theirs (io_uring's requests hold the old file): its reading side was
    /// shut down (`TF_REUSE_SOCKET`) or it was released (close), so a
    /// receive ends with 0 bytes and a send with `EPIPE`.
    fn replaced_in(&self, core: &mut Core<O>, fd: RawFd) {
        for (ud, events) in core.stale_waiters(fd) {
            let res = if events & super::core::OUT != 0 {
                -libc::EPIPE
            } else {
                0
            };
            self.stop_with(core, ud, Some(res));
        }
    }

    /// Ends a cancelled operation that is waiting (not one whose worker is
    /// busy: it ends when the worker's result is back). Data a stream
    /// `MSG_WAITALL` receive already took is its result, as with io_uring.
    pub(super) fn stop(&self, core: &mut Core<O>, ud: u64) {
        self.stop_with(core, ud, None)
    }

    /// Ends a waiting operation with `res` (`None`: cancelled).
    fn stop_with(&self, core: &mut Core<O>, ud: u64, res: Option<i32>) {
        let key = (ud & 0xffff_ffff) as usize;
        let res = match core.slots.get_mut(key) {
            Some((stored, slot)) if *stored == ud => {
                if slot.wait == Wait::Worker {
                    return;
                }
                let res = res.unwrap_or(-libc::ECANCELED);
                if slot.planned {
                    // A transmit's chain: the rest of it is cancelled.
                    transmit::feed(slot, res).unwrap_or(-libc::ECANCELED)
                } else if slot.got > 0 && res <= 0 {
                    slot.got as i32
                } else {
                    res
                }
            }
            _ => return,
        };
        core.unwait(ud);
        core.fresh.retain(|&f| f != ud);
        if let Some(done) = self.end(core, ud, res) {
            core.deliver(done);
        }
    }

    /// Ends operation `ud` with `res`; a step that would go on after it is
    /// ended as cancelled instead.
    pub(super) fn end(&self, core: &mut Core<O>, ud: u64, res: i32) -> Option<O::Done> {
        let mut res = res;
        loop {
            if let Some(done) = self.complete(core, ud, res, false) {
                return done;
            }
            match core.slots.get_mut((ud & 0xffff_ffff) as usize) {
                Some((stored, slot)) if *stored == ud => slot.cancelled = true,
                _ => return None,
            }
            res = -libc::ECANCELED;
        }
    }

    fn cancel_on(&self, core: &mut Core<O>, socket: Weak<O::Socket>, closing: bool) {
        let Some(socket) = socket.upgrade() else {
            return;
        };
        let mut waiting = Vec::new();
        for (_, (ud, slot)) in core.slots.iter_mut() {
            let issued_on = slot.op.issued_on(&socket);
            let targets = closing && slot.op.targets(&socket);
            if issued_on || targets {
                slot.cancelled = true;
                if slot.submitted {
                    waiting.push(*ud);
                }
            }
        }
        self.withdraw(core, |_, op| op.issued_on(&socket));
        for ud in waiting {
            self.stop(core, ud);
        }
    }

    /// Completes as cancelled the operations still queued in their socket
    /// lane that `pick` selects.
    pub(super) fn withdraw(&self, core: &mut Core<O>, pick: impl Fn(u64, &O) -> bool) {
        let found: Vec<u64> = core
            .slots
            .iter()
            .filter(|(_, (ud, slot))| !slot.submitted && pick(*ud, &slot.op))
            .map(|(_, (ud, _))| *ud)
            .collect();
        for ud in found {
            let key = (ud & 0xffff_ffff) as usize;
            if core.slots[key].1.op.withdraw_lane(&self.me, ud) {
                if let Some(done) = self.end(core, ud, -libc::ECANCELED) {
                    core.deliver(done);
                }
            }
        }
    }

    /// An operation reached the head of its socket lane: it is tried once
    /// what is being delivered now has been (so that completions keep the
    /// lane's order), at the end of this turn.
    pub(super) fn submit_queued(&self, core: &mut Core<O>, ud: u64) {
        let key = (ud & 0xffff_ffff) as usize;
        match core.slots.get_mut(key) {
            Some((stored, slot)) if *stored == ud && !slot.submitted => {
                slot.submitted = true;
                core.fresh.push(ud);
                self.queued.store(true, SeqCst);
            }
            _ => {}
        }
    }

    fn worked_in(&self, core: &mut Core<O>, ud: u64, res: i32) {
        let key = (ud & 0xffff_ffff) as usize;
        let ended = match core.slots.get_mut(key) {
            Some((stored, slot)) if *stored == ud && slot.wait == Wait::Worker => {
                slot.wait = Wait::Idle;
                match transmit::feed(slot, res) {
                    Some(end) => Some(end),
                    None if slot.cancelled => {
                        Some(transmit::feed(slot, -libc::ECANCELED).unwrap_or(-libc::ECANCELED))
                    }
                    None => None,
                }
            }
            _ => return,
        };
        let done = match ended {
            Some(end) => match self.complete(core, ud, end, false) {
                Some(done) => done,
                None => self.advance(core, ud),
            },
            None => self.advance(core, ud),
        };
        if let Some(done) = done {
            core.deliver(done);
        }
    }

    /// Starts `ud`, the next operation of a lane, on whichever driver
    /// holds it (this one: at the end of this turn).
    pub(super) fn next_in_lane(&self, core: &mut Core<O>, driver: Weak<Driver<O>>, ud: u64) {
        if Weak::ptr_eq(&driver, &self.me) {
            self.submit_queued(core, ud);
        } else if let Some(driver) = driver.upgrade() {
            driver.submit_next(ud);
        }
    }

    /// Starts `ud`, which reached the head of its lane (any thread).
    pub(crate) fn submit_next(&self, ud: u64) {
        self.post(Mail::Submit(ud));
    }
}
