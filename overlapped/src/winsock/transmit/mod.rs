//! `TransmitFile` and `TransmitPackets`: files and memory sent over a
//! connected socket without the file's bytes ever entering user memory.
//!
//! Each call is one operation on the socket's send lane (ordered with
//! `WSASend`s, [fact 14](crate::semantics#fact-14)). Its data goes through a pipe: memory buffers are
//! written into it, file ranges are *spliced* into it (the pipe then holds
//! references to the file's cached pages), and the pipe is spliced into the
//! socket (`IORING_OP_WRITE` / `IORING_OP_SPLICE`, linked). A transmit of
//! at most 64 KiB on a socket in non-blocking mode whose file ranges are
//! in the page cache is first sent by the thread that submits it (`send`
//! and `sendfile`, never waiting), the rest as above from the exact byte
//! (see [`TransmitFlags`]). The completion
//! reports every byte sent (head + file + tail for `TransmitFile`); a
//! failure, a cancel or a close part way reports the bytes that went, as a
//! send does.

mod build;
mod packets;

use std::os::fd::{BorrowedFd, OwnedFd};

use bitflags::bitflags;

pub(crate) use packets::packets_request;
pub use packets::{TransmitPacketsElement, TP_ELEMENT_EOP, TP_ELEMENT_FILE, TP_ELEMENT_MEMORY};

use crate::{Completion, Overlapped, Socket, WsaResult};
use build::{FileArg, Part, Request};

bitflags! {
    /// Flags of `TransmitFile` and `TransmitPackets` (`dwFlags`), with
    /// Windows' values (`TP_*` are the same bits as `TF_*`).
    ///
    /// What each means here:
    /// * `DISCONNECT`: once every byte is sent, the sending side is shut
    ///   down (the peer reads the end of the stream); later sends fail with
    ///   `WSAESHUTDOWN`. Not on a datagram socket (`WSAEINVAL`).
    /// * `REUSE_SOCKET`: only with `DISCONNECT` (alone: `WSAEINVAL`, [fact
    ///   109](crate::semantics#fact-109)). Once the shutdown is done the socket gets a fresh,
    ///   unconnected endpoint behind the same descriptor, ready for `AcceptEx`
    ///   or `ConnectEx` again, as after `DisconnectEx(TF_REUSE_SOCKET)`
    ///   ([fact 107](crate::semantics#fact-107)).
    /// * `WRITE_BEHIND`: accepted. Every operation here completes when its
    ///   bytes are in the socket's send buffer, never waiting for the peer's
    ///   acknowledgement, which is what the flag asks for.
    /// * `USE_DEFAULT_WORKER`, `USE_SYSTEM_THREAD`, `USE_KERNEL_APC`:
    ///   accepted, no effect; they choose Windows' worker for reading the
    ///   file. On io_uring the file is read by the kernel's io_uring
    ///   workers (splice runs there). On the epoll backend a regular file's
    ///   read cannot be non-blocking: a small pool of the program's threads
    ///   (4 at most, started on first use) reads it into a pipe, whatever
    ///   the flag. On both, a transmit of at most 64 KiB in all, on a socket
    ///   in non-blocking mode ([`Socket::set_nonblocking`], which the
    ///   completion itself ignores; a mode set behind the library's back,
    ///   through [`Socket::as_socket2`] or the descriptor, is not seen),
    ///   whose file ranges are wholly in the page cache (`cachestat`, Linux
    ///   6.5), if `SIGPIPE` is ignored (looked at once, at the first such
    ///   transmit: a program that stops ignoring it later should not keep
    ///   sockets in non-blocking mode), is
    ///   first sent by the thread that submits it, as a readiness server
    ///   sends a small file: `send` for memory and `sendfile` for the file,
    ///   straight into the socket, nothing that can wait for the disk or
    ///   the peer. What the socket did not take goes on as above, from the
    ///   exact byte; the completion is notified as always.
    #[doc(alias = "TF_DISCONNECT")]
    #[doc(alias = "TP_DISCONNECT")]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct TransmitFlags: u32 {
        /// `TF_DISCONNECT` / `TP_DISCONNECT` (0x01).
        #[doc(alias = "TF_DISCONNECT")]
        const DISCONNECT = 0x01;
        /// `TF_REUSE_SOCKET` / `TP_REUSE_SOCKET` (0x02).
        #[doc(alias = "TF_REUSE_SOCKET")]
        const REUSE_SOCKET = 0x02;
        /// `TF_WRITE_BEHIND` (0x04).
        #[doc(alias = "TF_WRITE_BEHIND")]
        const WRITE_BEHIND = 0x04;
        /// `TF_USE_DEFAULT_WORKER` / `TP_USE_DEFAULT_WORKER` (0x00).
        #[doc(alias = "TF_USE_DEFAULT_WORKER")]
        const USE_DEFAULT_WORKER = 0x00;
        /// `TF_USE_SYSTEM_THREAD` / `TP_USE_SYSTEM_THREAD` (0x10).
        #[doc(alias = "TF_USE_SYSTEM_THREAD")]
        const USE_SYSTEM_THREAD = 0x10;
        /// `TF_USE_KERNEL_APC` / `TP_USE_KERNEL_APC` (0x20).
        #[doc(alias = "TF_USE_KERNEL_APC")]
        const USE_KERNEL_APC = 0x20;
    }
}

