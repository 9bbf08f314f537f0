//! An operation's life on the ring: started (and submitted at once, or
//! with the owner's next wait), its completions reaped and interpreted by
//! the record (`Op::step`), resubmitted or finished, then delivered.

use std::sync::atomic::{fence, Ordering::SeqCst};

use super::core::Core;
use super::{prep, Ring, Slot, TAG, WAKER};
use crate::sys::buf::BufList;
use crate::sys::op::{Op, Step};
use crate::sys::{OpMem, OpRef, Started};

impl<O: Op> Ring<O> {
    /// Starts an operation. With `eager`, it is submitted now and a completion
    /// that the kernel produced during submission is returned as `Immediate`;
    /// otherwise it waits for the owner's next `turn` (batched submission).
    pub(crate) fn start(&self, op: O, bufs: BufList, eager: bool) -> Started<O> {
        let mut core = self.lock();
        let mut mem = core.spare.pop().unwrap_or_else(OpMem::new);
        mem.bufs = bufs;
        let slot = Slot {
            op,
            mem,
            submitted: false,
            cancelled: false,
            poll_first: !eager,
        };
        core.generation = core.generation.wrapping_add(1) & 0x7fff_ffff;
        let generation = u64::from(core.generation);
        let entry = core.slots.vacant_entry();
        let user_data = (generation << 32) | entry.key() as u64;
        let (_, slot) = entry.insert((user_data, slot));
        self.ops.fetch_add(1, SeqCst);
        let op = OpRef::to(&self.me, &slot.op, user_data);
        if slot.op.enter_lane(&self.me, user_data) {
            slot.submitted = true;
            let sqes = prep::sqes(slot, user_data);
            core.push_all(sqes);
        }
        if !eager {
            self.release(core);
            return Started::Pending(op);
        }
        core.submit();
        let held = self.reap(&mut core, Some(user_data));
        self.release(core);
        match held {
            Some(done) => Started::Immediate(done),
            None => Started::Pending(op),
        }
    }

    /// Reaps every ready completion and delivers it, except the operation
    /// `hold`, whose result is returned instead.
    pub(super) fn reap(&self, core: &mut Core<O>, hold: Option<u64>) -> Option<O::Done> {
        let mut held = None;
        loop {
            core.collect();
            if core.cqes.is_empty() {
                return held;
            }
            let cqes = std::mem::take(&mut core.cqes);
            for &(ud, res, _) in &cqes {
                if ud == WAKER {
                    core.waker_armed = false;
                } else if ud & TAG == 0 {
                    if let Some(done) = self.complete(core, ud, res) {
                        if Some(ud) == hold {
                            held = Some(done);
                        } else {
                            self.deliver(done);
                        }
                    }
                }
            }
            core.cqes = cqes;
            core.cqes.clear();
            if !self.batching() && !core.uring.submission().is_empty() && self.may_submit_here() {
                core.submit();
            }
        }
    }

    /// Delivers a finished operation. On a thread other than the owner (the
    /// service thread, the tokio driver), the owner is then woken if it
    /// sleeps in its ring: it may be waiting for exactly this operation with
    /// a condition that no event marks (a synchronous call's alertable wait,
    /// `run_alertable`, looks at the record's state), and it may have looked
    /// just before this delivery. The owner says it sleeps (`sleeping`,
    /// SeqCst) before its last look; the fence orders our delivery before
    /// our look at `sleeping`, so one of the two sees the other.
    pub(super) fn deliver(&self, done: O::Done) {
        O::deliver(done);
        if !self.is_owner() {
            fence(SeqCst);
            self.wake();
        }
    }

    pub(super) fn complete(&self, core: &mut Core<O>, ud: u64, res: i32) -> Option<O::Done> {
        let key = (ud & 0xffff_ffff) as usize;
        match core.slots.get_mut(key) {
            Some((stored, _)) if *stored == ud => {}
            _ => return None,
        }
        let retiring = core.retiring;
        let (_, slot) = &mut core.slots[key];
        if slot.op.absorb(res) {
            // More results of this operation's chain are on their way.
            return None;
        }
        // Park only what someone still waits for: not a record that was
        // dropped, nor an operation whose cancel was asked for.
        let parks = retiring && !slot.cancelled && slot.op.any_thread() && slot.op.awaited();
        if parks && res == -libc::ECANCELED {
            slot.submitted = false;
            core.parked.push(ud);
            return None;
        }
        match slot.op.step(&mut slot.mem, res, slot.cancelled) {
            Step::Resubmit if parks => {
                slot.submitted = false;
                core.parked.push(ud);
                None
            }
            Step::Resubmit => {
                let sqes = prep::sqes(slot, ud);
                core.push_all(sqes);
                None
            }
            Step::Done(ended) => {
                let (_, mut slot) = core.slots.remove(key);
                let lane = slot.submitted.then_some((&self.me, ud));
                let finished = slot.op.finish(&mut slot.mem, ended, lane);
                core.spare.push(slot.mem);
                self.ops.fetch_sub(1, SeqCst);
                if let Some((ring, next)) = finished.next {
                    self.submit_next_of_lane(core, ring, next);
                }
                finished.done
            }
        }
    }
}
