//! Requests for a ring from any thread (cancel one operation, cancel a
//! socket's operations, submit the next operation of a socket lane), and the
//! per-socket lanes' hand-over between rings.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Weak};

use io_uring::{opcode, types};

use super::core::Core;
use super::{prep, Ring, Slot, CANCEL};
use crate::sys::op::Op;
use crate::sys::Driver;

pub(super) enum Mail<O: Op> {
    Cancel(u64),
    /// Cancel every operation of this ring on the socket. Weak: if the socket
    /// is gone, so are its operations, and its descriptor number may already
    /// name another socket that must not be touched.
    CancelSocket(Weak<O::Socket>),
    /// The socket is being closed: as `CancelSocket`, and also the
    /// operations that name it without being issued on it (an `AcceptEx`
    /// whose accept socket it is: closing that cancels the accept, [fact 93](crate::semantics#fact-93),
    /// while `CancelIo` on it does not).
    CloseSocket(Weak<O::Socket>),
    /// Submit an operation that was queued behind another in its socket lane.
    Submit(u64),
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
    /// that name it as their target (see [`Mail::CloseSocket`]).
    ///
    /// On the owner thread the cancels are submitted before this returns,
    /// even if the service thread holds the ring at that moment (it may,
    /// on its tick: see `service.rs`): the owner then waits the moment it
    /// takes to let go (never when the owner holds the ring itself: a close
    /// during its own delivery is served as it lets go, as before), so
    /// that `closesocket` frees the socket's port at
    /// once (the socket value may be reused at once: [fact 128](crate::semantics#fact-128)).
    pub(crate) fn close_socket(&self, socket: &Arc<O::Socket>) {
        self.post(Mail::CloseSocket(Arc::downgrade(socket)));
        if self.is_owner()
            && self.has_mail.load(SeqCst)
            && self.service_holds.load(SeqCst)
            && !self.foreign()
        {
            let mut core = self.lock();
            self.drain_mail(&mut core);
            if !core.uring.submission().is_empty() {
                core.submit();
            }
            self.reap(&mut core, None);
            self.release(core);
        }
    }

    /// Submits `user_data`, which reached the head of its socket lane (the
    /// completion of the one before was reaped elsewhere), from any thread.
    pub(crate) fn submit_next(&self, user_data: u64) {
        self.post(Mail::Submit(user_data));
    }

    /// Hands the ring a request. Its owner or the service thread performs
    /// it at once if the ring is free; any other thread never touches the
    /// ring: it wakes the owner if it sleeps in its ring, else the service.
    pub(super) fn post(&self, mail: Mail<O>) {
        if self.foreign() {
            // The parent's ring (after `fork`): its operations are the
            // parent's; a cancel from here would end them.
            return;
        }
        self.mail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(mail);
        self.has_mail.store(true, SeqCst);
        if self.may_submit_here() {
            self.serve();
        } else if self.sleeping.load(SeqCst) {
            self.wake();
        } else {
            super::service::kick::<O>();
        }
    }

    pub(super) fn drain_mail(&self, core: &mut Core<O>) {
        // A plain load first: the locked swap only when there is mail.
        if !self.has_mail.load(SeqCst) || !self.has_mail.swap(false, SeqCst) {
            return;
        }
        let mail = std::mem::take(&mut *self.mail.lock().unwrap_or_else(|e| e.into_inner()));
        for m in mail {
            match m {
                Mail::Cancel(ud) => {
                    let submitted = match core.slots.get_mut((ud & 0xffff_ffff) as usize) {
                        Some((stored, slot)) if *stored == ud => {
                            slot.cancelled = true;
                            slot.submitted
                        }
                        _ => continue, // already completed: nothing to cancel
                    };
                    if submitted {
                        core.push(&opcode::AsyncCancel::new(ud).build().user_data(CANCEL));
                    } else {
                        // Queued in its lane: withdrawn now. Already popped
                        // from the lane (its `Submit` is on the way):
                        // `submit_queued` sees the flag and ends it instead.
                        self.withdraw(core, |slot_ud, _| slot_ud == ud);
                    }
                }
                Mail::CancelSocket(socket) => self.cancel_on(core, socket, false),
                Mail::CloseSocket(socket) => self.cancel_on(core, socket, true),
                Mail::Submit(ud) => self.submit_queued(core, ud),
            }
        }
    }

