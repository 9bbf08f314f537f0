//! `DisconnectEx` (facts [104](crate::semantics#fact-104)–[107](crate::semantics#fact-107)); its flags are the `TF_*`
//! [`TransmitFlags`] it shares with `TransmitFile` / `TransmitPackets`.
//!
//! Without `TF_REUSE_SOCKET` it is the send side's shutdown. With it, the
//! socket gets a fresh, unconnected endpoint behind the same descriptor
//! number when the operation completes, so the same [`Socket`] goes to
//! [`Socket::accept_ex`] or [`Socket::connect_ex`] again: a server that
//! recycles sockets never creates or closes one in steady state (see
//! DESIGN.md, "Connections").

use crate::model::completion::Completion;
use crate::model::op::OpKind;
use crate::{BufList, Overlapped, Socket, TransmitFlags, WsaError, WsaResult};

impl Socket {
    /// Closes the connection and, with [`TransmitFlags::REUSE_SOCKET`],
    /// prepares the socket for reuse (`DisconnectEx`).
    ///
    /// Without `REUSE_SOCKET` (flags empty): the send side is shut down once
    /// the sends already started have gone (it queues behind them): the
    /// peer reads the end of the stream; later sends here fail with
    /// `WSAESHUTDOWN`; `peer_addr` still answers; the peer may go on sending
    /// and this socket receives it ([fact 106](crate::semantics#fact-106)).
    ///
    /// With `REUSE_SOCKET`: the same, then the connection is closed as
    /// `closesocket` would close it, and the socket is a fresh, unconnected
    /// TCP socket of the same family (same descriptor number): an accepted
    /// socket is unbound (ready for [`Socket::accept_ex`]); a socket that had
    /// connected out is bound to the same local IP with a new port (ready
    /// for [`Socket::connect_ex`]). Receives still pending on the old
    /// connection complete with 0 bytes. `TCP_NODELAY`, `SO_KEEPALIVE`,
    /// `SO_LINGER` and non-blocking mode carry over ([fact 107](crate::semantics#fact-107)).
    ///
    /// Returns 0 (bytes) if it completed at once, else `Err(WSA_IO_PENDING)`;
    /// it completes with 0 bytes ([fact 105](crate::semantics#fact-105)). Errors that mean nothing
    /// started: `WSAENOTSOCK` (closed), `WSAENOTCONN` (not connected),
    /// `WSAEINVAL` (flags other than `REUSE_SOCKET`), `WSAEOPNOTSUPP` (a
    /// datagram socket) ([fact 104](crate::semantics#fact-104)).
    ///
    /// ```
    /// use overlapped::{get_overlapped_result, Event, Overlapped, Socket, TransmitFlags, WsaError};
    /// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 8)?;
    /// let s = Socket::tcp_for(&listener.local_addr()?)?;
    /// s.connect(&listener.local_addr()?)?;
    /// let mut ov = Overlapped::new(&Event::new());
    /// match s.disconnect_ex(&mut ov, TransmitFlags::REUSE_SOCKET) {
    ///     Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
    ///     Err(e) => return Err(e),
    /// }
    /// assert_eq!(get_overlapped_result(&s, &ov, true)?.0, 0);
    /// assert_eq!(s.peer_addr(), Err(WsaError::WSAENOTCONN));   // a fresh endpoint, same socket
    /// s.connect(&listener.local_addr()?)?;                     // ... that connects again
    /// # Ok::<(), WsaError>(())
    /// ```
    #[doc(alias = "DisconnectEx")]
    #[doc(alias = "LPFN_DISCONNECTEX")]
    #[doc(alias = "WSAID_DISCONNECTEX")]
    pub fn disconnect_ex(
        &self,
        overlapped: &mut Overlapped,
        flags: TransmitFlags,
    ) -> WsaResult<u32> {
        let kind = self.disconnect_kind(flags)?;
        self.start_overlapped(overlapped, kind, BufList::new())
    }

    /// `DisconnectEx` whose completion runs `routine` on this thread, in its
    /// next alertable wait. As [`Socket::disconnect_ex`].
    #[doc(alias = "DisconnectEx")]
    pub fn disconnect_ex_with<F>(&self, flags: TransmitFlags, routine: F) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let kind = self.disconnect_kind(flags)?;
        self.start_routine(kind, BufList::new(), routine)
    }

    /// `DisconnectEx` with a NULL `lpOverlapped`: returns when it is done,
    /// waiting alertably if it has to wait ([fact 7](crate::semantics#fact-7)). Calling it twice
    /// without `REUSE_SOCKET` succeeds both times ([fact 105](crate::semantics#fact-105)).
    #[doc(alias = "DisconnectEx")]
    pub fn disconnect_ex_sync(&self, flags: TransmitFlags) -> WsaResult<()> {
        let kind = self.disconnect_kind(flags)?;
        self.run_alertable(kind, BufList::new(), None).map(|_| ())
    }

    pub(crate) fn disconnect_kind(&self, flags: TransmitFlags) -> WsaResult<OpKind> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        if flags.bits() & !TransmitFlags::REUSE_SOCKET.bits() != 0 {
            return Err(WsaError::WSAEINVAL);
        }
        if !self.is_stream() {
            return Err(WsaError::WSAEOPNOTSUPP);
        }
        if self.as_socket2().peer_addr().is_err() {
            return Err(WsaError::WSAENOTCONN);
        }
        Ok(OpKind::Disconnect {
            reuse: flags.contains(TransmitFlags::REUSE_SOCKET),
        })
    }
}
