//! Overlapped operations as futures (`async`/`await`), a minimal executor of
//! our own, and (feature `tokio`) a place inside tokio.
//!
//! A future is one more way to learn that an operation finished, beside the
//! event record and the completion routine: the operation is the same (the
//! same ring, lanes, cancellation), its notification ([`crate::model::op::Notify::Waker`])
//! stores the outcome and wakes the task. The buffers move into the
//! operation when it starts and always come back in the output, as with
//! compio, monoio and tokio-uring.
//!
//! * [`AsyncOp`]: the future every `*_async` call returns (see
//!   `Socket::recv_async` and its siblings in `ops.rs`).
//! * [`block_on`], [`spawn_local`]: an executor that drives the calling
//!   thread's ring; its park is the thread's alertable wait.
//! * feature `tokio`: `tokio_io::AsyncStream` and the ring's registration with
//!   tokio's reactor.

mod conn;
mod executor;
mod ioctl;
mod ops;
#[cfg(feature = "tokio")]
pub mod tokio_io;
mod transmit;

pub use executor::{block_on, spawn_local, JoinHandle};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::model::async_state::AsyncState;
use crate::model::op::{Notify, OpKind};
use crate::model::op::{OpRef, OpSlot, Started};
use crate::model::socket::SocketInner;
use crate::model::thread;
use crate::{BufList, Completion, WsaError};

/// A future of one overlapped operation, returned by the `*_async` calls
/// (`Socket::recv_async`, `Socket::send_async`, ...).
///
/// * **Lazy**: nothing starts until the first poll, which starts the
///   operation on the polling thread's ring (checks of the arguments are
///   made when the future is made, and their error is its output). The
///   connection and transmit calls (`accept_ex_async`, `connect_ex_async`,
///   `disconnect_ex_async`, `transmit_file_async`, `transmit_packets_async`)
///   and the control calls (`ioctl_async`, `notify_change_async`,
///   `wait_change_async`) start at the call instead; a query answered at
///   the call gives a future that is ready at once.
/// * **Output**: the operation's result *and its buffers*, whatever happened.
/// * **Drop** before completion cancels the operation (`CancelIoEx` on it).
///   The buffers stay with the operation until the kernel has let go of them
///   (DESIGN.md, "Buffers in flight"), then are freed. What the kernel had
///   not consumed stays in the socket for the next operation; see each
///   call for what a dropped future may lose.
/// * Polling after it returned `Ready` yields `WSAEINVAL` and no buffers.
///
/// It is `Send`: it may start on one thread and be polled on another; its
/// operation completes whichever thread reaps the ring it started on.
#[must_use = "an overlapped future does nothing unless polled"]
pub struct AsyncOp<T> {
    stage: Stage,
    map: fn(Completion) -> T,
    /// The output of a call answered at once (the ioctl queries).
    value: Option<T>,
}

// The output is only ever moved out whole, never pinned.
impl<T> Unpin for AsyncOp<T> {}

enum Stage {
    Start {
        socket: Arc<SocketInner>,
        kind: OpKind,
        bufs: BufList,
    },
    Failed(WsaError, BufList),
    Ready(Completion),
    Pending {
        state: Arc<AsyncState>,
        op: OpRef,
    },
    Done,
}

impl<T> AsyncOp<T> {
    pub(crate) fn new(
        socket: &Arc<SocketInner>,
        kind: Result<OpKind, WsaError>,
        bufs: BufList,
        map: fn(Completion) -> T,
    ) -> AsyncOp<T> {
        let stage = match kind {
            Ok(kind) => Stage::Start {
                socket: Arc::clone(socket),
                kind,
                bufs,
            },
            Err(e) => Stage::Failed(e, bufs),
        };
        AsyncOp {
            stage,
            map,
            value: None,
        }
    }

    /// A future ready at once with `value` (a call answered at the call).
    pub(crate) fn ready(value: T, map: fn(Completion) -> T) -> AsyncOp<T> {
        AsyncOp {
            stage: Stage::Done,
            map,
            value: Some(value),
        }
    }

