//! Overlapped sockets inside tokio (feature `tokio`).
//!
//! * **The ring in tokio's reactor.** The first overlapped future polled on
//!   a thread inside a tokio runtime registers that thread's ring with the
//!   runtime's reactor ([`tokio::io::unix::AsyncFd`] on the ring's
//!   descriptor, readable while completions wait) and spawns a small driver
//!   task: when the ring has completions, the driver reaps and delivers them,
//!   which wakes the tasks awaiting them. No extra thread, no polling loop:
//!   a tokio worker asleep in `epoll_wait` wakes for an overlapped completion
//!   as for any socket of its own.
//! * **[`AsyncStream`]**: a stream socket with tokio's `AsyncRead` and
//!   `AsyncWrite`, through owned internal buffers, so codecs, `copy`, hyper
//!   (through `hyper_util::rt::TokioIo`) and the like run on overlapped
//!   operations.
//!
//! Works on the current-thread and the multi-thread runtimes: an operation
//! completes whichever worker thread runs the driver of the ring it started on.
//!
//! **Why `tokio_io`, not `tokio`.** A Winsock port starts with
//! `use overlapped::*;`. A module of ours named `tokio` would come in with the
//! glob and hide the tokio crate: `tokio::spawn` and `tokio::runtime` would
//! resolve here and fail. So the module has a name of its own. An alias
//! under the old name cannot be kept, deprecated or not: it would shadow the
//! crate the same way. With the glob, `tokio::` is still the tokio crate:
//!
//! ```
//! use overlapped::*;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
//! let client = Socket::tcp_for(&listener.local_addr()?)?;
//! client.connect(&listener.local_addr()?)?;
//! let (server, _) = listener.accept()?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let echo = tokio::spawn(async move {
//!         let mut s = tokio_io::AsyncStream::new(server);
//!         let mut got = [0u8; 4];
//!         s.read_exact(&mut got).await.unwrap();
//!         got
//!     });
//!     let mut c = tokio_io::AsyncStream::new(client);
//!     c.write_all(b"glob").await.unwrap();
//!     assert_eq!(&echo.await.unwrap(), b"glob");
//! });
//! # Ok::<(), overlapped::WsaError>(())
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{ready, Context, Poll};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::AsyncOp;
use crate::model::op::{OpSlot, Ring};
use crate::sys::RingSource;
use crate::{BufList, MsgFlags, Socket, WsaError, WsaResult};

thread_local! {
    /// Whether this thread's ring has a live driver (gone with its runtime).
    static DRIVER: RefCell<Weak<()>> = const { RefCell::new(Weak::new()) };
}

/// Called when an overlapped future starts an operation on `ring` (the
/// calling thread's): inside a tokio runtime, makes sure a driver watches it.
pub(crate) fn ensure_driver(ring: &Arc<Ring>) {
    let Ok(handle) = ::tokio::runtime::Handle::try_current() else {
        return;
    };
    let _ = DRIVER.try_with(|driver| {
        let mut driver = driver.borrow_mut();
        if driver.strong_count() > 0 {
            return;
        }
        let Ok(fd) = ring.register_with_tokio() else {
            // The reactor refused it (out of memory): futures then complete
            // only when something else drives the ring.
            return;
        };
        let alive = Arc::new(());
        *driver = Arc::downgrade(&alive);
        handle.spawn(drive(Driver { fd, _alive: alive }));
    });
}

struct Driver {
    fd: AsyncFd<RingSource<OpSlot>>,
    _alive: Arc<()>,
}

async fn drive(driver: Driver) {
    loop {
        let Ok(mut guard) = driver.fd.readable().await else {
            return;
        };
        // Clear first, then reap: a completion posted after the reap makes
        // the descriptor readable again and brings us back.
        guard.clear_ready();
        drop(guard);
        // Busy means another thread holds the ring; it may not reap (a
        // submission only), so look again soon rather than wait for an edge.
        while !driver.fd.get_ref().ring().try_drive() {
            ::tokio::task::yield_now().await;
        }
    }
}

/// The default size of each of [`AsyncStream`]'s two buffers.
pub const STREAM_BUFFER: usize = 16 * 1024;

