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

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{fork, registry, Ring};

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
/// Rings whose owner exited with operations in flight.
static ORPHANS: Mutex<Vec<Arc<Ring>>> = Mutex::new(Vec::new());

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
    if IDLE.swap(false, SeqCst) {
        kick();
    }
}

/// Takes over a ring whose owner is exiting.
pub(crate) fn adopt(ring: Arc<Ring>) {
    if ring.ops() == 0 || ring.foreign() {
        return;
    }
    ORPHANS.lock().unwrap_or_else(|e| e.into_inner()).push(ring);
    kick();
}

/// Puts `ring` in the service's epoll set until its next event.
fn arm(service: &Service, ring: &Ring) {
    if ring.armed.swap(true, SeqCst) {
        return;
    }
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLONESHOT) as u32,
        u64: ring.id,
    };
    let ep = service.epfd.as_raw_fd();
    // SAFETY: `ev` is live; the ring's descriptor stays open while the
    // ring lives, and a closed one leaves the set by itself.
    let r = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_MOD, ring.fd, &mut ev) };
    if r < 0 {
        // SAFETY: as above.
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, ring.fd, &mut ev) };
    }
}

fn serve(service: &Service) {
    // Each watched ring's owner visits as last seen, and since when.
    let mut seen: HashMap<u64, (u64, Instant)> = HashMap::new();
    let mut events: Vec<libc::epoll_event> = Vec::with_capacity(64);
    loop {
        let watching = !seen.is_empty() || !ORPHANS.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
        IDLE.store(!watching, SeqCst);
        let timeout = if watching { TICK.as_millis() as i32 } else { -1 };
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
        let mut fired = Vec::new();
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
        let orphans: Vec<Arc<Ring>> = {
            let mut o = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
            o.retain(|r| r.ops() > 0 && !r.foreign());
            o.clone()
        };
        let rings = registry::all();
        let now = Instant::now();
        let mut next = HashMap::new();
        for ring in &rings {
            let orphan = orphans.iter().any(|o| Arc::ptr_eq(o, ring));
            if fired.contains(&ring.id) {
                ring.armed.store(false, SeqCst);
            }
            let needs = orphan || ring.ops() > 0 || ring.has_mail.load(SeqCst);
            if !needs {
                continue;
            }
            let visits = ring.visits.load(SeqCst);
            let since = match seen.get(&ring.id) {
                Some(&(v, t)) if v == visits => t,
                _ => now,
            };
            let away = orphan || (!ring.sleeping.load(SeqCst) && now - since >= TICK);
            if away {
                ring.serve();
                if ring.ops() > 0 {
                    arm(service, ring);
                }
            }
            next.insert(ring.id, (visits, since));
        }
        seen = next;
    }
}

/// The service's locks, held across `fork`.
pub(crate) fn lock_for_fork() -> Box<dyn std::any::Any> {
    Box::new((
        SERVICE.lock().unwrap_or_else(|e| e.into_inner()),
        ORPHANS.lock().unwrap_or_else(|e| e.into_inner()),
    ))
}
