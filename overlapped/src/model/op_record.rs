//! The model's operation record as the backends see it: [`OpSlot`]
//! implements the backend seam's [`Op`] (what to ask the kernel for, how a
//! result reads, whom to tell, which lane it waits in).

use std::sync::{Arc, Weak};

use crate::model::cmsg::Control;
use crate::model::conn_ops::{AcceptPhase, ConnectPhase};
use crate::model::error::WsaError;
use crate::model::flags::MsgFlags;
use crate::model::op::{deliver, DgramOut, Notify, OpKind, OpSlot, Outcome, Ring, Step};
use crate::model::socket::SocketInner;
use crate::sys::op::{self, Finished, Op, Request};
use crate::sys::OpMem;

impl Op for OpSlot {
    type Socket = SocketInner;
    type Ended = (WsaError, u32, MsgFlags);
    type Done = (Notify, Outcome);

    // Always inline: one call site per backend, in the submission path; left
    // to itself the compiler inlines it or not depending on unrelated code
    // (measured: 51 Ir/msg either way).
    #[inline(always)]
    fn request(&mut self) -> Request<'_> {
        if self.serves_unread() {
            // The receive reads the socket's unread bytes at its completion.
            return Request::Nop;
        }
        let fd = self.socket.fd();
        let stream = self.socket.is_stream();
        match &mut self.kind {
            OpKind::Recv { flags } => Request::Recv {
                fd,
                flags: *flags,
                // After bytes taken from the unread ones (`MSG_WAITALL`).
                at: self.taken,
                stream,
            },
            OpKind::Send { flags, done } => Request::Send {
                fd,
                flags: *flags,
                done: *done,
                stream,
            },
            OpKind::RecvMsg {
                flags,
                name_len,
                control_len,
                ..
            } => Request::RecvMsg {
                fd,
                flags: *flags,
                name_len: *name_len,
                control_len: *control_len,
            },
            OpKind::SendMsg { flags, spec } => Request::SendMsg {
                fd,
                flags: *flags,
                to: spec.to,
                control: spec.control.as_bytes(),
            },
            OpKind::PollIn => Request::Poll {
                fd,
                events: libc::POLLIN,
            },
            OpKind::PollOut => Request::Poll {
                fd,
                events: libc::POLLOUT,
            },
            OpKind::Change { .. } => Request::Read { fd },
            OpKind::Transmit(t) => t.request(fd),
            OpKind::Accept(spec) => match spec.phase {
                // Wait for a connection without taking it (it stays queued).
                AcceptPhase::Short => Request::Poll {
                    fd,
                    events: libc::POLLIN,
                },
                AcceptPhase::Accepting => Request::Accept { fd },
                // The first `receive_len` bytes of the output buffer, on the
                // accepted connection (now behind the accept socket's number).
                AcceptPhase::Receiving => Request::RecvFirst {
                    fd: spec.target.fd(),
                    len: spec.receive_len,
                },
            },
            OpKind::Connect(spec) => match spec.phase {
                ConnectPhase::Connecting => Request::Connect {
                    fd,
                    addr: spec.addr,
                },
                ConnectPhase::Sending { done } => Request::Send {
                    fd,
                    flags: 0,
                    done,
                    stream,
                },
            },
            OpKind::Disconnect { .. } => Request::Shutdown { fd },
        }
    }

    #[inline(always)]
    fn send_inline(&mut self, bufs: &crate::sys::buf::BufList) {
        if let OpKind::Transmit(t) = &mut self.kind {
            let nonblocking = self
                .socket
                .nonblocking
                .load(std::sync::atomic::Ordering::Relaxed);
            t.send_inline(bufs, self.socket.fd(), nonblocking);
        }
    }

    #[inline(always)]
    fn absorb(&mut self, res: i32) -> bool {
        OpSlot::absorb(self, res)
    }

    #[inline]
    fn step(&mut self, mem: &mut OpMem, res: i32, cancelled: bool) -> op::Step<Self::Ended> {
        match OpSlot::step(self, mem, res, cancelled) {
            Step::Done {
                error,
                bytes,
                flags,
            } => op::Step::Done((error, bytes, flags)),
            Step::Resubmit => op::Step::Resubmit,
        }
    }

    #[inline]
    fn finish(
        self,
        mem: &mut OpMem,
        (error, bytes, flags): Self::Ended,
        lane: Option<(&Weak<Ring>, u64)>,
    ) -> Finished<Self> {
        mem.finish(bytes as usize);
        let mut outcome = || Outcome {
            error,
            bytes,
            flags,
            bufs: std::mem::take(&mut mem.bufs),
            dgram: mem.take_dgram().map(boxed_dgram),
        };
        // A dropped future's receive gives its bytes back to the socket
        // before the next receive of its lane starts. The outcome is built
        // where it goes (no move through an `Option` on the usual path).
        let done = match self.notify.abandoned() {
            Some(future) => {
                future.complete(outcome());
                None
            }
            None => Some((self.notify, outcome())),
        };
        let next = lane.and_then(|(driver, user_data)| {
            self.socket
                .lanes
                .leave(self.kind.direction(), driver, user_data)
        });
        let OpSlot { kind, socket, .. } = self;
        drop(socket);
        match kind {
            // Nothing to drop in these: no call to `OpKind`'s drop glue
            // (its jump over every kind) for the usual operations.
            OpKind::Recv { .. } | OpKind::Send { .. } => std::mem::forget(kind),
            kind => drop(kind),
        }
        Finished { done, next }
    }

    #[inline]
    fn deliver((notify, outcome): Self::Done) {
        deliver(notify, outcome);
    }

    #[inline]
    fn any_thread(&self) -> bool {
        self.notify.any_thread()
    }

    fn awaited(&self) -> bool {
        self.notify.awaited()
    }

    #[inline]
    fn socket_closed(&self) -> bool {
        self.socket.is_closed()
    }

    #[inline]
    fn socket_of(&self, fd: std::os::fd::RawFd) -> &Arc<SocketInner> {
        match &self.kind {
            OpKind::Accept(spec) if spec.target.fd() == fd => &spec.target,
            _ => &self.socket,
        }
    }

    fn issued_on(&self, socket: &Arc<SocketInner>) -> bool {
        Arc::ptr_eq(&self.socket, socket)
    }

    fn targets(&self, socket: &Arc<SocketInner>) -> bool {
        self.kind.targets(socket)
    }

    #[inline]
    fn enter_lane(&self, driver: &Weak<Ring>, user_data: u64) -> bool {
        self.socket
            .lanes
            .enter(self.kind.direction(), driver, user_data)
    }

    fn withdraw_lane(&self, driver: &Weak<Ring>, user_data: u64) -> bool {
        self.socket
            .lanes
            .withdraw(self.kind.direction(), driver, user_data)
    }
}

/// A datagram receive's source and control data, boxed for its outcome (out
/// of line: stream operations, the usual case, never come here).
#[inline(never)]
fn boxed_dgram((from, control): (Option<std::net::SocketAddr>, Vec<u8>)) -> Box<DgramOut> {
    Box::new(DgramOut {
        from,
        control: Control::from_kernel(control),
    })
}
