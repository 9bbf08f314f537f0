//! The load generator's readiness client: where io_uring cannot run (a seccomp profile, a
//! hardened kernel), the same operations on non-blocking sockets and one epoll instance.
//!
//! It keeps [`Ring`](super::ring::Ring)'s surface and its completions: a send or receive is
//! tried at once when the socket is known ready and otherwise waits for the socket's next
//! edge (epoll edge-triggered, one registration per socket for the whole run); its result
//! is queued and handed out by the next [`Poller::reap`], never during the call that
//! started it, exactly as a ring's completion would be. A stream receive shorter than its
//! buffer marks the socket drained (every later arrival raises a new edge), as tokio does;
//! a datagram socket is drained only by `EAGAIN`.
//!
//! Waits use `epoll_pwait2` (nanosecond timeouts, so paced loads stay even); where that
//! call is missing or denied, `epoll_wait`, whose timeouts are whole milliseconds.
//!
//! The epoll system calls are in [`sys`] (with `ring.rs`, `process.rs` and `uring_echo.rs`,
//! one of the program's modules with `unsafe` code).

mod sys;

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use socket2::{SockAddr, Socket, Type};

use super::client::{Completion, Op};
use sys::Epoll;

/// Events taken per wait.
const EVENTS: usize = 1024;
/// One connection's socket and what waits on it.
struct Slot {
    sock: Option<Socket>,
    /// A stream socket (a short read drains it) rather than a datagram one.
    stream: bool,
    /// Not known to be drained since its last edge.
    readable: bool,
    /// Not known to be full since its last edge.
    writable: bool,
    /// A receive waits for data.
    recv: bool,
    /// Sends not yet made: ranges of the pattern, in order.
    sends: VecDeque<(usize, usize)>,
    /// A connect in progress, and when it times out.
    connecting: Option<Instant>,
}

/// The readiness client: connections, their receive buffers, the send pattern.
pub struct Poller {
    ep: Epoll,
    events: Vec<libc::epoll_event>,
    slots: Vec<Slot>,
    recv_len: usize,
    recv_arena: Box<[u8]>,
    pattern: Box<[u8]>,
    addr: SockAddr,
    connect_timeout: Duration,
    /// Connects in progress.
    connecting: usize,
    /// Completions not yet reaped.
    done: Vec<Completion>,
}