/// The memory sent before and after the file (`TRANSMIT_FILE_BUFFERS`):
/// `head` first, then the file range, then `tail`. Either may be empty.
/// The buffers come back at completion ([`Overlapped::take_buffers`],
/// [`Completion::buffers`]) as two buffers, head then tail.
#[doc(alias = "TRANSMIT_FILE_BUFFERS")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransmitFileBuffers {
    /// `Head` / `HeadLength`.
    pub head: Vec<u8>,
    /// `Tail` / `TailLength`.
    pub tail: Vec<u8>,
}

pub(crate) fn file_request<'a>(
    file: Option<BorrowedFd<'a>>,
    offset: Option<u64>,
    bytes_to_write: u32,
    bytes_per_send: u32,
    buffers: Option<TransmitFileBuffers>,
    flags: TransmitFlags,
) -> Request<'a> {
    let file = file.map(FileArg::Lent);
    request(file, offset, bytes_to_write, bytes_per_send, buffers, flags)
}

/// A `TransmitFile` request whose file the operation is given.
fn given_request(
    file: Option<OwnedFd>,
    offset: u64,
    bytes_to_write: u32,
    bytes_per_send: u32,
    buffers: Option<TransmitFileBuffers>,
    flags: TransmitFlags,
) -> Request<'static> {
    let file = file.map(FileArg::Given);
    request(
        file,
        Some(offset),
        bytes_to_write,
        bytes_per_send,
        buffers,
        flags,
    )
}

fn request<'a>(
    file: Option<FileArg<'a>>,
    offset: Option<u64>,
    bytes_to_write: u32,
    bytes_per_send: u32,
    buffers: Option<TransmitFileBuffers>,
    flags: TransmitFlags,
) -> Request<'a> {
    let mut parts = Vec::with_capacity(3);
    let (head, tail) = match buffers {
        Some(b) => (Some(b.head), Some(b.tail)),
        None => (None, None),
    };
    if let Some(head) = head {
        parts.push((Part::Memory(head), false));
    }
    if let Some(file) = file {
        parts.push((
            Part::File {
                file,
                offset,
                len: bytes_to_write,
            },
            false,
        ));
    }
    if let Some(tail) = tail {
        parts.push((Part::Memory(tail), false));
    }
    Request {
        parts,
        send_size: bytes_per_send,
        flags,
        file_call: true,
    }
}

/// How many `TransmitFile` / `TransmitPackets` operations the calling
/// thread sent inline, wholly or in part (see [`TransmitFlags`]): for tests
/// and measurements of that path, not part of the Winsock API.
#[doc(hidden)]
pub fn inline_transmits_on_this_thread() -> u64 {
    crate::sys::sendnow::inline_count()
}

