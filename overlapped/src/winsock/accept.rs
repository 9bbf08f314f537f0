//! `AcceptEx` (facts [84](crate::semantics#fact-84)–[97](crate::semantics#fact-97)), `SO_UPDATE_ACCEPT_CONTEXT`, and the blocking
//! `accept`, which waits alertably ([fact 7](crate::semantics#fact-7)).
//!
//! An `AcceptEx` is issued on the **listener** (its completion signals the
//! listener's record or routine, [fact 85](crate::semantics#fact-85)) and names an *accept socket* the
//! caller created: Linux's accept makes a new descriptor, which is moved
//! behind the accept socket's own descriptor number (`dup3`), so the accept
//! socket *is* the connection afterwards. See DESIGN.md, "Connections".

use std::net::SocketAddr;

use crate::model::completion::Completion;
use crate::model::conn::{self, ACCEPTING};
use crate::model::conn_ops::{AcceptPhase, AcceptSpec};
use crate::model::op::OpKind;
use crate::winsock::accept_addrs::area_len;
use crate::{BufList, Overlapped, Socket, WsaError, WsaResult};

impl Socket {
    /// Accepts a connection into `accept_socket` (`AcceptEx`), optionally
    /// receiving the first data with it. `self` is the listening socket.
    ///
    /// * `accept_socket`: a new, unbound, unconnected TCP socket of the
    ///   listener's family; on success it is the accepted connection.
    /// * `output`: one buffer, at least `receive_len + local_len +
    ///   remote_len` bytes, owned by the operation until it completes (then
    ///   [`Overlapped::take_buffers`] gives it back). The first data goes to
    ///   `output[..receive_len]`, the addresses after it: read them with
    ///   [`crate::get_accept_ex_sockaddrs`].
    /// * `receive_len`: 0 completes as soon as a connection is accepted;
    ///   more completes only when the first data arrives, with the bytes
    ///   that arrived (up to `receive_len`), or with 0 bytes if the client
    ///   closes without sending ([fact 86](crate::semantics#fact-86)).
    /// * `local_len`, `remote_len`: the address areas, each at least the
    ///   address size + 16 bytes (32 for IPv4, 44 for IPv6;
    ///   [`crate::ACCEPT_EX_ADDRESS_LEN`] fits both). `local_len` may be 0
    ///   (no local address is written). A shorter area is accepted, but the
    ///   operation then completes, when a connection is queued, with
    ///   `ERROR_INSUFFICIENT_BUFFER` and 0 bytes, and leaves that connection
    ///   queued for the next accept ([fact 87](crate::semantics#fact-87)).
    ///
    /// Returns the byte count if it completed at once, else
    /// `Err(WSA_IO_PENDING)`; completion is reported through the
    /// **listener**: [`crate::get_overlapped_result`] takes the listener
    /// ([fact 85](crate::semantics#fact-85)). Any other error means nothing started:
    /// `WSAENOTSOCK` (either socket closed), `WSAEINVAL` (the listener is not
    /// listening; the accept socket is not a stream socket, is bound,
    /// connected, of the other family, the listener itself, or already has
    /// an `AcceptEx` or `ConnectEx` pending: facts [88](crate::semantics#fact-88), [89](crate::semantics#fact-89)), `WSAEFAULT`
    /// (`remote_len` 0, or `output` shorter than the three lengths).
    ///
    /// After it completes, call [`Socket::update_accept_context`] on the
    /// accept socket before `local_addr`, `peer_addr` or `shutdown` (they
    /// fail with `WSAENOTCONN` until then, [fact 92](crate::semantics#fact-92)). Closing the accept
    /// socket or the listener cancels the operation
    /// (`WSA_OPERATION_ABORTED`); [`crate::cancel_io`] on the accept socket
    /// does not ([fact 93](crate::semantics#fact-93)): it is the listener's operation. Any number may
    /// be pending on one listener.
    ///
    /// ```
    /// use overlapped::{get_overlapped_result, Event, Overlapped, Socket, WsaError,
    ///                  ACCEPT_EX_ADDRESS_LEN as N};
    /// use std::io::Write;
    /// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 8)?;
    /// let accept = Socket::tcp_for(&listener.local_addr()?)?;
    /// let mut ov = Overlapped::new(&Event::new());
    /// let out = vec![0u8; 64 + 2 * N as usize];
    /// assert_eq!(listener.accept_ex(&accept, &mut ov, out, 64, N, N), Err(WsaError::WSA_IO_PENDING));
    /// let mut client = std::net::TcpStream::connect(listener.local_addr()?).unwrap();
    /// client.write_all(b"hello").unwrap();                 // the accept completes with the data
    /// let (bytes, _) = get_overlapped_result(&listener, &ov, true)?;
    /// assert_eq!(&ov.take_buffers().unwrap().first()[..bytes as usize], b"hello");
    /// accept.update_accept_context(&listener)?;            // SO_UPDATE_ACCEPT_CONTEXT
    /// assert_eq!(accept.peer_addr()?, client.local_addr().unwrap());
    /// # Ok::<(), WsaError>(())
    /// ```
    #[doc(alias = "AcceptEx")]
    #[doc(alias = "LPFN_ACCEPTEX")]
    #[doc(alias = "WSAID_ACCEPTEX")]
    pub fn accept_ex(
        &self,
        accept_socket: &Socket,
        overlapped: &mut Overlapped,
        output: Vec<u8>,
        receive_len: u32,
        local_len: u32,
        remote_len: u32,
    ) -> WsaResult<u32> {
        let kind =
            self.accept_ex_kind(accept_socket, &output, receive_len, local_len, remote_len)?;
        let r = self.start_overlapped(overlapped, kind, BufList::from(output));
        started(accept_socket, r)
    }

