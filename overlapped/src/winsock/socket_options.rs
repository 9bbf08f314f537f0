//! Sockets, continued: addresses, options, shutdown and close (after the
//! operations in the docs, as a reader needs them).

use std::net::{Shutdown, SocketAddr};

use crate::model::conn;
use crate::{Event, Socket, WsaError, WsaResult};

fn wsa(err: std::io::Error) -> WsaError {
    WsaError::from_io(&err)
}

impl Socket {
    /// The local address (`getsockname`). On a socket accepted by
    /// [`Socket::accept_ex`], `WSAENOTCONN` until
    /// [`Socket::update_accept_context`] ([fact 92](crate::semantics#fact-92)).
    #[doc(alias = "getsockname")]
    pub fn local_addr(&self) -> WsaResult<SocketAddr> {
        if self.inner.conn.require_context().is_err()
            && self.inner.conn.origin() == conn::Origin::Accepted
        {
            return Err(WsaError::WSAENOTCONN);
        }
        let a = self.as_socket2().local_addr().map_err(wsa)?;
        a.as_socket().ok_or(WsaError::WSAEINVAL)
    }

    /// The peer's address (`getpeername`). After [`Socket::accept_ex`] or
    /// [`Socket::connect_ex`], `WSAENOTCONN` until the update-context call
    /// ([`Socket::update_accept_context`], [`Socket::update_connect_context`];
    /// facts [92](crate::semantics#fact-92), [102](crate::semantics#fact-102)).
    #[doc(alias = "getpeername")]
    pub fn peer_addr(&self) -> WsaResult<SocketAddr> {
        self.inner.conn.require_context()?;
        let a = self.as_socket2().peer_addr().map_err(wsa)?;
        a.as_socket().ok_or(WsaError::WSAENOTCONN)
    }

    /// Non-blocking mode for synchronous calls (`ioctlsocket(FIONBIO)`).
    /// Overlapped operations ignore it ([fact 4](crate::semantics#fact-4)).
    #[doc(alias = "FIONBIO")]
    #[doc(alias = "ioctlsocket")]
    pub fn set_nonblocking(&self, nonblocking: bool) -> WsaResult<()> {
        crate::sys::nonblock::set_nonblocking(self.inner.fd(), nonblocking).map_err(wsa)?;
        // Remembered for the inline transmit path (no `F_GETFL` per call).
        self.inner
            .nonblocking
            .store(nonblocking, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The caller's blocking mode (what [`Socket::set_nonblocking`] set):
    /// never the epoll backend's one-call switch of it (`sys::nonblock`).
    pub(crate) fn is_nonblocking(&self) -> bool {
        crate::sys::nonblock::nonblocking(self.inner.fd()).unwrap_or(false)
    }

    /// The socket2 view, for options (`setsockopt` / `getsockopt`):
    /// `SO_LINGER`, `TCP_NODELAY`, buffer sizes, ...
    #[doc(alias = "setsockopt")]
    #[doc(alias = "getsockopt")]
    pub fn as_socket2(&self) -> &socket2::Socket {
        &self.inner.sock
    }

    /// True for a stream (TCP) socket.
    #[doc(alias = "SO_TYPE")]
    pub fn is_stream(&self) -> bool {
        self.inner.is_stream()
    }

    /// The socket's own event ([fact 20](crate::semantics#fact-20)): operations started with an
    /// [`crate::Overlapped::without_event`] record signal it.
    #[doc(alias = "WSAEventSelect")]
    pub fn event(&self) -> &Event {
        &self.inner.event
    }

    /// Shuts down one or both directions (`shutdown`, facts [67](crate::semantics#fact-67)-[69](crate::semantics#fact-69)).
    ///
    /// Sending (`SD_SEND`): the peer gets the end of the stream; new sends
    /// fail with `WSAESHUTDOWN`. Receiving (`SD_RECEIVE`): new receives fail
    /// with `WSAESHUTDOWN`, but a receive already pending is not disturbed
    /// and still completes with data that arrives later ([fact 67](crate::semantics#fact-67)): the
    /// kernel's `SHUT_RD` is not used, since it would end that receive with
    /// 0 bytes. An unconnected stream socket fails with `WSAENOTCONN`; a
    /// datagram socket accepts shutdown either way ([fact 69](crate::semantics#fact-69)).
    ///
    /// A listening socket is shut down by the kernel, which wakes a thread
    /// blocked in [`Socket::accept`] (how the servers stop); Windows would
    /// fail with `WSAENOTCONN` instead (a deviation, see DESIGN.md).
    pub fn shutdown(&self, how: Shutdown) -> WsaResult<()> {
        self.shutdown_now(how)
    }

    /// Closes the socket (`closesocket`). Pending operations complete with
    /// `WSA_OPERATION_ABORTED` (`WSAECONNABORTED` for a connected stream
    /// receive) through their usual notification.
    ///
    /// As `closesocket` does, this closes the socket for every handle: the
    /// other clones then fail with `WSAENOTSOCK`, and a thread blocked in
    /// [`Socket::accept`] on it wakes with `WSAEINTR`. Fails with
    /// `WSAENOTSOCK` if the socket was already closed.
    #[doc(alias = "closesocket")]
    pub fn close(self) -> WsaResult<()> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        self.close_now();
        Ok(())
    }
}
