//! Every live ring, so that closes and `CancelIoEx` can reach the rings
//! holding a socket's operations, and the service thread the rings it serves.

use super::Ring;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex, Weak};

static RINGS: Mutex<Vec<Weak<Ring>>> = Mutex::new(Vec::new());

pub(crate) fn add(ring: &Arc<Ring>) {
    let mut rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    // Rings of a parent process (after `fork`) are forgotten here.
    rings.retain(|r| r.upgrade().is_some_and(|r| !r.foreign()));
    rings.push(Arc::downgrade(ring));
}

/// Rings with operations in flight.
pub(crate) fn with_ops() -> Vec<Arc<Ring>> {
    let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    rings
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|r| r.ops() > 0 && !r.foreign())
        .collect()
}

/// Rings with operations in flight or mail to read.
pub(super) fn with_work() -> Vec<Arc<Ring>> {
    let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    rings
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|r| (r.ops() > 0 || r.has_mail.load(SeqCst)) && !r.foreign())
        .collect()
}

/// The registry's lock, held across `fork` (see `fork.rs`).
pub(super) fn lock_for_fork() -> Box<dyn std::any::Any> {
    Box::new(RINGS.lock().unwrap_or_else(|e| e.into_inner()))
}