    /// `AcceptEx` whose completion runs `routine` on this thread, in its
    /// next alertable wait (`lpOverlapped` with a completion routine is not
    /// possible on Windows for `AcceptEx`; here the routine form exists for
    /// every call, as the model's second way). Arguments, results and errors
    /// as [`Socket::accept_ex`]; the routine gets the bytes received and the
    /// output buffer ([`Completion::buffers`]).
    #[doc(alias = "AcceptEx")]
    pub fn accept_ex_with<F>(
        &self,
        accept_socket: &Socket,
        output: Vec<u8>,
        receive_len: u32,
        local_len: u32,
        remote_len: u32,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let kind =
            self.accept_ex_kind(accept_socket, &output, receive_len, local_len, remote_len)?;
        let r = self.start_routine(kind, BufList::from(output), routine);
        started(accept_socket, r)
    }

    /// Finishes an accepted socket's set-up
    /// (`setsockopt(SO_UPDATE_ACCEPT_CONTEXT, &listener)`, [fact 92](crate::semantics#fact-92)): after
    /// it, `local_addr`, `peer_addr` and `shutdown` work. `WSAENOTSOCK` if
    /// either socket is closed; `WSAEINVAL` if `self` was not accepted.
    /// Setting it again is harmless.
    #[doc(alias = "SO_UPDATE_ACCEPT_CONTEXT")]
    pub fn update_accept_context(&self, listener: &Socket) -> WsaResult<()> {
        if self.is_closed() || listener.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        if self.inner.conn.origin() != conn::Origin::Accepted {
            return Err(WsaError::WSAEINVAL);
        }
        self.inner.conn.update_context(conn::CONTEXT_ACCEPT)
    }

