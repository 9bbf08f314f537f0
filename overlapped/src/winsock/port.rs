//! I/O completion ports: `CreateIoCompletionPort`,
//! `GetQueuedCompletionStatus(Ex)`, `PostQueuedCompletionStatus` and
//! `SetFileCompletionNotificationModes` (semantics facts [135](crate::semantics#fact-135)–[144](crate::semantics#fact-144)).
//!
//! A port is a queue of completion packets. Every overlapped operation
//! started with an [`Overlapped`] record on a socket associated with a port
//! queues exactly one packet when it completes, from whichever thread's ring
//! reaps it; threads take packets with
//! [`CompletionPort::get_queued_completion_status`]. The thread rules of
//! Windows hold: packets in FIFO order, waiting threads released most recent
//! first, and at most `concurrency` threads running packets at once, a
//! thread that blocks in another wait of the library not counting until that
//! wait returns. See `port_queue.rs` for the machinery.

use std::sync::Arc;
use std::time::Duration;

use bitflags::bitflags;

use crate::model::port_queue::{Packet, PortQueue, Taken};
use crate::model::socket::{PortBinding, SKIP_PORT_ON_SUCCESS, SKIP_SET_EVENT};
use crate::model::thread::{self, Wake};
use crate::{Overlapped, Socket, WsaError, WsaResult};

/// Packets a batching thread may take without waiting before what it
/// started meanwhile is pushed to the kernel.
const FLUSH_EVERY: u32 = 64;

thread_local! {
    /// Packets taken in a row without waiting (see [`FLUSH_EVERY`]).
    static STREAK: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// An I/O completion port (`HANDLE` from `CreateIoCompletionPort`).
///
/// Clones are handles to the same port, usable from any thread. The port
/// closes when [`CompletionPort::close`] is called on any handle, or when
/// the last handle is dropped: threads waiting on it then return
/// `ERROR_ABANDONED_WAIT_0`, and later packets are discarded.
///
/// ```
/// use overlapped::{BufList, CompletionPort, MsgFlags, Overlapped, Socket, WsaError};
/// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
/// let client = Socket::tcp_for(&listener.local_addr()?)?;
/// client.connect(&listener.local_addr()?)?;
/// let (server, _) = listener.accept()?;
///
/// let port = CompletionPort::new(0)?;           // CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0)
/// port.associate(&server, 125)?;                // CreateIoCompletionPort(server, port, 125, 0)
/// let mut ov = Overlapped::without_event();
/// match server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()) {
///     Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}   // either way, one packet will come
///     Err(e) => return Err(e),
/// }
/// client.send_sync(&[std::io::IoSlice::new(b"hello")], MsgFlags::empty())?;
/// let mut entry = port.get_queued_completion_status(Some(std::time::Duration::from_secs(10)))?;
/// assert_eq!((entry.key, entry.bytes, entry.error), (125, 5, WsaError::NO_ERROR));
/// let record = entry.overlapped.as_mut().unwrap();
/// assert!(record.same(&ov));                    // lpOverlapped == &ov (fact 144)
/// assert_eq!(record.take_buffers().unwrap().gather(5), b"hello");
/// # Ok::<(), WsaError>(())
/// ```
#[doc(alias = "CreateIoCompletionPort")]
#[doc(alias = "HANDLE")]
#[derive(Clone)]
pub struct CompletionPort {
    handle: Arc<PortHandle>,
}

struct PortHandle {
    queue: Arc<PortQueue>,
}

impl Drop for PortHandle {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// One completion packet (`OVERLAPPED_ENTRY`, or the out-parameters of
/// `GetQueuedCompletionStatus`).
#[doc(alias = "OVERLAPPED_ENTRY")]
#[derive(Debug)]
pub struct CompletionEntry {
    /// The key given when the socket was associated (`lpCompletionKey`); for
    /// AcceptEx, the listener's ([fact 144](crate::semantics#fact-144)).
    pub key: usize,
    /// The record the operation was started with (`lpOverlapped`): a handle
    /// on the very same record ([`Overlapped::same`]), through which its
    /// buffers, address and flags are read. Dropping it cancels nothing.
    /// `None` for a posted packet that named no record.
    pub overlapped: Option<Overlapped>,
    /// Bytes transferred (`dwNumberOfBytesTransferred`).
    pub bytes: u32,
    /// The operation's Winsock error (`NO_ERROR` on success), as
    /// `WSAGetOverlappedResult` would report it (`Internal`).
    pub error: WsaError,
}

impl CompletionEntry {
    fn from_packet(p: Packet) -> CompletionEntry {
        CompletionEntry {
            key: p.key,
            overlapped: p.record.map(Overlapped::observer),
            bytes: p.bytes,
            error: p.status,
        }
    }

    /// The error `GetQueuedCompletionStatus` would leave in `GetLastError()`
    /// for this packet (it returns FALSE with a record for a failed
    /// operation, [fact 138](crate::semantics#fact-138)): `NO_ERROR` for a success, else the Win32 form of
    /// the error (`WSAECONNRESET` → `ERROR_NETNAME_DELETED`,
    /// `WSAECONNREFUSED` → `ERROR_CONNECTION_REFUSED`, `WSAECONNABORTED` →
    /// `ERROR_CONNECTION_ABORTED`, `WSAEOPNOTSUPP` → `ERROR_NOT_SUPPORTED`,
    /// `WSAEMSGSIZE` → `ERROR_MORE_DATA`, `WSAETIMEDOUT` → `ERROR_SEM_TIMEOUT`;
    /// `WSA_OPERATION_ABORTED` is already `ERROR_OPERATION_ABORTED`); other
    /// codes as they are.
    #[doc(alias = "GetLastError")]
    pub fn win32_error(&self) -> WsaError {
        match self.error {
            WsaError::WSAECONNRESET | WsaError::WSAENETRESET => WsaError::ERROR_NETNAME_DELETED,
            WsaError::WSAECONNREFUSED => WsaError::ERROR_CONNECTION_REFUSED,
            WsaError::WSAECONNABORTED => WsaError::ERROR_CONNECTION_ABORTED,
            WsaError::WSAEOPNOTSUPP => WsaError::ERROR_NOT_SUPPORTED,
            WsaError::WSAEMSGSIZE => WsaError::ERROR_MORE_DATA,
            WsaError::WSAETIMEDOUT => WsaError::ERROR_SEM_TIMEOUT,
            other => other,
        }
    }
}

/// What a port's counters say at one moment (no Windows equivalent: for
/// observing the thread rules of [fact 139](crate::semantics#fact-139)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortStats {
    /// Packets queued and not yet taken.
    pub queued: usize,
    /// Threads blocked in `get_queued_completion_status(_ex)` on the port.
    pub waiting: usize,
    /// Threads counted as running packets (at most `concurrency`, except
    /// briefly after a thread that blocked elsewhere returns).
    pub running: usize,
    /// The concurrency value the port was created with (0 resolved).
    pub concurrency: usize,
}

bitflags! {
    /// `SetFileCompletionNotificationModes` flags, with Windows' values.
    #[doc(alias = "FILE_SKIP_COMPLETION_PORT_ON_SUCCESS")]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct NotificationModes: u8 {
        /// `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS`: an operation that
        /// succeeds during its call queues no packet.
        const SKIP_COMPLETION_PORT_ON_SUCCESS = 0x1;
        /// `FILE_SKIP_SET_EVENT_ON_HANDLE`: the socket's own event
        /// ([`Socket::event`]) is not signalled; a record's event still is.
        const SKIP_SET_EVENT_ON_HANDLE = 0x2;
    }
}

