//! The shared state behind a socket (`SocketInner`): what every handle
//! (`Socket`, the surface's) and every operation on the socket hold — the
//! descriptor, its lanes, its own event, close and shutdown state, its
//! completion port — and what closing does to the operations in flight.
//! Also the change sources a socket keeps ([`Sources`]).

use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::model::conn::{self, ConnState};
use crate::model::error::{WsaError, WsaResult};
use crate::model::event::Event;
use crate::model::lane::{Direction, Lanes};
use crate::model::port_queue::PortQueue;

pub(crate) struct SocketInner {
    pub(crate) sock: socket2::Socket,
    /// How many [`Socket`] handles name this socket (operations hold the
    /// `Arc` too, but are not handles): the last one to go closes it.
    pub(crate) handles: AtomicUsize,
    pub(crate) stream: bool,
    pub(crate) closed: AtomicBool,
    /// Directions shut down by [`Socket::shutdown`] (`SHUT_RECEIVE`, `SHUT_SEND`).
    pub(crate) shut: AtomicU8,
    /// Whether it was a connected stream when it was closed (for [fact 127](crate::semantics#fact-127)).
    pub(crate) connected_at_close: AtomicBool,
    /// The process generation that last used it (see `sys::fork`): a
    /// socket inherited across `fork` forgets the parent's operations.
    pub(crate) born: AtomicU32,
    /// Known to have been connected (by `connect`, `accept`, or a
    /// `getpeername` that succeeded): sends need not ask again (facts [15](crate::semantics#fact-15), [76](crate::semantics#fact-76)).
    pub(crate) connected: AtomicBool,
    pub(crate) event: Event,
    pub(crate) lanes: Lanes,
    /// Bytes a dropped receive future took from the kernel but never
    /// handed over: the next receive reads them first (`unread.rs`).
    pub(crate) unread: crate::model::unread::Unread,
    /// Connection calls in progress, update-context, connect time (`conn.rs`).
    pub(crate) conn: ConnState,
    /// What datagram calls learn once (family, bound): see `dgram.rs`.
    pub(crate) dgram: Learned,
    /// The completion port and key, once associated (for the socket's life).
    pub(crate) port: OnceLock<PortBinding>,
    /// `SetFileCompletionNotificationModes` flags (only ever added).
    pub(crate) modes: AtomicU8,
    /// Change sources (rtnetlink sockets) whose pending notification belongs
    /// to this socket (`SIO_ADDRESS_LIST_CHANGE`, ...): closed with it, so
    /// that closing the socket aborts them ([fact 119](crate::semantics#fact-119)).
    pub(crate) attached: Sources,
    /// The blocking mode the caller last set with `Socket::set_nonblocking`
    /// (`FIONBIO`), for the inline transmit path (`transmit_op.rs`), which
    /// then asks the kernel nothing: a change made behind the library's
    /// back (`as_socket2`, the raw descriptor) is not seen.
    pub(crate) nonblocking: AtomicBool,
}

/// A socket's completion port and the key its packets carry ([fact 135](crate::semantics#fact-135)).
pub(crate) struct PortBinding {
    pub(crate) queue: Arc<PortQueue>,
    pub(crate) key: usize,
}

/// `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS`.
pub(crate) const SKIP_PORT_ON_SUCCESS: u8 = 1;
/// `FILE_SKIP_SET_EVENT_ON_HANDLE`.
pub(crate) const SKIP_SET_EVENT: u8 = 2;

impl SocketInner {
    /// The state of a new socket with one handle.
    pub(crate) fn new(sock: socket2::Socket, stream: bool) -> SocketInner {
        SocketInner {
            sock,
            handles: AtomicUsize::new(1),
            stream,
            closed: AtomicBool::new(false),
            shut: AtomicU8::new(0),
            connected_at_close: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            born: AtomicU32::new(crate::sys::fork::generation()),
            event: Event::with_reset(true, false),
            lanes: Lanes::default(),
            unread: Default::default(),
            conn: ConnState::default(),
            dgram: Default::default(),
            port: OnceLock::new(),
            modes: AtomicU8::new(0),
            attached: Default::default(),
            nonblocking: AtomicBool::new(false),
        }
    }