/// An overlapped transmit that started reports `WSA_IO_PENDING`, as Windows
/// does ([fact 111](crate::semantics#fact-111)), even if it finished during the call: its completion has
/// been notified either way (the event set, the routine queued).
pub(super) fn always_pending(r: WsaResult<u32>) -> WsaResult<u32> {
    match r {
        Ok(_) => Err(crate::WsaError::WSA_IO_PENDING),
        other => other,
    }
}

impl Socket {
    /// Starts an overlapped `TransmitFile`: sends `buffers.head`, then
    /// `bytes_to_write` bytes of `file` from the record's offset
    /// ([`Overlapped::set_offset`], [fact 111](crate::semantics#fact-111)), then `buffers.tail` ([fact 110](crate::semantics#fact-110)).
    ///
    /// * `file`: any readable regular file (`None`: only the buffers).
    ///   The call duplicates the descriptor for the operation's lifetime;
    ///   the caller keeps its own.
    /// * `bytes_to_write`: 0 sends from the offset to the end of the file.
    /// * `bytes_per_send`: the size of each send into the socket (0: the
    ///   default, up to 1 MiB at a time).
    ///
    /// Returns `Err(WSA_IO_PENDING)` once started, always ([fact 111](crate::semantics#fact-111)), even
    /// with nothing at all to send: the completion reports head + file +
    /// tail bytes. Any other error means it never started (nothing is
    /// notified):
    /// `WSAENOTSOCK` (closed socket), `WSAENOTCONN` (not connected),
    /// `WSAEINVAL` (`REUSE_SOCKET` without `DISCONNECT`, unknown flags, an
    /// offset or a length past the end of the file, more than 2,147,483,646
    /// bytes in all, not a regular file), `WSAESHUTDOWN` (sending shut
    /// down), `WSAEOPNOTSUPP` (a datagram socket: use
    /// [`Socket::transmit_packets`]), `WSA_INVALID_HANDLE` / `WSAEACCES`
    /// (a bad or unreadable file), `WSAEINVAL` if the record is busy.
    /// At completion: `NO_ERROR`; a peer that reset (`WSAECONNRESET`);
    /// `WSA_OPERATION_ABORTED` after a cancel or close; `ERROR_HANDLE_EOF`
    /// if the file was truncated while it was being sent (after the bytes
    /// that were there); each with the bytes that went.
    ///
    /// ```
    /// use overlapped::{get_overlapped_result, Event, Overlapped, Socket, TransmitFileBuffers,
    ///                  TransmitFlags, WsaError};
    /// use std::io::{Read, Write};
    /// use std::os::fd::AsFd;
    /// let path = std::env::temp_dir().join(format!("tf-doc-{}", std::process::id()));
    /// std::fs::write(&path, b"0123456789")?;
    /// let file = std::fs::File::open(&path)?;
    /// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
    /// let mut peer = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (socket, _) = listener.accept()?;
    /// let event = Event::new();
    /// let mut ov = Overlapped::new(&event);
    /// ov.set_offset(4);                                    // Offset/OffsetHigh
    /// let buffers = TransmitFileBuffers { head: b"<".to_vec(), tail: b">".to_vec() };
    /// match socket.transmit_file(&mut ov, Some(file.as_fd()), 0, 0, Some(buffers),
    ///                            TransmitFlags::DISCONNECT) {
    ///     Err(WsaError::WSA_IO_PENDING) => {}                  // always, once started
    ///     other => panic!("did not start: {other:?}"),
    /// }
    /// let (bytes, _) = get_overlapped_result(&socket, &ov, true)?;
    /// assert_eq!(bytes, 8);                                // head + 6 file bytes + tail
    /// let mut got = String::new();
    /// peer.read_to_string(&mut got)?;                      // DISCONNECT: the stream ends
    /// assert_eq!(got, "<456789>");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "TransmitFile")]
    #[doc(alias = "LPFN_TRANSMITFILE")]
    #[doc(alias = "WSAID_TRANSMITFILE")]
    pub fn transmit_file(
        &self,
        overlapped: &mut Overlapped,
        file: Option<BorrowedFd<'_>>,
        bytes_to_write: u32,
        bytes_per_send: u32,
        buffers: Option<TransmitFileBuffers>,
        flags: TransmitFlags,
    ) -> WsaResult<u32> {
        let offset = Some(overlapped.offset());
        let req = file_request(file, offset, bytes_to_write, bytes_per_send, buffers, flags);
        let (kind, bufs) = self.transmit_kind(req)?;
        always_pending(self.start_overlapped(overlapped, kind, bufs))
    }

