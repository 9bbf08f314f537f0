//! Sockets (`SOCKET`): the handle, creation and connection set-up, and
//! what closing does.
//!
//! The overlapped operations live in [`crate::winsock::socket_io`] and `dgram`;
//! addresses, options, shutdown and close in `socket_options` (the module
//! order in `lib.rs` is the order of `Socket`'s methods in the docs).

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use socket2::{Domain, Protocol, SockAddr, Type};

use crate::model::socket::{SocketInner, SHUT_RECEIVE, SHUT_SEND};
use crate::{WsaError, WsaResult};

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
            inner: Arc::new(SocketInner::new(sock, stream)),
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
        self.inner.attached.keep(source.into_kept());
    }

    /// This handle as the socket's state, still counted as a handle: whoever
    /// keeps it lets go with [`SocketInner::release_handle`].
    pub(crate) fn into_kept(self) -> Arc<SocketInner> {
        self.inner.handles.fetch_add(1, SeqCst);
        Arc::clone(&self.inner)
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
    pub(crate) fn sync_mode(&self, flags: crate::MsgFlags) -> crate::model::flags::FlagMode {
        use crate::model::flags::FlagMode;
        if flags.contains(crate::MsgFlags::WAITALL) && self.is_nonblocking() {
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
        self.inner.close();
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
        self.inner.release_handle();
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