impl Poller {
    /// A client for `conns` connections to `addr`, each with a `recv_len`-byte buffer,
    /// sending from `pattern`.
    pub fn new(
        conns: usize,
        recv_len: usize,
        pattern: Box<[u8]>,
        addr: SockAddr,
        connect_timeout: Duration,
    ) -> io::Result<Poller> {
        let slots = (0..conns)
            .map(|_| Slot {
                sock: None,
                stream: true,
                readable: false,
                writable: false,
                recv: false,
                sends: VecDeque::new(),
                connecting: None,
            })
            .collect();
        Ok(Poller {
            ep: Epoll::new()?,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS],
            slots,
            recv_len,
            recv_arena: vec![0u8; conns * recv_len].into_boxed_slice(),
            pattern,
            addr,
            connect_timeout,
            connecting: 0,
            done: Vec::with_capacity(4096),
        })
    }

    /// The send pattern.
    pub fn pattern(&self) -> &[u8] {
        &self.pattern
    }

    /// Gives connection `conn` its socket (made non-blocking and registered here).
    pub fn attach(&mut self, conn: usize, fd: OwnedFd) -> io::Result<()> {
        let sock = Socket::from(fd);
        sock.set_nonblocking(true)?;
        self.ep.add(&sock, conn)?;
        let stream = sock.r#type().map_or(true, |t| t == Type::STREAM);
        let slot = &mut self.slots[conn];
        assert!(slot.sock.is_none(), "slot {conn} is busy");
        *slot = Slot {
            sock: Some(sock),
            stream,
            readable: true,
            writable: true,
            recv: false,
            sends: VecDeque::new(),
            connecting: None,
        };
        Ok(())
    }

    /// Shuts connection `conn` down and closes it; what waited on it is dropped.
    pub fn close(&mut self, conn: usize) {
        let slot = &mut self.slots[conn];
        if let Some(sock) = slot.sock.take() {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
        if slot.connecting.take().is_some() {
            self.connecting -= 1;
        }
        slot.recv = false;
        slot.sends.clear();
    }

    fn live(&self, conn: usize) -> &Socket {
        self.slots[conn]
            .sock
            .as_ref()
            .expect("connection has no socket")
    }

    fn complete(&mut self, conn: usize, op: Op, result: i32) {
        self.done.push(Completion { conn, op, result });
    }

    /// Connects `conn` to the client's address; a connect that outlives the timeout
    /// completes with `-ECANCELED` (as a ring's linked timeout makes it).
    pub fn push_connect(&mut self, conn: usize) -> io::Result<()> {
        match self.live(conn).connect(&self.addr) {
            Ok(()) => self.connected(conn, 0, -libc::ECANCELED),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                self.slots[conn].connecting = Some(Instant::now() + self.connect_timeout);
                self.connecting += 1;
            }
            Err(e) => self.connected(conn, neg_errno(&e), -libc::ECANCELED),
        }
        Ok(())
    }

    /// The two completions of a connect: its own, and its timeout's.
    fn connected(&mut self, conn: usize, result: i32, timeout: i32) {
        self.complete(conn, Op::Connect, result);
        self.complete(conn, Op::ConnectTimeout, timeout);
    }

    /// Sends `pattern[start..start + len]` on `conn` (now if the socket can take it).
    pub fn push_send(&mut self, conn: usize, start: usize, len: usize) -> io::Result<()> {
        assert!(
            start + len <= self.pattern.len(),
            "send outside the pattern"
        );
        let slot = &mut self.slots[conn];
        slot.sends.push_back((start, len));
        if slot.writable && slot.sends.len() == 1 {
            self.try_sends(conn);
        }
        Ok(())
    }

    /// Receives into `conn`'s buffer (now if data is there); at most one at a time.
    pub fn push_recv(&mut self, conn: usize) -> io::Result<()> {
        let slot = &mut self.slots[conn];
        assert!(!slot.recv, "two receives on connection {conn}");
        slot.recv = true;
        if slot.readable {
            self.try_recv(conn);
        }
        Ok(())
    }

    /// The first `len` bytes of `conn`'s receive buffer; no receive may be waiting.
    pub fn received(&self, conn: usize, len: usize) -> &[u8] {
        assert!(!self.slots[conn].recv, "receive still waiting on {conn}");
        &self.recv_arena[conn * self.recv_len..][..len]
    }

    fn try_sends(&mut self, conn: usize) {
        while let Some(&(start, len)) = self.slots[conn].sends.front() {
            let slot = &mut self.slots[conn];
            let Some(sock) = slot.sock.as_ref() else {
                return;
            };
            let result =
                match sock.send_with_flags(&self.pattern[start..][..len], libc::MSG_NOSIGNAL) {
                    Ok(n) => n as i32,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        slot.writable = false;
                        return;
                    }
                    Err(e) => neg_errno(&e),
                };
            slot.sends.pop_front();
            self.complete(conn, Op::Send, result);
        }
    }

    fn try_recv(&mut self, conn: usize) {
        let len = self.recv_len;
        let slot = &mut self.slots[conn];
        let Some(mut sock) = slot.sock.as_ref() else {
            return;
        };
        let buf = &mut self.recv_arena[conn * len..][..len];
        let result = loop {
            match sock.read(buf) {
                Ok(n) => {
                    if slot.stream && n > 0 && n < len {
                        slot.readable = false;
                    }
                    break n as i32;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    slot.readable = false;
                    return;
                }
                Err(e) => break neg_errno(&e),
            }
        };
        slot.recv = false;
        self.complete(conn, Op::Recv, result);
    }

    /// A connecting socket had an edge: connected, refused, or not yet.
    fn connect_edge(&mut self, conn: usize) {
        let Some(sock) = self.slots[conn].sock.as_ref() else {
            return;
        };
        let result = match sock.take_error() {
            Ok(Some(e)) | Err(e) => neg_errno(&e),
            Ok(None) if sock.peer_addr().is_ok() => 0,
            Ok(None) => return,
        };
        self.slots[conn].connecting = None;
        self.connecting -= 1;
        self.connected(conn, result, -libc::ECANCELED);
    }

    /// Waits for readiness at most `timeout` (not at all if completions are queued) and
    /// makes the operations that can now go.
    pub fn submit_and_wait(&mut self, mut timeout: Duration) -> io::Result<()> {
        if !self.done.is_empty() {
            timeout = Duration::ZERO;
        }
        let now = Instant::now();
        if self.connecting > 0 {
            for slot in &self.slots {
                if let Some(at) = slot.connecting {
                    timeout = timeout.min(at.saturating_duration_since(now));
                }
            }
        }
        let n = match self.ep.wait(&mut self.events, timeout) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        for i in 0..n {
            let ev = self.events[i];
            let (conn, flags) = (ev.u64 as usize, ev.events as i32);
            let slot = &mut self.slots[conn];
            if slot.sock.is_none() {
                continue;
            }
            let broken = flags & (libc::EPOLLHUP | libc::EPOLLERR) != 0;
            if broken || flags & (libc::EPOLLIN | libc::EPOLLRDHUP) != 0 {
                slot.readable = true;
            }
            if broken || flags & libc::EPOLLOUT != 0 {
                slot.writable = true;
            }
            if slot.connecting.is_some() {
                self.connect_edge(conn);
                continue;
            }
            if slot.recv && slot.readable {
                self.try_recv(conn);
            }
            if self.slots[conn].writable && !self.slots[conn].sends.is_empty() {
                self.try_sends(conn);
            }
        }
        if self.connecting > 0 {
            self.time_out_connects();
        }
        Ok(())
    }

    /// Connects past their timeout complete with `-ECANCELED`, their timeouts with `-ETIME`.
    fn time_out_connects(&mut self) {
        let now = Instant::now();
        for conn in 0..self.slots.len() {
            if self.slots[conn].connecting.is_some_and(|at| at <= now) {
                self.slots[conn].connecting = None;
                self.connecting -= 1;
                self.connected(conn, -libc::ECANCELED, -libc::ETIME);
            }
        }
    }

    /// Moves every queued completion into `out` (cleared first).
    pub fn reap(&mut self, out: &mut Vec<Completion>) {
        out.clear();
        std::mem::swap(out, &mut self.done);
    }
}

/// A failed call's result as a ring reports it: the negated errno.
fn neg_errno(e: &io::Error) -> i32 {
    -e.raw_os_error().unwrap_or(libc::EIO)
}
