//! `WSAEventSelect` and `WSAEnumNetworkEvents`: network events recorded
//! per socket from a real readiness source ([`crate::readiness`], epoll),
//! with Windows' recording and re-enabling rules.
//!
//! * A selected event is recorded once and the socket's event object set;
//!   it is not recorded again until its re-enabling call: `FD_READ` and
//!   `FD_OOB` by `recv`/`recvfrom`/`WSARecv`/`WSARecvFrom`, `FD_ACCEPT` by
//!   `accept`/`WSAAccept`/`AcceptEx`, `FD_WRITE` only by a send that failed
//!   with `WSAEWOULDBLOCK`. `FD_CONNECT` and `FD_CLOSE` are recorded once.
//! * A condition already true when `WSAEventSelect` (or the re-enabling
//!   call) runs is recorded at once: `FD_WRITE` on a connected socket,
//!   `FD_ACCEPT` with a connection queued, `FD_READ` with data queued.
//! * `WSAEventSelect` makes the socket non-blocking; `FIONBIO(0)` then fails
//!   with `WSAEINVAL` until the selection is cancelled (`lNetworkEvents` 0).
//! * A socket accepted from a selected listener gets the listener's event
//!   and events (and is non-blocking).
//! * `FD_CLOSE`'s error is 0 for a graceful close (the peer's FIN), and
//!   `WSAECONNABORTED` when the connection was reset or failed (semantics
//!   fact 131). `FD_CONNECT`'s is the connection's error (`WSAECONNREFUSED`).
//! * `closesocket` records nothing (fact 129).

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use overlapped::{Socket, WsaError};

use crate::handles;
use crate::last_error::fail;
use crate::readiness;
use crate::selection::{classify, Selection, State};

/// `FD_READ`.
pub const FD_READ: u32 = 1;
/// `FD_WRITE`.
pub const FD_WRITE: u32 = 2;
/// `FD_OOB`.
pub const FD_OOB: u32 = 4;
/// `FD_ACCEPT`.
pub const FD_ACCEPT: u32 = 8;
/// `FD_CONNECT`.
pub const FD_CONNECT: u32 = 16;
/// `FD_CLOSE`.
pub const FD_CLOSE: u32 = 32;
/// `FD_MAX_EVENTS`: the length of `iErrorCode`.
pub const FD_MAX_EVENTS: usize = 10;
/// Every event bit.
pub(crate) const ALL: u32 = (1 << FD_MAX_EVENTS) - 1;

/// `WSANETWORKEVENTS` (44 bytes).
#[repr(C)]
pub struct NetworkEvents {
    /// `lNetworkEvents`: the events recorded since the last call.
    pub network_events: i32,
    /// `iErrorCode[FD_MAX_EVENTS]`, indexed by `FD_*_BIT`.
    pub error_code: [i32; FD_MAX_EVENTS],
}

static SELECTED: AtomicUsize = AtomicUsize::new(0);

fn table() -> MutexGuard<'static, HashMap<usize, Selection>> {
    static TABLE: OnceLock<Mutex<HashMap<usize, Selection>>> = OnceLock::new();
    TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A readiness report for `handle` (from the readiness thread).
pub fn observed(handle: usize, revents: u32) {
    let mut t = table();
    if let Some(sel) = t.get_mut(&handle) {
        let before = (sel.recorded, sel.state, sel.closed);
        sel.observe(revents);
        // An error or hang-up stays reported: if it changed nothing, wait
        // for a re-enabling call rather than spin on it.
        let stuck = revents & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0
            && before == (sel.recorded, sel.state, sel.closed);
        if !stuck {
            sel.arm(handle);
        }
    }
}

/// Re-enables `bits` on `s` after their re-enabling call (see the module
/// docs for which call re-enables what).
pub fn reenable(s: usize, bits: u32) {
    if SELECTED.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut t = table();
    if let Some(sel) = t.get_mut(&s) {
        sel.enabled |= bits & !(FD_CONNECT | FD_CLOSE);
        sel.catch_up();
        sel.arm(s);
    }
}

/// After a send on `s`: a `WSAEWOULDBLOCK` failure re-enables `FD_WRITE`.
pub fn after_send<T>(s: usize, r: &Result<T, WsaError>) {
    if matches!(r, Err(WsaError::WSAEWOULDBLOCK)) {
        reenable(s, FD_WRITE);
    }
}

/// `listen` was called on `s`: what can be watched may have changed.
pub fn reclassify(s: usize) {
    if SELECTED.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut t = table();
    if let Some(sel) = t.get_mut(&s) {
        if sel.state == State::Idle {
            sel.state = classify(sel.fd);
            sel.arm(s);
        }
    }
}

