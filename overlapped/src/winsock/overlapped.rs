//! The overlapped record (`WSAOVERLAPPED`) and `WSAGetOverlappedResult`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use crate::model::ov_state::{OvState, PENDING};
use crate::model::ready::ReadySet;
use crate::model::thread::{self, Wake};
use crate::{BufList, Control, Event, MsgFlags, Socket, WsaError, WsaResult};

/// The record of one overlapped operation (`WSAOVERLAPPED`): it names the
/// event to signal, receives the result, and gets the buffers back.
///
/// Start an operation with it ([`Socket::recv`], [`Socket::send`]), then
/// learn the result with [`get_overlapped_result`] and take the buffers back
/// with [`Overlapped::take_buffers`]. One record serves one operation at a
/// time; it can be reused once that operation has completed.
///
/// Dropping a record whose operation is still pending cancels the operation;
/// its buffers stay parked with the driver until the kernel is done with them.
#[doc(alias = "WSAOVERLAPPED")]
#[doc(alias = "OVERLAPPED")]
pub struct Overlapped {
    pub(crate) state: Arc<OvState>,
    /// False for the copies a completion port hands out: dropping one never
    /// cancels anything.
    owner: bool,
    /// The file offset a file operation starts at (`Offset`/`OffsetHigh`).
    offset: u64,
}

impl Overlapped {
    /// A record whose operations signal `event` (`hEvent`).
    #[doc(alias = "WSAOVERLAPPED")]
    #[doc(alias = "OVERLAPPED")]
    pub fn new(event: &Event) -> Overlapped {
        Overlapped::make(Some(event.clone()), false)
    }

    /// A record without an event (`hEvent == NULL`): its operations signal
    /// the socket's own event instead ([`Socket::event`]).
    #[doc(alias = "WSAOVERLAPPED")]
    pub fn without_event() -> Overlapped {
        Overlapped::make(None, false)
    }