    /// Accepts a connection (`accept` / `WSAAccept` without a condition
    /// function), blocking until one arrives, as the book's accepting
    /// thread does. The new socket is overlapped-capable and needs no
    /// update-context call. While it waits, the wait is alertable: APCs and
    /// completion routines queued to the thread run inside the call, which
    /// then goes on waiting ([fact 7](crate::semantics#fact-7)); none run if a connection was already
    /// queued. On a non-blocking listener it fails with `WSAEWOULDBLOCK`
    /// when none is queued. Closing or shutting down the listener (from
    /// another thread holding it) ends the wait with an error. A connection
    /// the peer reset after it arrived but before this call took it fails
    /// with `WSAECONNRESET` (the connection is gone; call again for the
    /// next), as Microsoft's `accept` page says.
    #[doc(alias = "WSAAccept")]
    pub fn accept(&self) -> WsaResult<(Socket, SocketAddr)> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        let sock = self.as_socket2();
        if self.is_nonblocking() {
            let (s, addr) = sock.accept().map_err(|e| WsaError::from_io(&e))?;
            let addr = addr.as_socket().ok_or(WsaError::WSAEAFNOSUPPORT)?;
            let s = Socket::from_socket2(s, true);
            s.inner
                .conn
                .connected(conn::Origin::Accepted, conn::CONTEXT_NONE);
            return Ok((s, addr));
        }
        let domain = sock.domain().map_err(|e| WsaError::from_io(&e))?;
        let target = Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
        target.inner.conn.begin(ACCEPTING)?;
        let kind = OpKind::Accept(Box::new(AcceptSpec {
            target: target.inner.clone(),
            receive_len: 0,
            local_len: 0,
            remote_len: 0,
            phase: AcceptPhase::Accepting,
            plain: true,
        }));
        let r = self.run_alertable(kind, BufList::new(), None);
        // Closed by another handle while blocked: as Windows reports a
        // blocking call that `closesocket` ends.
        let r = match r {
            Err(_) if self.is_closed() => Err(WsaError::WSAEINTR),
            r => r,
        };
        started(&target, r)?;
        // A connection reset between its arrival and the accept has no peer
        // any more: Windows' accept says WSAECONNRESET for it.
        let addr = target.peer_addr().map_err(|e| match e {
            WsaError::WSAENOTCONN => WsaError::WSAECONNRESET,
            e => e,
        })?;
        Ok((target, addr))
    }

    pub(crate) fn accept_ex_kind(
        &self,
        accept: &Socket,
        output: &[u8],
        receive_len: u32,
        local_len: u32,
        remote_len: u32,
    ) -> WsaResult<OpKind> {
        if self.is_closed() || accept.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        let listener = self.as_socket2();
        if !self.is_stream() || !listener.is_listener().unwrap_or(false) {
            return Err(WsaError::WSAEINVAL);
        }
        if !accept.is_stream() || std::sync::Arc::ptr_eq(&self.inner, &accept.inner) {
            return Err(WsaError::WSAEINVAL);
        }
        let acc = accept.as_socket2();
        let domain = listener.domain().map_err(|e| WsaError::from_io(&e))?;
        if acc.domain().ok() != Some(domain) {
            return Err(WsaError::WSAEINVAL);
        }
        let bound = acc
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .is_some_and(|a| a.port() != 0);
        if bound || acc.peer_addr().is_ok() {
            return Err(WsaError::WSAEINVAL);
        }
        let need = u64::from(receive_len) + u64::from(local_len) + u64::from(remote_len);
        if remote_len == 0 || (output.len() as u64) < need {
            return Err(WsaError::WSAEFAULT);
        }
        let area = area_len(domain == socket2::Domain::IPV6);
        let short = (local_len != 0 && local_len < area) || remote_len < area;
        accept.inner.conn.begin(ACCEPTING)?;
        Ok(OpKind::Accept(Box::new(AcceptSpec {
            target: accept.inner.clone(),
            receive_len,
            local_len,
            remote_len,
            phase: if short {
                AcceptPhase::Short
            } else {
                AcceptPhase::Accepting
            },
            plain: false,
        })))
    }
}

/// After the start of an accept: one that never started leaves the accept
/// socket free again.
pub(crate) fn started(accept: &Socket, r: WsaResult<u32>) -> WsaResult<u32> {
    if let Err(e) = r {
        if e != WsaError::WSA_IO_PENDING {
            accept.inner.conn.end(ACCEPTING);
        }
    }
    r
}
