//! The service thread: progress that never waits for a particular thread.
//!
//! Every ring registers one process-wide eventfd (`IORING_REGISTER_EVENTFD`),
//! and the kernel writes it whenever it posts a completion to a ring whose
//! lock is free: the lock holder switches the notification off while it holds
//! the ring (`IORING_CQ_EVENTFD_DISABLED`, a store to shared memory) and back
//! on when it lets go, after which it looks once more for completions that
//! came in between (see `Ring::unlock`). So a completion posted while nobody
//! is in the ring — its owner asleep outside the library, busy elsewhere, or
//! exited — wakes this thread, which reaps and delivers it, submits what
//! follows (the next operation of a socket lane, the rest of a send) and
//! reads the ring's mail (cancels). A completion posted while the owner holds
//! its ring costs nothing here: the owner reaps it itself.
//!
//! The service is also the only thread other than a ring's owner that ever
//! submits to it, so every request in the kernel belongs to a thread that
//! lives as long as the ring needs it (the kernel ends a thread's requests
//! when it exits). Rings whose owner has exited (`adopt`) stay here until
//! the kernel is done with every operation ([pitfall 4](crate::semantics#pitfall-4)).

use std::cell::Cell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use super::{fork, registry, Ring};

/// The eventfd every ring notifies (-1: none yet), read by the service
/// thread; made once per process: a child after `fork` inherits the
/// parent's descriptor but not its service thread, so it makes its own
/// (`KICK_GEN`: the process generation it was made in, plus one).
static KICK: AtomicI32 = AtomicI32::new(-1);
static KICK_GEN: AtomicU32 = AtomicU32::new(0);
static KICK_START: Mutex<()> = Mutex::new(());
/// Rings whose owner exited with operations in flight; `bool`: resumed.
static ORPHANS: Mutex<Vec<(Arc<Ring>, bool)>> = Mutex::new(Vec::new());

thread_local! {
    static ON_SERVICE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is the service thread.
pub(super) fn on_service_thread() -> bool {
    ON_SERVICE.with(Cell::get)
}

/// The eventfd rings register, starting the service thread on first use
/// (in this process). `None` if neither could be made (then `Ring::new` fails).
pub(super) fn kick_fd() -> Option<RawFd> {
    let this = fork::generation().wrapping_add(1);
    if KICK_GEN.load(SeqCst) == this {
        return Some(KICK.load(SeqCst));
    }
    let _start = KICK_START.lock().unwrap_or_else(|e| e.into_inner());
    if KICK_GEN.load(SeqCst) == this {
        return Some(KICK.load(SeqCst));
    }
    // SAFETY: eventfd has no memory-safety preconditions; we check the result.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // The descriptor lives as long as the process (never closed).
    if std::thread::Builder::new()
        .name("overlapped-service".into())
        .spawn(move || service(fd))
        .is_err()
    {
        // SAFETY: our own fresh descriptor, used by nobody.
        unsafe { libc::close(fd) };
        return None;
    }
    KICK.store(fd, SeqCst);
    KICK_GEN.store(this, SeqCst);
    Some(fd)
}

/// Wakes the service thread (a ring has mail, or a ring was adopted).
pub(super) fn kick() {
    if let Some(fd) = kick_fd() {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to the service's eventfd.
        let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// Takes over a ring whose owner is exiting (see `Ring::retire`).
pub(crate) fn adopt(ring: Arc<Ring>) {
    if ring.ops() == 0 || ring.foreign() {
        return;
    }
    ORPHANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((ring, false));
    kick();
}

fn service(kick: RawFd) {
    ON_SERVICE.with(|s| s.set(true));
    loop {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from the service's eventfd,
        // which lives as long as the process (a static).
        let n = unsafe { libc::read(kick, (&mut count as *mut u64).cast(), 8) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // Not expected on an eventfd; avoid a busy loop if it happens.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        resume_orphans();
        for ring in registry::with_work() {
            ring.serve();
        }
    }
}

/// Submits again the operations that newly adopted rings parked, and lets
/// go of rings the kernel is done with.
fn resume_orphans() {
    let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
    for (ring, resumed) in orphans.iter_mut() {
        if !*resumed {
            *resumed = true;
            ring.resume();
        }
    }
    // A parent's orphans (after `fork`) are not this process's to drive.
    orphans.retain(|(ring, _)| ring.ops() > 0 && !ring.foreign());
}

/// The orphan list's and the service start's locks, held across `fork`
/// (see `fork.rs`).
pub(super) fn lock_for_fork() -> Box<dyn std::any::Any> {
    Box::new((
        KICK_START.lock().unwrap_or_else(|e| e.into_inner()),
        ORPHANS.lock().unwrap_or_else(|e| e.into_inner()),
    ))
}
