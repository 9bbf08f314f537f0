//! What a completion means for an operation: [`OpSlot::step`] reads a
//! result (`bytes` or `-errno`, from either backend) as Winsock reports it,
//! or asks for another request (`Step::Resubmit`).

use crate::model::error::WsaError;
use crate::model::flags::MsgFlags;
use crate::model::op::{OpKind, OpSlot};
use crate::model::transmit_op::Conclusion;
use crate::sys::buf::BufList;
use crate::sys::OpMem;

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

impl OpSlot {
    /// Takes one result of a chain of linked requests (transmits); true
    /// while more of the chain's results are to come. Other operations have
    /// one request per step: false.
    #[inline]
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
    #[inline]
    pub(crate) fn serves_unread(&mut self) -> bool {
        // The usual case, one load: nothing was ever given back.
        if !self.socket.unread.any() {
            return false;
        }
        self.serves_unread_now()
    }

    #[cold]
    fn serves_unread_now(&mut self) -> bool {
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
                // WSARecv on a connected datagram socket reports an ICMP
                // "port unreachable" as WSARecvFrom does (fact 77).
                e if !self.socket.is_stream() => Step::Done {
                    error: dgram_error(-e),
                    bytes: 0,
                    flags: MsgFlags::empty(),
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