    /// A record whose operations signal `event` but queue **no packet** to
    /// the socket's completion port: Winsock's `hEvent` with its low-order
    /// bit set (`(HANDLE)((ULONG_PTR)event | 1)`, [fact 22](crate::semantics#fact-22)). Use it for an
    /// operation whose result the issuing thread waits for itself on a
    /// socket whose other operations complete to a port.
    ///
    /// ```
    /// use overlapped::{get_overlapped_result, CompletionPort, Event, Overlapped, Socket};
    /// let port = CompletionPort::new(0)?;
    /// let udp = Socket::udp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// udp.bind(&"127.0.0.1:0".parse().unwrap())?;
    /// port.associate(&udp, 7)?;
    /// let event = Event::new();
    /// let mut ov = Overlapped::new_event_only(&event);
    /// let to = udp.local_addr()?;
    /// let sent = udp.send_to(&mut ov, b"x".to_vec(), &to, Default::default());
    /// assert!(matches!(sent, Ok(1) | Err(overlapped::WsaError::WSA_IO_PENDING)));
    /// get_overlapped_result(&udp, &ov, true)?;
    /// assert!(event.is_set());                                     // the event is signalled,
    /// assert!(port.get_queued_completion_status(Some(std::time::Duration::ZERO)).is_err()); // no packet
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "hEvent")]
    pub fn new_event_only(event: &Event) -> Overlapped {
        Overlapped::make(Some(event.clone()), true)
    }

    /// Whether two records are the same one (`lpOverlapped == &ov`): a
    /// completion packet's record is the very record the operation was
    /// started with ([fact 144](crate::semantics#fact-144)).
    pub fn same(&self, other: &Overlapped) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }

    /// The record's identity as a number (the `lpOverlapped` pointer
    /// value): the same for every handle of the record ([`Overlapped::same`])
    /// for as long as it lives, never shared by two live records. For
    /// finding a packet's context, as C code does with `CONTAINING_RECORD`.
    #[doc(alias = "lpOverlapped")]
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.state) as usize
    }

    /// A handle on the same record that never cancels its operation when
    /// dropped (what a completion packet carries).
    pub(crate) fn observer(state: Arc<OvState>) -> Overlapped {
        Overlapped {
            state,
            owner: false,
            offset: 0,
        }
    }

    fn make(event: Option<Event>, no_packet: bool) -> Overlapped {
        Overlapped {
            owner: true,
            offset: 0,
            state: Arc::new(OvState::new(event, no_packet)),
        }
    }

    /// Sets the file offset at which a file operation started with this
    /// record begins (`Offset` = low 32 bits, `OffsetHigh` = high 32 bits):
    /// [`Socket::transmit_file`] sends the file from here, not from the
    /// file's current position ([fact 111](crate::semantics#fact-111)). Offsets past 4 GiB work.
    #[doc(alias = "Offset")]
    #[doc(alias = "OffsetHigh")]
    pub fn set_offset(&mut self, offset: u64) {
        self.offset = offset;
    }

    /// The file offset set by [`Overlapped::set_offset`] (0 by default).
    #[doc(alias = "Offset")]
    #[doc(alias = "OffsetHigh")]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The event named by the record, if any (`hEvent`).
    #[doc(alias = "hEvent")]
    pub fn event(&self) -> Option<&Event> {
        self.state.event.as_ref()
    }

    /// True once the operation has completed (`HasOverlappedIoCompleted`).
    #[doc(alias = "HasOverlappedIoCompleted")]
    pub fn is_completed(&self) -> bool {
        self.state.status.load(SeqCst) != PENDING || {
            self.state.progress();
            self.state.status.load(SeqCst) != PENDING
        }
    }

    /// The result kept in the record (`Internal`, with `InternalHigh`):
    /// `Ok(bytes)` once the last operation succeeded, `Err(code)` once it
    /// failed (its Winsock error, e.g. `WSA_OPERATION_ABORTED` after the
    /// socket was closed or the operation cancelled — `WSAECONNABORTED` for
    /// a connected stream's receive ([fact 127](crate::semantics#fact-127)) — `WSAEMSGSIZE` for a
    /// truncated datagram — the bytes delivered are then in
    /// [`Overlapped::bytes_transferred`]), `Err(WSA_IO_INCOMPLETE)` while
    /// it is pending. It never waits.
    ///
    /// This reads the record alone, as a Windows program reads
    /// `lpOverlapped->Internal`: it works after the socket was closed, when
    /// [`get_overlapped_result`] fails with `WSAENOTSOCK` as
    /// `WSAGetOverlappedResult` does on a closed `SOCKET`
    /// ([fact 127](crate::semantics#fact-127)). A record that never started
    /// an operation reads `Ok(0)`.
    ///
    /// ```
    /// use overlapped::*;
    /// let udp = Socket::udp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// udp.bind(&"127.0.0.1:0".parse().unwrap())?;
    /// let event = Event::new();
    /// let mut ov = Overlapped::new(&event);
    /// assert_eq!(udp.recv_from(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
    ///            Err(WsaError::WSA_IO_PENDING));
    /// assert_eq!(ov.status(), Err(WsaError::WSA_IO_INCOMPLETE));
    /// udp.clone().close()?;                                        // closesocket
    /// event.wait(Some(std::time::Duration::from_secs(10)))?;
    /// assert_eq!(get_overlapped_result(&udp, &ov, false), Err(WsaError::WSAENOTSOCK));
    /// assert_eq!(ov.status(), Err(WsaError::WSA_OPERATION_ABORTED)); // ov.Internal
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "Internal")]
    #[doc(alias = "InternalHigh")]
    #[doc(alias = "WSAOVERLAPPED")]
    pub fn status(&self) -> WsaResult<u32> {
        if !self.is_completed() {
            return Err(WsaError::WSA_IO_INCOMPLETE);
        }
        match self.state.result() {
            Some(result) => result.map(|(bytes, _)| bytes),
            None => Err(WsaError::WSA_IO_INCOMPLETE),
        }
    }

    /// The bytes transferred by the last completed operation (`InternalHigh`),
    /// also when it failed with a truncation (`WSAEMSGSIZE`).
    #[doc(alias = "InternalHigh")]
    pub fn bytes_transferred(&self) -> u32 {
        self.state.bytes.load(SeqCst)
    }

    /// Takes back the buffers of the last operation once it has completed
    /// (or failed to start). `None` while the operation is pending.
    pub fn take_buffers(&mut self) -> Option<BufList> {
        if !self.is_completed() {
            return None;
        }
        self.state.held().bufs.take()
    }

    /// The source address of the datagram the last `recv_from` / `recv_msg`
    /// received (`lpFrom`). Written only at completion ([fact 71](crate::semantics#fact-71)): `None`
    /// while pending, and for a stream socket ([fact 72](crate::semantics#fact-72)).
    #[doc(alias = "lpFrom")]
    pub fn source_addr(&self) -> Option<SocketAddr> {
        if !self.is_completed() {
            return None;
        }
        self.state.lock_dgram().from
    }

    /// The control data the last `recv_msg` received (`WSAMSG.Control`, its
    /// length the used length); empty while pending or when none was asked for.
    #[doc(alias = "WSAMSG")]
    pub fn control(&self) -> Control {
        if !self.is_completed() {
            return Control::new();
        }
        self.state.lock_dgram().control.clone()
    }

    /// The message flags of the last completed operation (`WSAMSG.dwFlags`):
    /// `TRUNC`, `CTRUNC`, ... also when it failed with `WSAEMSGSIZE`.
    #[doc(alias = "dwFlags")]
    pub fn msg_flags(&self) -> MsgFlags {
        if !self.is_completed() {
            return MsgFlags::empty();
        }
        MsgFlags::from_bits_retain(self.state.flags.load(SeqCst))
    }
}

