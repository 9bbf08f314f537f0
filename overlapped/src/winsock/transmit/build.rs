//! Turning a transmit request into an operation: the checks made before
//! anything starts (facts [109](crate::semantics#fact-109), [112](crate::semantics#fact-112)), the file ranges resolved, the pipe.

use std::io::Seek;
use std::os::fd::{BorrowedFd, OwnedFd};

use super::TransmitFlags;
use crate::model::lane::Direction;
use crate::model::op::OpKind;
use crate::model::thread::{self, Wake};
use crate::model::transmit_op::{Element, Source, TransmitOp, MAX_MEMBERS};
use crate::sys::{page_size, Pipe};
use crate::{BufList, Event, Overlapped, Socket, WsaError, WsaResult};

/// Bytes one call may send at most ([fact 109](crate::semantics#fact-109): more is `WSAEINVAL`).
pub(crate) const MAX_TOTAL: u64 = 2_147_483_646;

/// One element as the caller gave it, before the checks.
pub(crate) enum Part<'a> {
    Memory(Vec<u8>),
    File {
        file: FileArg<'a>,
        offset: Option<u64>,
        len: u32,
    },
}

/// A file as the caller gave it: lent (the operation holds a duplicate of
/// the descriptor) or given (the operation holds it, and closes it when it
/// ends or fails to start).
pub(crate) enum FileArg<'a> {
    Lent(BorrowedFd<'a>),
    Given(OwnedFd),
}

/// A request: its parts in order, with the `EOP` mark of each.
pub(crate) struct Request<'a> {
    pub(crate) parts: Vec<(Part<'a>, bool)>,
    pub(crate) send_size: u32,
    pub(crate) flags: TransmitFlags,
    /// `TransmitFile` (stream sockets only) rather than `TransmitPackets`.
    pub(crate) file_call: bool,
}

