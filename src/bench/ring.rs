//! With `epoll/sys.rs`, `process.rs` and `uring_echo.rs`, one of the program's modules with
//! `unsafe` code: the load generator's io_uring client (see [`super::client`] for the
//! choice between it and the epoll one), its probe, and a few raw OS calls (file limit,
//! signals, clock ticks).
//!
//! The [`Ring`] owns everything an in-flight operation can point at: the sockets, the
//! receive buffers (one fixed slot per connection), the read-only send pattern, the
//! peer address and the connect timeout. None of them is freed or moved while the kernel
//! may still use it: on drop, the ring shuts the sockets down, cancels what is left and
//! waits for every completion; if that fails, the memory is leaked rather than freed.

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types, IoUring};
use socket2::{SockAddr, SockRef};

use super::client::{failed_call, Completion, Op};

/// An operation's code in the low byte of `user_data`.
fn op_code(op: Op) -> u64 {
    op as u64
}

fn op_from_code(code: u64) -> Op {
    match code {
        0 => Op::Connect,
        1 => Op::ConnectTimeout,
        2 => Op::Send,
        3 => Op::Recv,
        _ => Op::Cancel,
    }
}

struct Slot {
    fd: Option<OwnedFd>,
    inflight: u32,
    recv_inflight: bool,
    closing: bool,
}

/// An io_uring with its connections and the memory its operations use.
pub struct Ring {
    ring: IoUring,
    slots: Vec<Slot>,
    recv_len: usize,
    recv_arena: ManuallyDrop<Box<[u8]>>,
    pattern: ManuallyDrop<Box<[u8]>>,
    addr: ManuallyDrop<Box<SockAddr>>,
    connect_timeout: ManuallyDrop<Box<types::Timespec>>,
    inflight: usize,
}

impl Ring {
    /// A ring for `conns` connections to `addr`, each with a `recv_len`-byte buffer, sending
    /// from `pattern`; each connection may have up to `ops_per_conn` operations in flight.
    pub fn new(
        conns: usize,
        recv_len: usize,
        ops_per_conn: usize,
        pattern: Box<[u8]>,
        addr: SockAddr,
        connect_timeout: Duration,
    ) -> io::Result<Ring> {
        let sq = 4096u32;
        let cq = ((conns * ops_per_conn + 64).next_power_of_two() as u32).clamp(2 * sq, 65536);
        let fast = IoUring::builder()
            .setup_cqsize(cq)
            .setup_single_issuer()
            .setup_coop_taskrun()
            .setup_defer_taskrun()
            .build(sq);
        let ring = match fast {
            Ok(r) => r,
            Err(_) => IoUring::builder().setup_cqsize(cq).build(sq)?,
        };
        let slots = (0..conns)
            .map(|_| Slot {
                fd: None,
                inflight: 0,
                recv_inflight: false,
                closing: false,
            })
            .collect();
        Ok(Ring {
            ring,
            slots,
            recv_len,
            recv_arena: ManuallyDrop::new(vec![0u8; conns * recv_len].into_boxed_slice()),
            pattern: ManuallyDrop::new(pattern),
            addr: ManuallyDrop::new(Box::new(addr)),
            connect_timeout: ManuallyDrop::new(Box::new(types::Timespec::from(connect_timeout))),
            inflight: 0,
        })
    }

    /// The send pattern.
    pub fn pattern(&self) -> &[u8] {
        &self.pattern
    }

    /// Gives connection `conn` its socket.
    pub fn attach(&mut self, conn: usize, fd: OwnedFd) {
        let slot = &mut self.slots[conn];
        assert!(
            slot.fd.is_none() && slot.inflight == 0,
            "slot {conn} is busy"
        );
        *slot = Slot {
            fd: Some(fd),
            inflight: 0,
            recv_inflight: false,
            closing: false,
        };
    }

    /// Shuts connection `conn` down; its socket is closed once its last operation completes.
    pub fn close(&mut self, conn: usize) {
        let slot = &mut self.slots[conn];
        if let Some(fd) = &slot.fd {
            let _ = SockRef::from(fd).shutdown(std::net::Shutdown::Both);
            slot.closing = true;
            if slot.inflight == 0 {
                slot.fd = None;
            }
        }
    }

