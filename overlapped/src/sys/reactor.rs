//! A driver in tokio's reactor (feature `tokio`): its descriptor is
//! readable while completions wait to be reaped.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::op::Op;
use super::Driver;

/// A driver as a source of readiness. Holding the driver keeps its
/// descriptor open (it is closed only when the driver is dropped) for as
/// long as this lives.
pub(crate) struct RingSource<O: Op>(Arc<Driver<O>>);

impl<O: Op> RingSource<O> {
    pub(crate) fn ring(&self) -> &Arc<Driver<O>> {
        &self.0
    }
}

impl<O: Op> AsRawFd for RingSource<O> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.raw_fd()
    }
}

impl<O: Op> Driver<O> {
    /// Registers the ring with the current tokio runtime's reactor, for
    /// readability. Must be called inside a runtime with I/O enabled.
    pub(crate) fn register_with_tokio(self: &Arc<Self>) -> io::Result<AsyncFd<RingSource<O>>> {
        // SAFETY: the descriptor is the ring's own; `RingSource` holds the
        // ring, which closes it only when dropped, so it stays open and names
        // this ring for the whole life of the `AsyncFd`, and `as_raw_fd`
        // always returns the same number.
        unsafe { AsyncFd::register_with_interest(RingSource(self.clone()), Interest::READABLE) }
            .map_err(|e| e.into_parts().1)
    }
}