    /// One handle of the socket goes (a `Socket` dropped, or a kept change
    /// source let go): the last one closes it.
    pub(crate) fn release_handle(self: &Arc<Self>) {
        if self.handles.fetch_sub(1, SeqCst) == 1 {
            self.close();
        }
    }

    /// Closes the socket for every handle (once): no new operation starts,
    /// pending ones are cancelled.
    pub(crate) fn close(self: &Arc<Self>) {
        let connected = self.is_stream_connected();
        if self.is_closed() {
            return;
        }
        self.connected_at_close.store(connected, SeqCst);
        if self.closed.swap(true, SeqCst) {
            return;
        }
        // Change notifications of this socket end with it (fact 119).
        self.attached.close_all();
        if self.inherited() {
            // Inherited across `fork` and unused here: closing this
            // process's descriptor is all; the parent's operations and
            // connection are the parent's (no shutdown, no cancel).
            return;
        }
        // Pitfall 1: closing the descriptor would not stop the kernel's
        // operations on it. Cancel them on every ring that may hold one; the
        // descriptor itself closes when the last operation (and handle) lets
        // go of it.
        if Arc::strong_count(self) > 1 {
            if self.stream && (self.lanes.pending() > 0 || !connected) {
                // A listener: another handle may be blocked on it in
                // `accept`, and the kernel's shutdown wakes it (nothing else
                // would: the descriptor stays open while that handle lives).
                //
                // The cancels below are asynchronous (a ring reads its mail
                // when it can). So end stream operations now, the way close
                // would: `SHUT_RD`
                // wakes receives with 0 bytes (reported `WSAECONNABORTED`),
                // puts nothing on the wire, and keeps later data out of them;
                // `SHUT_WR` wakes blocked sends (`WSA_OPERATION_ABORTED`) and
                // sends the FIN that close would send after the buffered
                // data. Not for an abortive close (`SO_LINGER` 0): that must
                // send a reset, not a FIN (fact 131).
                let abortive = self.sock.linger().ok().flatten() == Some(Duration::ZERO);
                let how = if abortive {
                    Shutdown::Read
                } else {
                    Shutdown::Both
                };
                let _ = self.sock.shutdown(how);
            }
            for ring in crate::sys::registry::with_ops::<crate::model::op::OpSlot>() {
                ring.close_socket(self);
            }
            // Windows releases the socket at `closesocket` (its port, an
            // abortive close's reset: facts 128, 131), not when the last
            // operation has been reaped. So let go of the socket now; the
            // number stays taken by a placeholder until the last operation
            // naming it lets go (pitfall 1).
            if Arc::strong_count(self) > 1 {
                let _ = crate::sys::blocking::release_keeping_number(self.fd());
            }
        }
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    pub(crate) fn is_stream(&self) -> bool {
        self.stream
    }

    /// The socket2 socket underneath.
    pub(crate) fn sock(&self) -> &socket2::Socket {
        &self.sock
    }

    /// Records whether the socket is connected (a connection call finished,
    /// or `TF_REUSE_SOCKET` gave it a fresh endpoint).
    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, SeqCst);
    }

    /// Whether a connection is being made (`ConnectEx`, or a non-blocking
    /// `connect` not yet seen to finish): then sends and receives fail with
    /// `WSAENOTCONN` ([fact 101](crate::semantics#fact-101)).
    pub(crate) fn connecting(&self) -> bool {
        match self.conn.state() {
            conn::CONNECTING => true,
            conn::CONNECTING_NB => {
                if crate::sys::fd::tcp_state(self.fd()) == Some(crate::sys::fd::TCP_SYN_SENT) {
                    return true;
                }
                self.conn.end(conn::CONNECTING_NB);
                false
            }
            _ => false,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    /// The completion port the socket is associated with, if any.
    pub(crate) fn port(&self) -> Option<&PortBinding> {
        self.port.get()
    }

    /// Associates the socket with a port for good; false if it already is.
    pub(crate) fn bind_port(&self, binding: PortBinding) -> bool {
        self.port.set(binding).is_ok()
    }

    /// Adds notification modes (they cannot be removed, [fact 140](crate::semantics#fact-140)).
    pub(crate) fn add_modes(&self, modes: u8) {
        self.modes.fetch_or(modes, SeqCst);
    }

    pub(crate) fn skips_port_on_success(&self) -> bool {
        self.modes.load(SeqCst) & SKIP_PORT_ON_SUCCESS != 0
    }

    pub(crate) fn skips_set_event(&self) -> bool {
        self.modes.load(SeqCst) & SKIP_SET_EVENT != 0
    }

    /// Whether a new operation may start in direction `d`: not on a closed
    /// socket (`WSAENOTSOCK`), nor in a direction shut down (`WSAESHUTDOWN`,
    /// facts [67](crate::semantics#fact-67) and [69](crate::semantics#fact-69)).
    pub(crate) fn usable(&self, d: Direction) -> WsaResult<()> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        self.adopt_after_fork();
        if self.stream && self.conn.state() != conn::IDLE && self.connecting() {
            return Err(WsaError::WSAENOTCONN);
        }
        let bit = match d {
            Direction::Receive => SHUT_RECEIVE,
            Direction::Send => SHUT_SEND,
            Direction::Unordered => 0,
        };
        if self.shut.load(SeqCst) & bit != 0 {
            return Err(WsaError::WSAESHUTDOWN);
        }
        Ok(())
    }

    /// The sending side was shut down by an operation (`TF_DISCONNECT`):
    /// later sends fail with `WSAESHUTDOWN`, as after `shutdown(SD_SEND)`.
    pub(crate) fn mark_send_shut(&self) {
        self.shut.fetch_or(SHUT_SEND, SeqCst);
    }

    /// Whether the socket was inherited from the parent across `fork` and
    /// not used in this process since.
    pub(crate) fn inherited(&self) -> bool {
        self.born.load(SeqCst) != crate::sys::fork::generation()
    }

    /// First use in a child process after `fork`: the operations in its
    /// lanes are the parent's (they complete there, never here), so a new
    /// one must not queue behind them.
    fn adopt_after_fork(&self) {
        if self.inherited() {
            self.lanes.forget_all();
            self.born.store(crate::sys::fork::generation(), SeqCst);
        }
    }

    /// Whether this is a connected stream socket (for [fact 127](crate::semantics#fact-127)); once
    /// closed, whether it was one at the close.
    pub(crate) fn is_stream_connected(&self) -> bool {
        if self.is_closed() {
            return self.connected_at_close.load(SeqCst);
        }
        self.stream && self.sock.peer_addr().is_ok()
    }
}

