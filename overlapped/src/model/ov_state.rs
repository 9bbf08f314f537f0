//! The state of an overlapped record (`WSAOVERLAPPED`'s `Internal`,
//! `InternalHigh`, `hEvent`, ...): what an operation's completion writes
//! (result, bytes, flags, datagram source and control data), the event it
//! signals and the completion packet it queues. The surface's `Overlapped`
//! is a handle on it.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use crate::model::error::{WsaError, WsaResult};
use crate::model::event::Event;
use crate::model::flags::MsgFlags;
use crate::model::op::{DgramOut, OpRef, Outcome};
use crate::model::port_queue::Packet;
use crate::model::socket::SocketInner;
use crate::sys::buf::BufList;

pub(crate) const IDLE: i32 = -2;
pub(crate) const PENDING: i32 = -1;

#[derive(Default)]
pub(crate) struct Held {
    /// The buffers, once the operation is over.
    pub(crate) bufs: Option<BufList>,
    /// The event the running operation signals: `event`, or the socket's own ([fact 20](crate::semantics#fact-20)).
    pub(crate) signal: Option<Event>,
    /// The operation in flight, for cancellation.
    pub(crate) op: Option<OpRef>,
    /// The socket the running operation was issued on: at completion, its
    /// completion port (if any, [fact 136](crate::semantics#fact-136)) gets the packet.
    pub(crate) socket: Option<Arc<SocketInner>>,
}

pub(crate) struct OvState {
    pub(crate) status: AtomicI32,
    pub(crate) bytes: AtomicU32,
    pub(crate) flags: AtomicU32,
    pub(crate) event: Option<Event>,
    /// What changes hands between the caller and the completion, under one lock.
    /// (parking_lot's lock: no poison check at every lock and unlock.)
    pub(crate) held: parking_lot::Mutex<Held>,
    /// Source address and control data of the last datagram receive.
    pub(crate) dgram: parking_lot::Mutex<DgramOut>,
    pub(crate) has_dgram: AtomicBool,
    /// `hEvent` with its low-order bit set: signal the event, queue no
    /// completion packet ([fact 22](crate::semantics#fact-22)).
    pub(crate) no_packet: bool,
}

impl OvState {
    /// The state of a new record signalling `event` (`hEvent`; `no_packet`:
    /// its low-order bit set).
    pub(crate) fn new(event: Option<Event>, no_packet: bool) -> OvState {
        OvState {
            no_packet,
            status: AtomicI32::new(IDLE),
            bytes: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            held: parking_lot::Mutex::new(Held::default()),
            event,
            dgram: parking_lot::Mutex::new(DgramOut::default()),
            has_dgram: AtomicBool::new(false),
        }
    }

    pub(crate) fn lock_dgram(&self) -> parking_lot::MutexGuard<'_, DgramOut> {
        self.dgram.lock()
    }

    /// Whether the operation has completed (no polling of the ring).
    pub(crate) fn done(&self) -> bool {
        self.status.load(SeqCst) != PENDING
    }

    pub(crate) fn held(&self) -> parking_lot::MutexGuard<'_, Held> {
        self.held.lock()
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
    pub(crate) fn progress(&self) {
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
    pub(crate) fn abandon(&self) {
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
        if let Some(dgram) = outcome.dgram.filter(|d| !d.is_empty()) {
            *self.lock_dgram() = *dgram;
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
