//! The backend dispatch: one [`Driver`] per thread that issues operations,
//! whichever backend carries them. The model calls only this; each call is a
//! `match` on the backend (no dynamic dispatch). The contract of every call
//! (who may call it, from which thread, what it guarantees) is in DESIGN.md,
//! "The backend seam".

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::buf::BufList;
use super::choice::{self, BackendKind};
use super::op::Op;
use super::SetupError;
use super::{epoll, uring};

/// A thread's backend instance: its operations in flight, and the way to
/// wake the thread when it waits in it.
// One driver per thread, behind an `Arc`: the size difference costs a few
// hundred bytes per thread, boxing would cost an indirection per call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Driver<O: Op> {
    /// io_uring: one ring per thread (`sys/uring/`).
    Uring(uring::Ring<O>),
    /// epoll: one epoll set per thread, readiness plus non-blocking calls
    /// (`sys/epoll/`).
    Epoll(epoll::Ring<O>),
}

/// How an operation's start went.
pub(crate) enum Started<O: Op> {
    /// Submitted (or queued in its lane): it completes through `Op::deliver`.
    Pending(OpRef<O>),
    /// Completed during the start; nothing has been delivered: the caller
    /// delivers (or reports) it.
    Immediate(O::Done),
}

/// Names one operation in flight on one driver (to cancel it, or to drive
/// its driver while polling for it). An operation whose delivery needs its
/// thread (`!Op::any_thread()`: a completion routine) gets an *inert* one
/// (`ring` is `Weak::new()`, every use a no-op): those are never cancelled
/// or polled by reference, only through their socket, and the inert one
/// takes and drops no reference count per start.
pub(crate) struct OpRef<O: Op> {
    pub(crate) ring: Weak<Driver<O>>,
    pub(crate) user_data: u64,
}

impl<O: Op> OpRef<O> {
    /// The reference a start hands back for `op`, operation `user_data` of
    /// the driver `me` (inert for an operation only its thread delivers).
    #[inline]
    pub(crate) fn to(me: &Weak<Driver<O>>, op: &O, user_data: u64) -> OpRef<O> {
        let ring = if op.any_thread() {
            me.clone()
        } else {
            Weak::new()
        };
        OpRef { ring, user_data }
    }

    /// Lets go of a reference nobody keeps; an inert one (a routine's)
    /// without a call to its drop (nothing to release).
    #[inline]
    pub(crate) fn discard(self) {
        if Weak::ptr_eq(&self.ring, &Weak::new()) {
            std::mem::forget(self);
        }
    }
}

impl<O: Op> Clone for OpRef<O> {
    fn clone(&self) -> Self {
        OpRef {
            ring: self.ring.clone(),
            user_data: self.user_data,
        }
    }
}

/// Forwards a call to the backend of `self`.
macro_rules! backend {
    ($self:expr, $d:ident => $call:expr) => {
        match $self {
            Driver::Uring($d) => $call,
            Driver::Epoll($d) => $call,
        }
    };
}

impl<O: Op> Driver<O> {
    /// Makes the calling thread's driver (the thread becomes its owner).
    /// The backend is the process's choice (`sys::choice`: io_uring if it
    /// works, else epoll; `OVERLAPPED_BACKEND` forces one).
    pub(crate) fn new() -> Result<Arc<Driver<O>>, SetupError> {
        match choice::chosen()?.kind {
            BackendKind::Uring => uring::Ring::new_driver(),
            BackendKind::Epoll => epoll::Ring::new_driver(),
        }
    }

    /// Starts an operation (owner thread only): queues it in its socket
    /// lane, and submits it now if it heads the lane. With `eager`, a
    /// completion the kernel produced during the submission comes back as
    /// [`Started::Immediate`], undelivered; otherwise the submission waits
    /// for the owner's next [`Driver::turn`] or [`Driver::flush`].
    #[inline]
    pub(crate) fn start(self: &Arc<Self>, op: O, bufs: BufList, eager: bool) -> Started<O> {
        backend!(&**self, r => r.start(op, bufs, eager))
    }

    /// One turn of the owner's wait: submit, wait for a completion or a
    /// wake-up (up to `timeout`; `None` blocks, zero only polls), then reap
    /// and deliver every ready completion. Owner thread only.
    #[inline]
    pub(crate) fn turn(&self, timeout: Option<Duration>) {
        backend!(self, r => r.turn(timeout))
    }

