//! The epoll instance of one ring, its operations table and its
//! registrations, as only the ring's lock holder sees them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Weak};
use std::time::Duration;

use slab::Slab;

use crate::sys::op::{Member, Op};
use crate::sys::OpMem;

/// The `epoll_event.u64` of the ring's own wake-up eventfd; a descriptor's
/// events carry its number.
pub(super) const WAKER: u64 = u64::MAX;

/// Interest in a descriptor's readiness.
pub(super) const IN: u32 = libc::EPOLLIN as u32;
pub(super) const OUT: u32 = libc::EPOLLOUT as u32;
/// Always reported: the operation's next try will see what happened.
const ALWAYS: u32 = (libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLRDHUP) as u32;

/// What an operation is doing right now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Wait {
    /// Not in the epoll set: queued in its lane, or not yet tried.
    Idle,
    /// Tried: the call would block; waits for `events` on `fd`.
    Fd { fd: RawFd, events: u32 },
    /// A worker thread runs its blocking step (a file read of a transmit);
    /// the result comes back as mail. Nothing may free its memory meanwhile.
    Worker,
}

/// One operation in flight: the model's record, the memory the calls use,
/// and what the backend keeps beside them.
pub(super) struct Slot<O> {
    pub(super) op: O,
    pub(super) mem: Box<OpMem>,
    /// False while queued behind another operation of its socket lane.
    pub(super) submitted: bool,
    /// A cancel was asked for (by a dropped record, a close or a cancel call).
    pub(super) cancelled: bool,
    pub(super) wait: Wait,
    /// A stream `MSG_WAITALL` receive: bytes received by earlier tries.
    pub(super) got: usize,
    /// The descriptor a stream receive's last try found empty (`EAGAIN`,
    /// or a read shorter than asked): see `Core::drained`.
    pub(super) drained: Option<RawFd>,
    /// A connect: the first `connect` call was made.
    pub(super) connecting: bool,
    /// A transmit: its chain is in progress (`plan` holds it).
    pub(super) planned: bool,
    /// A transmit's chain and what runs it (boxed: only transmits have
    /// one, and every other operation's slot moves in and out of the table).
    pub(super) plan: Option<Box<Plan>>,
}

/// A transmit's chain in progress (see `transmit.rs`).
#[derive(Default)]
pub(super) struct Plan {
    /// The next member of the chain to run.
    pub(super) member: usize,
    /// The pipe's bytes already read out into user memory, front first.
    pub(super) staged: Vec<u8>,
    /// The members of the chain, and the descriptors they name.
    pub(super) chain: Vec<Member>,
    pub(super) fds: ChainFds,
}

/// The descriptors of a transmit's chain (owned by the record).
#[derive(Default)]
pub(super) struct ChainFds {
    pub(super) pipe: (RawFd, RawFd),
    pub(super) files: Vec<RawFd>,
    pub(super) socket: RawFd,
}

impl<O> Slot<O> {
    pub(super) fn new(op: O, mem: Box<OpMem>) -> Slot<O> {
        Slot {
            op,
            mem,
            submitted: false,
            cancelled: false,
            wait: Wait::Idle,
            got: 0,
            drained: None,
            connecting: false,
            planned: false,
            plan: None,
        }
    }
}

/// The hash of a descriptor number for the registrations: a multiply
/// (Fibonacci hashing) instead of SipHash, which cost ~8 % of the
/// instructions per echoed message (several look-ups per message; the
/// numbers are small, dense, and not chosen by a remote party).
#[derive(Default)]
pub(super) struct FdHash(u64);