    /// Starts the operation now, on the calling thread's ring (the
    /// connection calls, whose socket state changes at the call). The error
    /// is `Some` when it never started (the future's output says so too).
    pub(crate) fn start_now(
        socket: &Arc<SocketInner>,
        kind: OpKind,
        bufs: BufList,
        map: fn(Completion) -> T,
    ) -> (AsyncOp<T>, Option<WsaError>) {
        let mut op = AsyncOp {
            stage: Stage::Done,
            map,
            value: None,
        };
        let never = match op.start(Arc::clone(socket), kind, bufs) {
            Err(()) => None,
            Ok(done) => {
                let never = done.never_started.then_some(done.completion.error);
                op.stage = Stage::Ready(done.completion);
                never
            }
        };
        (op, never)
    }

    /// Whether the operation has been started (the future was polled) and
    /// has not yet been seen to end.
    pub fn is_pending(&self) -> bool {
        matches!(self.stage, Stage::Pending { .. })
    }

    fn start(
        &mut self,
        socket: Arc<SocketInner>,
        kind: OpKind,
        bufs: BufList,
    ) -> Result<Ended, ()> {
        let local = match thread::current() {
            Ok(local) => local,
            Err(e) => return Ok(Ended::never(e, bufs)),
        };
        let ring = &local.shared.ring;
        #[cfg(feature = "tokio")]
        tokio_io::ensure_driver(ring);
        let state = Arc::new(AsyncState::new(&kind, &socket));
        let eager = !local.delivering() && !ring.batching();
        let op = OpSlot::new(kind, Notify::Waker(state.clone()), socket);
        match ring.start(op, bufs, eager) {
            Started::Pending(op) => {
                self.stage = Stage::Pending { state, op };
                Err(())
            }
            Started::Immediate((_, outcome)) => Ok(Ended {
                completion: outcome.into(),
                never_started: false,
            }),
        }
    }
}

/// An operation that ended while it was being started.
struct Ended {
    completion: Completion,
    /// It never reached the kernel (no notification would ever have come).
    never_started: bool,
}

impl Ended {
    fn never(error: WsaError, bufs: BufList) -> Ended {
        Ended {
            completion: failed(error, bufs),
            never_started: true,
        }
    }
}

fn failed(error: WsaError, buffers: BufList) -> Completion {
    Completion {
        error,
        bytes: 0,
        flags: crate::MsgFlags::empty(),
        msg_flags: crate::MsgFlags::empty(),
        buffers,
        from: None,
        control: crate::Control::new(),
    }
}

impl<T> Future for AsyncOp<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let map = this.map;
        if let Some(value) = this.value.take() {
            return Poll::Ready(value);
        }
        loop {
            match std::mem::replace(&mut this.stage, Stage::Done) {
                Stage::Start { socket, kind, bufs } => match this.start(socket, kind, bufs) {
                    Ok(done) => return Poll::Ready(map(done.completion)),
                    Err(()) => continue, // pending: register the waker below
                },
                Stage::Failed(e, bufs) => return Poll::Ready(map(failed(e, bufs))),
                Stage::Ready(done) => return Poll::Ready(map(done)),
                Stage::Pending { state, op } => {
                    let mut shared = state.lock();
                    if let Some(outcome) = shared.outcome.take() {
                        return Poll::Ready(map(outcome.into()));
                    }
                    match &shared.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => shared.waker = Some(cx.waker().clone()),
                    }
                    drop(shared);
                    this.stage = Stage::Pending { state, op };
                    return Poll::Pending;
                }
                Stage::Done => {
                    return Poll::Ready(map(failed(WsaError::WSAEINVAL, BufList::new())))
                }
            }
        }
    }
}

impl<T> Drop for AsyncOp<T> {
    fn drop(&mut self) {
        if let Stage::Pending { state, op } = &self.stage {
            if !state.abandon() {
                return;
            }
            if let Some(ring) = op.ring.upgrade() {
                ring.cancel(op.user_data);
            }
        }
    }
}

impl<T> std::fmt::Debug for AsyncOp<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stage = match self.stage {
            Stage::Start { .. } => "not started",
            Stage::Failed(..) => "failed to start",
            Stage::Ready(..) => "ready",
            Stage::Pending { .. } => "pending",
            Stage::Done => "done",
        };
        f.debug_struct("AsyncOp").field("stage", &stage).finish()
    }
}

/// `(result, buffers)`: the byte count or the Winsock error, and the buffers.
pub(crate) fn bytes_and_buffers(c: Completion) -> (crate::WsaResult<u32>, BufList) {
    let result = if c.error.is_ok() {
        Ok(c.bytes)
    } else {
        Err(c.error)
    };
    (result, c.buffers)
}

pub(crate) fn whole(c: Completion) -> Completion {
    c
}