    /// Submits what the owner queued (batched starts, routines' starts).
    #[inline]
    pub(crate) fn flush(&self) {
        backend!(self, r => r.flush())
    }

    /// The owner is about to block in [`Driver::turn`] (true) or is back
    /// (false): while set, [`Driver::wake`] interrupts the wait.
    #[inline]
    pub(crate) fn set_sleeping(&self, sleeping: bool) {
        backend!(self, r => r.set_sleeping(sleeping))
    }

    /// Wakes the owner if it is blocked in [`Driver::turn`]; any thread.
    #[inline]
    pub(crate) fn wake(&self) {
        backend!(self, r => r.wake())
    }

    /// Cancels one operation; any thread. It completes (cancelled, or with
    /// what it did before the cancel took) through its delivery, once.
    pub(crate) fn cancel(&self, user_data: u64) {
        backend!(self, r => r.cancel(user_data))
    }

    /// Cancels this driver's operations issued on `socket`; any thread.
    pub(crate) fn cancel_socket(&self, socket: &Arc<O::Socket>) {
        backend!(self, r => r.cancel_socket(socket))
    }

    /// `socket` is closing: as [`Driver::cancel_socket`], and also the
    /// operations that name it as their target ([`Op::targets`]).
    pub(crate) fn close_socket(&self, socket: &Arc<O::Socket>) {
        backend!(self, r => r.close_socket(socket))
    }

    /// Reaps and delivers if nobody holds the driver, from any thread (the
    /// tokio driver task; `CancelIoEx` before it decides). False if it was busy.
    pub(crate) fn try_drive(&self) -> bool {
        backend!(self, r => r.try_drive())
    }

    /// Polling a record: on the owner thread, submit and reap; elsewhere nothing.
    pub(crate) fn poll_owned(&self) {
        backend!(self, r => r.poll_owned())
    }

    /// The owner thread is exiting (called on it): operations whose
    /// delivery needs that thread end; the others are carried on by the
    /// backend ([`Driver::adopt`]) until they complete.
    pub(crate) fn retire(&self) {
        backend!(self, r => r.retire())
    }

    /// After [`Driver::retire`], on the exiting thread: hands the driver to
    /// the backend's own thread while operations are in flight.
    pub(crate) fn adopt(self: Arc<Self>) {
        match &*self {
            Driver::Uring(_) => uring::adopt(self),
            Driver::Epoll(_) => epoll::adopt(self),
        }
    }

    /// Operations in flight.
    pub(crate) fn ops(&self) -> usize {
        backend!(self, r => r.ops())
    }

    /// Whether starts wait for the owner's next wait to be submitted.
    #[inline]
    pub(crate) fn batching(&self) -> bool {
        backend!(self, r => r.batching())
    }

    /// Sets the owner's submission mode (`overlapped::set_batching`).
    pub(crate) fn set_batching(&self, on: bool) {
        backend!(self, r => r.set_batching(on))
    }

    /// Whether a look at what is ready (`turn` with a zero timeout) costs
    /// no system call (io_uring reads its completion queue in memory; epoll
    /// must call `epoll_wait`): the wait loop skips a costly look before a
    /// turn that may block anyway.
    #[inline]
    pub(crate) fn looks_for_free(&self) -> bool {
        matches!(self, Driver::Uring(_))
    }

    /// A driver inherited across `fork`: never touched again in the child.
    #[inline]
    pub(crate) fn foreign(&self) -> bool {
        backend!(self, r => r.foreign())
    }

    /// Submits, on its owner, the operation `user_data` that reached the
    /// head of its socket lane (posted by whoever completed the one before).
    pub(crate) fn submit_next(&self, user_data: u64) {
        backend!(self, r => r.submit_next(user_data))
    }

    /// The descriptor that is readable while completions wait (tokio's reactor watches it).
    #[cfg(feature = "tokio")]
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        backend!(self, r => r.raw_fd())
    }

    /// Which backend this is, for `overlapped::backend()` and the logs.
    #[allow(dead_code)]
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Driver::Uring(_) => "io_uring",
            Driver::Epoll(_) => "epoll",
        }
    }
}
