//! The connection calls as futures: `AcceptEx` and `ConnectEx`.
//!
//! Unlike the send and receive futures these start **at the call** (on the
//! calling thread's ring): the sockets' connection state changes when the
//! call is made, as with the record and routine forms, so a future that is
//! never polled still has a running operation, which its drop cancels.

use std::net::SocketAddr;

use super::{bytes_and_buffers, AsyncOp};
use crate::{BufList, Socket, WsaResult};

impl Socket {
    /// `AcceptEx` as a future, on a listening socket: accepts a connection
    /// into `accept_socket`, receiving up to `receive_len` bytes of its first
    /// data into `output`. Resolves to `(Ok(bytes received), output)` or
    /// `(Err(code), output)`. Takes and returns what [`Socket::accept_ex`]
    /// does (the addresses after the data, read with
    /// `get_accept_ex_sockaddrs`); the same errors at the call (then the
    /// future is ready at once with them). After it, call
    /// [`Socket::update_accept_context`] on the accepted socket.
    ///
    /// **Cancel safety**: dropping the future cancels the accept. A
    /// connection not yet taken stays in the listener's backlog for the next
    /// accept; one already accepted into `accept_socket` (the accept raced
    /// the cancel) stays on that socket, and the first data it had received
    /// goes back to it: the accepted socket's next receive reads it first
    /// (as for a dropped `recv_async`; not for an accept that completed
    /// during the call and is dropped without being polled).
    ///
    /// ```
    /// use overlapped::{block_on, Socket, ACCEPT_EX_ADDRESS_LEN as N};
    /// use std::io::Write;
    /// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 8)?;
    /// let accept = Socket::tcp_for(&listener.local_addr()?)?;
    /// let fut = listener.accept_ex_async(&accept, vec![0u8; 64 + 2 * N as usize], 64, N, N);
    /// let mut client = std::net::TcpStream::connect(listener.local_addr()?).unwrap();
    /// client.write_all(b"hello").unwrap();
    /// let (n, out) = block_on(fut);
    /// assert_eq!(&out.first()[..n? as usize], b"hello");
    /// accept.update_accept_context(&listener)?;
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "AcceptEx")]
    pub fn accept_ex_async(
        &self,
        accept_socket: &Socket,
        output: Vec<u8>,
        receive_len: u32,
        local_len: u32,
        remote_len: u32,
    ) -> AsyncOp<(WsaResult<u32>, BufList)> {
        let kind = self.accept_ex_kind(accept_socket, &output, receive_len, local_len, remote_len);
        let bufs = BufList::from(output);
        match kind {
            Err(e) => AsyncOp::new(&self.inner, Err(e), bufs, bytes_and_buffers),
            Ok(kind) => {
                let (op, never) = AsyncOp::start_now(&self.inner, kind, bufs, bytes_and_buffers);
                if let Some(e) = never {
                    let _ = crate::winsock::accept::started(accept_socket, Err(e));
                }
                op
            }
        }
    }

    /// `ConnectEx` as a future, on a bound, unconnected stream socket:
    /// connects to `addr`, then sends `send` (may be empty). Resolves to
    /// `(Ok(bytes sent), send)` or `(Err(code), send)`; the errors of
    /// [`Socket::connect_ex`] (`WSAECONNREFUSED`, `WSAETIMEDOUT`, and at the
    /// call `WSAEINVAL` for an unbound socket, `WSAEISCONN`, ...). After it,
    /// call [`Socket::update_connect_context`].
    ///
    /// **Cancel safety**: dropping the future cancels the connect (the
    /// socket may then try again); if it had already connected, it stays
    /// connected and whatever of `send` went, went.
    #[doc(alias = "ConnectEx")]
    pub fn connect_ex_async(
        &self,
        addr: &SocketAddr,
        send: impl Into<BufList>,
    ) -> AsyncOp<(WsaResult<u32>, BufList)> {
        let bufs = send.into();
        match self.connect_ex_kind(addr) {
            Err(e) => AsyncOp::new(&self.inner, Err(e), bufs, bytes_and_buffers),
            Ok(kind) => {
                let (op, never) = AsyncOp::start_now(&self.inner, kind, bufs, bytes_and_buffers);
                if let Some(e) = never {
                    let _ = self.connect_started(Err(e));
                }
                op
            }
        }
    }
}
