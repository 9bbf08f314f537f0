//! The ring in tokio's reactor (feature `tokio`): its descriptor is
//! readable while completions wait to be reaped.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::Ring;

/// A ring as a source of readiness. Holding the ring keeps its descriptor
/// open (the ring closes it only when dropped) for as long as this lives.
pub(crate) struct RingSource(Arc<Ring>);

impl RingSource {
    pub(crate) fn ring(&self) -> &Arc<Ring> {
        &self.0
    }
}

impl AsRawFd for RingSource {
    fn as_raw_fd(&self) -> RawFd {
        self.0.fd
    }
}

impl Ring {
    /// Registers the ring with the current tokio runtime's reactor, for
    /// readability. Must be called inside a runtime with I/O enabled.
    pub(crate) fn register_with_tokio(self: &Arc<Self>) -> io::Result<AsyncFd<RingSource>> {
        // SAFETY: the descriptor is the ring's own; `RingSource` holds the
        // ring, which closes it only when dropped, so it stays open and names
        // this ring for the whole life of the `AsyncFd`, and `as_raw_fd`
        // always returns the same number.
        unsafe { AsyncFd::register_with_interest(RingSource(self.clone()), Interest::READABLE) }
            .map_err(|e| e.into_parts().1)
    }
}