    fn live_fd(&self, conn: usize) -> types::Fd {
        let slot = &self.slots[conn];
        let fd = slot.fd.as_ref().expect("connection has no socket");
        assert!(!slot.closing, "connection {conn} is closing");
        types::Fd(fd.as_raw_fd())
    }

    /// Queues a connect of `conn` to the ring's address, with the ring's connect timeout.
    pub fn push_connect(&mut self, conn: usize) -> io::Result<()> {
        let fd = self.live_fd(conn);
        let connect = opcode::Connect::new(fd, self.addr.as_ptr().cast(), self.addr.len())
            .build()
            .flags(squeue::Flags::IO_LINK)
            .user_data(user_data(conn, Op::Connect));
        let timeout = opcode::LinkTimeout::new(&**self.connect_timeout)
            .build()
            .user_data(user_data(conn, Op::ConnectTimeout));
        let room = {
            let sq = self.ring.submission();
            sq.capacity() - sq.len()
        };
        if room < 2 {
            self.flush()?;
        }
        // SAFETY: the address and the timespec are boxed, owned by the ring and only freed
        // in `drop` after every operation has completed.
        unsafe { self.push_pair(&connect, &timeout)? };
        self.account(conn, 2);
        Ok(())
    }

    /// Queues a send of `pattern[start..start + len]` on `conn`.
    pub fn push_send(&mut self, conn: usize, start: usize, len: usize) -> io::Result<()> {
        let fd = self.live_fd(conn);
        let bytes = &self.pattern[start..start + len];
        let sqe = opcode::Send::new(fd, bytes.as_ptr(), len as u32)
            .build()
            .user_data(user_data(conn, Op::Send));
        // SAFETY: the pattern is owned by the ring, never written, and only freed in `drop`
        // after every operation has completed; the range was bounds-checked above.
        unsafe { self.push(&sqe)? };
        self.account(conn, 1);
        Ok(())
    }

    /// Queues a receive into `conn`'s buffer; at most one may be in flight per connection.
    pub fn push_recv(&mut self, conn: usize) -> io::Result<()> {
        let fd = self.live_fd(conn);
        assert!(
            !self.slots[conn].recv_inflight,
            "two receives on connection {conn}"
        );
        let buf = &mut self.recv_arena[conn * self.recv_len..(conn + 1) * self.recv_len];
        let sqe = opcode::Recv::new(fd, buf.as_mut_ptr(), buf.len() as u32)
            .build()
            .user_data(user_data(conn, Op::Recv));
        // SAFETY: the buffer slot belongs to `conn` alone, is owned by the ring and only
        // freed in `drop` after every completion; `recv_inflight` makes sure nothing reads
        // or reuses it (see `received`) until this receive's completion has been reaped.
        unsafe { self.push(&sqe)? };
        self.slots[conn].recv_inflight = true;
        self.account(conn, 1);
        Ok(())
    }

    /// The first `len` bytes of `conn`'s receive buffer; none of its receives may be in flight.
    pub fn received(&self, conn: usize, len: usize) -> &[u8] {
        assert!(
            !self.slots[conn].recv_inflight,
            "receive still in flight on {conn}"
        );
        &self.recv_arena[conn * self.recv_len..][..len]
    }

    fn account(&mut self, conn: usize, ops: u32) {
        self.slots[conn].inflight += ops;
        self.inflight += ops as usize;
    }

