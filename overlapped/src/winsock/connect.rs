//! `ConnectEx` (facts [98](crate::semantics#fact-98)–[103](crate::semantics#fact-103)), `SO_UPDATE_CONNECT_CONTEXT`,
//! `SO_CONNECT_TIME` ([fact 97](crate::semantics#fact-97)), and the blocking `connect`, which waits
//! alertably ([fact 7](crate::semantics#fact-7)).

use std::net::SocketAddr;

use crate::model::completion::Completion;
use crate::model::conn::{self, CONNECTING, CONNECTING_NB};
use crate::model::conn_ops::{ConnectPhase, ConnectSpec};
use crate::model::op::OpKind;
use crate::{BufList, Overlapped, Socket, WsaError, WsaResult};

/// What [`Socket::connect_time`] returns for a socket that is not connected
/// (`SO_CONNECT_TIME` = `0xFFFFFFFF`).
#[doc(alias = "SO_CONNECT_TIME")]
pub const CONNECT_TIME_NOT_CONNECTED: u32 = u32::MAX;

impl Socket {
    /// Connects to `addr` and sends `send` once connected (`ConnectEx`).
    ///
    /// `self` must be a **bound**, unconnected, non-listening TCP socket
    /// (bind to port 0 for any port). `send` (possibly empty) is owned by
    /// the operation until it completes; its bytes go out once the
    /// connection is made, and the completion counts them: on success,
    /// bytes = the length of `send` ([fact 99](crate::semantics#fact-99)).
    ///
    /// Returns the byte count if it completed at once, else
    /// `Err(WSA_IO_PENDING)`: then the result comes through the record,
    /// including a refused (`WSAECONNREFUSED`), unreachable
    /// (`WSAENETUNREACH`, `WSAEHOSTUNREACH`) or timed-out (`WSAETIMEDOUT`)
    /// connection, after which the same socket may try again ([fact 100](crate::semantics#fact-100)).
    /// Errors that mean nothing started: `WSAENOTSOCK` (closed),
    /// `WSAEINVAL` (unbound, listening, not a stream socket, an `AcceptEx`
    /// or `ConnectEx` or non-blocking `connect` already in progress on it:
    /// facts [89](crate::semantics#fact-89), [98](crate::semantics#fact-98), [101](crate::semantics#fact-101)), `WSAEISCONN` (connected), `WSAEADDRNOTAVAIL`
    /// (an unspecified address or port 0), `WSAEAFNOSUPPORT` (an address of
    /// the other family).
    ///
    /// While it is pending, sends and receives on the socket fail with
    /// `WSAENOTCONN`, `peer_addr` with `WSAENOTCONN`, `local_addr` gives the
    /// bound address ([fact 101](crate::semantics#fact-101)). After it completes, call
    /// [`Socket::update_connect_context`] before `peer_addr` or `shutdown`
    /// ([fact 102](crate::semantics#fact-102)).
    ///
    /// ```
    /// use overlapped::{get_overlapped_result, BufList, Event, Overlapped, Socket, WsaError};
    /// use std::io::Read;
    /// let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let to = server.local_addr().unwrap();
    /// let s = Socket::tcp_for(&to)?;
    /// s.bind(&"127.0.0.1:0".parse().unwrap())?;               // ConnectEx needs a bound socket
    /// let mut ov = Overlapped::new(&Event::new());
    /// match s.connect_ex(&to, &mut ov, BufList::from(b"123".to_vec())) {
    ///     Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
    ///     Err(e) => return Err(e),
    /// }
    /// assert_eq!(get_overlapped_result(&s, &ov, true)?.0, 3);  // the bytes sent with the connect
    /// s.update_connect_context()?;                            // SO_UPDATE_CONNECT_CONTEXT
    /// let (mut peer, _) = server.accept().unwrap();
    /// let mut got = [0u8; 3];
    /// peer.read_exact(&mut got).unwrap();
    /// assert_eq!(&got, b"123");
    /// # Ok::<(), WsaError>(())
    /// ```
    #[doc(alias = "ConnectEx")]
    #[doc(alias = "LPFN_CONNECTEX")]
    #[doc(alias = "WSAID_CONNECTEX")]
    pub fn connect_ex(
        &self,
        addr: &SocketAddr,
        overlapped: &mut Overlapped,
        send: impl Into<BufList>,
    ) -> WsaResult<u32> {
        let kind = self.connect_ex_kind(addr)?;
        let r = self.start_overlapped(overlapped, kind, send.into());
        self.connect_started(r)
    }

    /// `ConnectEx` whose completion runs `routine` on this thread, in its
    /// next alertable wait. Arguments, results and errors as
    /// [`Socket::connect_ex`]; the routine gets the bytes sent and the send
    /// buffers back.
    #[doc(alias = "ConnectEx")]
    pub fn connect_ex_with<F>(
        &self,
        addr: &SocketAddr,
        send: impl Into<BufList>,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let kind = self.connect_ex_kind(addr)?;
        let r = self.start_routine(kind, send.into(), routine);
        self.connect_started(r)
    }

