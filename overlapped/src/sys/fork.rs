//! `fork()` while rings are alive.
//!
//! A child process inherits the parent's rings: the same kernel io_uring
//! instances, whose submission and completion queues are memory shared with
//! the parent. A child that reaped from them would steal the parent's
//! completions, and one that submitted a cancel would end the parent's
//! operations. So the library counts processes: a `pthread_atfork` child
//! handler bumps a generation, every ring remembers the generation it was
//! made in, and a ring of an earlier generation (*foreign*) is never touched
//! again: no reaping, no submitting, no cancel, no wake-up. The child's
//! threads get fresh rings on first use. See DESIGN.md, "fork".

use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Once;

/// The process generation: 0 in the process that loaded the library, plus
/// one for each `fork` since, counted in the child.
static GENERATION: AtomicU32 = AtomicU32::new(0);
static HANDLERS: Once = Once::new();

thread_local! {
    /// The library's global locks, held by the forking thread across `fork`
    /// so that the child never inherits one locked by a thread it does not
    /// have.
    static HELD: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// The current process generation.
pub(crate) fn generation() -> u32 {
    GENERATION.load(Relaxed)
}

/// Installs the fork handlers (once per process; a child inherits them).
pub(crate) fn watch_forks() {
    HANDLERS.call_once(|| {
        // SAFETY: the handlers are plain `extern "C"` functions that live as
        // long as the program; `pthread_atfork` only records them.
        let r = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if r != 0 {
            eprintln!(
                "overlapped: pthread_atfork failed ({r}); a forked child must not use the library"
            );
        }
    });
}

/// Before `fork`: takes the library's process-wide locks (the ring
/// registry, the orphan list, the service's start), each held only briefly
/// and never one inside the other, so the child gets them unlocked.
extern "C" fn prepare() {
    let guards = [
        super::registry::lock_for_fork(),
        super::uring::lock_for_fork(),
        super::epoll::lock_for_fork(),
    ];
    let _ = HELD.try_with(|h| h.borrow_mut().extend(guards));
}

extern "C" fn parent() {
    let _ = HELD.try_with(|h| h.borrow_mut().clear());
}

extern "C" fn child() {
    GENERATION.fetch_add(1, Relaxed);
    let _ = HELD.try_with(|h| h.borrow_mut().clear());
}
