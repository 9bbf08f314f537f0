//! Rings whose owner thread has exited while operations were in flight.
//!
//! Such a ring cannot be freed until the kernel has completed every one of
//! its operations ([pitfall 4](crate::semantics#pitfall-4)). A service thread, started on first need,
//! drives these rings (delivering event-notified completions as usual) and
//! frees each once it is empty.

use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::Duration;

use super::Ring;

static RINGS: Mutex<Vec<Arc<Ring>>> = Mutex::new(Vec::new());
static NUDGE: Condvar = Condvar::new();
static START: Once = Once::new();

/// Takes over a ring whose owner is exiting.
pub(crate) fn adopt(ring: Arc<Ring>) {
    if ring.ops() == 0 {
        return;
    }
    START.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("overlapped-orphans".into())
            .spawn(service);
        if spawned.is_err() {
            // Without the service the ring is simply kept (never freed while
            // the kernel may use it): a leak, never a use-after-free.
            eprintln!("overlapped: could not start the orphan-ring service thread");
        }
    });
    RINGS.lock().unwrap_or_else(|e| e.into_inner()).push(ring);
    NUDGE.notify_all();
}

/// Rings adopted but not yet resumed by the service thread.
fn resume_new(rings: &[Arc<Ring>], resumed: &mut Vec<u64>) {
    for r in rings {
        if !resumed.contains(&r.id()) {
            r.resume();
            resumed.push(r.id());
        }
    }
}

/// Tells the service thread that an orphan may have mail (a cancel).
pub(crate) fn nudge() {
    NUDGE.notify_all();
}

fn service() {
    let mut resumed: Vec<u64> = Vec::new();
    loop {
        let rings: Vec<Arc<Ring>> = {
            let mut rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
            rings.retain(|r| r.ops() > 0);
            resumed.retain(|id| rings.iter().any(|r| r.id() == *id));
            if rings.is_empty() {
                let _unused = NUDGE
                    .wait_timeout(rings, Duration::from_secs(1))
                    .unwrap_or_else(|e| e.into_inner());
                continue;
            }
            rings.clone()
        };
        resume_new(&rings, &mut resumed);
        let mut fds: Vec<libc::pollfd> = rings
            .iter()
            .map(|r| libc::pollfd {
                fd: r.fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a live, correctly sized array of pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 20) };
        for r in &rings {
            r.try_drive();
        }
    }
}
