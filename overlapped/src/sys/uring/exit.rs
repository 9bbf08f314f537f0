//! Retiring a ring whose owner thread exits, and resuming its operations
//! from the service thread (semantics [fact 133](crate::semantics#fact-133)).

use std::time::Duration;

use io_uring::{opcode, types};

use super::{Ring, CANCEL};
use crate::sys::op::Op;

impl<O: Op> Ring<O> {
    /// Called on the owner thread as it exits. The kernel ties each request
    /// to the thread that submitted it and ends them when it exits; Winsock
    /// does not ([fact 133](crate::semantics#fact-133)). So: cancel everything now, let the completions
    /// of routine operations go (their routines can never run), and park the
    /// event-notified ones, which the service thread submits again from a
    /// thread that lives on ([`Ring::resume`]). Data that had already
    /// arrived is delivered as a normal completion.
    pub(crate) fn retire(&self) {
        if self.foreign() {
            return;
        }
        let mut core = self.lock();
        core.retiring = true;
        // Routine operations still queued behind others in their socket lane
        // have never reached the kernel: end them here.
        self.withdraw(&mut core, |_, slot| !slot.op.any_thread());
        // Those already popped from their lane (a `Submit` on the way) must
        // not reach the kernel later either.
        for (_, (_, slot)) in core.slots.iter_mut() {
            if !slot.op.any_thread() {
                slot.cancelled = true;
            }
        }
        let cancel = types::CancelBuilder::any().all();
        core.push(&opcode::AsyncCancel2::new(cancel).build().user_data(CANCEL));
        core.submit();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while core.slots.iter().any(|(_, (_, s))| s.submitted)
            && std::time::Instant::now() < deadline
        {
            core.wait(Some(Duration::from_millis(20)));
            self.reap(&mut core, None);
        }
        self.release(core);
    }

    /// Submits again, from the calling (long-lived) thread, the operations
    /// parked by [`Ring::retire`].
    pub(crate) fn resume(&self) {
        if self.foreign() {
            return;
        }
        let mut core = self.lock();
        core.retiring = false;
        for ud in std::mem::take(&mut core.parked) {
            self.submit_queued(&mut core, ud);
        }
        core.submit();
        self.release(core);
    }
}
