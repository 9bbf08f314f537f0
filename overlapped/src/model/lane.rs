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
use std::sync::{Mutex, Weak};

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
    recv: Mutex<Lane>,
    send: Mutex<Lane>,
    unordered: Mutex<Vec<(Weak<Ring>, u64)>>,
}

#[derive(Default)]
struct Lane {
    /// The operation in the kernel (or parked, or about to be submitted).
    head: Option<(Weak<Ring>, u64)>,
    waiting: VecDeque<(Weak<Ring>, u64)>,
}

impl Lanes {
    fn lane(&self, d: Direction) -> std::sync::MutexGuard<'_, Lane> {
        match d {
            Direction::Receive => &self.recv,
            Direction::Send | Direction::Unordered => &self.send,
        }
        .lock()
        .unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the lane if it is free (then submit now); otherwise queues the
    /// operation behind the others and returns false.
    pub(crate) fn enter(&self, d: Direction, ring: Weak<Ring>, user_data: u64) -> bool {
        if d == Direction::Unordered {
            self.unordered().push((ring, user_data));
            return true;
        }
        let mut lane = self.lane(d);
        if lane.head.is_some() {
            lane.waiting.push_back((ring, user_data));
            false
        } else {
            lane.head = Some((ring, user_data));
            true
        }
    }

    fn unordered(&self) -> std::sync::MutexGuard<'_, Vec<(Weak<Ring>, u64)>> {
        self.unordered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The head operation completed (for the unordered set: operation
    /// `user_data` of `ring`): returns the next one to submit, if any (the
    /// lane stays taken for it).
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
        let mut lane = self.lane(d);
        let next = lane.waiting.pop_front();
        lane.head = next.clone();
        next
    }

    /// Forgets every operation (after `fork`: they are the parent's, on
    /// the parent's rings, and never complete in this process).
    pub(crate) fn forget_all(&self) {
        for d in [Direction::Receive, Direction::Send] {
            *self.lane(d) = Lane::default();
        }
        self.unordered().clear();
    }

    /// Operations of the socket not yet completed, in both lanes.
    pub(crate) fn pending(&self) -> usize {
        [Direction::Receive, Direction::Send]
            .into_iter()
            .map(|d| {
                let lane = self.lane(d);
                usize::from(lane.head.is_some()) + lane.waiting.len()
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
            lane.head
                .iter()
                .chain(lane.waiting.iter())
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
        let mut lane = self.lane(d);
        let found = lane
            .waiting
            .iter()
            .position(|(r, ud)| *ud == user_data && Weak::ptr_eq(r, ring));
        match found {
            Some(pos) => {
                lane.waiting.remove(pos);
                true
            }
            None => false,
        }
    }
}
