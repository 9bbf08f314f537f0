//! Operations, described independently of the backend that carries them out.
//!
//! An [`OpSlot`] is the model's record of one operation in flight: what to
//! do ([`OpKind`]), who to tell when it ends ([`Notify`]), and the socket it
//! names (kept open until then). It implements the backend's
//! [`sys::op::Op`](crate::sys::op::Op) (`op_record.rs`): the backend owns it,
//! with the memory the kernel may read or write ([`OpMem`](crate::sys::OpMem)), from the start
//! until its completion is reaped; nothing else can free or move that memory.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::model::lane::Direction;
use crate::model::thread::ThreadShared;
use crate::model::transmit_op::TransmitOp;

use crate::model::cmsg::Control;
use crate::model::error::WsaError;
use crate::model::flags::MsgFlags;
use crate::model::ov_state::OvState;
use crate::model::socket::SocketInner;
use crate::sys::buf::BufList;

/// A thread's driver (its backend instance), as the model uses it.
pub(crate) type Ring = crate::sys::Driver<OpSlot>;
/// How an operation's start went.
pub(crate) type Started = crate::sys::Started<OpSlot>;
/// Names one operation in flight (to cancel it).
pub(crate) type OpRef = crate::sys::OpRef<OpSlot>;

/// What an operation does.
pub(crate) enum OpKind {
    /// `WSARecv`: receive into the buffers.
    Recv { flags: i32 },
    /// `WSARecv` with one empty buffer: wait until data is readable, consume nothing.
    PollIn,
    /// A blocking send that would block waits, alertably, for buffer space.
    PollOut,
    /// `WSASend`: send every byte (stream sends complete only when all are sent).
    Send { flags: i32, done: usize },
    /// `WSARecvFrom` / `WSARecvMsg`: receive one datagram with its source
    /// address (up to `name_len` bytes) and control data (`control_len`).
    RecvMsg {
        flags: i32,
        name_len: u32,
        control_len: u32,
        /// `WSARecvMsg` (true) or `WSARecvFrom` (false): only `WSARecvMsg`
        /// has a control buffer, so only it reports control truncation.
        msg: bool,
    },
    /// `WSASendTo` / `WSASendMsg` on a datagram socket: one datagram.
    SendMsg { flags: i32, spec: Box<SendSpec> },
    /// `AcceptEx` (issued on the listener), or a blocking `accept`: see `conn_ops.rs`.
    Accept(Box<AcceptSpec>),
    /// `ConnectEx`, or a blocking `connect`.
    Connect(Box<ConnectSpec>),
    /// `DisconnectEx`: the send side's shutdown, then (with
    /// `TF_REUSE_SOCKET`) a fresh endpoint behind the same socket.
    Disconnect { reuse: bool },
    /// A change notification (`SIO_ADDRESS_LIST_CHANGE`, `SIO_NSP_NOTIFY_CHANGE`,
    /// ...): read the slot's descriptor (an rtnetlink socket, an inotify
    /// instance) into the buffer, again and again, until `filter` says what
    /// was read is a change; then complete with 0 bytes.
    Change { filter: Box<dyn ChangeFilter> },
    /// `TransmitFile` / `TransmitPackets`: memory and file ranges, in order,
    /// through a pipe (see `transmit_op.rs`). Each step is a chain of linked
    /// requests that share the operation's `user_data`.
    Transmit(Box<TransmitOp>),
}

/// Decides whether what a change source delivered is a change the caller
/// asked to hear about. Runs where the completion is reaped (any thread).
pub(crate) trait ChangeFilter: Send {
    /// `read` is what one read of the source returned (whole messages or
    /// events). True completes the operation.
    fn changed(&mut self, read: &[u8]) -> bool;

    /// The source lost messages (a netlink receive buffer overrun, an
    /// inotify queue overflow): true completes the operation, since a
    /// change may be among the lost.
    fn overrun(&mut self) -> bool {
        true
    }
}

pub(crate) use crate::model::conn_ops::{AcceptSpec, ConnectSpec};
pub(crate) use crate::model::op_step::{dgram_error, Step};

/// Where a datagram goes and the control data it carries.
pub(crate) struct SendSpec {
    pub(crate) to: Option<SocketAddr>,
    pub(crate) control: Control,
}

/// What a datagram receive learns besides its bytes: written into the
/// record or handed to the routine at completion ([fact 71](crate::semantics#fact-71)).
#[derive(Debug, Default)]
pub(crate) struct DgramOut {
    pub(crate) from: Option<SocketAddr>,
    pub(crate) control: Control,
}

