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
//! The owner itself leaves its ring with notifications off (*grace*, see
//! `Ring::unlock`): a busy owner is back in its ring soon, and waking this
//! thread for each completion that arrives between two of its turns would
//! cost a wake-up (and, on the owner's CPU, a preemption) per request of a
//! server. Instead, while some ring is in grace with operations in flight,
//! this thread wakes on a tick and serves a ring in grace whose owner
//! has neither come back nor been in it since the last look: an owner that
//! went away (blocked outside the library, busy elsewhere) delays its
//! completions by one or two ticks, never for good. While some thread
//! sleeps in a library wait (it may be waiting for another thread's
//! operation) the tick is [`TICK_SHORT`]: such a waiter gets a completion
//! at most ~20 ms after the issuer's last call of the library. Otherwise
//! (a thread that waits only for its own operations, or nobody waiting:
//! what is left is progress the peer sees, the next operation of a socket
//! lane, the rest of a send) it is [`TICK_LONG`]: a timed wake-up is dear
//! on a virtual machine (measured here: ~14 µs of CPU, against under 2 µs
//! for an eventfd wake-up). The ticks stop after [`LINGER`] of them found
//! nothing to watch; the owner's next let-go, or a thread going to sleep,
//! starts them again with one eventfd write.
//!
//! The service is also the only thread other than a ring's owner that ever
//! submits to it, so every request in the kernel belongs to a thread that
//! lives as long as the ring needs it (the kernel ends a thread's requests
//! when it exits). Rings whose owner has exited (`adopt`) stay here until
//! the kernel is done with every operation ([pitfall 4](crate::semantics#pitfall-4)).

