//! The service thread: progress on rings whose owner is not there.
//!
//! An epoll descriptor is itself pollable (readable while it has events),
//! so the service keeps its own epoll set of ring descriptors. A ring goes
//! in (one-shot) only once its owner has stayed out of it for a whole tick
//! ([`TICK`]) while operations are in flight, or when its owner exited
//! (routines still wait for their thread, but their bytes move, and
//! records and futures complete); the service then
//! drives it at each event, and puts it back in after each one for as long
//! as the owner stays away. A busy owner is never disturbed (a ring whose
//! owner turns it is not watched), so the service costs nothing per
//! operation; a thread that starts an operation and goes off to compute
//! sees it completed — its event set — within one tick at most.
//!
//! While every ring with operations has its owner asleep in a wait of the
//! library (which serves that ring itself), ticking is useless: after
//! [`DEEP_AFTER`] such looks in a row the service sleeps without a tick
//! ([`DEEP`]), and the first owner to come out of its wait with operations
//! still in flight kicks it ([`owner_back`]), so an owner that then stays
//! away is served within a tick of leaving, as before. An idle server
//! (owners parked in their waits, receives pending) costs no wake-ups.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::Watched;
use crate::sys::fork;
use crate::sys::op::Op;
use crate::sys::Driver;

/// How long an owner may stay away before the service watches its ring.
const TICK: Duration = Duration::from_millis(10);
/// The `epoll_event.u64` of the kick eventfd; rings use their id.
const KICK: u64 = 0;

struct Service {
    epfd: OwnedFd,
    kick: OwnedFd,
}

static SERVICE: Mutex<Option<Arc<Service>>> = Mutex::new(None);
/// The process generation the service was started in, plus one.
static SERVICE_GEN: AtomicU32 = AtomicU32::new(0);
/// The service sleeps without a tick (nothing to watch).
static IDLE: AtomicBool = AtomicBool::new(false);
/// The service sleeps without a tick although rings have operations: every
/// such ring's owner was asleep in its own wait; the first to come back
/// kicks the service ([`owner_back`]).
static DEEP: AtomicBool = AtomicBool::new(false);
/// Looks in a row with every ring's owner asleep (its visits unchanged)
/// before the service stops ticking: an owner that sleeps once per message
/// (a paced server) never lets it, so it never kicks either.
const DEEP_AFTER: u32 = 5;
/// Every epoll ring of the process (as the trait the service needs: the
/// record type is a parameter, a static cannot name it).
static RINGS: Mutex<Vec<Weak<dyn Watched>>> = Mutex::new(Vec::new());
/// Rings whose owner exited with operations in flight.
static ORPHANS: Mutex<Vec<Arc<dyn Watched>>> = Mutex::new(Vec::new());

/// Lists a new ring for the service.
pub(super) fn watch_ring<O: Op>(driver: &Arc<Driver<O>>) {
    let mut rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    rings.retain(|r| r.upgrade().is_some_and(|r| !r.is_foreign()));
    let weak: Weak<Driver<O>> = Arc::downgrade(driver);
    rings.push(weak);
}

/// Every live epoll ring of this process.
pub(super) fn rings() -> Vec<Arc<dyn Watched>> {
    let mut out = Vec::new();
    rings_into(&mut out);
    out
}

/// Every live epoll ring of this process, into `out` (emptied first; the
/// service reuses one list rather than allocate one per wake-up).
fn rings_into(out: &mut Vec<Arc<dyn Watched>>) {
    out.clear();
    let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    out.extend(
        rings
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|r| !r.is_foreign()),
    );
}