    /// # Safety
    /// Whatever `sqe` points at must stay valid until its completion is reaped.
    unsafe fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        if self.ring.submission().is_full() {
            self.flush()?;
        }
        // SAFETY: passed on from the caller.
        unsafe { self.ring.submission().push(sqe) }.map_err(|_| io::Error::other("SQ full"))
    }

    /// # Safety
    /// As for `push`; the queue must have room for both entries.
    unsafe fn push_pair(&mut self, a: &squeue::Entry, b: &squeue::Entry) -> io::Result<()> {
        // SAFETY: passed on from the caller.
        unsafe {
            self.ring
                .submission()
                .push_multiple(&[a.clone(), b.clone()])
        }
        .map_err(|_| io::Error::other("SQ full"))
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.ring.submit() {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Submits what is queued and waits for one completion, at most `timeout`.
    pub fn submit_and_wait(&mut self, timeout: Duration) -> io::Result<()> {
        let ts = types::Timespec::from(timeout);
        let args = types::SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Moves every available completion into `out` (cleared first), updating the bookkeeping.
    pub fn reap(&mut self, out: &mut Vec<Completion>) {
        out.clear();
        for cqe in self.ring.completion() {
            let data = cqe.user_data();
            let op = op_from_code(data & 0xff);
            let conn = (data >> 8) as usize;
            out.push(Completion {
                conn,
                op,
                result: cqe.result(),
            });
        }
        for c in out.iter() {
            self.inflight -= 1;
            if c.op == Op::Cancel {
                continue;
            }
            let slot = &mut self.slots[c.conn];
            slot.inflight -= 1;
            if c.op == Op::Recv {
                slot.recv_inflight = false;
            }
            if slot.closing && slot.inflight == 0 {
                slot.fd = None;
            }
        }
    }

    /// Ends every operation; returns whether all completions came back within `limit`.
    fn quiesce(&mut self, limit: Duration) -> bool {
        if self.inflight == 0 {
            return true;
        }
        for conn in 0..self.slots.len() {
            self.close(conn);
        }
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(user_data(usize::MAX >> 8, Op::Cancel));
        // SAFETY: a cancellation points at no memory.
        if unsafe { self.push(&cancel) }.is_ok() {
            self.inflight += 1;
        }
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        while self.inflight > 0 && Instant::now() < deadline {
            if self.submit_and_wait(Duration::from_millis(50)).is_err() {
                break;
            }
            self.reap(&mut out);
        }
        self.inflight == 0
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.quiesce(Duration::from_secs(3)) {
            // SAFETY: nothing is in flight any more, so the kernel holds no pointer into
            // these boxes; each is dropped exactly once, here.
            unsafe {
                ManuallyDrop::drop(&mut self.recv_arena);
                ManuallyDrop::drop(&mut self.pattern);
                ManuallyDrop::drop(&mut self.addr);
                ManuallyDrop::drop(&mut self.connect_timeout);
            }
        }
        // Otherwise the buffers are leaked on purpose: the kernel may still write to them.
    }
}

fn user_data(conn: usize, op: Op) -> u64 {
    ((conn as u64) << 8) | op_code(op)
}

/// Whether the client's io_uring can run here: a ring can be made, the kernel lists every
/// opcode the client uses, and one NOP goes through `io_uring_enter` and completes (a
/// seccomp profile may allow `io_uring_setup` and deny `io_uring_enter`). `Err` is the
/// reason in one line naming the call that failed and its errno.
pub fn probe() -> Result<(), String> {
    let mut ring = IoUring::new(8).map_err(|e| failed_call("io_uring_setup", &e))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| failed_call("io_uring_register(IORING_REGISTER_PROBE)", &e))?;
    let needed = [
        (opcode::Connect::CODE, "CONNECT"),
        (opcode::Send::CODE, "SEND"),
        (opcode::Recv::CODE, "RECV"),
        (opcode::LinkTimeout::CODE, "LINK_TIMEOUT"),
        (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    ];
    if let Some((_, name)) = needed.iter().find(|(code, _)| !probe.is_supported(*code)) {
        return Err(format!("the kernel's io_uring lacks {name}"));
    }
    let nop = opcode::Nop::new().build().user_data(1);
    // SAFETY: a NOP points at no memory; the queue of a fresh ring has room.
    unsafe { ring.submission().push(&nop) }.map_err(|_| "the probe's queue is full".to_string())?;
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => break,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(failed_call("io_uring_enter", &e)),
        }
    }
    let result = ring.completion().next().map(|c| c.result());
    match result {
        Some(res) if res >= 0 => Ok(()),
        Some(res) => Err(failed_call(
            "IORING_OP_NOP",
            &io::Error::from_raw_os_error(-res),
        )),
        None => Err("io_uring_enter: a NOP was submitted but did not complete".into()),
    }
}

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// Sends signal `sig` (e.g. `libc::SIGTERM`) to process `pid`.
pub fn signal(pid: u32, sig: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Clock ticks per second, the unit of CPU times in `/proc/PID/stat`.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes a plain integer and touches no memory of ours.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}