    /// Cancels this ring's operations on `socket` (and, when `closing`,
    /// those that name it as their target).
    fn cancel_on(&self, core: &mut Core<O>, socket: Weak<O::Socket>, closing: bool) {
        let Some(socket) = socket.upgrade() else {
            return;
        };
        // By `user_data`, never by descriptor: a closed socket's number
        // already names a placeholder (see `Socket::close_now`), and some
        // operations' requests name other descriptors (an accept's receive
        // runs on the accept socket, a transmit's on its pipe). `ALL`: a
        // chain's requests share one `user_data`.
        let mut in_kernel = Vec::new();
        for (_, (ud, slot)) in core.slots.iter_mut() {
            let issued_on = slot.op.issued_on(&socket);
            let targets = closing && slot.op.targets(&socket);
            if issued_on || targets {
                slot.cancelled = true;
                if slot.submitted {
                    in_kernel.push(*ud);
                }
            }
        }
        self.withdraw(core, |_, slot| slot.op.issued_on(&socket));
        for ud in in_kernel {
            let cancel = types::CancelBuilder::user_data(ud).all();
            core.push(&opcode::AsyncCancel2::new(cancel).build().user_data(CANCEL));
        }
    }

    /// Completes as cancelled the operations still queued in their socket
    /// lane (the kernel has never seen them) that `pick` selects.
    pub(super) fn withdraw(&self, core: &mut Core<O>, pick: impl Fn(u64, &Slot<O>) -> bool) {
        let found: Vec<u64> = core
            .slots
            .iter()
            .filter(|(_, (ud, slot))| !slot.submitted && pick(*ud, slot))
            .map(|(_, (ud, _))| *ud)
            .collect();
        for &ud in &found {
            let key = (ud & 0xffff_ffff) as usize;
            let (_, slot) = &core.slots[key];
            if slot.op.withdraw_lane(&self.me, ud) {
                if let Some(done) = self.complete(core, ud, -libc::ECANCELED) {
                    self.deliver(done);
                }
            }
        }
    }

    /// Submits an operation that reached the head of its socket lane.
    pub(super) fn submit_queued(&self, core: &mut Core<O>, ud: u64) {
        let key = (ud & 0xffff_ffff) as usize;
        match core.slots.get_mut(key) {
            Some((stored, slot)) if *stored == ud && !slot.submitted => {
                // It is the head of its lane now, in the kernel or not.
                slot.submitted = true;
                if slot.cancelled || slot.op.socket_closed() {
                    // Cancelled (or its socket closed) while on its way to
                    // the kernel: it never goes there, whenever the cancel
                    // mail is read (and the next in the lane moves up).
                    if let Some(done) = self.complete(core, ud, -libc::ECANCELED) {
                        self.deliver(done);
                    }
                    return;
                }
                if core.retiring && slot.op.any_thread() {
                    // Its thread is exiting: a request submitted now would
                    // end with it. The service submits it (`resume`).
                    slot.submitted = false;
                    core.parked.push(ud);
                    return;
                }
                let sqes = prep::sqes(slot, ud);
                core.push_all(sqes);
            }
            _ => {}
        }
    }

    /// The head of a socket lane completed: start the next operation queued
    /// there, on whichever ring holds it.
    pub(super) fn submit_next_of_lane(&self, core: &mut Core<O>, ring: Weak<Driver<O>>, ud: u64) {
        if Weak::ptr_eq(&ring, &self.me) {
            self.submit_queued(core, ud);
        } else if let Some(ring) = ring.upgrade() {
            ring.submit_next(ud);
        }
    }
}
