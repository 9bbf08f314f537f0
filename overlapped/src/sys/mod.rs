//! The platform seam: everything that talks to the kernel lives below here.
//!
//! Today there is one backend, io_uring ([`uring`]). A readiness (epoll)
//! backend would sit beside it and offer the same `Ring` surface: `start` an
//! [`crate::model::op::OpSlot`], `turn` (submit, wait, reap, deliver), `cancel`.

pub(crate) mod blocking;
pub(crate) mod cmsg;
pub(crate) mod fd;
pub(crate) mod ioctl;
pub(crate) mod iov;
pub(crate) mod notify;
pub(crate) mod pipe;
pub(crate) mod resolve;
pub(crate) mod uring;

pub(crate) use pipe::{page_size, Pipe};
pub(crate) use uring::mem::OpMem;
#[cfg(feature = "tokio")]
pub(crate) use uring::reactor::RingSource;
pub use uring::setup::SetupError;
pub(crate) use uring::{adopt, fork, registry, OpRef, Ring, Started};
