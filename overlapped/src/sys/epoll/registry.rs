//! Every live epoll ring, so that closes and `CancelIoEx` can reach the
//! rings holding a socket's operations, and the service the rings it watches.

use super::Ring;
use std::sync::{Arc, Mutex, Weak};

static RINGS: Mutex<Vec<Weak<Ring>>> = Mutex::new(Vec::new());

pub(super) fn add(ring: &Arc<Ring>) {
    let mut rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    rings.retain(|r| r.upgrade().is_some_and(|r| !r.foreign()));
    rings.push(Arc::downgrade(ring));
}

/// Rings with operations in flight.
pub(crate) fn with_ops() -> Vec<Arc<Ring>> {
    all().into_iter().filter(|r| r.ops() > 0).collect()
}

/// Every ring of this process.
pub(super) fn all() -> Vec<Arc<Ring>> {
    let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    rings
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|r| !r.foreign())
        .collect()
}

/// The registry's lock, held across `fork`.
pub(crate) fn lock_for_fork() -> Box<dyn std::any::Any> {
    Box::new(RINGS.lock().unwrap_or_else(|e| e.into_inner()))
}
