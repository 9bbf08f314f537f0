//! Operations as a backend sees them: what to ask the kernel for in the
//! next step ([`Request`], plain data), and what a backend needs of the
//! record above it ([`Op`], a trait the model implements; every call is
//! resolved at compile time, nothing is boxed or dispatched dynamically).
//!
//! The record is owned by the backend from `start` until its completion is
//! reaped, together with the memory the kernel may use ([`OpMem`]: the
//! buffers, `iovec`s, `msghdr`, address and control areas); nothing else can
//! free or move that memory meanwhile.

use std::net::SocketAddr;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::{Arc, Weak};

use super::buf::BufList;
use super::mem::OpMem;
use super::Driver;

/// One request of a chain (a transmit's step): linked requests that run in
/// order, the next only if the one before moved everything it was asked to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Member {
    /// Write `len` bytes of buffer `buf`, from byte `at`, into the pipe.
    Write { buf: usize, at: usize, len: u32 },
    /// Splice `len` bytes of file `file` (from `offset`, or its position) into the pipe.
    SpliceIn {
        file: usize,
        offset: Option<u64>,
        len: u32,
    },
    /// Splice `len` bytes from the pipe into the socket.
    Out { len: u32 },
    /// Wait until the socket can take bytes (`POLLOUT`): the previous
    /// splice into it said `EAGAIN` (a socket in non-blocking mode).
    Writable,
    /// Shut the socket's sending side down.
    Shutdown,
    /// Nothing to do: complete at once.
    Nop,
}

/// What the kernel is asked to do in an operation's next step. Memory it
/// reads or writes is the operation's own [`OpMem`] (its buffers from byte
/// 0, or from `done` for a send), or what the borrowed fields point into
/// (owned by the record, which the backend holds until the completion).
pub(crate) enum Request<'a> {
    /// `recvmsg` into the buffers from byte `at` on. `stream`: a stream
    /// socket (then `MSG_WAITALL` in `flags` asks for every byte).
    Recv {
        fd: RawFd,
        flags: i32,
        at: usize,
        stream: bool,
    },
    /// `recvmsg` of one datagram with its source (at most `name_len`
    /// bytes) and `control_len` bytes of control data (Windows-sized).
    RecvMsg {
        fd: RawFd,
        flags: i32,
        name_len: u32,
        control_len: u32,
    },
    /// Send the buffers from byte `done` on (a stream send is retried by the
    /// record's `step` until every byte went).
    Send {
        fd: RawFd,
        flags: i32,
        done: usize,
        stream: bool,
    },
    /// `sendmsg` of one datagram to `to` with `control`.
    SendMsg {
        fd: RawFd,
        flags: i32,
        to: Option<SocketAddr>,
        control: &'a [u8],
    },
    /// `read` into the first buffer (change sources: rtnetlink, inotify).
    Read { fd: RawFd },
    /// Wait until `events` (`POLLIN`, `POLLOUT`) are ready; consumes nothing.
    Poll { fd: RawFd, events: i16 },
    /// `accept4(SOCK_CLOEXEC)`: the result is the new descriptor.
    Accept { fd: RawFd },
    /// `recv` of at most `len` bytes into the first buffer.
    RecvFirst { fd: RawFd, len: u32 },
    /// `connect` to `addr`.
    Connect { fd: RawFd, addr: SocketAddr },
    /// `shutdown(SHUT_WR)`.
    Shutdown { fd: RawFd },
    /// Nothing for the kernel: complete at once with result 0 (the record
    /// serves the step itself, e.g. from bytes it already holds).
    Nop,
    /// A chain of linked members through the pipe (`pipe`: read and write
    /// ends) between the buffers, the `files` and `socket`. Every member's
    /// result is handed to [`Op::absorb`] in order.
    Chain {
        members: &'a [Member],
        pipe: (RawFd, RawFd),
        files: &'a [OwnedFd],
        socket: RawFd,
    },
}

/// What [`Op::finish`] leaves: what to deliver, and the lane's next operation.
pub(crate) struct Finished<O: Op> {
    pub(crate) done: Option<O::Done>,
    pub(crate) next: Option<(Weak<Driver<O>>, u64)>,
}

