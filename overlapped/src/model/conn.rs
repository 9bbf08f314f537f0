//! The connection state of a stream socket that Winsock's connection calls
//! need and Linux does not keep: an `AcceptEx` or `ConnectEx` in progress
//! (facts [88](crate::semantics#fact-88), [89](crate::semantics#fact-89), [101](crate::semantics#fact-101)), the "update context" step that must follow them
//! (facts [92](crate::semantics#fact-92), [102](crate::semantics#fact-102)), when the connection was made (`SO_CONNECT_TIME`, [fact 97](crate::semantics#fact-97)),
//! and how it was made (which decides how `TF_REUSE_SOCKET` recycles it, [fact 107](crate::semantics#fact-107)).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::Instant;

use crate::model::error::WsaError;

use crate::model::error::WsaResult;

/// What is in progress on the socket.
pub(crate) const IDLE: u8 = 0;
/// It is the accept socket of a pending `AcceptEx`.
pub(crate) const ACCEPTING: u8 = 1;
/// A `ConnectEx` (or blocking `connect`) is pending on it.
pub(crate) const CONNECTING: u8 = 2;
/// A non-blocking `connect` returned `WSAEWOULDBLOCK` and has not been seen to finish.
pub(crate) const CONNECTING_NB: u8 = 3;

/// Which update-context option the socket still waits for.
pub(crate) const CONTEXT_NONE: u8 = 0;
pub(crate) const CONTEXT_ACCEPT: u8 = 1;
pub(crate) const CONTEXT_CONNECT: u8 = 2;

/// How the current connection was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    None = 0,
    Accepted = 1,
    Connected = 2,
}

#[derive(Default)]
pub(crate) struct ConnState {
    state: AtomicU8,
    context: AtomicU8,
    origin: AtomicU8,
    /// Milliseconds since `epoch()` + 1 when the connection was made; 0: none.
    connected_at: AtomicU64,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl ConnState {
    pub(crate) fn state(&self) -> u8 {
        self.state.load(SeqCst)
    }

    /// Claims the socket for an `AcceptEx` or a `ConnectEx`: `WSAEINVAL` if
    /// one is already in progress (facts [88](crate::semantics#fact-88), [89](crate::semantics#fact-89), [101](crate::semantics#fact-101)).
    pub(crate) fn begin(&self, what: u8) -> WsaResult<()> {
        self.state
            .compare_exchange(IDLE, what, SeqCst, SeqCst)
            .map(|_| ())
            .map_err(|_| WsaError::WSAEINVAL)
    }

    /// The operation that claimed the socket ended (or never started).
    pub(crate) fn end(&self, what: u8) {
        let _ = self.state.compare_exchange(what, IDLE, SeqCst, SeqCst);
    }

    /// A connection was made: `how`, and whether an update-context option
    /// must follow before `getsockname`/`getpeername`/`shutdown` work.
    pub(crate) fn connected(&self, how: Origin, context: u8) {
        self.origin.store(how as u8, SeqCst);
        self.context.store(context, SeqCst);
        let ms = epoch().elapsed().as_millis() as u64;
        self.connected_at.store(ms + 1, SeqCst);
    }

    /// The connection is gone (a reused socket starts afresh).
    pub(crate) fn reset(&self) {
        self.state.store(IDLE, SeqCst);
        self.context.store(CONTEXT_NONE, SeqCst);
        self.origin.store(Origin::None as u8, SeqCst);
        self.connected_at.store(0, SeqCst);
    }

    pub(crate) fn origin(&self) -> Origin {
        match self.origin.load(SeqCst) {
            1 => Origin::Accepted,
            2 => Origin::Connected,
            _ => Origin::None,
        }
    }

    /// How the connection was made, `Connected` if that is not known.
    pub(crate) fn origin_or_connected(&self) -> Origin {
        match self.origin() {
            Origin::None => Origin::Connected,
            o => o,
        }
    }

    /// `Err(WSAENOTCONN)` until the update-context option was set (facts [92](crate::semantics#fact-92), [102](crate::semantics#fact-102)).
    pub(crate) fn require_context(&self) -> WsaResult<()> {
        if self.context.load(SeqCst) == CONTEXT_NONE {
            Ok(())
        } else {
            Err(WsaError::WSAENOTCONN)
        }
    }

    /// The update-context option `which` was set: `WSAEINVAL` if the socket
    /// was not waiting for that one.
    pub(crate) fn update_context(&self, which: u8) -> WsaResult<()> {
        match self
            .context
            .compare_exchange(which, CONTEXT_NONE, SeqCst, SeqCst)
        {
            Ok(_) => Ok(()),
            // Setting it twice is harmless, as on Windows.
            Err(CONTEXT_NONE) if self.origin() != Origin::None => Ok(()),
            Err(_) => Err(WsaError::WSAEINVAL),
        }
    }

    /// Whole seconds since the connection was made, if one is known.
    pub(crate) fn seconds(&self) -> Option<u32> {
        match self.connected_at.load(SeqCst) {
            0 => None,
            at => {
                let now = epoch().elapsed().as_millis() as u64 + 1;
                Some((now.saturating_sub(at) / 1000).min(u64::from(u32::MAX - 1)) as u32)
            }
        }
    }
}
