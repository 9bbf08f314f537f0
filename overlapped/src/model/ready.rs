//! The ready set behind a wait: which indices of an event list may be signalled,
//! found lowest-first in time that does not grow with the list.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use crate::model::thread::ThreadShared;

/// A two-level bitmap of "maybe signalled" indices, plus the threads waiting on it.
///
/// Events mark their index when they are set; a waiter takes the lowest marked
/// index and confirms it against the event itself, so stale marks are harmless.
pub(crate) struct ReadySet {
    words: Box<[AtomicU64]>,
    summary: Box<[AtomicU64]>,
    /// How many marks were made (see [`ReadySet::marks`]).
    marks: AtomicU64,
    waiters: Mutex<Vec<Arc<ThreadShared>>>,
    /// A thread registered for good ([`ReadySet::enter_persistent`]): a
    /// set registered so is one thread's own (its single-event wait set).
    persistent: AtomicBool,
}

impl ReadySet {
    pub(crate) fn new(len: usize) -> ReadySet {
        let words = len.div_ceil(64).max(1);
        let summary = words.div_ceil(64);
        ReadySet {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            summary: (0..summary).map(|_| AtomicU64::new(0)).collect(),
            marks: AtomicU64::new(0),
            persistent: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// How many indices the set can hold.
    pub(crate) fn capacity(&self) -> usize {
        self.words.len() * 64
    }

    /// Marks `index` and wakes the waiters.
    pub(crate) fn mark(&self, index: usize) {
        self.set_bit(index);
        let waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        for w in waiters.iter() {
            w.wake();
        }
    }

    pub(crate) fn set_bit(&self, index: usize) {
        let word = index / 64;
        if word >= self.words.len() {
            return;
        }
        self.words[word].fetch_or(1 << (index % 64), SeqCst);
        self.summary[word / 64].fetch_or(1 << (word % 64), SeqCst);
        self.marks.fetch_add(1, SeqCst);
    }

    /// How many marks were made so far. Counted after the mark itself: a
    /// waiter that reads this, then finds no signalled index, need not look
    /// again before the count changes (a mark it missed changes it).
    pub(crate) fn marks(&self) -> u64 {
        self.marks.load(SeqCst)
    }

    pub(crate) fn clear_bit(&self, index: usize) {
        self.words[index / 64].fetch_and(!(1 << (index % 64)), SeqCst);
    }

    /// The lowest marked index at or after `from`, if any.
    #[cfg(test)]
    pub(crate) fn first_from(&self, from: usize) -> Option<usize> {
        self.word_from(from)
            .map(|(word, bits)| word * 64 + bits.trailing_zeros() as usize)
    }

    /// The first word holding a marked index at or after `from`: its number
    /// and its marked bits at or after `from` (never zero), if any. A caller
    /// that finds every one of them stale goes on from the next word.
    pub(crate) fn word_from(&self, from: usize) -> Option<(usize, u64)> {
        let mut word = from / 64;
        let mut mask = u64::MAX << (from % 64);
        while word < self.words.len() {
            let s = word / 64;
            let smask = self.summary[s].load(SeqCst) & (u64::MAX << (word % 64));
            if smask == 0 {
                word = (s + 1) * 64;
                mask = u64::MAX;
                continue;
            }
            let w = s * 64 + smask.trailing_zeros() as usize;
            if w != word {
                word = w;
                mask = u64::MAX;
            }
            let bits = self.words[word].load(SeqCst) & mask;
            if bits != 0 {
                return Some((word, bits));
            }
            if mask == u64::MAX {
                // The word looks empty: drop its summary bit, then look again
                // in case a mark raced with us.
                self.summary[s].fetch_and(!(1 << (word % 64)), SeqCst);
                if self.words[word].load(SeqCst) != 0 {
                    self.summary[s].fetch_or(1 << (word % 64), SeqCst);
                    continue;
                }
            }
            word += 1;
            mask = u64::MAX;
        }
        None
    }

    /// Registers the calling thread as a waiter for good (an `EventSet` is
    /// waited on again and again by the same thread: registering once saves
    /// two lock round-trips per wait). A registered thread that is not
    /// waiting costs nothing: wakes only write to a thread that sleeps.
    /// Only ever called by the one thread that owns the set (a thread's
    /// cached single-event set), so after the first call it is a no-op.
    pub(crate) fn enter_persistent(&self, me: &Arc<ThreadShared>) {
        if self.persistent.load(Relaxed) {
            return;
        }
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if !waiters.iter().any(|w| Arc::ptr_eq(w, me)) {
            waiters.push(me.clone());
        }
        self.persistent.store(true, Relaxed);
    }

    /// Registers the calling thread as a waiter until the guard drops.
    pub(crate) fn enter<'a>(&'a self, me: &'a Arc<ThreadShared>) -> WaiterGuard<'a> {
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(me.clone());
        WaiterGuard { set: self, me }
    }
}

/// Removes a waiter from a [`ReadySet`] on drop.
pub(crate) struct WaiterGuard<'a> {
    set: &'a ReadySet,
    me: &'a Arc<ThreadShared>,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        let mut waiters = self.set.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pos) = waiters.iter().position(|w| Arc::ptr_eq(w, self.me)) {
            waiters.swap_remove(pos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_first_across_levels() {
        let set = ReadySet::new(10_000);
        assert_eq!(set.first_from(0), None);
        set.set_bit(9_000);
        set.set_bit(130);
        set.set_bit(4_200);
        assert_eq!(set.first_from(0), Some(130));
        assert_eq!(set.first_from(131), Some(4_200));
        set.clear_bit(130);
        assert_eq!(set.first_from(0), Some(4_200));
        set.clear_bit(4_200);
        assert_eq!(set.first_from(0), Some(9_000));
        set.clear_bit(9_000);
        assert_eq!(set.first_from(0), None);
        set.set_bit(63);
        assert_eq!(set.first_from(0), Some(63));
    }
}