    /// `TransmitFile` whose completion runs `routine` on this thread in its
    /// next alertable wait (the completion-routine model). The file range
    /// starts at `offset` (a routine call has no record to carry it).
    /// Returns and fails as [`Socket::transmit_file`] does.
    #[doc(alias = "TransmitFile")]
    #[allow(clippy::too_many_arguments)]
    pub fn transmit_file_with<F>(
        &self,
        file: Option<BorrowedFd<'_>>,
        offset: u64,
        bytes_to_write: u32,
        bytes_per_send: u32,
        buffers: Option<TransmitFileBuffers>,
        flags: TransmitFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let req = file_request(
            file,
            Some(offset),
            bytes_to_write,
            bytes_per_send,
            buffers,
            flags,
        );
        let (kind, bufs) = self.transmit_kind(req)?;
        always_pending(self.start_routine(kind, bufs, routine))
    }

    /// [`Socket::transmit_file`] given the file rather than lent it: the
    /// operation keeps this descriptor and closes it when it ends, so the
    /// call makes no duplicate of it (one `dup` and one `close` fewer per
    /// call, for a caller that opens a file per answer anyway). An error
    /// before the start closes it too. Everything else (the record's
    /// offset, the checks, the completion) is [`Socket::transmit_file`]'s.
    #[doc(alias = "TransmitFile")]
    pub fn transmit_file_owned(
        &self,
        overlapped: &mut Overlapped,
        file: Option<OwnedFd>,
        bytes_to_write: u32,
        bytes_per_send: u32,
        buffers: Option<TransmitFileBuffers>,
        flags: TransmitFlags,
    ) -> WsaResult<u32> {
        let offset = overlapped.offset();
        let req = given_request(file, offset, bytes_to_write, bytes_per_send, buffers, flags);
        let (kind, bufs) = self.transmit_kind(req)?;
        always_pending(self.start_overlapped(overlapped, kind, bufs))
    }

    /// [`Socket::transmit_file_with`] given the file (closed when the
    /// operation ends, or at once if it cannot start), as
    /// [`Socket::transmit_file_owned`].
    #[doc(alias = "TransmitFile")]
    #[allow(clippy::too_many_arguments)]
    pub fn transmit_file_owned_with<F>(
        &self,
        file: Option<OwnedFd>,
        offset: u64,
        bytes_to_write: u32,
        bytes_per_send: u32,
        buffers: Option<TransmitFileBuffers>,
        flags: TransmitFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let req = given_request(file, offset, bytes_to_write, bytes_per_send, buffers, flags);
        let (kind, bufs) = self.transmit_kind(req)?;
        always_pending(self.start_routine(kind, bufs, routine))
    }

    /// A synchronous `TransmitFile` (no overlapped record): sends from the
    /// file's *current position* ([fact 110](crate::semantics#fact-110)), which advances by the file
    /// bytes sent, and returns once everything is sent (the byte count), or
    /// the error. It waits alertably ([fact 7](crate::semantics#fact-7)). Errors as
    /// [`Socket::transmit_file`].
    #[doc(alias = "TransmitFile")]
    pub fn transmit_file_sync(
        &self,
        file: Option<BorrowedFd<'_>>,
        bytes_to_write: u32,
        bytes_per_send: u32,
        buffers: Option<TransmitFileBuffers>,
        flags: TransmitFlags,
    ) -> WsaResult<u32> {
        let req = file_request(file, None, bytes_to_write, bytes_per_send, buffers, flags);
        let (kind, bufs) = self.transmit_kind(req)?;
        self.transmit_sync(kind, bufs)
    }
}
