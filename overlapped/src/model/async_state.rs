//! What a future's operation and the future share (`AsyncState`): the
//! outcome once the operation has ended and the waker of the task waiting
//! for it; a dropped receive future's bytes go back to its socket from
//! here (`unread.rs`). The surface's `AsyncOp` is the future over it.

use std::sync::{Arc, Mutex};
use std::task::Waker;

use crate::model::op::{OpKind, Outcome};
use crate::model::socket::SocketInner;

/// What a future's operation and the future share: the outcome, once the
/// operation has ended, and the waker of the task that waits for it.
pub(crate) struct AsyncState {
    inner: Mutex<Shared>,
    /// A stream receive's socket: if the future is dropped after the
    /// receive completed, its bytes go back there (`unread.rs`).
    gives_back: Option<Arc<SocketInner>>,
}

#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) outcome: Option<Outcome>,
    pub(crate) waker: Option<Waker>,
    /// The future was dropped before the outcome came.
    pub(crate) abandoned: bool,
}

impl AsyncState {
    pub(crate) fn new(kind: &OpKind, socket: &Arc<SocketInner>) -> AsyncState {
        let consumes = |flags: i32| flags & (libc::MSG_PEEK | libc::MSG_OOB) == 0;
        let gives_back = match kind {
            OpKind::Recv { flags } if socket.is_stream() && consumes(*flags) => {
                Some(Arc::clone(socket))
            }
            // AcceptEx's first data belongs to the accepted connection.
            OpKind::Accept(spec) if spec.receive_len > 0 && !spec.plain => {
                Some(Arc::clone(&spec.target))
            }
            _ => None,
        };
        AsyncState {
            inner: Mutex::new(Shared::default()),
            gives_back,
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The operation ended: keep the outcome, wake the task. If the future
    /// was dropped meanwhile, a receive's bytes go back to the socket; the
    /// rest of the outcome (the buffers) goes with the last reference,
    /// after the kernel has let go of it.
    pub(crate) fn complete(&self, outcome: Outcome) {
        let waker = {
            let mut shared = self.lock();
            if shared.abandoned {
                drop(shared);
                self.give_back(&outcome);
                return;
            }
            shared.outcome = Some(outcome);
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whatever a receive nobody will see took from the stream goes back.
    fn give_back(&self, outcome: &Outcome) {
        if let Some(socket) = &self.gives_back {
            if outcome.error.is_ok() {
                socket
                    .unread
                    .put_back(&outcome.bufs, outcome.bytes as usize);
            }
        }
    }

    /// The future is dropped: true if the operation is still running (then
    /// cancel it); its outcome, if it had come, gives its bytes back.
    pub(crate) fn abandon(&self) -> bool {
        let mut shared = self.lock();
        match shared.outcome.take() {
            Some(outcome) => {
                drop(shared);
                self.give_back(&outcome);
                false
            }
            None => {
                shared.abandoned = true;
                true
            }
        }
    }
}
