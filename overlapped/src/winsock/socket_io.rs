//! `WSARecv` and `WSASend` in their three modes: overlapped with an event
//! record, with a completion routine, and synchronous.

use std::io::{IoSlice, IoSliceMut};
use std::sync::Arc;

use crate::model::flags::{FlagCall, FlagMode};
use crate::model::lane::Direction;
use crate::model::op::{Notify, OpKind, Outcome};
use crate::model::op::{OpSlot, Started};
use crate::model::thread::{self, Local, Routine};
use crate::sys::iov;
use crate::{BufList, Completion, MsgFlags, Overlapped, Socket, WsaError, WsaResult};

impl Socket {
    /// Starts an overlapped receive (`WSARecv` with `lpOverlapped`).
    ///
    /// Returns the byte count if it completed at once (the event is still
    /// signalled), `Err(WSA_IO_PENDING)` if it will complete later, or any
    /// other error if it never started (then nothing is signalled). The
    /// buffers are filled in order; get them back with
    /// [`Overlapped::take_buffers`] after completion. One buffer of length 0
    /// waits for data without consuming it; zero buffers is `WSAEINVAL`.
    #[doc(alias = "WSARecv")]
    pub fn recv(
        &self,
        overlapped: &mut Overlapped,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
    ) -> WsaResult<u32> {
        let bufs = buffers.into();
        let kind = self.recv_kind(&bufs, flags)?;
        self.start_overlapped(overlapped, kind, bufs)
    }

    /// Starts an overlapped send (`WSASend` with `lpOverlapped`). A stream
    /// send completes only once every byte is sent ([fact 12](crate::semantics#fact-12)).
    #[doc(alias = "WSASend")]
    pub fn send(
        &self,
        overlapped: &mut Overlapped,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
    ) -> WsaResult<u32> {
        let bufs = buffers.into();
        let kind = self.send_kind(&bufs, flags)?;
        self.start_overlapped(overlapped, kind, bufs)
    }

