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

use std::any::Any;
use std::cell::Cell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use super::{fork, registry, Ring};
use crate::sys::op::Op;
use crate::sys::Driver;

/// The eventfd every ring notifies (-1: none yet), read by the service
/// thread; made once per process: a child after `fork` inherits the
/// parent's descriptor but not its service thread, so it makes its own
/// (`KICK_GEN`: the process generation it was made in, plus one).
static KICK: AtomicI32 = AtomicI32::new(-1);
static KICK_GEN: AtomicU32 = AtomicU32::new(0);
static KICK_START: Mutex<()> = Mutex::new(());
/// Rings whose owner exited with operations in flight (their drivers, as
/// `Any`: a static cannot name the record type); `bool`: resumed.
static ORPHANS: Mutex<Vec<(Arc<dyn Any + Send + Sync>, bool)>> = Mutex::new(Vec::new());

thread_local! {
    static ON_SERVICE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is the service thread.
pub(super) fn on_service_thread() -> bool {
    ON_SERVICE.with(Cell::get)
}

/// The eventfd rings register, starting the service thread on first use
/// (in this process). `None` if neither could be made (then `Ring::new` fails).
pub(super) fn kick_fd<O: Op>() -> Option<RawFd> {
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
        .spawn(move || service::<O>(fd))
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
pub(super) fn kick<O: Op>() {
    if let Some(fd) = kick_fd::<O>() {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to the service's eventfd.
        let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// Takes over a ring whose owner is exiting (see `Ring::retire`).
pub(crate) fn adopt<O: Op>(driver: Arc<Driver<O>>) {
    if driver.ops() == 0 || driver.foreign() {
        return;
    }
    ORPHANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((driver, false));
    kick::<O>();
}

/// The ring of a driver, if it is one.
fn ring<O: Op>(driver: &Driver<O>) -> Option<&Ring<O>> {
    #[allow(irrefutable_let_patterns)]
    if let Driver::Uring(ring) = driver {
        Some(ring)
    } else {
        None
    }
}

fn service<O: Op>(kick: RawFd) {
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
        resume_orphans::<O>();
        // Rings with operations in flight or mail to read.
        for driver in registry::all::<O>() {
            if let Some(ring) = ring(&driver) {
                if ring.ops() > 0 || ring.has_mail.load(SeqCst) {
                    ring.serve();
                }
            }
        }
    }
}

/// Submits again the operations that newly adopted rings parked, and lets
/// go of rings the kernel is done with.
fn resume_orphans<O: Op>() {
    let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
    for (driver, resumed) in orphans.iter_mut() {
        let Some(driver) = driver.downcast_ref::<Driver<O>>() else {
            continue;
        };
        if !*resumed {
            *resumed = true;
            if let Some(ring) = ring(driver) {
                ring.resume();
            }
        }
    }
    // A parent's orphans (after `fork`) are not this process's to drive.
    orphans.retain(|(driver, _)| {
        driver
            .downcast_ref::<Driver<O>>()
            .is_none_or(|d| d.ops() > 0 && !d.foreign())
    });
}

/// The orphan list's and the service start's locks, held across `fork`
/// (see `fork.rs`).
pub(crate) fn lock_for_fork() -> Box<dyn std::any::Any> {
    Box::new((
        KICK_START.lock().unwrap_or_else(|e| e.into_inner()),
        ORPHANS.lock().unwrap_or_else(|e| e.into_inner()),
    ))
}