pub(crate) const SHUT_RECEIVE: u8 = 1;
pub(crate) const SHUT_SEND: u8 = 2;

/// Facts about a socket that never change once known, cached so that the
/// datagram checks cost no system call after the first: its family, and
/// that it is bound.
#[derive(Default)]
pub(crate) struct Learned {
    /// 0: not yet known; 4 or 6.
    pub(crate) family: AtomicU8,
    pub(crate) bound: AtomicBool,
}

/// The change sources an owner keeps (a socket's, a lookup handle's, a
/// provider handle's), each as one handle of its source socket: closing
/// them (dropping this, or [`Sources::close_all`]) aborts their pending
/// requests.
#[derive(Default)]
pub(crate) struct Sources(Mutex<Vec<Arc<SocketInner>>>);

impl Sources {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<SocketInner>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `source`, which hands over one of its handles; lets go of
    /// those whose request has completed.
    pub(crate) fn keep(&self, source: Arc<SocketInner>) {
        let mut all = self.lock();
        all.retain(|s| {
            let keep = s.lanes.pending() > 0;
            if !keep {
                s.release_handle();
            }
            keep
        });
        all.push(source);
    }

    /// The sources with a request still pending (for `CancelIo`/`CancelIoEx`).
    pub(crate) fn pending(&self) -> Vec<Arc<SocketInner>> {
        self.lock()
            .iter()
            .filter(|s| s.lanes.pending() > 0)
            .cloned()
            .collect()
    }

    /// Closes every source: their pending requests end with
    /// `WSA_OPERATION_ABORTED`.
    pub(crate) fn close_all(&self) {
        let all = std::mem::take(&mut *self.lock());
        for s in all {
            s.release_handle();
        }
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        self.close_all();
    }
}