impl Hasher for FdHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_i32(&mut self, n: i32) {
        self.0 = u64::from(n as u32).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A descriptor registered in this ring's epoll set, and the socket it
/// belonged to then: a registration is only trusted while both hold, since
/// a descriptor number can be closed and reused, or have another socket
/// put behind it (`dup3`), without the kernel telling this ring.
pub(super) struct Reg<S> {
    socket: Weak<S>,
    epoch: u32,
    /// Operations waiting on it (`user_data`).
    pub(super) waiters: Vec<u64>,
    /// Data may be there to read: no receive found the socket empty since
    /// the last readable edge this ring collected for it (or since it was
    /// registered). While false, a new stream receive waits for the next
    /// edge without a try that could only say `EAGAIN` (`Core::quiet`).
    readable: bool,
    /// An edge collected for it reported the peer's end, a hang-up or an
    /// error (`EPOLLRDHUP`/`HUP`/`ERR`): a short read then does not mean
    /// the next receive would wait (it returns 0 or the error at once, and
    /// no other edge is coming), so the socket is never quiet again.
    ended: bool,
}

/// The registrations of a ring, by descriptor number.
pub(super) type Regs<S> = HashMap<RawFd, Reg<S>, BuildHasherDefault<FdHash>>;

/// Whether `fd` (of `socket`) is registered in `regs`, under the same
/// socket and open file, and no data can have come since a receive last
/// found it empty: every byte that arrives after that makes an edge, which
/// the ring collects (setting `readable`) or a waiter gets; so do the
/// peer's end and a reset (an edge collected after they came reports them:
/// `ended`).
pub(super) fn quiet<S>(regs: &Regs<S>, fd: RawFd, socket: &S) -> bool {
    match regs.get(&fd) {
        Some(reg) => {
            !reg.readable
                && !reg.ended
                && reg.epoch == crate::sys::fd::epoch(fd)
                && std::ptr::eq(reg.socket.as_ptr(), socket)
        }
        None => false,
    }
}

pub(super) struct Core<O: Op> {
    pub(super) epfd: OwnedFd,
    pub(super) slots: Slab<(u64, Slot<O>)>,
    pub(super) generation: u32,
    /// Recycled operation memory (boxed: its address must not move).
    #[allow(clippy::vec_box)]
    pub(super) spare: Vec<Box<OpMem>>,
    pub(super) regs: Regs<O::Socket>,
    /// Operations started in batching mode, to be tried at the next turn.
    pub(super) fresh: Vec<u64>,
    pub(super) events: Vec<libc::epoll_event>,
    /// Scratch lists kept to spare an allocation per turn: the batch being
    /// tried, the operations an event woke, the descriptors found not
    /// ready in this round.
    pub(super) fresh_spare: Vec<u64>,
    pub(super) woken: Vec<(u64, RawFd, u32)>,
    pub(super) blocked: Vec<(RawFd, u32)>,
    /// Completions delivered so far (a drive that delivered some wakes an
    /// owner that may be waiting for one: `Ring::wake_owner`).
    pub(super) delivered: u64,
    /// The last turn returned without looking (it had delivered while
    /// preparing to wait): the next one looks whatever happens.
    pub(super) skipped: bool,
    /// Size of `regs` after its last sweep of dead sockets.
    swept: usize,
}

impl<O: Op> Core<O> {
    pub(super) fn new(epfd: OwnedFd) -> Core<O> {
        Core {
            epfd,
            slots: Slab::with_capacity(64),
            generation: 0,
            spare: Vec::new(),
            regs: HashMap::default(),
            fresh: Vec::new(),
            events: Vec::with_capacity(256),
            fresh_spare: Vec::new(),
            woken: Vec::new(),
            blocked: Vec::new(),
            delivered: 0,
            skipped: false,
            swept: 64,
        }
    }

    /// Delivers an operation's outcome (on this thread), counted.
    pub(super) fn deliver(&mut self, done: O::Done) {
        self.delivered = self.delivered.wrapping_add(1);
        O::deliver(done);
    }

    /// Makes operation `ud` wait for `events` on `fd` (the descriptor of a
    /// socket it names). Registers the descriptor (edge-triggered, all
    /// events) the first time, or again when the number now names another
    /// socket or another open file.
    pub(super) fn wait_on(&mut self, ud: u64, fd: RawFd, events: u32) -> io::Result<()> {
        let key = (ud & 0xffff_ffff) as usize;
        let Some((_, slot)) = self.slots.get_mut(key) else {
            return Ok(());
        };
        let socket = slot.op.socket_of(fd);
        let epoch = crate::sys::fd::epoch(fd);
        match self.regs.get_mut(&fd) {
            // Registered already, for this socket and open file (the usual case).
            Some(reg)
                if reg.epoch == epoch && std::ptr::eq(reg.socket.as_ptr(), Arc::as_ptr(socket)) =>
            {
                slot.wait = Wait::Fd { fd, events };
                if !reg.waiters.contains(&ud) {
                    reg.waiters.push(ud);
                }
                return Ok(());
            }
            _ => {}
        }
        // First wait here, or the number names another socket or open file now.
        let socket = Arc::downgrade(socket);
        register(&self.epfd, fd)?;
        let waiters = self.regs.remove(&fd).map(|r| r.waiters).unwrap_or_default();
        self.regs.insert(
            fd,
            Reg {
                socket,
                epoch,
                waiters,
                readable: true,
                ended: false,
            },
        );
        self.sweep();
        if let Some((_, slot)) = self.slots.get_mut(key) {
            slot.wait = Wait::Fd { fd, events };
        }
        if let Some(reg) = self.regs.get_mut(&fd) {
            if !reg.waiters.contains(&ud) {
                reg.waiters.push(ud);
            }
        }
        Ok(())
    }

