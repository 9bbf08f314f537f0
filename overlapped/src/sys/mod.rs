//! The kernel: the backends and the helpers that talk to the kernel. Nothing
//! here names a layer above (`.ci/layers.sh` checks it).
//!
//! An operation is described by plain data ([`op::Request`], one per step)
//! and carried by a backend generic over the record above ([`op::Op`]);
//! the model calls the backends only through [`Driver`]. Today there is one
//! backend, io_uring ([`uring`]); a readiness (epoll) backend sits beside it
//! as another variant of [`Driver`]. See DESIGN.md, "The backend seam".

pub(crate) mod blocking;
pub(crate) mod buf;
pub(crate) mod choice;
pub(crate) mod cmsg;
mod driver;
pub(crate) mod epoll;
pub(crate) mod fd;
pub(crate) mod fork;
pub(crate) mod inline_fn;
pub(crate) mod ioctl;
pub(crate) mod iov;
pub(crate) mod mem;
pub(crate) mod nonblock;
pub(crate) mod notify;
pub(crate) mod op;
pub(crate) mod pipe;
#[cfg(feature = "tokio")]
pub(crate) mod reactor;
pub(crate) mod registry;
pub(crate) mod resolve;
pub(crate) mod sendnow;
pub(crate) mod uring;

pub(crate) use driver::{Driver, OpRef, Started};
pub(crate) use mem::OpMem;
pub(crate) use pipe::{page_size, Pipe};
#[cfg(feature = "tokio")]
pub(crate) use reactor::RingSource;
pub use uring::setup::SetupError;
