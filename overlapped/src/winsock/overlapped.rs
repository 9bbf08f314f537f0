//! The overlapped record (`WSAOVERLAPPED`) and `WSAGetOverlappedResult`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use crate::model::op::OpRef;
use crate::model::op::{DgramOut, Outcome};
use crate::model::port_queue::Packet;
use crate::model::ready::ReadySet;
use crate::model::thread::{self, Wake};
use crate::winsock::socket::SocketInner;
use crate::{BufList, Control, Event, MsgFlags, Socket, WsaError, WsaResult};

const IDLE: i32 = -2;
const PENDING: i32 = -1;

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

#[derive(Default)]
struct Held {
    /// The buffers, once the operation is over.
    bufs: Option<BufList>,
    /// The event the running operation signals: `event`, or the socket's own ([fact 20](crate::semantics#fact-20)).
    signal: Option<Event>,
    /// The operation in flight, for cancellation.
    op: Option<OpRef>,
    /// The socket the running operation was issued on: at completion, its
    /// completion port (if any, [fact 136](crate::semantics#fact-136)) gets the packet.
    socket: Option<Arc<SocketInner>>,
}

pub(crate) struct OvState {
    status: AtomicI32,
    bytes: AtomicU32,
    flags: AtomicU32,
    event: Option<Event>,
    /// What changes hands between the caller and the completion, under one lock.
    held: Mutex<Held>,
    /// Source address and control data of the last datagram receive.
    dgram: Mutex<DgramOut>,
    has_dgram: AtomicBool,
    /// `hEvent` with its low-order bit set: signal the event, queue no
    /// completion packet ([fact 22](crate::semantics#fact-22)).
    no_packet: bool,
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
            state: Arc::new(OvState {
                no_packet,
                status: AtomicI32::new(IDLE),
                bytes: AtomicU32::new(0),
                flags: AtomicU32::new(0),
                held: Mutex::new(Held::default()),
                event,
                dgram: Mutex::new(DgramOut::default()),
                has_dgram: AtomicBool::new(false),
            }),
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

impl OvState {
    fn lock_dgram(&self) -> std::sync::MutexGuard<'_, DgramOut> {
        self.dgram.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the operation has completed (no polling of the ring).
    pub(crate) fn done(&self) -> bool {
        self.status.load(SeqCst) != PENDING
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prepares the record for a new operation on `socket`. `WSAEINVAL` if
    /// one is pending.
    pub(crate) fn begin(&self, socket: &Arc<SocketInner>) -> WsaResult<()> {
        if self.status.load(SeqCst) == PENDING {
            return Err(WsaError::WSAEINVAL);
        }
        let signal = match &self.event {
            Some(event) => Some(event.clone()),
            // FILE_SKIP_SET_EVENT_ON_HANDLE (fact 140): the socket's own
            // event is left alone (`get_overlapped_result` with `wait`
            // installs a private one if it has to wait).
            None if socket.skips_set_event() => None,
            None => Some(socket.event.clone()),
        };
        // Starting an operation resets its event (fact 18).
        if let Some(signal) = &signal {
            signal.reset();
        }
        {
            let mut held = self.held();
            held.signal = signal;
            held.bufs = None;
            held.socket = Some(socket.clone());
        }
        if self.has_dgram.swap(false, SeqCst) {
            *self.lock_dgram() = DgramOut::default();
        }
        self.flags.store(0, SeqCst);
        self.status.store(PENDING, SeqCst);
        Ok(())
    }

    /// Polling a pending record on the thread that issued it: make sure its
    /// operation is in the kernel (a batching thread may not have submitted
    /// it yet) and reap what is ready. On any other thread there is nothing
    /// to do: the owner or the service thread delivers the completion.
    fn progress(&self) {
        let op = self.held().op.clone();
        if let Some(ring) = op.and_then(|op| op.ring.upgrade()) {
            if ring.foreign() {
                // Started by the parent before `fork`: it completes there,
                // never in this process. Report it aborted here.
                self.abandon();
                return;
            }
            ring.poll_owned();
        }
    }

    /// The child's copy of an operation the parent started (after `fork`):
    /// ends as `WSA_OPERATION_ABORTED`, signalling its event.
    fn abandon(&self) {
        let mut held = self.held();
        held.op = None;
        self.bytes.store(0, SeqCst);
        if self
            .status
            .compare_exchange(
                PENDING,
                WsaError::WSA_OPERATION_ABORTED.code(),
                SeqCst,
                SeqCst,
            )
            .is_ok()
        {
            if let Some(event) = &held.signal {
                event.set();
            }
        }
    }

    /// The pending operation, if any (for `CancelIoEx` with a record).
    pub(crate) fn op(&self) -> Option<OpRef> {
        self.held().op.clone()
    }

    pub(crate) fn set_op(&self, op: OpRef) {
        self.held().op = Some(op);
    }

    /// The operation never started: no notification ([fact 1](crate::semantics#fact-1)); buffers back.
    pub(crate) fn fail(&self, error: WsaError, bufs: BufList) {
        {
            let mut held = self.held();
            held.bufs = Some(bufs);
            held.socket = None;
        }
        self.bytes.store(0, SeqCst);
        self.status.store(error.code(), SeqCst);
    }

    /// The operation completed: record the result, then signal its event
    /// and queue its packet to the socket's completion port, if the socket
    /// has one (facts [19](crate::semantics#fact-19), [137](crate::semantics#fact-137)): unless the record says not to ([fact 22](crate::semantics#fact-22)), or
    /// the operation succeeded during its call on a socket set to
    /// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS ([fact 140](crate::semantics#fact-140); `immediate`).
    pub(crate) fn complete(self: &Arc<Self>, outcome: Outcome, immediate: bool) {
        if !outcome.dgram.is_empty() {
            *self.lock_dgram() = outcome.dgram;
            self.has_dgram.store(true, SeqCst);
        }
        let mut held = self.held();
        held.bufs = Some(outcome.bufs);
        held.op = None;
        self.bytes.store(outcome.bytes, SeqCst);
        self.flags.store(outcome.flags.bits(), SeqCst);
        self.status.store(outcome.error.code(), SeqCst);
        let socket = held.socket.take();
        // Lock order: a record, then its event (an event never takes a record's lock).
        if let Some(event) = &held.signal {
            event.set();
        }
        drop(held);
        let Some(socket) = socket else { return };
        if self.no_packet || (immediate && outcome.error.is_ok() && socket.skips_port_on_success())
        {
            return;
        }
        if let Some(binding) = socket.port() {
            binding.queue.push(Packet {
                key: binding.key,
                record: Some(self.clone()),
                bytes: outcome.bytes,
                status: outcome.error,
            });
        }
    }

    pub(crate) fn result(&self) -> Option<WsaResult<(u32, MsgFlags)>> {
        match self.status.load(SeqCst) {
            PENDING => None,
            IDLE | 0 => Some(Ok((
                self.bytes.load(SeqCst),
                MsgFlags::from_bits_retain(self.flags.load(SeqCst)).completion_flags(),
            ))),
            code => Some(Err(WsaError(code))),
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
/// as on Windows; the operation's own result (`WSA_OPERATION_ABORTED` for
/// one the close ended) stays readable in the record with
/// [`Overlapped::status`].
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