impl CompletionPort {
    /// Creates a port (`CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL,
    /// 0, concurrency)`): at most `concurrency` threads run its packets at
    /// once; 0 means the number of CPUs. Never fails on Linux; the `Result`
    /// keeps the Winsock shape.
    #[doc(alias = "CreateIoCompletionPort")]
    pub fn new(concurrency: u32) -> WsaResult<CompletionPort> {
        let limit = match concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        };
        Ok(CompletionPort {
            handle: Arc::new(PortHandle {
                queue: Arc::new(PortQueue::new(limit)),
            }),
        })
    }

    /// The concurrency value (0 resolved to the number of CPUs).
    #[doc(alias = "NumberOfConcurrentThreads")]
    pub fn concurrency(&self) -> usize {
        self.handle.queue.limit()
    }

    /// Associates `socket` with the port under `key`
    /// (`CreateIoCompletionPort(socket, port, key, 0)`, [fact 135](crate::semantics#fact-135)): from now
    /// on every overlapped operation on it queues one packet carrying `key`,
    /// also one already pending ([fact 136](crate::semantics#fact-136)). For the socket's life: a second
    /// association (with any port) is `WSA_INVALID_PARAMETER` (87); a closed
    /// port is `WSA_INVALID_HANDLE` (6). Completion routines are refused on
    /// an associated socket (`WSAEINVAL`, [fact 39](crate::semantics#fact-39)).
    #[doc(alias = "CreateIoCompletionPort")]
    pub fn associate(&self, socket: &Socket, key: usize) -> WsaResult<()> {
        if self.handle.queue.is_closed() || socket.is_closed() {
            return Err(WsaError::WSA_INVALID_HANDLE);
        }
        let binding = PortBinding {
            queue: self.handle.queue.clone(),
            key,
        };
        if socket.inner.bind_port(binding) {
            Ok(())
        } else {
            Err(WsaError::WSA_INVALID_PARAMETER)
        }
    }

    /// Takes one packet (`GetQueuedCompletionStatus`), waiting up to
    /// `timeout` (`None`: forever; zero: only looks). Not alertable ([fact 41](crate::semantics#fact-41)).
    ///
    /// Returns ([fact 138](crate::semantics#fact-138)):
    /// * `Ok(entry)` with `entry.error == NO_ERROR`: a successful operation
    ///   (Windows: TRUE);
    /// * `Ok(entry)` with another `entry.error`: a failed operation, its
    ///   record in `entry.overlapped` (Windows: FALSE with `lpOverlapped`
    ///   set, `GetLastError()` = [`CompletionEntry::win32_error`]);
    /// * `Err(WAIT_TIMEOUT)` (258): no packet in time;
    /// * `Err(ERROR_ABANDONED_WAIT_0)` (735): the port was closed while waiting;
    /// * `Err(WSA_INVALID_HANDLE)` (6): the port was already closed.
    ///
    /// The calling thread is associated with the port from now on, and
    /// counts as running until it comes back, blocks in another wait of the
    /// library, or exits ([fact 139](crate::semantics#fact-139)).
    #[doc(alias = "GetQueuedCompletionStatus")]
    pub fn get_queued_completion_status(
        &self,
        timeout: Option<Duration>,
    ) -> WsaResult<CompletionEntry> {
        let mut packets = self.take(1, timeout, false)?;
        Ok(CompletionEntry::from_packet(packets.swap_remove(0)))
    }

    /// Takes up to `max` packets at once into `entries`, which is cleared
    /// first (`GetQueuedCompletionStatusEx`, [fact 142](crate::semantics#fact-142)); returns how many.
    /// Each entry carries its own result: `Ok(n)` even if some operations
    /// failed. With `alertable` and no packet, the thread waits alertably and
    /// returns `Err(WAIT_IO_COMPLETION)` after running its queued APCs.
    /// Otherwise the errors of [`CompletionPort::get_queued_completion_status`];
    /// `max == 0` is `WSA_INVALID_PARAMETER`.
    ///
    /// ```
    /// use overlapped::CompletionPort;
    /// let port = CompletionPort::new(1)?;
    /// for i in 0..5 {
    ///     port.post_queued_completion_status(i, 100 + i as usize, None)?;
    /// }
    /// let mut entries = Vec::new();
    /// assert_eq!(port.get_queued_completion_status_ex(&mut entries, 3, None, false)?, 3);
    /// assert_eq!(entries.iter().map(|e| e.bytes).collect::<Vec<_>>(), [0, 1, 2]);   // FIFO
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "GetQueuedCompletionStatusEx")]
    pub fn get_queued_completion_status_ex(
        &self,
        entries: &mut Vec<CompletionEntry>,
        max: usize,
        timeout: Option<Duration>,
        alertable: bool,
    ) -> WsaResult<usize> {
        entries.clear();
        if max == 0 {
            return Err(WsaError::WSA_INVALID_PARAMETER);
        }
        let packets = self.take(max, timeout, alertable)?;
        entries.extend(packets.into_iter().map(CompletionEntry::from_packet));
        Ok(entries.len())
    }

    /// Queues a packet of the caller's own (`PostQueuedCompletionStatus`,
    /// [fact 141](crate::semantics#fact-141)): `bytes`, `key` and `overlapped` come back verbatim from a
    /// `get_queued_completion_status`, with `error == NO_ERROR`. The record
    /// is not looked at (it may be idle, or in use by an operation).
    /// `WSA_INVALID_HANDLE` if the port is closed.
    ///
    /// ```
    /// use overlapped::{CompletionPort, Overlapped};
    /// let port = CompletionPort::new(1)?;
    /// let ov = Overlapped::without_event();
    /// port.post_queued_completion_status(42, 7, Some(&ov))?;
    /// let entry = port.get_queued_completion_status(None)?;
    /// assert_eq!((entry.bytes, entry.key), (42, 7));
    /// assert!(entry.overlapped.unwrap().same(&ov));
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "PostQueuedCompletionStatus")]
    pub fn post_queued_completion_status(
        &self,
        bytes: u32,
        key: usize,
        overlapped: Option<&Overlapped>,
    ) -> WsaResult<()> {
        if self.handle.queue.is_closed() {
            return Err(WsaError::WSA_INVALID_HANDLE);
        }
        self.handle.queue.push(Packet {
            key,
            record: overlapped.map(|o| o.state.clone()),
            bytes,
            status: WsaError::NO_ERROR,
        });
        Ok(())
    }

    /// Closes the port for every handle (`CloseHandle`): waiting threads
    /// return `ERROR_ABANDONED_WAIT_0`; later calls fail with
    /// `WSA_INVALID_HANDLE`; packets of operations still pending are
    /// discarded when they complete (the operations' events still fire).
    #[doc(alias = "CloseHandle")]
    pub fn close(&self) {
        self.handle.queue.close();
    }

    /// The port's counters now (see [`PortStats`]).
    pub fn stats(&self) -> PortStats {
        let c = self.handle.queue.counts();
        PortStats {
            queued: c.queued,
            waiting: c.waiting,
            running: c.running,
            concurrency: self.handle.queue.limit(),
        }
    }

    fn take(
        &self,
        max: usize,
        timeout: Option<Duration>,
        alertable: bool,
    ) -> WsaResult<Vec<Packet>> {
        let queue = &self.handle.queue;
        if queue.is_closed() {
            return Err(WsaError::WSA_INVALID_HANDLE);
        }
        let local = thread::current()?;
        let was_running = local.arrive_at_port(queue);
        let waiter = match queue.arrive(&local.shared, was_running, max) {
            Ok(Taken::Packets(packets)) => {
                local.run_for_port();
                // A batching thread's operations go to the kernel with its
                // next sleeping wait, one system call for the whole burst;
                // but a thread that keeps finding packets must not hold
                // them back for long.
                let streak = STREAK.with(|s| {
                    let n = s.get() + 1;
                    s.set(if n >= FLUSH_EVERY { 0 } else { n });
                    n
                });
                if streak >= FLUSH_EVERY || !local.shared.ring.batching() {
                    local.shared.ring.flush();
                }
                return Ok(packets);
            }
            Ok(Taken::Closed) => return Err(WsaError::ERROR_ABANDONED_WAIT_0),
            Err(waiter) => waiter,
        };
        let deadline = thread::deadline_after(timeout);
        STREAK.with(|s| s.set(0));
        let woke = local.park(&mut || waiter.ready(), deadline, alertable);
        match queue.leave(&waiter, max) {
            Some(Taken::Packets(packets)) => {
                local.run_for_port();
                Ok(packets)
            }
            Some(Taken::Closed) => Err(WsaError::ERROR_ABANDONED_WAIT_0),
            None if woke == Wake::Apc => Err(WsaError::WAIT_IO_COMPLETION),
            None => Err(WsaError::WAIT_TIMEOUT),
        }
    }
}