    /// Finishes a `ConnectEx`-connected socket's set-up
    /// (`setsockopt(SO_UPDATE_CONNECT_CONTEXT, NULL, 0)`, [fact 102](crate::semantics#fact-102)): after
    /// it, `peer_addr` and `shutdown` work. `WSAENOTSOCK` if closed,
    /// `WSAENOTCONN` if not connected. Setting it again is harmless.
    #[doc(alias = "SO_UPDATE_CONNECT_CONTEXT")]
    pub fn update_connect_context(&self) -> WsaResult<()> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        if self.inner.conn.origin() != conn::Origin::Connected {
            return Err(WsaError::WSAENOTCONN);
        }
        self.inner.conn.update_context(conn::CONTEXT_CONNECT)
    }

    /// Seconds since the socket's connection was made
    /// (`getsockopt(SO_CONNECT_TIME)`, [fact 97](crate::semantics#fact-97)): 0 right after, and
    /// [`CONNECT_TIME_NOT_CONNECTED`] (`0xFFFFFFFF`) while not connected.
    /// A server uses it to find clients accepted by `AcceptEx` (with a
    /// receive) that never send.
    #[doc(alias = "SO_CONNECT_TIME")]
    pub fn connect_time(&self) -> WsaResult<u32> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        if let Some(s) = self.inner.conn.seconds() {
            return Ok(s);
        }
        // Connected some other way (a non-blocking connect that finished):
        // start counting now.
        if self.inner.is_stream() && self.as_socket2().peer_addr().is_ok() {
            self.inner
                .conn
                .connected(self.inner.conn.origin_or_connected(), conn::CONTEXT_NONE);
            return Ok(0);
        }
        Ok(CONNECT_TIME_NOT_CONNECTED)
    }

    /// Connects, blocking until the connection is made or fails
    /// (`connect` / `WSAConnect`). An unbound socket is bound by the kernel.
    /// While it waits, the wait is alertable: APCs and completion routines
    /// queued to the thread run inside the call, which then goes on waiting
    /// ([fact 7](crate::semantics#fact-7)). On a non-blocking socket it returns `WSAEWOULDBLOCK` at
    /// once and the connection goes on (`WSAEALREADY` if asked again while
    /// it does). `WSAEINVAL` while an `AcceptEx` or `ConnectEx` is pending
    /// on the socket (facts [89](crate::semantics#fact-89), [101](crate::semantics#fact-101)); `WSAEISCONN` once connected;
    /// `WSAECONNREFUSED`, `WSAETIMEDOUT`, `WSAENETUNREACH` as the kernel says.
    #[doc(alias = "WSAConnect")]
    pub fn connect(&self, addr: &SocketAddr) -> WsaResult<()> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        let state = self.inner.conn.state();
        if state == conn::ACCEPTING || state == CONNECTING {
            return Err(WsaError::WSAEINVAL);
        }
        let sock = self.as_socket2();
        if !self.is_stream() || self.is_nonblocking() {
            return match sock.connect(&(*addr).into()) {
                Ok(()) => {
                    self.mark_connected_by_connect();
                    Ok(())
                }
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                    let _ = self.inner.conn.begin(CONNECTING_NB);
                    Err(WsaError::WSAEWOULDBLOCK)
                }
                Err(e) => Err(WsaError::from_io(&e)),
            };
        }
        if self.inner.connecting() {
            return Err(WsaError::WSAEALREADY);
        }
        if sock.peer_addr().is_ok() {
            return Err(WsaError::WSAEISCONN);
        }
        self.inner.conn.begin(CONNECTING)?;
        let kind = OpKind::Connect(Box::new(ConnectSpec {
            addr: *addr,
            phase: ConnectPhase::Connecting,
            ex: false,
        }));
        let r = self.run_alertable(kind, BufList::new(), None);
        self.connect_started(r).map(|_| ())
    }

    fn mark_connected_by_connect(&self) {
        self.inner.set_connected(true);
        if self.is_stream() {
            self.inner
                .conn
                .connected(conn::Origin::Connected, conn::CONTEXT_NONE);
        }
    }

    pub(crate) fn connect_ex_kind(&self, addr: &SocketAddr) -> WsaResult<OpKind> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        let sock = self.as_socket2();
        if !self.is_stream() || sock.is_listener().unwrap_or(false) {
            return Err(WsaError::WSAEINVAL);
        }
        // A non-blocking connect that finished frees the socket (`connecting`
        // notices); anything still in progress makes it busy.
        if self.inner.conn.state() != conn::IDLE {
            let _ = self.inner.connecting();
            if self.inner.conn.state() != conn::IDLE {
                return Err(WsaError::WSAEINVAL);
            }
        }
        if sock.peer_addr().is_ok() {
            return Err(WsaError::WSAEISCONN);
        }
        let local = sock.local_addr().ok().and_then(|a| a.as_socket());
        let Some(local) = local.filter(|a| a.port() != 0) else {
            return Err(WsaError::WSAEINVAL);
        };
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return Err(WsaError::WSAEADDRNOTAVAIL);
        }
        if local.is_ipv6() != addr.is_ipv6() {
            return Err(WsaError::WSAEAFNOSUPPORT);
        }
        self.inner.conn.begin(CONNECTING)?;
        Ok(OpKind::Connect(Box::new(ConnectSpec {
            addr: *addr,
            phase: ConnectPhase::Connecting,
            ex: true,
        })))
    }

    /// After the start of a connect: one that never started leaves the socket free.
    pub(crate) fn connect_started(&self, r: WsaResult<u32>) -> WsaResult<u32> {
        if let Err(e) = r {
            if e != WsaError::WSA_IO_PENDING {
                self.inner.conn.end(CONNECTING);
            }
        }
        r
    }
}
