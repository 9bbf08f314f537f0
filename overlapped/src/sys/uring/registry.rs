//! Every live ring, so that a waiting thread can find the rings whose
//! owners are away and drive them.

use super::Ring;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Weak};

static RINGS: Mutex<Vec<Weak<Ring>>> = Mutex::new(Vec::new());
static COUNT: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn add(ring: &Arc<Ring>) {
    let mut rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    rings.retain(|r| r.strong_count() > 0);
    rings.push(Arc::downgrade(ring));
    COUNT.store(rings.len(), SeqCst);
}

/// Number of rings alive (a cheap check before [`others_with_event_ops`]).
pub(crate) fn count() -> usize {
    COUNT.load(SeqCst)
}

/// Rings with operations in flight.
pub(crate) fn with_ops() -> Vec<Arc<Ring>> {
    let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    rings
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|r| r.ops() > 0)
        .collect()
}

/// Rings other than `me` with event-notified operations in flight.
pub(crate) fn others_with_event_ops(me: &Ring) -> Vec<Arc<Ring>> {
    let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    rings
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|r| r.id != me.id && r.event_ops() > 0)
        .collect()
}
