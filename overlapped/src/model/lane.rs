//! Per-socket ordering of operations (semantics facts [13](crate::semantics#fact-13) and [14](crate::semantics#fact-14)).
//!
//! The kernel does not promise that two receives pending on one socket are
//! filled in the order they were issued (io_uring wakes its waiters last
//! first), nor that a send submitted while an earlier one waits for buffer
//! space goes out after it. So each socket has two lanes, receive and send;
//! only the operation at the head of a lane is in the kernel, and the next
//! one is submitted when it completes. Accepts on a listener need no order
//! among themselves (each names its own accept socket, and servers post
//! dozens at once): they are all in the kernel together, and are kept in a
//! third, unordered set only so that cancels can find them.

use std::collections::VecDeque;
use std::sync::atomic::{
    AtomicU64, AtomicU8, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed,
    Ordering::Release,
};
use std::sync::{Mutex, MutexGuard, Weak};

use crate::model::op::Ring;

/// Which lane an operation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Receive,
    Send,
    /// No order: every operation is submitted at once (`AcceptEx`).
    Unordered,
}

#[derive(Default)]
pub(crate) struct Lanes {
    recv: Lane,
    send: Lane,
    unordered: Mutex<Vec<(Weak<Ring>, u64)>>,
}

/// The lane's head is taken (an operation is in the kernel, or parked, or
/// about to be submitted).
const HEAD: u8 = 1;
/// Operations wait behind the head (`Lane::waiting` is not empty).
const QUEUED: u8 = 2;

/// One lane. The usual life of an operation (the lane free when it starts,
/// nobody behind it when it completes) is one compare-and-swap at each
/// end, without the lock; the lock guards the queue behind the head, and
/// the `QUEUED` bit changes only under it, so an operation leaving a lane
/// with a queue always finds the queue's first entry there.
#[derive(Default)]
struct Lane {
    /// `HEAD` and `QUEUED`.
    state: AtomicU8,
    /// The head's ring (its address: only compared, by [`Lanes::holds`];
    /// the head's ring holds the operation, so it outlives the entry) and
    /// `user_data`. Written by whoever makes an operation the head.
    head_ring: AtomicUsize,
    head_ud: AtomicU64,
    waiting: Mutex<VecDeque<(Weak<Ring>, u64)>>,
}

fn addr(ring: &Weak<Ring>) -> usize {
    ring.as_ptr() as usize
}

impl Lane {
    fn queue(&self) -> MutexGuard<'_, VecDeque<(Weak<Ring>, u64)>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_head(&self, ring: usize, user_data: u64) {
        self.head_ring.store(ring, Relaxed);
        self.head_ud.store(user_data, Release);
    }

    fn enter(&self, ring: &Weak<Ring>, user_data: u64) -> bool {
        if self
            .state
            .compare_exchange(0, HEAD, AcqRel, Acquire)
            .is_ok()
        {
            self.set_head(addr(ring), user_data);
            return true;
        }
        self.enter_queued(ring, user_data)
    }

    /// [`Lane::enter`] when the lane looked taken: under the queue's lock.
    #[cold]
    #[inline(never)]
    fn enter_queued(&self, ring: &Weak<Ring>, user_data: u64) -> bool {
        let mut queue = self.queue();
        let mut state = self.state.load(Acquire);
        loop {
            // (Only a leave without a queue can change it meanwhile: to 0.)
            let (want, head) = if state == 0 {
                (HEAD, true)
            } else {
                (state | QUEUED, false)
            };
            match self.state.compare_exchange(state, want, AcqRel, Acquire) {
                Ok(_) if head => {
                    self.set_head(addr(ring), user_data);
                    return true;
                }
                Ok(_) => {
                    queue.push_back((ring.clone(), user_data));
                    return false;
                }
                Err(now) => state = now,
            }
        }
    }

    fn leave(&self) -> Option<(Weak<Ring>, u64)> {
        if self
            .state
            .compare_exchange(HEAD, 0, AcqRel, Acquire)
            .is_ok()
        {
            return None;
        }
        self.leave_queued()
    }

    /// [`Lane::leave`] with operations queued behind: the first becomes the head.
    #[cold]
    #[inline(never)]
    fn leave_queued(&self) -> Option<(Weak<Ring>, u64)> {
        let mut queue = self.queue();
        // Under the lock the state is `HEAD` or `HEAD | QUEUED`, and only
        // the lock's holder changes it.
        let next = queue.pop_front();
        match &next {
            None => self.state.store(0, Release),
            Some((ring, ud)) => {
                self.set_head(addr(ring), *ud);
                if queue.is_empty() {
                    self.state.store(HEAD, Release);
                }
            }
        }
        next
    }
}

