//! Every live driver of the process, whichever its backend, so that closes
//! and `CancelIoEx` can reach the drivers holding a socket's operations,
//! and a backend's own thread the drivers it serves. Kept as `Any` (the
//! registry is a static, the record type a parameter): only these cold
//! paths look a driver up here.

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

use super::op::Op;
use super::Driver;

type Entry = Weak<dyn Any + Send + Sync>;

static DRIVERS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

pub(crate) fn add<O: Op>(driver: &Arc<Driver<O>>) {
    let mut all = DRIVERS.lock().unwrap_or_else(|e| e.into_inner());
    // Drivers of a parent process (after `fork`) are forgotten here.
    all.retain(|d| {
        d.upgrade()
            .and_then(|d| d.downcast::<Driver<O>>().ok())
            .is_some_and(|d| !d.foreign())
    });
    let weak: Weak<Driver<O>> = Arc::downgrade(driver);
    all.push(weak);
}

/// Every live driver of this process.
pub(crate) fn all<O: Op>() -> Vec<Arc<Driver<O>>> {
    let all = DRIVERS.lock().unwrap_or_else(|e| e.into_inner());
    all.iter()
        .filter_map(Weak::upgrade)
        .filter_map(|d| d.downcast::<Driver<O>>().ok())
        .filter(|d| !d.foreign())
        .collect()
}

/// Drivers with operations in flight.
pub(crate) fn with_ops<O: Op>() -> Vec<Arc<Driver<O>>> {
    let mut all = all::<O>();
    all.retain(|d| d.ops() > 0);
    all
}

/// The registry's lock, held across `fork` (see `fork.rs`).
pub(crate) fn lock_for_fork() -> Box<dyn Any> {
    Box::new(DRIVERS.lock().unwrap_or_else(|e| e.into_inner()))
}