impl DgramOut {
    pub(crate) fn is_empty(&self) -> bool {
        self.from.is_none() && self.control.is_empty()
    }
}

/// Who learns of the completion.
pub(crate) enum Notify {
    /// An overlapped record (and through it, its event).
    Overlapped(Arc<OvState>),
    /// A completion routine, kept on the issuing thread under `key`.
    Routine {
        thread: Arc<ThreadShared>,
        key: usize,
    },
    /// A future (`recv_async`, ...): the outcome is stored and its task woken.
    Waker(Arc<crate::model::async_state::AsyncState>),
}

impl Notify {
    /// Whether the completion may be delivered by any thread (a record or a
    /// future), rather than only on the issuing thread (a routine).
    pub(crate) fn any_thread(&self) -> bool {
        !matches!(self, Notify::Routine { .. })
    }

    /// Whether anyone still waits for the outcome: false once the record or
    /// the future that started it was dropped.
    pub(crate) fn awaited(&self) -> bool {
        match self {
            Notify::Overlapped(st) => Arc::strong_count(st) > 1,
            Notify::Waker(st) => Arc::strong_count(st) > 1,
            Notify::Routine { .. } => true,
        }
    }

    /// A future that was dropped, which takes its outcome where the backend
    /// reaps it and before the next operation of the lane starts (a stream
    /// receive's bytes go back to its socket, `unread.rs`); `None` for
    /// anything else (a record, a routine, a future still awaited): the
    /// outcome is delivered as usual. One discriminant test and a count load.
    #[inline]
    pub(crate) fn abandoned(&self) -> Option<&Arc<crate::model::async_state::AsyncState>> {
        match self {
            Notify::Waker(st) if Arc::strong_count(st) == 1 => Some(st),
            _ => None,
        }
    }
}

/// One operation in flight.
pub(crate) struct OpSlot {
    pub(crate) kind: OpKind,
    pub(crate) notify: Notify,
    pub(crate) socket: Arc<SocketInner>,
    /// A receive at the head of its lane found unread bytes (`unread.rs`):
    /// its request was a no-op, whose completion takes them.
    pub(crate) unread: bool,
    /// Bytes a `MSG_WAITALL` receive already took from the unread bytes;
    /// the kernel fills the buffers after them.
    pub(crate) taken: usize,
}

impl OpSlot {
    /// The record of an operation about to start.
    pub(crate) fn new(kind: OpKind, notify: Notify, socket: Arc<SocketInner>) -> OpSlot {
        OpSlot {
            kind,
            notify,
            socket,
            unread: false,
            taken: 0,
        }
    }
}

/// How an operation ended.
pub(crate) struct Outcome {
    pub(crate) error: WsaError,
    pub(crate) bytes: u32,
    pub(crate) flags: MsgFlags,
    pub(crate) bufs: BufList,
    /// Source address and control data of a datagram receive (boxed: a
    /// stream operation's outcome, moved several times on its way to the
    /// routine or record, carries only a null pointer).
    pub(crate) dgram: Option<Box<DgramOut>>,
}

impl OpKind {
    /// The socket lane the operation queues in.
    pub(crate) fn direction(&self) -> Direction {
        match self {
            OpKind::Recv { .. } | OpKind::PollIn | OpKind::RecvMsg { .. } => Direction::Receive,
            // A change source carries one operation at a time.
            OpKind::Change { .. } => Direction::Receive,
            OpKind::Send { .. }
            | OpKind::SendMsg { .. }
            | OpKind::PollOut
            | OpKind::Transmit(_)
            | OpKind::Connect(_)
            | OpKind::Disconnect { .. } => Direction::Send,
            OpKind::Accept(_) => Direction::Unordered,
        }
    }

    /// Whether a failure found while starting is still reported through the
    /// notification (after `WSA_IO_PENDING`), as the connection calls do.
    pub(crate) fn notifies_failures(&self) -> bool {
        matches!(
            self,
            OpKind::Accept(_) | OpKind::Connect(_) | OpKind::Disconnect { .. }
        )
    }

    /// Whether the operation names `socket` as its target without being
    /// issued on it (the accept socket of an `AcceptEx`).
    pub(crate) fn targets(&self, socket: &Arc<SocketInner>) -> bool {
        matches!(self, OpKind::Accept(spec) if spec.targets(socket))
    }
}

/// Tells whoever waits for this operation that it has ended.
pub(crate) fn deliver(notify: Notify, outcome: Outcome) {
    match notify {
        Notify::Overlapped(state) => state.complete(outcome, false),
        Notify::Routine { thread, key } => {
            thread.post_routine(key, outcome);
        }
        Notify::Waker(state) => state.complete(outcome),
    }
}
