//! Sockets (`SOCKET`): the handle, creation and connection set-up, and
//! what closing does.
//!
//! The overlapped operations live in [`crate::winsock::socket_io`] and `dgram`;
//! addresses, options, shutdown and close in `socket_options` (the module
//! order in `lib.rs` is the order of `Socket`'s methods in the docs).

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Type};

use crate::model::conn::{self, ConnState};
use crate::model::lane::{Direction, Lanes};
use crate::model::port_queue::PortQueue;
use crate::{Event, WsaError, WsaResult};

/// A socket (`SOCKET`), TCP or UDP, IPv4 or IPv6, able to carry overlapped
/// operations.
///
/// A `Socket` is a *handle*, as a Winsock `SOCKET` is: [`Clone`] gives
/// another handle to the same socket (cheap: a reference count), which is
/// how a completion routine keeps the socket it re-posts on, or another
/// thread sends on it. The socket closes when [`Socket::close`] is called on
/// any handle (`closesocket`: every handle then fails with `WSAENOTSOCK`), or
/// when the last handle is dropped. Either way, pending operations are
/// cancelled and report `WSA_OPERATION_ABORTED` (a connected stream receive
/// reports `WSAECONNABORTED`), and the descriptor number is not reused until
/// the kernel has let go of every one of them.
///
/// ```no_run
/// use overlapped::{BufList, Completion, MsgFlags, Socket, WsaError};
///
/// // Keeps receiving until the peer closes: each routine re-posts on its own handle.
/// fn receive_forever(socket: Socket) {
///     let handle = socket.clone();
///     let started = socket.recv_with(BufList::zeroed(4096), MsgFlags::empty(), move |c: Completion| {
///         if c.error.is_ok() && c.bytes > 0 {
///             receive_forever(handle); // re-post with the handle the routine kept
///         } // else: the routine's handle is the last one, and dropping it closes the socket
///     });
///     if let Err(e) = started {
///         assert_ne!(e, WsaError::WSA_IO_PENDING, "never an error: the routine will run");
///         eprintln!("WSARecv failed: {e}");
///     }
/// }
/// # let _ = receive_forever;
/// ```
#[doc(alias = "SOCKET")]
pub struct Socket {
    pub(crate) inner: Arc<SocketInner>,
}

