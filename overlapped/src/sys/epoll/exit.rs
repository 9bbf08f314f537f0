//! A ring whose owner thread exits (semantics [fact 133](crate::semantics#fact-133)).
//!
//! Nothing an epoll ring does is tied to its owner thread, so its
//! operations simply go on: only those with a completion routine end here
//! (their routines could never run); the others are driven by the service
//! thread from now on, until the last one completes.

use super::core::Wait;
use super::Ring;
use crate::sys::op::Op;

impl<O: Op> Ring<O> {
    /// Called on the owner thread as it exits.
    pub(crate) fn retire(&self) {
        if self.foreign() {
            return;
        }
        let mut core = self.lock();
        // Queued behind others in their socket lane: withdrawn.
        self.withdraw(&mut core, |_, op| !op.any_thread());
        let mut ending = Vec::new();
        for (_, (ud, slot)) in core.slots.iter_mut() {
            if !slot.op.any_thread() {
                slot.cancelled = true;
                if slot.submitted && slot.wait != Wait::Worker {
                    ending.push(*ud);
                }
            }
        }
        for ud in ending {
            self.stop(&mut core, ud);
        }
        self.release(core);
    }
}
