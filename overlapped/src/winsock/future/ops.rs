//! The `*_async` calls: every overlapped operation of a socket as a future.

use std::net::SocketAddr;

use super::{bytes_and_buffers, whole, AsyncOp};
use crate::model::flags::FlagCall;
use crate::{BufList, Completion, Control, MsgFlags, MsgSpace, Socket, WsaResult};

impl Socket {
    /// `WSARecv` as a future: resolves to `(Ok(bytes), buffers)` or
    /// `(Err(code), buffers)`; the buffers always come back.
    ///
    /// Takes the buffers (filled in order, `bytes` of them written) and
    /// `flags` (`PEEK`, `OOB`, `WAITALL`, as [`Socket::recv`]). Errors: those
    /// of [`Socket::recv`] (`WSAEINVAL` for zero buffers, `WSAENOTSOCK` on a
    /// closed socket, `WSAESHUTDOWN`, `WSAECONNRESET`, `WSAECONNABORTED` if
    /// the socket is closed while it waits, `WSAEMSGSIZE` with the bytes that
    /// fit for a truncated datagram), and `WSA_OPERATION_ABORTED` if
    /// cancelled (`cancel_io_ex`). `Ok(0)` on a stream is the peer's
    /// orderly close. One empty buffer waits for data without consuming it.
    ///
    /// **Cancel safety** (stream sockets): no bytes are lost. Dropping the
    /// future before it is ready cancels the receive; bytes the kernel had
    /// not yet given it stay in the socket. If the receive had already
    /// completed (the cancel came too late, or the task was not polled
    /// again), its bytes go back to the socket, in front of the rest: the
    /// next receive of any kind (`recv_async`, [`Socket::recv`],
    /// [`Socket::recv_with`], [`Socket::recv_sync`]) reads them first, and
    /// `FIONREAD` counts them. So it is cancel-safe in `select!`'s sense
    /// when one receive at a time is pending on the socket (several at once:
    /// a later one already in the kernel may get later bytes before the
    /// given-back ones). A `PEEK` or `OOB` receive consumes nothing to give
    /// back. On a datagram socket a datagram taken by a dropped future is
    /// lost (see [`Socket::recv_from_async`]).
    ///
    /// ```
    /// use overlapped::{block_on, BufList, MsgFlags, Socket};
    /// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
    /// let client = Socket::tcp_for(&listener.local_addr()?)?;
    /// client.connect(&listener.local_addr()?)?;
    /// let (server, _) = listener.accept()?;
    /// block_on(async {
    ///     let (sent, _) = client.send_async(b"hello".to_vec(), MsgFlags::empty()).await;
    ///     assert_eq!(sent, Ok(5));
    ///     let (got, bufs) = server.recv_async(BufList::zeroed(64), MsgFlags::empty()).await;
    ///     assert_eq!(got, Ok(5));
    ///     assert_eq!(bufs.gather(5), b"hello");
    /// });
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "WSARecv")]
    pub fn recv_async(
        &self,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
    ) -> AsyncOp<(WsaResult<u32>, BufList)> {
        let bufs = buffers.into();
        let kind = self.recv_kind(&bufs, flags);
        AsyncOp::new(&self.inner, kind, bufs, bytes_and_buffers)
    }

    /// `WSASend` as a future: resolves to `(Ok(bytes), buffers)` once every
    /// byte is sent (stream sends complete whole, [fact 12](crate::semantics#fact-12)), or
    /// `(Err(code), buffers)`.
    ///
    /// Errors: those of [`Socket::send`] (`WSAEINVAL`, `WSAENOTSOCK`,
    /// `WSAESHUTDOWN`, `WSAECONNRESET`, ...), and `WSA_OPERATION_ABORTED` if
    /// cancelled part-way.
    ///
    /// **Cancel safety**: none for the bytes. Dropping the future cancels
    /// the send; some prefix of the bytes may already be on the wire and
    /// the caller cannot learn how much (a kept future reports it:
    /// `WSA_OPERATION_ABORTED` with the count in a completion of
    /// [`Socket::send_with`]). Sends queued on the same socket after it keep
    /// their order.
    #[doc(alias = "WSASend")]
    pub fn send_async(
        &self,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
    ) -> AsyncOp<(WsaResult<u32>, BufList)> {
        let bufs = buffers.into();
        let kind = self.send_kind(&bufs, flags);
        AsyncOp::new(&self.inner, kind, bufs, bytes_and_buffers)
    }

    /// `WSARecvFrom` as a future: resolves to a [`Completion`] with the
    /// error (`NO_ERROR`, or `WSAEMSGSIZE` for a truncated datagram with
    /// `bytes` = what fit), the bytes, the flags, the buffers and the source
    /// address (`from`; `None` on a stream socket, [fact 72](crate::semantics#fact-72)).
    ///
    /// Errors as [`Socket::recv_from`] (`WSAEINVAL` for an unbound socket,
    /// `WSAEOPNOTSUPP` for flags a datagram cannot honour, ...).
    ///
    /// **Cancel safety**: a datagram is never split. Dropping the future
    /// before the datagram was taken leaves it in the socket for the next
    /// receive; dropped after the receive completed, the datagram is lost
    /// with the future (as a UDP datagram may be anyway).
    #[doc(alias = "WSARecvFrom")]
    pub fn recv_from_async(
        &self,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
    ) -> AsyncOp<Completion> {
        let bufs = buffers.into();
        let kind = if self.is_stream() {
            self.recv_kind(&bufs, flags)
        } else {
            self.recv_msg_kind(&bufs, MsgSpace::default(), flags, false)
        };
        AsyncOp::new(&self.inner, kind, bufs, whole)
    }

    /// `WSASendTo` as a future: one datagram to `to`; resolves to
    /// `(Ok(bytes), buffers)` or `(Err(code), buffers)`. On a stream socket
    /// it is [`Socket::send_async`] ([fact 72](crate::semantics#fact-72)). Errors as [`Socket::send_to`]
    /// (`WSAEMSGSIZE` over 65,507 bytes, `WSAEAFNOSUPPORT`, ...).
    ///
    /// **Cancel safety**: a datagram goes whole or not at all; dropping the
    /// future leaves it unknown which.
    #[doc(alias = "WSASendTo")]
    pub fn send_to_async(
        &self,
        buffers: impl Into<BufList>,
        to: &SocketAddr,
        flags: MsgFlags,
    ) -> AsyncOp<(WsaResult<u32>, BufList)> {
        let bufs = buffers.into();
        let kind = if self.is_stream() {
            self.send_kind(&bufs, flags)
        } else {
            self.send_msg_kind(&bufs, Some(to), Control::new(), flags, FlagCall::Send)
        };
        AsyncOp::new(&self.inner, kind, bufs, bytes_and_buffers)
    }

    /// `WSARecvMsg` as a future: resolves to a [`Completion`] with the data,
    /// the source address (`from`), the control data (`control`) and the
    /// flags (`CTRUNC`, `TRUNC`). Datagram sockets only; errors as
    /// [`Socket::recv_msg`] (`WSAEFAULT` for a short `space.name_len`,
    /// `WSAEMSGSIZE` with the bytes that fit when data or control is cut).
    ///
    /// **Cancel safety**: as [`Socket::recv_from_async`].
    #[doc(alias = "WSARecvMsg")]
    pub fn recv_msg_async(
        &self,
        buffers: impl Into<BufList>,
        space: MsgSpace,
        flags: MsgFlags,
    ) -> AsyncOp<Completion> {
        let bufs = buffers.into();
        let kind = self.recv_msg_kind(&bufs, space, flags, true);
        AsyncOp::new(&self.inner, kind, bufs, whole)
    }

    /// `WSASendMsg` as a future: one datagram to `to` (the connected peer
    /// when `None`) with `control`; resolves to `(Ok(bytes), buffers)` or
    /// `(Err(code), buffers)`. Errors as [`Socket::send_msg`].
    ///
    /// **Cancel safety**: as [`Socket::send_to_async`].
    #[doc(alias = "WSASendMsg")]
    pub fn send_msg_async(
        &self,
        buffers: impl Into<BufList>,
        to: Option<&SocketAddr>,
        control: Control,
        flags: MsgFlags,
    ) -> AsyncOp<(WsaResult<u32>, BufList)> {
        let bufs = buffers.into();
        let kind = self.send_msg_kind(&bufs, to, control, flags, FlagCall::SendMsg);
        AsyncOp::new(&self.inner, kind, bufs, bytes_and_buffers)
    }
}