pub(crate) struct SocketInner {
    pub(crate) sock: socket2::Socket,
    /// How many [`Socket`] handles name this socket (operations hold the
    /// `Arc` too, but are not handles): the last one to go closes it.
    handles: AtomicUsize,
    stream: bool,
    closed: AtomicBool,
    /// Directions shut down by [`Socket::shutdown`] (`SHUT_RECEIVE`, `SHUT_SEND`).
    pub(crate) shut: AtomicU8,
    /// Whether it was a connected stream when it was closed (for [fact 127](crate::semantics#fact-127)).
    connected_at_close: AtomicBool,
    /// The process generation that last used it (see `sys::fork`): a
    /// socket inherited across `fork` forgets the parent's operations.
    born: AtomicU32,
    /// Known to have been connected (by `connect`, `accept`, or a
    /// `getpeername` that succeeded): sends need not ask again (facts [15](crate::semantics#fact-15), [76](crate::semantics#fact-76)).
    connected: AtomicBool,
    pub(crate) event: Event,
    pub(crate) lanes: Lanes,
    /// Bytes a dropped receive future took from the kernel but never
    /// handed over: the next receive reads them first (`unread.rs`).
    pub(crate) unread: crate::model::unread::Unread,
    /// Connection calls in progress, update-context, connect time (`conn.rs`).
    pub(crate) conn: ConnState,
    /// What datagram calls learn once (family, bound): see `dgram.rs`.
    pub(crate) dgram: crate::winsock::dgram::Learned,
    /// The completion port and key, once associated (for the socket's life).
    port: OnceLock<PortBinding>,
    /// `SetFileCompletionNotificationModes` flags (only ever added).
    modes: AtomicU8,
    /// Change sources (rtnetlink sockets) whose pending notification belongs
    /// to this socket (`SIO_ADDRESS_LIST_CHANGE`, ...): closed with it, so
    /// that closing the socket aborts them ([fact 119](crate::semantics#fact-119)).
    pub(crate) attached: crate::model::notify::Sources,
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
    fn inherited(&self) -> bool {
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

const SHUT_RECEIVE: u8 = 1;
const SHUT_SEND: u8 = 2;

fn wsa(err: io::Error) -> WsaError {
    WsaError::from_io(&err)
}

impl Socket {
    /// A new socket (`socket` / `WSASocket` with `WSA_FLAG_OVERLAPPED`).
    #[doc(alias = "WSASocket")]
    #[doc(alias = "socket")]
    pub fn new(domain: Domain, ty: Type, protocol: Option<Protocol>) -> WsaResult<Socket> {
        let sock = socket2::Socket::new(domain, ty, protocol).map_err(wsa)?;
        Ok(Socket::from_socket2(sock, ty == Type::STREAM))
    }

    /// A new TCP socket of the family of `addr` (IPv4 or IPv6), *unbound*:
    /// `addr` only picks the family (`socket(AF_INET or AF_INET6,
    /// SOCK_STREAM, IPPROTO_TCP)`); nothing is bound or connected. Call
    /// [`Socket::bind`] (e.g. to port 0) before `AcceptEx`'s accept socket
    /// or `ConnectEx` need it. `WSAEAFNOSUPPORT` where the family is not
    /// available, `WSAEMFILE`/`WSAENOBUFS` when out of descriptors or memory.
    ///
    /// ```
    /// # fn main() -> Result<(), overlapped::WsaError> {
    /// let s = overlapped::Socket::tcp_for(&"127.0.0.1:80".parse().unwrap())?;
    /// s.bind(&"127.0.0.1:0".parse().unwrap())?; // now it has a local port
    /// assert_ne!(s.local_addr()?.port(), 0);
    /// # Ok(()) }
    /// ```
    #[doc(alias = "socket")]
    #[doc(alias = "WSASocket")]
    pub fn tcp_for(addr: &SocketAddr) -> WsaResult<Socket> {
        Socket::new(
            Domain::for_address(*addr),
            Type::STREAM,
            Some(Protocol::TCP),
        )
    }

    /// A new UDP socket of the family of `addr` (IPv4 or IPv6), *unbound*:
    /// `addr` only picks the family; its local address is the wildcard with
    /// port 0 until [`Socket::bind`] or the first send binds it (so sending
    /// to its `local_addr()` before that fails with `WSAEINVAL`: port 0).
    /// Errors as [`Socket::tcp_for`].
    #[doc(alias = "socket")]
    #[doc(alias = "WSASocket")]
    pub fn udp_for(addr: &SocketAddr) -> WsaResult<Socket> {
        Socket::new(Domain::for_address(*addr), Type::DGRAM, Some(Protocol::UDP))
    }

    /// A TCP socket connected to `addr` (IPv4 or IPv6), blocking until the
    /// connection is made: `socket` then `connect`, the client's first two
    /// calls. Fails with `WSAECONNREFUSED` when nothing listens there,
    /// `WSAETIMEDOUT` or `WSAENETUNREACH` when the peer cannot be reached.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), overlapped::WsaError> {
    /// let client = overlapped::Socket::connect_tcp(&"127.0.0.1:5150".parse().unwrap())?;
    /// # Ok(()) }
    /// ```
    #[doc(alias = "connect")]
    #[doc(alias = "WSAConnect")]
    pub fn connect_tcp(addr: &SocketAddr) -> WsaResult<Socket> {
        let s = Socket::tcp_for(addr)?;
        s.connect(addr)?;
        Ok(s)
    }

    /// A TCP socket bound to `addr` and listening, with `SO_REUSEADDR`
    /// (`socket`, `bind`, `listen`: the server's first three calls; port 0
    /// picks a free port, see `local_addr`). Errors as [`Socket::bind`] and
    /// [`Socket::listen`].
    #[doc(alias = "socket")]
    #[doc(alias = "WSASocket")]
    #[doc(alias = "listen")]
    pub fn listen_tcp(addr: &SocketAddr, backlog: i32) -> WsaResult<Socket> {
        let s = Socket::tcp_for(addr)?;
        s.inner.sock.set_reuse_address(true).map_err(wsa)?;
        s.bind(addr)?;
        s.listen(backlog)?;
        Ok(s)
    }

    pub(crate) fn from_socket2(sock: socket2::Socket, stream: bool) -> Socket {
        Socket {
            inner: Arc::new(SocketInner {
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
            }),
        }
    }

    /// Wraps a descriptor the ring reads change notifications from (an
    /// rtnetlink socket or an inotify instance; see `notify.rs`). Only
    /// operations of kind `OpKind::Change` are ever started on it.
    pub(crate) fn from_source(fd: std::os::fd::OwnedFd) -> Socket {
        Socket::from_socket2(socket2::Socket::from(fd), false)
    }

    /// Keeps `source` until this socket closes, which closes it too (and so
    /// aborts its pending notification).
    pub(crate) fn attach(&self, source: Socket) {
        self.inner.attached.keep(source);
    }

    /// The socket and the change sources it keeps, those of them with an
    /// operation not yet completed (for `CancelIo`/`CancelIoEx`).
    pub(crate) fn pending_parts(&self) -> Vec<Arc<SocketInner>> {
        let mut out = self.inner.attached.pending();
        if self.is_pending() {
            out.insert(0, self.inner.clone());
        }
        out
    }

    /// Whether an operation on this socket has not completed yet.
    pub(crate) fn is_pending(&self) -> bool {
        self.inner.lanes.pending() > 0
    }

    /// Binds the socket to the local address `addr` (`bind`); port 0 picks
    /// a free port (read it with `local_addr`).
    ///
    /// Errors (OS errors mapped as Windows reports them, [fact 45](crate::semantics#fact-45)):
    /// `WSAEADDRINUSE` when another socket holds the address (and neither has
    /// `SO_REUSEADDR` allowing it), `WSAEADDRNOTAVAIL` when `addr` is not an
    /// address of this machine, `WSAEINVAL` when the socket is already
    /// bound, `WSAEAFNOSUPPORT` for an address of the other family,
    /// `WSAEACCES` for a privileged port without the right,
    /// `WSAENOTSOCK` after `close`.
    ///
    /// ```
    /// # fn main() -> Result<(), overlapped::WsaError> {
    /// use overlapped::{Socket, WsaError};
    /// let a = Socket::udp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// a.bind(&"127.0.0.1:0".parse().unwrap())?;
    /// let taken = a.local_addr()?;
    /// let b = Socket::udp_for(&taken)?;
    /// assert_eq!(b.bind(&taken), Err(WsaError::WSAEADDRINUSE));
    /// # Ok(()) }
    /// ```
    pub fn bind(&self, addr: &SocketAddr) -> WsaResult<()> {
        self.inner.sock.bind(&SockAddr::from(*addr)).map_err(wsa)
    }

    /// Makes a bound (or unbound: Linux then binds a free port) TCP socket
    /// listen for connections, keeping up to `backlog` of them waiting for
    /// `accept`/`AcceptEx` (`listen`; the kernel caps it at
    /// `net.core.somaxconn`, as Windows caps it at `SOMAXCONN`).
    ///
    /// Errors: `WSAEOPNOTSUPP` on a datagram socket, `WSAEADDRINUSE` when
    /// another socket already listens on the address, `WSAEINVAL` on a
    /// connected socket, `WSAENOTSOCK` after `close`
    /// ([fact 45](crate::semantics#fact-45)).
    ///
    /// ```
    /// # fn main() -> Result<(), overlapped::WsaError> {
    /// use overlapped::Socket;
    /// let s = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// s.bind(&"127.0.0.1:0".parse().unwrap())?;
    /// s.listen(128)?;
    /// let client = Socket::connect_tcp(&s.local_addr()?)?; // completes: it listens
    /// # drop(client);
    /// # Ok(()) }
    /// ```
    pub fn listen(&self, backlog: i32) -> WsaResult<()> {
        self.inner.sock.listen(backlog).map_err(wsa)
    }

    /// Sends without a destination need a connected socket: `WSAENOTCONN`
    /// otherwise, at the call, before anything starts ([fact 15](crate::semantics#fact-15) for TCP,
    /// [fact 76](crate::semantics#fact-76) for UDP; Linux would say `EPIPE` or `EDESTADDRREQ`). Costs a
    /// `getpeername` only until the socket is known to be connected.
    pub(crate) fn require_connected(&self) -> WsaResult<()> {
        if self.inner.connected.load(SeqCst) {
            return Ok(());
        }
        if self.inner.sock.peer_addr().is_err() {
            return Err(WsaError::WSAENOTCONN);
        }
        self.inner.connected.store(true, SeqCst);
        Ok(())
    }

    /// Stream receives need a connected socket too ([fact 15](crate::semantics#fact-15)), checked at the
    /// call so that no path (a batched or deferred submission) reports it
    /// pending first. Datagram receives need only a local address ([fact 75](crate::semantics#fact-75)).
    pub(crate) fn require_connected_stream(&self) -> WsaResult<()> {
        if self.is_stream() {
            self.require_connected()
        } else {
            Ok(())
        }
    }

    /// The mode of a synchronous call for the flag table: non-blocking
    /// matters only to `MSG_WAITALL` ([fact 61](crate::semantics#fact-61)), so the socket is asked only then.
    pub(crate) fn sync_mode(&self, flags: crate::MsgFlags) -> crate::winsock::flags::FlagMode {
        use crate::winsock::flags::FlagMode;
        if flags.contains(crate::MsgFlags::WAITALL)
            && self.inner.sock.nonblocking().unwrap_or(false)
        {
            FlagMode::NonBlocking
        } else {
            FlagMode::Blocking
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// [`Socket::shutdown`]'s work (the flags live here).
    pub(crate) fn shutdown_now(&self, how: Shutdown) -> WsaResult<()> {
        self.inner.conn.require_context()?;
        let sock = &self.inner.sock;
        if self.inner.stream && sock.peer_addr().is_err() {
            // Unconnected (`WSAENOTCONN`), or listening (see above).
            return sock.shutdown(how).map_err(wsa);
        }
        let bits = match how {
            Shutdown::Read => SHUT_RECEIVE,
            Shutdown::Write => SHUT_SEND,
            Shutdown::Both => SHUT_RECEIVE | SHUT_SEND,
        };
        if self.inner.stream && bits & SHUT_SEND != 0 {
            sock.shutdown(Shutdown::Write).map_err(wsa)?;
        }
        self.inner.shut.fetch_or(bits, SeqCst);
        Ok(())
    }

    /// Closes the socket for every handle (once): no new operation starts,
    /// pending ones are cancelled.
    pub(crate) fn close_now(&self) {
        let connected = self.inner.is_stream_connected();
        if self.inner.is_closed() {
            return;
        }
        self.inner.connected_at_close.store(connected, SeqCst);
        if self.inner.closed.swap(true, SeqCst) {
            return;
        }
        // Change notifications of this socket end with it (fact 119).
        self.inner.attached.close_all();
        if self.inner.inherited() {
            // Inherited across `fork` and unused here: closing this
            // process's descriptor is all; the parent's operations and
            // connection are the parent's (no shutdown, no cancel).
            return;
        }
        // Pitfall 1: closing the descriptor would not stop the kernel's
        // operations on it. Cancel them on every ring that may hold one; the
        // descriptor itself closes when the last operation (and handle) lets
        // go of it.
        if Arc::strong_count(&self.inner) > 1 {
            if self.inner.stream && (self.inner.lanes.pending() > 0 || !connected) {
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
                let abortive = self.inner.sock.linger().ok().flatten() == Some(Duration::ZERO);
                let how = if abortive {
                    Shutdown::Read
                } else {
                    Shutdown::Both
                };
                let _ = self.inner.sock.shutdown(how);
            }
            for ring in crate::sys::registry::with_ops::<crate::model::op::OpSlot>() {
                ring.close_socket(&self.inner);
            }
            // Windows releases the socket at `closesocket` (its port, an
            // abortive close's reset: facts 128, 131), not when the last
            // operation has been reaped. So let go of the socket now; the
            // number stays taken by a placeholder until the last operation
            // naming it lets go (pitfall 1).
            if Arc::strong_count(&self.inner) > 1 {
                let _ = crate::sys::blocking::release_keeping_number(self.inner.fd());
            }
        }
    }
}

impl Clone for Socket {
    /// Another handle to the same socket (a `SOCKET` value copied): it
    /// shares the socket's state, operations and close.
    fn clone(&self) -> Socket {
        self.inner.handles.fetch_add(1, SeqCst);
        Socket {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if self.inner.handles.fetch_sub(1, SeqCst) == 1 {
            self.close_now();
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("fd", &self.inner.fd())
            .field("stream", &self.inner.stream)
            .finish()
    }
}