/// A connected stream [`Socket`] with tokio's [`AsyncRead`] and
/// [`AsyncWrite`], carried out by overlapped receives and sends.
///
/// Reads receive into an internal buffer (one `WSARecv` in flight at most)
/// and copy out of it; writes copy into an internal buffer and start a
/// `WSASend`, reporting the bytes as written once the send has *started*; a
/// failure of that send is reported by the next write, flush or shutdown.
/// `poll_flush` waits until every started send has completed;
/// `poll_shutdown` flushes, then shuts down sending (`SD_SEND`, a FIN).
///
/// **Cancel safety**: reads are cancel-safe (a dropped `read` future leaves
/// the receive in flight in the stream, and its bytes go to the next read);
/// writes are as tokio's (`write_all` may have written a prefix).
///
/// Errors are `io::Error`s wrapping the [`WsaError`], with the kind of the
/// matching errno (`WSAECONNRESET` → `ConnectionReset`, ...). End of stream
/// (the peer's FIN) is a read of 0 bytes.
///
/// ```
/// use overlapped::{tokio_io::AsyncStream, Socket};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
/// let client = Socket::tcp_for(&listener.local_addr()?)?;
/// client.connect(&listener.local_addr()?)?;
/// let (server, _) = listener.accept()?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let (mut c, mut s) = (AsyncStream::new(client), AsyncStream::new(server));
///     c.write_all(b"over tokio").await.unwrap();
///     c.shutdown().await.unwrap();
///     let mut got = Vec::new();
///     s.read_to_end(&mut got).await.unwrap();
///     assert_eq!(got, b"over tokio");
/// });
/// # Ok::<(), overlapped::WsaError>(())
/// ```
pub struct AsyncStream {
    socket: Socket,
    /// The receive buffer; `None` while a receive holds it.
    rbuf: Option<BufList>,
    rpos: usize,
    rlen: usize,
    reading: Option<AsyncOp<(WsaResult<u32>, BufList)>>,
    wbuf: Option<BufList>,
    writing: Option<AsyncOp<(WsaResult<u32>, BufList)>>,
    wcap: usize,
}

impl AsyncStream {
    /// Wraps a connected stream socket, with buffers of [`STREAM_BUFFER`] bytes.
    pub fn new(socket: Socket) -> AsyncStream {
        AsyncStream::with_buffers(socket, STREAM_BUFFER, STREAM_BUFFER)
    }

    /// Wraps a connected stream socket with a receive buffer of `read`
    /// bytes and a send buffer of up to `write` bytes (each at least 1).
    pub fn with_buffers(socket: Socket, read: usize, write: usize) -> AsyncStream {
        AsyncStream {
            socket,
            rbuf: Some(BufList::zeroed(read.max(1))),
            rpos: 0,
            rlen: 0,
            reading: None,
            wbuf: Some(BufList::from(Vec::<u8>::with_capacity(write.max(1)))),
            writing: None,
            wcap: write.max(1),
        }
    }

    /// The socket underneath.
    pub fn get_ref(&self) -> &Socket {
        &self.socket
    }

    /// Waits for the send in flight, if any; its error, if it failed.
    fn poll_sent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(op) = self.writing.as_mut() {
            let (result, bufs) = ready!(Pin::new(op).poll(cx));
            self.writing = None;
            self.wbuf = Some(bufs);
            result.map_err(to_io)?;
        }
        Poll::Ready(Ok(()))
    }
}

/// A Winsock error as an `io::Error` of the matching kind.
fn to_io(e: WsaError) -> io::Error {
    let kind = match e {
        WsaError::WSAECONNRESET => io::ErrorKind::ConnectionReset,
        WsaError::WSAECONNABORTED => io::ErrorKind::ConnectionAborted,
        WsaError::WSAESHUTDOWN => io::ErrorKind::BrokenPipe,
        WsaError::WSAENOTCONN => io::ErrorKind::NotConnected,
        WsaError::WSAETIMEDOUT => io::ErrorKind::TimedOut,
        WsaError::WSA_OPERATION_ABORTED => io::ErrorKind::Interrupted,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.rpos < this.rlen {
                if let Some(bufs) = &this.rbuf {
                    let n = (this.rlen - this.rpos).min(out.remaining());
                    out.put_slice(&bufs.first()[this.rpos..this.rpos + n]);
                    this.rpos += n;
                    return Poll::Ready(Ok(()));
                }
            }
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let op = match this.reading.as_mut() {
                Some(op) => op,
                None => {
                    let bufs = this
                        .rbuf
                        .take()
                        .unwrap_or_else(|| BufList::zeroed(STREAM_BUFFER));
                    this.reading
                        .insert(this.socket.recv_async(bufs, MsgFlags::empty()))
                }
            };
            let (result, bufs) = ready!(Pin::new(op).poll(cx));
            this.reading = None;
            this.rbuf = Some(bufs);
            this.rpos = 0;
            this.rlen = 0;
            match result {
                Ok(0) => return Poll::Ready(Ok(())), // end of stream
                Ok(n) => this.rlen = n as usize,
                Err(e) => return Poll::Ready(Err(to_io(e))),
            }
        }
    }
}

impl AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_sent(cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut bufs = this.wbuf.take().unwrap_or_default();
        let n = data.len().min(this.wcap);
        match bufs.buffers_mut().first_mut() {
            Some(v) => {
                v.clear();
                v.extend_from_slice(&data[..n]);
            }
            None => bufs.push(data[..n].to_vec()),
        }
        bufs.unlimit();
        let mut op = this.socket.send_async(bufs, MsgFlags::empty());
        match Pin::new(&mut op).poll(cx) {
            Poll::Ready((result, bufs)) => {
                this.wbuf = Some(bufs);
                result.map_err(to_io)?;
            }
            Poll::Pending => this.writing = Some(op),
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_sent(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_sent(cx))?;
        Poll::Ready(
            this.socket
                .shutdown(std::net::Shutdown::Write)
                .map_err(to_io),
        )
    }
}

impl std::fmt::Debug for AsyncStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStream")
            .field("buffered", &(self.rlen - self.rpos))
            .field("reading", &self.reading.is_some())
            .field("writing", &self.writing.is_some())
            .finish()
    }
}