impl Socket {
    /// The checks of facts [109](crate::semantics#fact-109) and [112](crate::semantics#fact-112), in Windows' order.
    fn check_transmit(&self, flags: TransmitFlags, file_call: bool) -> WsaResult<()> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        if TransmitFlags::from_bits(flags.bits()).is_none() {
            return Err(WsaError::WSAEINVAL);
        }
        // `getpeername` only until the socket is known to be connected.
        self.require_connected()?;
        if flags.contains(TransmitFlags::REUSE_SOCKET) && !flags.contains(TransmitFlags::DISCONNECT)
        {
            return Err(WsaError::WSAEINVAL);
        }
        if !self.is_stream() {
            if file_call {
                // TransmitFile needs a connection-oriented socket.
                return Err(WsaError::WSAEOPNOTSUPP);
            }
            if flags.contains(TransmitFlags::DISCONNECT) {
                return Err(WsaError::WSAEINVAL);
            }
        }
        self.inner.usable(Direction::Send)
    }

    /// Checks a request and builds its operation and its memory buffers.
    pub(crate) fn transmit_kind(&self, req: Request<'_>) -> WsaResult<(OpKind, BufList)> {
        self.check_transmit(req.flags, req.file_call)?;
        let mut bufs = BufList::new();
        let mut files: Vec<OwnedFd> = Vec::new();
        let mut elements = Vec::with_capacity(req.parts.len());
        let mut total = 0u64;
        for (part, eop) in req.parts {
            let (source, len) = match part {
                Part::Memory(buf) => {
                    let len = buf.len() as u64;
                    bufs.push(buf);
                    (Source::Memory(bufs.count() - 1), len)
                }
                Part::File { file, offset, len } => {
                    let (fd, len) = resolve(file, offset, len)?;
                    files.push(fd);
                    (
                        Source::File {
                            file: files.len() - 1,
                            offset,
                        },
                        len,
                    )
                }
            };
            total += len;
            elements.push(Element { source, len, eop });
        }
        if total > MAX_TOTAL {
            return Err(WsaError::WSAEINVAL);
        }
        let pipe = Pipe::take().map_err(|e| WsaError::from_io(&e))?;
        if !self.is_stream() {
            self.check_datagrams(&elements, &pipe)?;
        }
        let op = TransmitOp::new(
            elements,
            files,
            pipe,
            req.send_size,
            req.flags.contains(TransmitFlags::DISCONNECT),
            req.flags.contains(TransmitFlags::REUSE_SOCKET),
            !self.is_stream(),
        );
        Ok((OpKind::Transmit(Box::new(op)), bufs))
    }

    /// Each `EOP` group is one datagram: it must fit a datagram, and the
    /// pipe must hold it whole.
    fn check_datagrams(&self, elements: &[Element], pipe: &Pipe) -> WsaResult<()> {
        let max = match self.local_addr() {
            Ok(std::net::SocketAddr::V6(_)) => crate::MAX_DATAGRAM_V6,
            _ => crate::MAX_DATAGRAM_V4,
        } as u64;
        let page = u64::from(page_size());
        let (mut bytes, mut slots, mut count) = (0u64, 0u64, 0usize);
        for (i, el) in elements.iter().enumerate() {
            bytes += el.len;
            slots += el.len.div_ceil(page) + 1;
            count += 1;
            if bytes > max {
                return Err(WsaError::WSAEMSGSIZE);
            }
            if slots > u64::from(pipe.slots()) || count + 2 > MAX_MEMBERS {
                return Err(WsaError::WSAENOBUFS);
            }
            if el.eop || i + 1 == elements.len() {
                (bytes, slots, count) = (0, 0, 0);
            }
        }
        Ok(())
    }

    /// Runs a transmit synchronously (no record, no routine): waits
    /// alertably until it completes ([fact 7](crate::semantics#fact-7)).
    pub(crate) fn transmit_sync(&self, kind: OpKind, bufs: BufList) -> WsaResult<u32> {
        // A private event: the socket's own event (fact 20) must not fire.
        let event = Event::with_reset(true, false);
        let mut ov = Overlapped::new(&event);
        match self.start_overlapped(&mut ov, kind, bufs) {
            Ok(n) => return Ok(n),
            Err(WsaError::WSA_IO_PENDING) => {}
            Err(e) => return Err(e),
        }
        let local = thread::current()?;
        // Waits for its own operation only.
        let own =
            || crate::sys::uring::own_wait(|| local.park(&mut || ov.state.done(), None, true));
        while own() != Wake::Satisfied {}
        crate::get_overlapped_result(self, &ov, false).map(|(n, _)| n)
    }
}

/// A file range: the descriptor (a lent file's duplicate, or the given
/// one; held until the operation ends) and the bytes to send. Offset
/// `None`: the file's current position. Length 0: to the end of the file.
/// A start past the end, or a length beyond it, is `WSAEINVAL` ([fact 109](crate::semantics#fact-109)).
fn resolve(file: FileArg<'_>, offset: Option<u64>, len: u32) -> WsaResult<(OwnedFd, u64)> {
    let owned = match file {
        FileArg::Lent(file) => file
            .try_clone_to_owned()
            .map_err(|_| WsaError::WSA_INVALID_HANDLE)?,
        FileArg::Given(file) => file,
    };
    if !crate::sys::pipe::readable(&owned) {
        return Err(WsaError::WSAEACCES);
    }
    let mut f = std::fs::File::from(owned);
    let meta = f.metadata().map_err(|_| WsaError::WSA_INVALID_HANDLE)?;
    if !meta.is_file() {
        return Err(WsaError::WSAEINVAL);
    }
    let start = match offset {
        Some(o) => o,
        None => f.stream_position().map_err(|e| WsaError::from_io(&e))?,
    };
    let size = meta.len();
    if start > size {
        return Err(WsaError::WSAEINVAL);
    }
    let len = match u64::from(len) {
        0 => size - start,
        n if n > size - start => return Err(WsaError::WSAEINVAL),
        n => n,
    };
    Ok((f.into(), len))
}