fn current() -> Option<Arc<Service>> {
    let this = fork::generation().wrapping_add(1);
    let mut slot = SERVICE.lock().unwrap_or_else(|e| e.into_inner());
    if SERVICE_GEN.load(SeqCst) == this {
        return slot.clone();
    }
    // SAFETY: epoll_create1/eventfd have no memory-safety preconditions.
    let (ep, kick) = unsafe {
        (
            libc::epoll_create1(libc::EPOLL_CLOEXEC),
            libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK),
        )
    };
    if ep < 0 || kick < 0 {
        return None;
    }
    // SAFETY: fresh descriptors nothing else owns.
    let service = unsafe {
        Arc::new(Service {
            epfd: OwnedFd::from_raw_fd(ep),
            kick: OwnedFd::from_raw_fd(kick),
        })
    };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: KICK,
    };
    // SAFETY: `ev` is live; both descriptors are ours.
    if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, kick, &mut ev) } < 0 {
        return None;
    }
    let run = service.clone();
    std::thread::Builder::new()
        .name("overlapped-service".into())
        .spawn(move || serve(&run))
        .ok()?;
    *slot = Some(service.clone());
    SERVICE_GEN.store(this, SeqCst);
    Some(service)
}

/// Starts the service thread (once per process); false if it could not be.
pub(super) fn start() -> bool {
    current().is_some()
}

fn kick() {
    if let Some(s) = current() {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to the service's eventfd.
        let _ = unsafe { libc::write(s.kick.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

/// A ring has something to watch now: an idle service starts ticking.
pub(super) fn watch() {
    if IDLE.swap(false, SeqCst) || (DEEP.load(SeqCst) && DEEP.swap(false, SeqCst)) {
        kick();
    }
}

/// An owner came out of its wait (having said it sleeps no more): a
/// service sleeping without a tick starts ticking again, since this owner
/// may now stay away with operations in flight. (Its `sleeping` store is
/// before this look and the service's `DEEP` store before its look at
/// `sleeping`: one of the two sides sees the other.)
pub(super) fn owner_back() {
    if DEEP.load(SeqCst) && DEEP.swap(false, SeqCst) {
        kick();
    }
}

/// Every ring with operations (or mail) has its owner asleep in its wait,
/// and no exited owner left operations behind.
fn all_owners_asleep() -> bool {
    ORPHANS.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
        && rings()
            .iter()
            .all(|r| (r.in_flight() == 0 && !r.has_mail()) || r.owner_sleeping())
}

/// Takes over a ring whose owner is exiting.
pub(crate) fn adopt<O: Op>(driver: Arc<Driver<O>>) {
    if driver.in_flight() == 0 || driver.is_foreign() {
        return;
    }
    let ring: Arc<dyn Watched> = driver;
    ORPHANS.lock().unwrap_or_else(|e| e.into_inner()).push(ring);
    kick();
}

/// Puts `ring` in the service's epoll set until its next event.
fn arm(service: &Service, ring: &dyn Watched) {
    if ring.armed().swap(true, SeqCst) {
        return;
    }
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLONESHOT) as u32,
        u64: ring.ring_id(),
    };
    let ep = service.epfd.as_raw_fd();
    // SAFETY: `ev` is live; the ring's descriptor stays open while the
    // ring lives, and a closed one leaves the set by itself.
    let r = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_MOD, ring.epfd(), &mut ev) };
    if r < 0 {
        // SAFETY: as above.
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, ring.epfd(), &mut ev) };
    }
}

