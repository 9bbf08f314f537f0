//! A ring whose owner thread exits (semantics [fact 133](crate::semantics#fact-133)).
//!
//! Nothing an epoll ring does is tied to its owner thread, so its
//! operations simply go on: only those with a completion routine end here
//! (their routines could never run); the others are driven by the service
//! thread from now on, until the last one completes.

use super::core::Wait;
use super::Ring;
use crate::op::Notify;

impl Ring {
    /// Called on the owner thread as it exits.
    pub(crate) fn retire(&self) {
        if self.foreign() {
            return;
        }
        let mut core = self.lock();
        let routine = |n: &Notify| matches!(n, Notify::Routine { .. });
        // Queued behind others in their socket lane: withdrawn.
        self.withdraw(&mut core, |_, slot| routine(&slot.notify));
        let mut ending = Vec::new();
        for (_, (ud, slot)) in core.slots.iter_mut() {
            if routine(&slot.op.notify) {
                slot.op.cancelled = true;
                if slot.op.submitted && slot.wait != Wait::Worker {
                    ending.push(*ud);
                }
            }
        }
        for ud in ending {
            self.stop(&mut core, ud);
        }
        self.release(core);
    }

    /// The service thread goes on where the owner left off: nothing to
    /// resubmit (see the module's note).
    pub(crate) fn resume(&self) {}
}