impl std::fmt::Debug for Overlapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlapped")
            .field("record", &Arc::as_ptr(&self.state))
            .field("status", &self.state.status.load(SeqCst))
            .field("bytes", &self.bytes_transferred())
            .finish()
    }
}

impl Default for Overlapped {
    fn default() -> Self {
        Overlapped::without_event()
    }
}

impl Drop for Overlapped {
    fn drop(&mut self) {
        if !self.owner || self.is_completed() {
            return;
        }
        let op = self.state.held().op.take();
        if let Some(op) = op {
            if let Some(ring) = op.ring.upgrade() {
                ring.cancel(op.user_data);
            }
        }
    }
}

/// The result of an overlapped operation (`WSAGetOverlappedResult`): the
/// bytes transferred and the flags (`lpdwFlags`: always empty on TCP and
/// UDP, as on Windows; a datagram's `TRUNC`/`CTRUNC` are in
/// [`Overlapped::msg_flags`]), or the operation's Winsock error.
///
/// While the operation is pending: with `wait == false`, `WSA_IO_INCOMPLETE`;
/// with `wait == true`, blocks (not alertably) until it completes. After a
/// failure, [`Overlapped::bytes_transferred`] still tells what was delivered
/// (a truncated datagram).
///
/// `socket` must be open: after `closesocket` this fails with `WSAENOTSOCK`,
/// as on Windows; the operation's own result stays readable in the record
/// with [`Overlapped::status`]. For an operation the close ended that is, as
/// Windows gives it ([fact 127](crate::semantics#fact-127)), `WSAECONNABORTED`
/// on a connected TCP socket (a receive or a send), and
/// `WSA_OPERATION_ABORTED` for a UDP receive and an `AcceptEx`.
#[doc(alias = "WSAGetOverlappedResult")]
#[doc(alias = "GetOverlappedResult")]
pub fn get_overlapped_result(
    socket: &Socket,
    overlapped: &Overlapped,
    wait: bool,
) -> WsaResult<(u32, MsgFlags)> {
    if socket.is_closed() {
        return Err(WsaError::WSAENOTSOCK);
    }
    let state = &overlapped.state;
    if let Some(result) = state.result() {
        return result;
    }
    state.progress();
    if let Some(result) = state.result() {
        return result;
    }
    if !wait {
        return Err(WsaError::WSA_IO_INCOMPLETE);
    }
    // Under the record's lock, so that a completion either sees this
    // private event (no event to signal: FILE_SKIP_SET_EVENT_ON_HANDLE) or
    // has already stored its result.
    let signal = state
        .held()
        .signal
        .get_or_insert_with(|| Event::with_reset(true, false))
        .clone();
    let ready = Arc::new(ReadySet::new(1));
    signal.watch(&ready, 0);
    let local = thread::current()?;
    let waiting = ready.enter(&local.shared);
    let woke = local.park(&mut || state.result().is_some(), None, false);
    drop(waiting);
    signal.unwatch(&ready, 0);
    debug_assert_eq!(woke, Wake::Satisfied);
    state.result().unwrap_or(Err(WsaError::WSA_IO_INCOMPLETE))
}