fn serve(service: &Service) {
    // Each watched ring's owner visits as last seen, and since when.
    let mut seen: HashMap<u64, (u64, Instant)> = HashMap::new();
    let mut events: Vec<libc::epoll_event> = Vec::with_capacity(64);
    // Kept across wake-ups (no allocation per tick): the rings that fired,
    // the live rings (emptied after each look: no ring is kept alive while
    // the service sleeps), and the next `seen`.
    let mut fired = Vec::new();
    let mut live = Vec::new();
    let mut next = HashMap::new();
    // Looks in a row that found every watched owner asleep in its wait.
    let mut asleep_looks = 0u32;
    loop {
        let mut watching =
            !seen.is_empty() || !ORPHANS.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
        if !watching {
            // Say so first, then look again: a ring whose first operation
            // started after the last look, while `IDLE` was still false,
            // did not kick (`watch`), so it must be seen here. (`ops` is
            // raised before `IDLE` is read, `IDLE` set before `ops` is
            // read: one of the two sides sees the other.)
            IDLE.store(true, SeqCst);
            if rings().iter().any(|r| r.in_flight() > 0 || r.has_mail()) {
                IDLE.store(false, SeqCst);
                watching = true;
            }
        } else {
            IDLE.store(false, SeqCst);
        }
        let mut deep = false;
        if watching && asleep_looks >= DEEP_AFTER {
            asleep_looks = 0;
            // Say so first, then look: an owner that leaves its wait after
            // this store sees it and kicks (`owner_back`).
            DEEP.store(true, SeqCst);
            deep = all_owners_asleep();
            if !deep {
                DEEP.store(false, SeqCst);
            }
        }
        let timeout = if watching && !deep {
            TICK.as_millis() as i32
        } else {
            -1
        };
        events.clear();
        // SAFETY: the kernel writes at most `capacity` events into the
        // vector's spare capacity; the length is set to what it reports.
        let n = unsafe {
            libc::epoll_wait(
                service.epfd.as_raw_fd(),
                events.as_mut_ptr(),
                events.capacity() as i32,
                timeout,
            )
        };
        if n > 0 {
            // SAFETY: the kernel initialised the first `n` entries.
            unsafe { events.set_len(n as usize) };
        }
        if deep {
            // Woken (an owner came back, a new ring, an exit): owners are
            // timed from now, so one just back is not served at once.
            DEEP.store(false, SeqCst);
            seen.clear();
        }
        fired.clear();
        for ev in &events {
            if ev.u64 == KICK {
                let mut count: u64 = 0;
                // SAFETY: reads 8 bytes into a live u64 from the kick eventfd.
                let _ = unsafe {
                    libc::read(service.kick.as_raw_fd(), (&mut count as *mut u64).cast(), 8)
                };
            } else {
                fired.push(ev.u64);
            }
        }
        let orphans: Vec<Arc<dyn Watched>> = {
            let mut o = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
            o.retain(|r| r.in_flight() > 0 && !r.is_foreign());
            o.clone()
        };
        rings_into(&mut live);
        let now = Instant::now();
        next.clear();
        let mut all_asleep = orphans.is_empty();
        for ring in &live {
            let id = ring.ring_id();
            let orphan = orphans.iter().any(|o| o.ring_id() == id);
            if fired.contains(&id) {
                ring.armed().store(false, SeqCst);
            }
            let needs = orphan || ring.in_flight() > 0 || ring.has_mail();
            if !needs {
                continue;
            }
            let visits = ring.owner_visits();
            let since = match seen.get(&id) {
                Some(&(v, t)) if v == visits => t,
                _ => now,
            };
            let sleeping = ring.owner_sleeping();
            // Asleep since the last look (no turn in between).
            all_asleep &= sleeping && seen.get(&id).is_some_and(|&(v, _)| v == visits);
            let away = orphan || (!sleeping && now - since >= TICK);
            if away {
                ring.serve_now();
                if ring.in_flight() > 0 {
                    arm(service, &**ring);
                }
            }
            next.insert(id, (visits, since));
        }
        live.clear();
        asleep_looks = if all_asleep && !next.is_empty() {
            asleep_looks + 1
        } else {
            0
        };
        std::mem::swap(&mut seen, &mut next);
    }
}

/// The service's locks, held across `fork`.
pub(crate) fn lock_for_fork() -> Box<dyn std::any::Any> {
    Box::new((
        SERVICE.lock().unwrap_or_else(|e| e.into_inner()),
        RINGS.lock().unwrap_or_else(|e| e.into_inner()),
        ORPHANS.lock().unwrap_or_else(|e| e.into_inner()),
    ))
}