    /// Starts a receive whose completion runs `routine` on this thread, in
    /// its next alertable wait (`WSARecv` with `lpCompletionRoutine`).
    ///
    /// Returns as [`Socket::recv`] does; on immediate completion the routine
    /// is still queued, never run inside this call. The routine need not be
    /// `Send`: it never leaves the thread.
    ///
    /// ```
    /// use overlapped::{sleep_ex, BufList, MsgFlags, Socket, WaitResult};
    /// use std::{cell::Cell, rc::Rc};
    /// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
    /// let client = Socket::tcp_for(&listener.local_addr()?)?;
    /// client.connect(&listener.local_addr()?)?;
    /// let (server, _) = listener.accept()?;
    /// let got = Rc::new(Cell::new(0));                  // not Send: fine for a routine
    /// let g = got.clone();
    /// let _ = server.recv_with(BufList::zeroed(64), MsgFlags::empty(), move |c| g.set(c.bytes));
    /// client.send_sync(&[std::io::IoSlice::new(b"hello")], MsgFlags::empty())?;
    /// assert_eq!(got.get(), 0);                        // only an alertable wait runs it
    /// while got.get() == 0 {
    ///     assert_eq!(sleep_ex(None, true)?, WaitResult::IoCompletion);   // SleepEx(INFINITE, TRUE)
    /// }
    /// assert_eq!(got.get(), 5);
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "WSARecv")]
    pub fn recv_with<F>(
        &self,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let bufs = buffers.into();
        let kind = self.recv_kind(&bufs, flags)?;
        self.start_routine(kind, bufs, routine)
    }

    /// Starts a send whose completion runs `routine` on this thread, in its
    /// next alertable wait (`WSASend` with `lpCompletionRoutine`).
    #[doc(alias = "WSASend")]
    pub fn send_with<F>(
        &self,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let bufs = buffers.into();
        let kind = self.send_kind(&bufs, flags)?;
        self.start_routine(kind, bufs, routine)
    }

    /// A synchronous receive (`WSARecv` with neither an overlapped record nor
    /// a routine): like `recv`, it blocks on a blocking socket and fails with
    /// `WSAEWOULDBLOCK` on a non-blocking one. When it has to wait, it waits
    /// alertably: APCs and completion routines queued to the thread run
    /// inside the call, which then goes on waiting ([fact 7](crate::semantics#fact-7)); `SO_RCVTIMEO`
    /// ends the wait with `WSAETIMEDOUT` ([fact 8](crate::semantics#fact-8)).
    /// On a datagram socket, a datagram longer than the buffers fills them
    /// and the call fails with `WSAEMSGSIZE` ([fact 78](crate::semantics#fact-78)); receive control
    /// data turned on (`IP_PKTINFO`, ...) is never truncation here: `WSARecv`
    /// has no control buffer ([`Socket::recv_msg_sync`] has).
    #[doc(alias = "WSARecv")]
    #[doc(alias = "recv")]
    pub fn recv_sync(&self, buffers: &mut [IoSliceMut<'_>], flags: MsgFlags) -> WsaResult<usize> {
        if buffers.is_empty() {
            return Err(WsaError::WSAEINVAL);
        }
        self.inner.usable(Direction::Receive)?;
        let flags = flags.for_call(FlagCall::Receive, self.is_stream(), self.sync_mode(flags))?;
        self.require_bound()?;
        self.require_connected_stream()?;
        let fd = self.inner.fd();
        // More than 1,024 buffers: the rest through a bounce buffer (sys::iov).
        let whole = flags & libc::MSG_WAITALL != 0 && self.is_stream();
        let stored = |r: &WsaResult<usize>| *r.as_ref().unwrap_or(&0);
        let total: usize = buffers.iter().map(|b| b.len()).sum();
        let mut done = 0;
        let mut rest = buffers;
        // Bytes a dropped receive future gave back come first (`unread.rs`).
        if flags & libc::MSG_OOB == 0 {
            let peek = flags & libc::MSG_PEEK != 0;
            let n = self.inner.unread.take_into_slices(rest, peek);
            if n > 0 && (!whole || peek || n == total) {
                return Ok(n);
            }
            done = n;
            IoSliceMut::advance_slices(&mut rest, n);
        }
        // A datagram cut to the buffers: the bytes that fit are in them and
        // the call fails with WSAEMSGSIZE (facts 32, 78), as WSARecv does.
        let truncated = std::cell::Cell::new(false);
        loop {
            let r = iov::recv_sync(
                rest,
                whole,
                |buffers| {
                    self.sync_call(Direction::Receive, flags, WsaError::from_io, |f| {
                        crate::sys::blocking::recv(fd, buffers, f).map(|(n, m)| {
                            truncated.set(m & libc::MSG_TRUNC != 0);
                            n
                        })
                    })
                },
                stored,
            );
            if truncated.get() && !self.is_stream() {
                return Err(WsaError::WSAEMSGSIZE);
            }
            match r {
                // A blocking `MSG_WAITALL` receive can come back short when
                // the kernel interrupts the thread for io_uring task work
                // (`TIF_NOTIFY_SIGNAL`); it is complete only when the buffers
                // are full, the stream ended, or an error came: go on.
                Ok(n) if whole && n > 0 && done + n < total => {
                    done += n;
                    IoSliceMut::advance_slices(&mut rest, n);
                }
                Ok(n) => return Ok(done + n),
                Err(_) if done > 0 => return Ok(done),
                // An ICMP "port unreachable" on a connected datagram
                // socket is WSAECONNRESET, as for WSARecvFrom (fact 77).
                Err(WsaError::WSAECONNREFUSED) if !self.is_stream() => {
                    return Err(WsaError::WSAECONNRESET)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A synchronous send (`WSASend` with neither an overlapped record nor a
    /// routine). On a blocking socket it returns once every byte is sent;
    /// while it waits for buffer space it waits alertably ([fact 7](crate::semantics#fact-7)), bounded
    /// by `SO_SNDTIMEO` (`WSAETIMEDOUT`).
    #[doc(alias = "WSASend")]
    #[doc(alias = "send")]
    pub fn send_sync(&self, buffers: &[IoSlice<'_>], flags: MsgFlags) -> WsaResult<usize> {
        if buffers.is_empty() {
            return Err(WsaError::WSAEINVAL);
        }
        self.inner.usable(Direction::Send)?;
        let flags = flags.for_call(FlagCall::Send, self.is_stream(), self.sync_mode(flags))?
            | libc::MSG_NOSIGNAL;
        self.require_connected()?;
        let total: usize = buffers.iter().map(|b| b.len()).sum();
        let nonblocking = self.is_nonblocking();
        let fd = self.inner.fd();
        let mut sent = iov::send_sync(buffers, |buffers| {
            self.sync_call(Direction::Send, flags, WsaError::from_io, |f| {
                crate::sys::blocking::send(fd, buffers, f)
            })
        })?;
        if sent >= total || nonblocking {
            return Ok(sent);
        }
        // Part went: send the rest from one copy.
        let rest: Vec<u8> = buffers.iter().flat_map(|b| b.iter().copied()).collect();
        while sent < total {
            let tail = [IoSlice::new(&rest[sent..])];
            sent += self.sync_call(Direction::Send, flags, WsaError::from_io, |f| {
                crate::sys::blocking::send(fd, &tail, f)
            })?;
        }
        Ok(sent)
    }

    pub(crate) fn recv_kind(&self, bufs: &BufList, flags: MsgFlags) -> WsaResult<OpKind> {
        self.inner.usable(Direction::Receive)?;
        if bufs.count() == 0 {
            return Err(WsaError::WSAEINVAL);
        }
        let flags = flags.for_call(FlagCall::Receive, self.is_stream(), FlagMode::Overlapped)?;
        self.require_bound()?;
        self.require_connected_stream()?;
        Ok(if bufs.total_len() == 0 && self.is_stream() {
            OpKind::PollIn
        } else {
            OpKind::Recv { flags }
        })
    }

    pub(crate) fn send_kind(&self, bufs: &BufList, flags: MsgFlags) -> WsaResult<OpKind> {
        self.inner.usable(Direction::Send)?;
        if bufs.count() == 0 {
            return Err(WsaError::WSAEINVAL);
        }
        let flags = flags.for_call(FlagCall::Send, self.is_stream(), FlagMode::Overlapped)?;
        self.require_connected()?;
        Ok(OpKind::Send { flags, done: 0 })
    }

    pub(crate) fn start_overlapped(
        &self,
        ov: &mut Overlapped,
        kind: OpKind,
        bufs: BufList,
    ) -> WsaResult<u32> {
        let local = thread::current()?;
        ov.state.begin(&self.inner)?;
        let notify = Notify::Overlapped(ov.state.clone());
        let always = kind.notifies_failures();
        // A transmit that finished during the call still reports
        // WSA_IO_PENDING (fact 111): its packet is no skippable success.
        let told_pending = matches!(kind, OpKind::Transmit(_));
        match start(&local, self, kind, bufs, notify) {
            Ok(Started::Pending(op)) => {
                ov.state.set_op(op);
                Err(WsaError::WSA_IO_PENDING)
            }
            Ok(Started::Immediate((Notify::Overlapped(state), outcome)))
                if told_pending && outcome.error.is_ok() =>
            {
                state.complete(outcome, false);
                Err(WsaError::WSA_IO_PENDING)
            }
            Ok(Started::Immediate((notify, outcome))) => finish_immediate(notify, outcome, always),
            Err(e) => {
                ov.state.fail(e, BufList::new());
                Err(e)
            }
        }
    }

    pub(crate) fn start_routine(
        &self,
        kind: OpKind,
        bufs: BufList,
        routine: impl FnOnce(Completion) + 'static,
    ) -> WsaResult<u32> {
        self.start_kept_routine(kind, bufs, Routine::new(routine))
    }

    fn start_kept_routine(&self, kind: OpKind, bufs: BufList, routine: Routine) -> WsaResult<u32> {
        // A socket associated with a completion port takes no routines (fact 39).
        if self.inner.port().is_some() {
            return Err(WsaError::WSAEINVAL);
        }
        let local = thread::current()?;
        let key = local.keep(routine);
        let notify = Notify::Routine {
            thread: local.shared.clone(),
            key,
        };
        let always = kind.notifies_failures();
        match start(&local, self, kind, bufs, notify) {
            Ok(Started::Pending(op)) => {
                op.discard();
                Err(WsaError::WSA_IO_PENDING)
            }
            Ok(Started::Immediate((notify, outcome))) => finish_immediate(notify, outcome, always),
            Err(e) => {
                local.forget_routine(key);
                Err(e)
            }
        }
    }
}

fn start(
    local: &Local,
    socket: &Socket,
    kind: OpKind,
    bufs: BufList,
    notify: Notify,
) -> WsaResult<Started> {
    let eager = !local.delivering() && !local.shared.ring.batching();
    let op = OpSlot::new(kind, notify, Arc::clone(&socket.inner));
    Ok(local.shared.ring.start(op, bufs, eager))
}

/// An operation that completed during submission. Success is notified like
/// any completion ([fact 19](crate::semantics#fact-19)); a truncation (a completion with a warning) is
/// notified too and reported as pending, as Windows does (facts [78](crate::semantics#fact-78), [81](crate::semantics#fact-81)), so
/// that "any error but `WSA_IO_PENDING` means no notification" ([fact 1](crate::semantics#fact-1))
/// holds; a hard error means it never started: no notification at all.
/// With `always` (the connection calls, whose failures Windows reports
/// through the completion: a refused `ConnectEx`, [fact 100](crate::semantics#fact-100);
/// a short `AcceptEx` address area, [fact 87](crate::semantics#fact-87)),
/// every result is notified.
fn finish_immediate(notify: Notify, outcome: Outcome, always: bool) -> WsaResult<u32> {
    let error = outcome.error;
    let bytes = outcome.bytes;
    if error.is_ok() || error == WsaError::WSAEMSGSIZE || always {
        match notify {
            // Fact 140: a success during the call may skip the port.
            Notify::Overlapped(state) => state.complete(outcome, error.is_ok()),
            other => crate::model::op::deliver(other, outcome),
        }
        return if error.is_ok() {
            Ok(bytes)
        } else {
            Err(WsaError::WSA_IO_PENDING)
        };
    }
    match notify {
        Notify::Overlapped(state) => state.fail(error, outcome.bufs),
        Notify::Routine { key, .. } => {
            if let Ok(local) = thread::current() {
                local.forget_routine(key);
            }
        }
        // Futures never come here: they take their immediate outcome whole.
        Notify::Waker(state) => state.complete(outcome),
    }
    Err(error)
}