impl std::fmt::Debug for CompletionPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionPort")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Socket {
    /// Sets notification modes for the socket's overlapped operations
    /// (`SetFileCompletionNotificationModes`, [fact 140](crate::semantics#fact-140)). Modes are only
    /// added: once set, a mode stays for the socket's life.
    ///
    /// * `SKIP_COMPLETION_PORT_ON_SUCCESS`: an operation that completes
    ///   successfully during its call (returns `Ok(bytes)`) queues no packet;
    ///   one that returns `WSA_IO_PENDING` still does.
    /// * `SKIP_SET_EVENT_ON_HANDLE`: records without an event
    ///   ([`Overlapped::without_event`]) no longer signal [`Socket::event`];
    ///   [`crate::get_overlapped_result`] with `wait` still works.
    #[doc(alias = "SetFileCompletionNotificationModes")]
    pub fn set_file_completion_notification_modes(
        &self,
        modes: NotificationModes,
    ) -> WsaResult<()> {
        if self.is_closed() {
            return Err(WsaError::WSAENOTSOCK);
        }
        let mut bits = 0;
        if modes.contains(NotificationModes::SKIP_COMPLETION_PORT_ON_SUCCESS) {
            bits |= SKIP_PORT_ON_SUCCESS;
        }
        if modes.contains(NotificationModes::SKIP_SET_EVENT_ON_HANDLE) {
            bits |= SKIP_SET_EVENT;
        }
        self.inner.add_modes(bits);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win32_forms_of_packet_errors() {
        let entry = |error| CompletionEntry {
            key: 0,
            overlapped: None,
            bytes: 0,
            error,
        };
        let cases = [
            (WsaError::NO_ERROR, 0),
            (WsaError::WSAECONNRESET, 64),
            (WsaError::WSAECONNREFUSED, 1225),
            (WsaError::WSAECONNABORTED, 1236),
            (WsaError::WSAEOPNOTSUPP, 50),
            (WsaError::WSAEMSGSIZE, 234),
            (WsaError::WSAETIMEDOUT, 121),
            (WsaError::WSA_OPERATION_ABORTED, 995),
        ];
        for (wsa, win32) in cases {
            assert_eq!(entry(wsa).win32_error().code(), win32, "{wsa}");
        }
    }
}