/// What a step's result means for its operation.
pub(crate) enum Step<E> {
    /// Finished; `E` is what the record makes of it (see [`Op::finish`]).
    Done(E),
    /// Not finished: ask for the next request ([`Op::request`]) and submit it.
    Resubmit,
}

/// An operation record, as a backend needs it. Implemented by the model's
/// record; a backend is generic over it, so each call is a direct one.
///
/// Results are the kernel's convention everywhere: bytes (or a descriptor),
/// or `-errno`. A backend that performs the system calls itself (readiness)
/// hands over what they returned in the same form.
pub(crate) trait Op: Send + Sized + 'static {
    /// The socket an operation is issued on (named by cancel-a-socket).
    type Socket: Send + Sync + 'static;
    /// What a finished step carries to [`Op::finish`].
    type Ended;
    /// What [`Op::finish`] produces and [`Op::deliver`] takes.
    type Done;

    /// The request of the next step (called once per submission).
    fn request(&mut self) -> Request<'_>;
    /// Called before a step is built from [`Op::request`], with the
    /// operation's memory buffers: a transmit sends inline, before its
    /// first chain, what cannot block (`sendnow.rs`). Others: nothing.
    fn send_inline(&mut self, _bufs: &BufList) {}
    /// Takes one result of a [`Request::Chain`]; true while more of the
    /// chain's results are to come. Other requests: false.
    fn absorb(&mut self, res: i32) -> bool;
    /// Interprets a step's result; `cancelled`: a cancel was asked for.
    fn step(&mut self, mem: &mut OpMem, res: i32, cancelled: bool) -> Step<Self::Ended>;
    /// The kernel is done with `mem`: takes the buffers and what else the
    /// caller gets back (`mem` is then recycled by the backend), and, if it
    /// was `submitted` (the head of its socket lane), leaves the lane.
    /// Returns what to deliver (`None`: it was settled here, nothing to
    /// deliver) and the lane's next operation, with the driver that holds
    /// it, to submit (on this driver) or hand to that driver
    /// ([`Driver::submit_next`]). A record settles before it leaves its
    /// lane, so the next operation sees what it left behind.
    fn finish(
        self,
        mem: &mut OpMem,
        ended: Self::Ended,
        lane: Option<(&Weak<Driver<Self>>, u64)>,
    ) -> Finished<Self>;
    /// Tells whoever waits (any thread may call it).
    fn deliver(done: Self::Done);
    /// Whether the completion may be delivered by any thread (false: only
    /// its issuing thread can; its requests are not carried past that
    /// thread's exit).
    fn any_thread(&self) -> bool;
    /// Whether anyone still waits for the outcome.
    fn awaited(&self) -> bool;
    /// Whether the socket it is issued on was closed.
    fn socket_closed(&self) -> bool;
    /// The socket behind descriptor `fd` among those the operation names
    /// (the one it is issued on, or an `AcceptEx`'s accept socket): a
    /// readiness backend keeps it, weakly, with its registration of `fd`,
    /// to tell a number that now names another socket from the one it
    /// registered (the weak reference keeps the allocation, so no other
    /// socket can have the same address meanwhile).
    fn socket_of(&self, fd: RawFd) -> &Arc<Self::Socket>;
    /// Whether it is issued on `socket`.
    fn issued_on(&self, socket: &Arc<Self::Socket>) -> bool;
    /// Whether it names `socket` without being issued on it (closing that
    /// socket cancels it too).
    fn targets(&self, socket: &Arc<Self::Socket>) -> bool;
    /// Enters the socket's lane: true if it may be submitted now, false if
    /// it waits behind another (the lane later names it, with `driver`, in
    /// [`Op::finish`]'s answer to whoever completes the one before).
    fn enter_lane(&self, driver: &Weak<Driver<Self>>, user_data: u64) -> bool;
    /// Removes it from its lane if it is queued there (never submitted):
    /// true if it was.
    fn withdraw_lane(&self, driver: &Weak<Driver<Self>>, user_data: u64) -> bool;
}
