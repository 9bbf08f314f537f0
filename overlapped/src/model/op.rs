//! Operations, described independently of the backend that carries them out.
//!
//! An [`OpSlot`] is the model's record of one operation in flight: what to
//! do ([`OpKind`]), who to tell when it ends ([`Notify`]), and the socket it
//! names (kept open until then). It implements the backend's
//! [`sys::op::Op`](crate::sys::op::Op) (`op_record.rs`): the backend owns it,
//! with the memory the kernel may read or write ([`OpMem`]), from the start
//! until its completion is reaped; nothing else can free or move that memory.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::model::lane::Direction;
use crate::model::thread::ThreadShared;
use crate::model::transmit_op::{Conclusion, TransmitOp};
use crate::sys::OpMem;
use crate::winsock::overlapped::OvState;
use crate::winsock::socket::SocketInner;
use crate::{BufList, Control, MsgFlags, WsaError};

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
    Waker(Arc<crate::winsock::future::AsyncState>),
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

    /// A future that was dropped takes its outcome now, where the backend
    /// reaps it and before the next operation of the lane starts: a stream
    /// receive's bytes go back to its socket (`unread.rs`). Anything else
    /// hands the outcome back, to be delivered as usual.
    pub(crate) fn settle_abandoned(&self, outcome: Outcome) -> Option<Outcome> {
        match self {
            Notify::Waker(st) if Arc::strong_count(st) == 1 => {
                st.complete(outcome);
                None
            }
            _ => Some(outcome),
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
    /// Source address and control data of a datagram receive.
    pub(crate) dgram: DgramOut,
}

/// What a completion means for its operation.
pub(crate) enum Step {
    /// Finished with this outcome (buffers still in the slot's memory).
    Done {
        error: WsaError,
        bytes: u32,
        flags: MsgFlags,
    },
    /// A stream send moved some bytes: submit the rest.
    Resubmit,
}

impl Step {
    /// A change notification hands no bytes back: its read buffer is dropped
    /// (the kernel is done with it: this completion was reaped).
    fn cleared(self, mem: &mut OpMem) -> Step {
        mem.bufs = BufList::new();
        self
    }
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

impl OpSlot {
    /// Takes one result of a chain of linked requests (transmits); true
    /// while more of the chain's results are to come. Other operations have
    /// one request per step: false.
    pub(crate) fn absorb(&mut self, res: i32) -> bool {
        match &mut self.kind {
            OpKind::Transmit(t) => t.absorb(res),
            _ => false,
        }
    }

    fn is_receive(&self) -> bool {
        matches!(
            self.kind,
            OpKind::Recv { .. } | OpKind::PollIn | OpKind::RecvMsg { .. }
        )
    }

    /// Called as a receive's next request is made: true if the step is to
    /// read the socket's unread bytes (`unread.rs`) rather than the kernel;
    /// the request is then a no-op, and the step's completion reads them.
    pub(crate) fn serves_unread(&mut self) -> bool {
        let reads = match self.kind {
            OpKind::Recv { flags } => flags & libc::MSG_OOB == 0 && self.taken == 0,
            OpKind::PollIn => true,
            _ => false,
        };
        self.unread = reads && self.socket.unread.any();
        self.unread
    }

    /// The completion of a no-op submitted for unread bytes (see
    /// [`OpSlot::serves_unread`]).
    fn step_unread(&mut self, mem: &mut OpMem) -> Step {
        self.unread = false;
        let done = |bytes| Step::Done {
            error: WsaError::NO_ERROR,
            bytes,
            flags: MsgFlags::empty(),
        };
        match self.kind {
            OpKind::Recv { flags } => {
                let peek = flags & libc::MSG_PEEK != 0;
                let n = self.socket.unread.take_into(&mut mem.bufs, peek);
                if n == 0 {
                    // A synchronous receive took them meanwhile: to the kernel.
                    return Step::Resubmit;
                }
                if flags & libc::MSG_WAITALL != 0 && !peek && n < mem.bufs.total_len() {
                    // The rest from the kernel, after these.
                    self.taken = n;
                    return Step::Resubmit;
                }
                done(n as u32)
            }
            _ if self.socket.unread.any() => done(0),
            _ => Step::Resubmit,
        }
    }

    /// Interprets a completion result (`res`: bytes, or `-errno`) of the
    /// operation, whose memory is `mem`; `cancelled`: a cancel was asked for.
    pub(crate) fn step(&mut self, mem: &mut OpMem, mut res: i32, cancelled: bool) -> Step {
        if self.unread {
            if !cancelled && !self.socket.is_closed() {
                return self.step_unread(mem);
            }
            // Cancelled or closed: it takes none of the bytes, and ends
            // as a receive the kernel cancelled.
            self.unread = false;
            res = -libc::ECANCELED;
        }
        if let Some(step) = self.step_connection(mem, res, cancelled) {
            return step;
        }
        let closed = self.socket.is_closed();
        let ended = closed || cancelled;
        let step = match &mut self.kind {
            OpKind::Recv { .. } => match res {
                // A `MSG_WAITALL` receive that began with unread bytes
                // (`taken`) reports them even if the kernel's part failed.
                n if n >= 0 || self.taken > 0 => Step::Done {
                    error: if n >= 0 && mem.msg.msg_flags & libc::MSG_TRUNC != 0 {
                        WsaError::WSAEMSGSIZE
                    } else {
                        WsaError::NO_ERROR
                    },
                    bytes: (self.taken + n.max(0) as usize) as u32,
                    // `WSARecv` has no control buffer: the kernel's
                    // MSG_CTRUNC (receive control on, no room given) is
                    // not the caller's business (fact 81).
                    flags: MsgFlags::from_linux(mem.msg.msg_flags & !libc::MSG_CTRUNC),
                },
                e => Step::Done {
                    error: WsaError::from_errno(-e),
                    bytes: 0,
                    flags: MsgFlags::empty(),
                },
            },
            OpKind::RecvMsg { msg, .. } if res >= 0 => {
                // Control data is cut to the caller's (Windows-sized) length first.
                mem.fit_control();
                let mut m = mem.msg.msg_flags;
                if !*msg {
                    // `WSARecvFrom` has no control buffer: control data it
                    // never asked for is not truncation (fact 81).
                    m &= !libc::MSG_CTRUNC;
                }
                Step::Done {
                    // Datagram truncation (data: MSG_TRUNC, control:
                    // MSG_CTRUNC) is WSAEMSGSIZE with the bytes that fit
                    // (facts 32, 46, 78, 81).
                    error: if m & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
                        WsaError::WSAEMSGSIZE
                    } else {
                        WsaError::NO_ERROR
                    },
                    bytes: (res as usize).min(mem.capacity()) as u32,
                    flags: MsgFlags::from_linux(m),
                }
            }
            OpKind::RecvMsg { .. } => Step::Done {
                error: dgram_error(-res),
                bytes: 0,
                flags: MsgFlags::empty(),
            },
            OpKind::SendMsg { .. } => Step::Done {
                error: if res < 0 {
                    dgram_error(-res)
                } else {
                    WsaError::NO_ERROR
                },
                bytes: res.max(0) as u32,
                flags: MsgFlags::empty(),
            },
            OpKind::Change { filter } => {
                let changed = match res {
                    _ if ended => {
                        return Step::Done {
                            error: WsaError::WSA_OPERATION_ABORTED,
                            bytes: 0,
                            flags: MsgFlags::empty(),
                        }
                        .cleared(mem);
                    }
                    n if n > 0 => {
                        let n = (n as usize).min(mem.bufs.total_len());
                        filter.changed(&mem.bufs.first()[..n])
                    }
                    e if e == -libc::ENOBUFS || e == 0 => filter.overrun(),
                    e if e == -libc::EINTR || e == -libc::EAGAIN => false,
                    e => {
                        return Step::Done {
                            error: WsaError::from_errno(-e),
                            bytes: 0,
                            flags: MsgFlags::empty(),
                        }
                        .cleared(mem);
                    }
                };
                if !changed {
                    return Step::Resubmit;
                }
                return Step::Done {
                    error: WsaError::NO_ERROR,
                    bytes: 0,
                    flags: MsgFlags::empty(),
                }
                .cleared(mem);
            }
            OpKind::PollIn | OpKind::PollOut => match res {
                n if n >= 0 => Step::Done {
                    error: WsaError::NO_ERROR,
                    bytes: 0,
                    flags: MsgFlags::empty(),
                },
                e => Step::Done {
                    error: WsaError::from_errno(-e),
                    bytes: 0,
                    flags: MsgFlags::empty(),
                },
            },
            OpKind::Transmit(t) => match t.conclude(ended) {
                Conclusion::Again => return Step::Resubmit,
                Conclusion::Done(mut error, bytes) => {
                    if t.disconnected() {
                        self.socket.mark_send_shut();
                        // TF_REUSE_SOCKET: as DisconnectEx does (fact 107).
                        if t.reuse() && error.is_ok() {
                            if let Err(e) = crate::model::conn_ops::fresh_endpoint(&self.socket) {
                                error = WsaError::from_io(&e);
                            }
                        }
                    }
                    return Step::Done {
                        error,
                        bytes,
                        flags: MsgFlags::empty(),
                    };
                }
            },
            OpKind::Accept(_) | OpKind::Connect(_) | OpKind::Disconnect { .. } => {
                // Handled by `step_connection` above.
                Step::Done {
                    error: WsaError::WSAEINVAL,
                    bytes: 0,
                    flags: MsgFlags::empty(),
                }
            }
            OpKind::Send { done, .. } => {
                let total = mem.bufs.total_len();
                if res > 0 && *done + (res as usize) < total && !ended {
                    *done += res as usize;
                    return Step::Resubmit;
                }
                let sent = *done + res.max(0) as usize;
                Step::Done {
                    error: if res < 0 {
                        WsaError::from_errno(-res)
                    } else if sent < total && ended {
                        // Cancelled or closed part way: not every byte went
                        // (fact 12), so it is not a success; the bytes that
                        // did go are reported.
                        WsaError::WSA_OPERATION_ABORTED
                    } else {
                        WsaError::NO_ERROR
                    },
                    bytes: sent as u32,
                    flags: MsgFlags::empty(),
                }
            }
        };
        match step {
            // A socket closed under a pending operation: Windows reports the
            // connection aborted for a connected stream receive, and the
            // operation aborted for everything else (semantics fact 127).
            // (A readiness poll that fires after the close saw the placeholder.)
            Step::Done { bytes, .. }
                if closed
                    && (res < 0
                        || res == 0 && self.is_receive()
                        || matches!(self.kind, OpKind::PollIn | OpKind::PollOut)) =>
            {
                let error = match self.kind {
                    OpKind::Recv { .. } | OpKind::PollIn | OpKind::RecvMsg { .. }
                        if self.socket.is_stream_connected() =>
                    {
                        WsaError::WSAECONNABORTED
                    }
                    _ => WsaError::WSA_OPERATION_ABORTED,
                };
                Step::Done {
                    error,
                    // A send reports what went before the close; a receive nothing.
                    bytes: if self.is_receive() { 0 } else { bytes },
                    flags: MsgFlags::empty(),
                }
            }
            other => other,
        }
    }
}

/// The Winsock code of a datagram operation's errno: an ICMP "port
/// unreachable" reported on a UDP socket is `WSAECONNRESET` ([fact 77](crate::semantics#fact-77)).
pub(crate) fn dgram_error(errno: i32) -> WsaError {
    if errno == libc::ECONNREFUSED {
        WsaError::WSAECONNRESET
    } else {
        WsaError::from_errno(errno)
    }
}

/// Tells whoever waits for this operation that it has ended.
pub(crate) fn deliver(notify: Notify, outcome: Outcome) {
    match notify {
        Notify::Overlapped(state) => state.complete(outcome, false),
        Notify::Routine { thread, key } => {
            thread.post(crate::model::thread::RemoteApc::Routine(key, outcome));
        }
        Notify::Waker(state) => state.complete(outcome),
    }
}