    /// A receive found `fd` empty (`EAGAIN`, or a stream read shorter than
    /// asked): its next edge says when data comes.
    pub(super) fn drained(&mut self, fd: RawFd) {
        if let Some(reg) = self.regs.get_mut(&fd) {
            reg.readable = false;
        }
    }

    /// Forgets registrations of sockets that are gone (the kernel dropped
    /// them when the socket closed), now and then.
    fn sweep(&mut self) {
        if self.regs.len() < self.swept * 2 {
            return;
        }
        self.regs
            .retain(|_, r| r.socket.strong_count() > 0 || !r.waiters.is_empty());
        self.swept = self.regs.len().max(64);
    }

    /// The operations waiting on `fd` under a registration older than the
    /// descriptor's current open file, with the events they wait for; the
    /// stale registration is forgotten (the next wait registers afresh).
    pub(super) fn stale_waiters(&mut self, fd: RawFd) -> Vec<(u64, u32)> {
        let epoch = crate::sys::fd::epoch(fd);
        match self.regs.get(&fd) {
            Some(reg) if reg.epoch != epoch => {}
            _ => return Vec::new(),
        }
        let reg = self.regs.remove(&fd).expect("just seen");
        let mut found = Vec::new();
        for ud in reg.waiters {
            let key = (ud & 0xffff_ffff) as usize;
            if let Some((stored, slot)) = self.slots.get_mut(key) {
                if *stored == ud {
                    if let Wait::Fd { events, .. } = slot.wait {
                        slot.wait = Wait::Idle;
                        found.push((ud, events));
                    }
                }
            }
        }
        found
    }

    /// Takes operation `ud` out of the waiters of the descriptor it waits on.
    pub(super) fn unwait(&mut self, ud: u64) {
        let key = (ud & 0xffff_ffff) as usize;
        let Some((_, slot)) = self.slots.get_mut(key) else {
            return;
        };
        if let Wait::Fd { fd, .. } = std::mem::replace(&mut slot.wait, Wait::Idle) {
            if let Some(reg) = self.regs.get_mut(&fd) {
                reg.waiters.retain(|&w| w != ud);
            }
        }
    }

    /// The operations that `events` on `fd` may let go further.
    pub(super) fn woken(&mut self, fd: RawFd, events: u32, out: &mut Vec<(u64, RawFd, u32)>) {
        let Some(reg) = self.regs.get_mut(&fd) else {
            return;
        };
        if events & (IN | ALWAYS) != 0 {
            reg.readable = true;
        }
        if events & ALWAYS != 0 {
            reg.ended = true;
        }
        let slots = &mut self.slots;
        reg.waiters.retain(|&ud| {
            let key = (ud & 0xffff_ffff) as usize;
            match slots.get_mut(key) {
                Some((stored, slot)) if *stored == ud => match slot.wait {
                    Wait::Fd { events: wanted, .. } => {
                        if wanted & events != 0 || events & ALWAYS != 0 {
                            slot.wait = Wait::Idle;
                            out.push((ud, fd, wanted));
                            false
                        } else {
                            true
                        }
                    }
                    _ => false,
                },
                _ => false,
            }
        });
    }

    /// Waits up to `timeout` (`None`: for ever; zero: only looks) for
    /// events; they are left in `self.events`.
    pub(super) fn wait(&mut self, timeout: Option<Duration>) {
        let ms = match timeout {
            None => -1,
            Some(t) if t.is_zero() => 0,
            // Round up: a wait must not end before its time.
            Some(t) => t.as_micros().div_ceil(1000).min(i32::MAX as u128).max(1) as i32,
        };
        self.events.clear();
        let cap = self.events.capacity();
        // SAFETY: the kernel writes at most `cap` events into the vector's
        // spare capacity; we set the length to what it reports.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                self.events.as_mut_ptr(),
                cap as i32,
                ms,
            )
        };
        if n > 0 {
            // SAFETY: the kernel initialised the first `n` entries.
            unsafe { self.events.set_len(n as usize) };
        }
    }
}

/// Registers `fd` in the epoll set `epfd` (or again, if this very open
/// file is there under this number already).
fn register(epfd: &OwnedFd, fd: RawFd) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: IN | OUT | ALWAYS | libc::EPOLLET as u32,
        u64: fd as u64,
    };
    // SAFETY: `ev` is a live epoll_event; no memory is kept by the kernel.
    let r = unsafe { libc::epoll_ctl(epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    if r == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EEXIST) {
        return Err(err);
    }
    // This very open file is registered under this number already.
    // SAFETY: as above.
    let r = unsafe { libc::epoll_ctl(epfd.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
