//! A mutual-exclusion lock without poisoning, for the per-operation paths
//! (a ring's table, a record's state, an event's watchers).
//!
//! `std::sync::Mutex` asks whether the thread is panicking at every lock
//! and unlock (to poison the lock), and every caller here ignored the
//! poison anyway (`unwrap_or_else(|e| e.into_inner())`): the data each of
//! these locks guards stays consistent across a panic (every change is a
//! single push, take or store). Measured: the two checks cost ~150 user
//! instructions per echoed message in the event model on epoll. The lock
//! itself is the same futex protocol as std's (0 free, 1 held, 2 held with
//! waiters): one compare-and-swap to take it, one swap to let go.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

const FREE: u32 = 0;
const HELD: u32 = 1;
/// Held, and some thread may sleep waiting for it.
const CONTENDED: u32 = 2;

/// A lock around a `T` (see the module documentation).
#[derive(Default)]
pub(crate) struct Lock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time, as
// `std::sync::Mutex` does; `T: Send` is what moving that access between
// threads needs.
unsafe impl<T: Send> Send for Lock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Lock<T> {}

/// Access to a [`Lock`]'s value until dropped.
pub(crate) struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    pub(crate) const fn new(value: T) -> Lock<T> {
        Lock {
            state: AtomicU32::new(FREE),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits until the lock is free and takes it.
    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        if self
            .state
            .compare_exchange(FREE, HELD, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        LockGuard { lock: self }
    }

    /// Takes the lock if it is free.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        // (Not `then_some`: it would make a guard, and drop it, unlocking
        // what another thread holds, when the lock is taken.)
        if self
            .state
            .compare_exchange(FREE, HELD, Acquire, Relaxed)
            .is_ok()
        {
            Some(LockGuard { lock: self })
        } else {
            None
        }
    }

    /// The value, through exclusive access to the lock itself.
    #[allow(dead_code)]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        // A short spin first: the holder usually lets go within a few
        // hundred instructions.
        for _ in 0..100 {
            if self.state.load(Relaxed) == FREE
                && self
                    .state
                    .compare_exchange(FREE, HELD, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
            std::hint::spin_loop();
        }
        // Mark it contended; whoever lets go then wakes a sleeper.
        while self.state.swap(CONTENDED, Acquire) != FREE {
            futex_wait(&self.state, CONTENDED);
        }
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard is the one holder of the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard is the one holder of the lock.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.lock.state.swap(FREE, Release) == CONTENDED {
            futex_wake(&self.lock.state);
        }
    }
}

/// Sleeps while `*state == expected` (or until a wake-up, or spuriously).
fn futex_wait(state: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT on a live, aligned u32; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            state.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes one thread sleeping in [`futex_wait`] on `state`.
#[cold]
fn futex_wake(state: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live, aligned u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            state.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::Lock;
    use std::sync::Arc;

    #[test]
    fn counts_under_contention() {
        let lock = Arc::new(Lock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 80_000);
        assert!(lock.try_lock().is_some());
        let held = lock.lock();
        assert!(lock.try_lock().is_none());
        // A failed try leaves the lock held.
        assert!(lock.try_lock().is_none());
        drop(held);
        assert!(lock.try_lock().is_some());
    }
}