use std::any::Any;
use std::cell::Cell;
use std::os::fd::RawFd;
use std::sync::atomic::{
    fence, AtomicI32, AtomicU32, AtomicU8, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// The time between two looks at rings in grace (an owner that stays away
/// is found within two of them): while a thread sleeps in the library, and
/// otherwise.
const TICK_SHORT: Duration = Duration::from_millis(10);
const TICK_LONG: Duration = Duration::from_millis(100);
/// Ticks that found no ring to watch before the service stops ticking.
const LINGER: u32 = 20;
/// Short ticks that found no sleeper to serve before the tick goes long.
const LINGER_SHORT: u32 = 20;
/// How the service ticks: not at all, on the long tick, on the short one.
/// Raised by owners and sleepers (with a kick), lowered only by the service.
static MODE: AtomicU8 = AtomicU8::new(LONG);
const STOPPED: u8 = 0;
const LONG: u8 = 1;
const SHORT: u8 = 2;
/// Threads sleeping in a library wait (see `Ring::set_sleeping`).
static SLEEPERS: AtomicUsize = AtomicUsize::new(0);
/// Rings whose owner let go of them in grace with operations in flight and
/// has not taken them since (`Ring::out`): a sleeper looks at the rings
/// only when some other ring is out.
static GRACE_OUT: AtomicUsize = AtomicUsize::new(0);

/// A ring's owner left it in grace (`true`) or came back (`false`).
pub(super) fn grace_out(out: bool) {
    if out {
        GRACE_OUT.fetch_add(1, SeqCst);
    } else {
        GRACE_OUT.fetch_sub(1, SeqCst);
    }
}

thread_local! {
    static ON_SERVICE: Cell<bool> = const { Cell::new(false) };
    /// The calling thread waits only for its own operation (see [`own_wait`]).
    static OWN_WAIT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `wait`, a wait for an operation the calling thread itself issued
/// (a synchronous call, `SleepEx`): such a sleeper waits for no other
/// thread, so it does not shorten the service's tick.
pub(crate) fn own_wait<R>(wait: impl FnOnce() -> R) -> R {
    let was = OWN_WAIT.with(|w| w.replace(true));
    let r = wait();
    OWN_WAIT.with(|w| w.set(was));
    r
}

/// Whether the calling thread is in an [`own_wait`].
pub(super) fn in_own_wait() -> bool {
    OWN_WAIT.with(Cell::get)
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

/// The owner of `ring` let go of it in grace with operations in flight:
/// makes sure the service ticks, on the short tick if another thread
/// sleeps in the library (waking it only if it ticked slower).
/// The caller has fenced after its stores to the ring (`grace`, `turns`):
/// that fence pairs with the one in `service` between lowering `MODE` and
/// the look at the rings, and with the sleepers' count's: one of each pair
/// sees the other.
pub(super) fn watch<O: Op>(ring: &Ring<O>) {
    let others = SLEEPERS.load(SeqCst) - usize::from(ring.counted.load(Relaxed));
    raise::<O>(if others > 0 { SHORT } else { LONG });
}

/// The owner of `ring` is about to sleep in it (`true`) or awake again.
pub(super) fn sleeper<O: Op>(ring: &Ring<O>, sleeping: bool) {
    if !sleeping {
        SLEEPERS.fetch_sub(1, SeqCst);
        return;
    }
    // A read-modify-write: a full barrier before the looks below.
    SLEEPERS.fetch_add(1, SeqCst);
    let others_out = GRACE_OUT.load(SeqCst) > usize::from(ring.out.load(Relaxed));
    if others_out
        && MODE.load(SeqCst) < SHORT
        && registry::all::<O>()
            .iter()
            .filter_map(|d| self::ring(d))
            .any(|r| r.id != ring.id && in_grace_outside(r))
    {
        raise::<O>(SHORT);
    }
}

/// Makes the service tick at least as `mode` says, waking it if it did not.
fn raise<O: Op>(mode: u8) {
    if MODE.load(SeqCst) < mode && MODE.fetch_max(mode, SeqCst) < mode {
        kick::<O>();
    }
}

/// Whether some ring in grace with operations in flight and its owner out
/// of it has a thread sleeping in the library other than its owner (then
/// the short tick).
fn needs_short<O: Op>(rings: &[&Ring<O>]) -> bool {
    let sleepers = rings.iter().filter(|r| r.counted.load(Relaxed)).count();
    rings
        .iter()
        .any(|r| in_grace_outside(r) && sleepers > usize::from(r.counted.load(Relaxed)))
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
    let (mut idle_ticks, mut short_ticks) = (0u32, 0u32);
    loop {
        let tick = match MODE.load(SeqCst) {
            SHORT => Some(TICK_SHORT),
            LONG => Some(TICK_LONG),
            _ => None,
        };
        let ticked = wait_for_kick(kick, tick);
        resume_orphans::<O>();
        let mut watching = false;
        for driver in registry::all::<O>() {
            if let Some(ring) = ring(&driver) {
                watching |= look_at(ring, ticked) == Look::Watch;
            }
        }
        // A kick is not a tick: only the ticks measure an owner's absence.
        if !ticked {
            continue;
        }
        idle_ticks = if watching { 0 } else { idle_ticks + 1 };
        let lower = if idle_ticks >= LINGER { STOPPED } else { LONG };
        let drivers = registry::all::<O>();
        let rings: Vec<&Ring<O>> = drivers.iter().filter_map(|d| ring(d)).collect();
        short_ticks = if needs_short(&rings) {
            0
        } else {
            short_ticks + 1
        };
        // The short tick lasts a while after it was last needed: raising it
        // again costs an eventfd write per let-go of a busy owner.
        if MODE.load(SeqCst) == SHORT && short_ticks < LINGER_SHORT {
            idle_ticks = 0;
            continue;
        }
        if MODE.load(SeqCst) > lower {
            MODE.store(lower, SeqCst);
            // Pairs with the fence before `watch` and the sleepers' count's.
            fence(SeqCst);
            if needs_short(&rings) {
                MODE.store(SHORT, SeqCst);
            } else if lower == STOPPED && rings.iter().any(|r| in_grace_outside(r)) {
                MODE.store(LONG, SeqCst);
            }
        }
        if MODE.load(SeqCst) != LONG || idle_ticks >= LINGER {
            idle_ticks = 0;
        }
    }
}

/// Whether `ring` is in grace with operations in flight and its owner out
/// of it (then only the ticks would notice the owner staying away).
fn in_grace_outside<O: Op>(ring: &Ring<O>) -> bool {
    !ring.foreign()
        && ring.grace.load(Relaxed)
        && ring.ops() > 0
        && ring.turns.load(Relaxed) & 1 == 0
}

/// What the service made of a ring.
#[derive(PartialEq, Eq)]
enum Look {
    /// Nothing to watch (served if it needed it).
    Done,
    /// In grace, its owner out of it but back since the last tick.
    Watch,
    /// In grace, its owner away for a whole tick: served.
    Away,
}

/// Serves `ring` if it needs the service (`ticked`: a tick, not a kick,
/// woke the service).
fn look_at<O: Op>(ring: &Ring<O>, ticked: bool) -> Look {
    let has_mail = ring.has_mail.load(SeqCst);
    if !in_grace_outside(ring) {
        // Notifications on (or the owner in its ring, which reaps): serve
        // what has operations in flight or mail to read.
        if has_mail || (ring.ops() > 0 && !ring.grace.load(Relaxed)) {
            ring.serve();
        }
        return Look::Done;
    }
    if has_mail {
        ring.serve();
        return Look::Watch;
    }
    if !ticked {
        return Look::Watch;
    }
    let turns = ring.turns.load(Relaxed);
    if ring.seen.swap(turns, Relaxed) != turns {
        // The owner has been back since the last tick: it reaps.
        return Look::Watch;
    }
    // Away for a whole tick: serve it; letting go of it from here turns
    // its notifications back on (grace ends).
    ring.serve();
    Look::Away
}

/// Blocks until the service is kicked, or `tick` passes; true if it passed.
fn wait_for_kick(kick: RawFd, tick: Option<Duration>) -> bool {
    let mut pfd = libc::pollfd {
        fd: kick,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = tick.map_or(-1, |t| t.as_millis() as libc::c_int);
    // SAFETY: one live pollfd for the length we pass.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n <= 0 {
        // Timeout, or EINTR: go and look.
        return n == 0;
    }
    let mut count: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64 from the service's eventfd,
    // which lives as long as the process (a static); it is readable (polled).
    let n = unsafe { libc::read(kick, (&mut count as *mut u64).cast(), 8) };
    if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
        // Not expected on an eventfd; avoid a busy loop if it happens.
        std::thread::sleep(Duration::from_millis(10));
    }
    false
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