impl Lanes {
    fn lane(&self, d: Direction) -> &Lane {
        match d {
            Direction::Receive => &self.recv,
            Direction::Send | Direction::Unordered => &self.send,
        }
    }

    /// Takes the lane if it is free (then submit now); otherwise queues the
    /// operation behind the others and returns false.
    #[inline]
    pub(crate) fn enter(&self, d: Direction, ring: &Weak<Ring>, user_data: u64) -> bool {
        if d == Direction::Unordered {
            self.unordered().push((ring.clone(), user_data));
            return true;
        }
        self.lane(d).enter(ring, user_data)
    }

    fn unordered(&self) -> MutexGuard<'_, Vec<(Weak<Ring>, u64)>> {
        self.unordered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The head operation completed (for the unordered set: operation
    /// `user_data` of `ring`): returns the next one to submit, if any (the
    /// lane stays taken for it).
    #[inline]
    pub(crate) fn leave(
        &self,
        d: Direction,
        ring: &Weak<Ring>,
        user_data: u64,
    ) -> Option<(Weak<Ring>, u64)> {
        if d == Direction::Unordered {
            let mut set = self.unordered();
            if let Some(pos) = set
                .iter()
                .position(|(r, ud)| *ud == user_data && Weak::ptr_eq(r, ring))
            {
                set.swap_remove(pos);
            }
            return None;
        }
        self.lane(d).leave()
    }

    /// Forgets every operation (after `fork`: they are the parent's, on
    /// the parent's rings, and never complete in this process).
    pub(crate) fn forget_all(&self) {
        for d in [Direction::Receive, Direction::Send] {
            let lane = self.lane(d);
            let mut queue = lane.queue();
            queue.clear();
            lane.state.store(0, Release);
        }
        self.unordered().clear();
    }

    /// Operations of the socket not yet completed, in both lanes.
    pub(crate) fn pending(&self) -> usize {
        [Direction::Receive, Direction::Send]
            .into_iter()
            .map(|d| {
                let lane = self.lane(d);
                let queue = lane.queue();
                usize::from(lane.state.load(Acquire) & HEAD != 0) + queue.len()
            })
            .sum::<usize>()
            + self.unordered().len()
    }

    /// Whether operation `user_data` of `ring` is one of this socket's.
    pub(crate) fn holds(&self, ring: &Weak<Ring>, user_data: u64) -> bool {
        if self
            .unordered()
            .iter()
            .any(|(r, ud)| *ud == user_data && Weak::ptr_eq(r, ring))
        {
            return true;
        }
        [Direction::Receive, Direction::Send].into_iter().any(|d| {
            let lane = self.lane(d);
            let queue = lane.queue();
            (lane.state.load(Acquire) & HEAD != 0
                && lane.head_ud.load(Acquire) == user_data
                && lane.head_ring.load(Relaxed) == addr(ring))
                || queue
                    .iter()
                    .any(|(r, ud)| *ud == user_data && Weak::ptr_eq(r, ring))
        })
    }

    /// Removes a queued (never submitted) operation of `ring`; true if it
    /// was there. (`user_data` alone is not enough: two rings may use the
    /// same value for operations queued on one socket.)
    pub(crate) fn withdraw(&self, d: Direction, ring: &Weak<Ring>, user_data: u64) -> bool {
        if d == Direction::Unordered {
            // Never queued: always in the kernel (or parked by an exiting thread).
            return false;
        }
        let lane = self.lane(d);
        let mut queue = lane.queue();
        let found = queue
            .iter()
            .position(|(r, ud)| *ud == user_data && Weak::ptr_eq(r, ring));
        match found {
            Some(pos) => {
                queue.remove(pos);
                if queue.is_empty() {
                    // (Under the lock: the head stays, nothing waits now.)
                    lane.state.fetch_and(!QUEUED, AcqRel);
                }
                true
            }
            None => false,
        }
    }
}