/// `connect` on `s` returned `r`: a connection that is under way (or made
/// or refused already, as loopback connections often are by the time
/// `connect` returns) is reported with `FD_CONNECT`; a connection that failed during
/// the call is reported by the call alone.
pub fn connect_called(s: usize, r: i32) {
    if SELECTED.load(Ordering::Relaxed) == 0 {
        return;
    }
    if r != 0 && crate::last_error::get() != WsaError::WSAEWOULDBLOCK.0 as u32 {
        return;
    }
    let mut t = table();
    if let Some(sel) = t.get_mut(&s) {
        if sel.state == State::Idle {
            // Made already, or failed already (its error is still queued).
            sel.state = match classify(sel.fd) {
                State::Connected | State::Idle => State::Connecting,
                other => other,
            };
            sel.arm(s);
        }
    }
}

/// `accept` on `listener` made socket `s`: it takes the listener's selection.
pub fn accepted(listener: usize, s: usize, sock: &Socket) {
    if SELECTED.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut t = table();
    let Some(l) = t.get(&listener).filter(|l| l.mask != 0) else {
        return;
    };
    let (event, mask) = (l.event.clone(), l.mask);
    if sock.set_nonblocking(true).is_err() {
        return;
    }
    let mut sel = Selection::new(sock.as_raw_fd(), event, mask);
    sel.arm(s);
    t.insert(s, sel);
    SELECTED.fetch_add(1, Ordering::Relaxed);
}

/// `s` is being closed: its selection ends, and nothing is recorded.
pub fn forget(s: usize) {
    if SELECTED.load(Ordering::Relaxed) == 0 {
        return;
    }
    if let Some(mut sel) = table().remove(&s) {
        readiness::remove(sel.fd, &mut sel.registered);
        SELECTED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether `s` has network events selected (then `FIONBIO(0)` fails).
pub fn selected(s: usize) -> bool {
    SELECTED.load(Ordering::Relaxed) != 0 && table().get(&s).is_some_and(|sel| sel.mask != 0)
}

fn event_select(s: usize, h_event: usize, mask: u32) -> Result<(), WsaError> {
    let sock = handles::socket(s)?;
    let mask = mask & ALL;
    let event = if mask != 0 {
        Some(handles::event(h_event).map_err(|_| WsaError::WSAEINVAL)?)
    } else {
        None
    };
    if !readiness::available() {
        return Err(WsaError::WSAENOBUFS);
    }
    sock.set_nonblocking(true)?;
    let mut t = table();
    let Some(event) = event else {
        // Cancelled: the record is cleared; the socket stays non-blocking.
        if let Some(mut sel) = t.remove(&s) {
            readiness::remove(sel.fd, &mut sel.registered);
            SELECTED.fetch_sub(1, Ordering::Relaxed);
        }
        return Ok(());
    };
    let sel = match t.get_mut(&s) {
        Some(sel) => {
            sel.event = event;
            sel.mask = mask;
            sel.enabled = ALL;
            sel.recorded = 0;
            sel.errors = [0; FD_MAX_EVENTS];
            if sel.state == State::Idle {
                sel.state = classify(sel.fd);
            }
            sel
        }
        None => {
            SELECTED.fetch_add(1, Ordering::Relaxed);
            t.entry(s)
                .or_insert_with(|| Selection::new(sock.as_raw_fd(), event, mask))
        }
    };
    sel.catch_up();
    sel.arm(s);
    Ok(())
}

#[export_name = "WSAEventSelect"]
extern "C" fn wsa_event_select(s: usize, h_event: usize, network_events: i32) -> i32 {
    match event_select(s, h_event, network_events as u32) {
        Ok(()) => {
            crate::last_error::set(0);
            0
        }
        Err(e) => fail(e),
    }
}

#[export_name = "WSAEnumNetworkEvents"]
unsafe extern "C" fn wsa_enum_network_events(
    s: usize,
    h_event: usize,
    out: *mut NetworkEvents,
) -> i32 {
    if let Err(e) = handles::socket(s) {
        return fail(e);
    }
    if out.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    let reset = if h_event != 0 {
        match handles::event(h_event) {
            Ok(e) => Some(e),
            Err(_) => return fail(WsaError::WSAEINVAL),
        }
    } else {
        None
    };
    let (recorded, errors) = {
        let mut t = table();
        // The event is reset under the lock, so an event recorded after
        // this call sets it again.
        if let Some(e) = &reset {
            e.reset();
        }
        match t.get_mut(&s) {
            Some(sel) => {
                let r = (sel.recorded, sel.errors);
                sel.recorded = 0;
                sel.errors = [0; FD_MAX_EVENTS];
                r
            }
            None => (0, [0; FD_MAX_EVENTS]),
        }
    };
    // SAFETY: non-null WSANETWORKEVENTS (Windows' contract).
    unsafe {
        (*out).network_events = recorded as i32;
        (*out).error_code = errors;
    }
    crate::last_error::set(0);
    0
}
