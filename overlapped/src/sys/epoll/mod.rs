//! The epoll backend: readiness plus non-blocking system calls, for where
//! io_uring cannot run (denied by seccomp, `kernel.io_uring_disabled`, a
//! kernel without the opcodes). Same surface as the io_uring backend.
//!
//! Each thread that issues operations has a ring: an epoll instance, its
//! operations table and a wake-up eventfd. An operation's step is tried at
//! once as a non-blocking call (`attempt.rs`); a call that would block waits
//! for the descriptor's readiness and is tried again when it comes. The
//! result of each try is what io_uring would have reported for the step's
//! [`Request`](crate::sys::op::Request), and goes through the same
//! interpretation (`Op::step`), so both backends end every operation the
//! same way.
//!
//! Descriptors are registered **edge-triggered**, once per ring and socket,
//! for every event: an operation only ever waits after a try that found the
//! call would block (or right after the registration, which reports the
//! current state), so no edge can be missed, and no `epoll_ctl` is needed
//! per wait, as with level-triggered one-shot interest (which would cost a
//! system call each time an operation starts waiting). Several operations
//! of a ring may wait on one descriptor (a receive and a send, many
//! `AcceptEx` on a listener); an event tries those whose interest it meets.
//!
//! Unlike an io_uring request, nothing here is tied to the thread that
//! started it: any thread may drive a ring under its lock. The owner does
//! it in its waits; a thread that posts a cancel or a worker's result does
//! it at once if the ring is free; the service thread (`service.rs`) does it
//! for rings whose owner has stayed away (or exited) with operations whose
//! completion any thread may deliver.

mod attempt;
mod core;
mod exit;
mod mail;
mod service;
mod transmit;
mod worker;

use self::core::{Core, Slot, Wait, WAKER};
use attempt::Try;
use mail::Mail;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::sys::buf::BufList;
use crate::sys::op::{Op, Step};
use crate::sys::{fork, registry, Driver, OpMem, OpRef, SetupError, Started};

/// A thread's epoll ring.
pub(crate) struct Ring<O: Op> {
    id: u64,
    born: u32,
    /// The driver this ring is (lanes and `OpRef`s name it by this).
    me: Weak<Driver<O>>,
    /// The epoll descriptor (readable while events wait: tokio's reactor
    /// and the service thread watch it).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fd: RawFd,
    /// The table and epoll set, under parking_lot's lock: no poisoning,
    /// whose check at every lock and unlock std's mutex makes (~150
    /// instructions per echoed message in the event model on epoll).
    core: parking_lot::Mutex<Core<O>>,
    waker: OwnedFd,
    sleeping: AtomicBool,
    woken: AtomicBool,
    mail: Mutex<Vec<Mail<O>>>,
    has_mail: AtomicBool,
    ops: AtomicUsize,
    batching: AtomicBool,
    wanted: AtomicBool,
    /// Operations started in batching mode wait to be tried.
    queued: AtomicBool,
    /// The owner's turns so far: the service sees from it that the owner
    /// stayed away.
    visits: AtomicU64,
    /// The ring's descriptor is in the service's epoll set (one-shot).
    armed: AtomicBool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The ring (its address) whose turn this thread is in, before that
    /// turn's wait: its owner, delivering what it tried (`Ring::wake`).
    static PREAMBLE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn os_error(what: &str) -> SetupError {
    let e = io::Error::last_os_error();
    SetupError::Other(io::Error::new(e.kind(), format!("{what}: {e}")))
}

impl<O: Op> Ring<O> {
    /// Makes the calling thread's ring, as its driver.
    pub(crate) fn new_driver() -> Result<Arc<Driver<O>>, SetupError> {
        // SAFETY: epoll_create1 has no memory-safety preconditions.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(os_error("epoll_create1"));
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        let epfd = unsafe { OwnedFd::from_raw_fd(ep) };
        // SAFETY: as above.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(os_error("eventfd"));
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        let waker = unsafe { OwnedFd::from_raw_fd(efd) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKER,
        };
        // SAFETY: `ev` is live; both descriptors are ours.
        if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, efd, &mut ev) } < 0 {
            return Err(os_error("epoll_ctl"));
        }
        if !service::start() {
            return Err(SetupError::Other(io::Error::other(
                "could not start the service thread",
            )));
        }
        fork::watch_forks();
        let driver = Arc::new_cyclic(|me| {
            Driver::Epoll(Ring {
                id: NEXT_ID.fetch_add(1, SeqCst),
                born: fork::generation(),
                me: me.clone(),
                fd: ep,
                core: parking_lot::Mutex::new(Core::new(epfd)),
                waker,
                sleeping: AtomicBool::new(false),
                woken: AtomicBool::new(false),
                mail: Mutex::new(Vec::new()),
                has_mail: AtomicBool::new(false),
                ops: AtomicUsize::new(0),
                batching: AtomicBool::new(false),
                wanted: AtomicBool::new(false),
                queued: AtomicBool::new(false),
                visits: AtomicU64::new(0),
                armed: AtomicBool::new(false),
            })
        });
        registry::add(&driver);
        service::watch_ring(&driver);
        Ok(driver)
    }

    /// The epoll descriptor (readable while events wait).
    #[cfg(feature = "tokio")]
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd
    }

    /// A ring inherited from the parent across `fork`: its epoll set is
    /// shared with the parent, so this process never touches it again.
    pub(crate) fn foreign(&self) -> bool {
        self.born != fork::generation()
    }

    pub(crate) fn batching(&self) -> bool {
        self.batching.load(SeqCst)
    }

    pub(crate) fn set_batching(&self, on: bool) {
        self.batching.store(on, SeqCst);
    }

    /// All operations in flight.
    pub(crate) fn ops(&self) -> usize {
        self.ops.load(SeqCst)
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Core<O>> {
        self.core.lock()
    }

    fn try_lock(&self) -> Option<parking_lot::MutexGuard<'_, Core<O>>> {
        self.core.try_lock()
    }

    /// Lets go of the ring, then does what was asked of it meanwhile.
    fn release(&self, core: parking_lot::MutexGuard<'_, Core<O>>) {
        drop(core);
        fence(SeqCst);
        if self.wanted.load(SeqCst) || self.has_mail.load(SeqCst) {
            self.serve();
        }
    }

    /// Drives the ring from any thread: reads its mail, tries batched
    /// starts, and runs what is ready. If another thread holds the ring,
    /// leaves it a note (`wanted`) that it reads after letting go.
    pub(crate) fn serve(&self) {
        if self.foreign() {
            return;
        }
        loop {
            let core = match self.try_lock() {
                Some(core) => core,
                None => {
                    self.wanted.store(true, SeqCst);
                    fence(SeqCst);
                    match self.try_lock() {
                        Some(core) => core,
                        None => {
                            // The holder may be asleep in its wait.
                            self.wake();
                            return;
                        }
                    }
                }
            };
            self.wanted.store(false, SeqCst);
            let mut core = core;
            let before = core.delivered;
            self.drain_mail(&mut core);
            self.try_fresh(&mut core);
            core.wait(Some(Duration::ZERO));
            self.dispatch(&mut core);
            self.try_fresh(&mut core);
            let delivered = core.delivered != before;
            drop(core);
            fence(SeqCst);
            if delivered {
                self.wake_owner();
            }
            if !self.wanted.load(SeqCst) && !self.has_mail.load(SeqCst) {
                return;
            }
        }
    }

    /// Starts an operation (owner). With `eager`, its first step is tried
    /// now and a completion during the call is returned as `Immediate`,
    /// undelivered; otherwise it is tried at the owner's next turn or flush.
    pub(crate) fn start(&self, op: O, bufs: BufList, eager: bool) -> Started<O> {
        let mut core = self.lock();
        let c: &mut Core<O> = &mut core;
        let mut mem = c.spare.pop().unwrap_or_else(OpMem::new);
        mem.bufs = bufs;
        c.generation = c.generation.wrapping_add(1) & 0x7fff_ffff;
        let generation = u64::from(c.generation);
        let entry = c.slots.vacant_entry();
        let user_data = (generation << 32) | entry.key() as u64;
        let (_, slot) = entry.insert((user_data, Slot::new(op, mem)));
        // Counted under the ring's lock, as every change of it is: a plain
        // load and store rather than a locked add per operation (the
        // service reads it without the lock). The first operation pairs its
        // count with the service's `IDLE` look (`service::watch`), across
        // a fence.
        let n = self.ops.load(Relaxed);
        self.ops.store(n + 1, Release);
        if n == 0 {
            fence(SeqCst);
            service::watch();
        }
        let op_ref = OpRef::to(&self.me, &slot.op, user_data);
        if !slot.op.enter_lane(&self.me, user_data) {
            self.release(core);
            return Started::Pending(op_ref);
        }
        slot.submitted = true;
        if !eager {
            // A receive on a socket found empty since its last edge waits
            // for the next one now: its first try, at the next turn, would
            // do just that without a system call.
            let regs = &c.regs;
            let quiet = attempt::quiet_recv(slot, |fd, socket| core::quiet(regs, fd, socket));
            if let Some(fd) = quiet {
                if c.wait_on(user_data, fd, core::IN).is_ok() {
                    self.release(core);
                    return Started::Pending(op_ref);
                }
            }
            c.fresh.push(user_data);
            // (Written under the lock; `flush` only reads it as a hint.
            // A plain store, not a locked exchange, per batched start.)
            if !self.queued.load(Relaxed) {
                self.queued.store(true, Release);
            }
            self.release(core);
            return Started::Pending(op_ref);
        }
        let done = self.advance(&mut core, user_data);
        self.release(core);
        match done {
            Some(done) => Started::Immediate(done),
            None => Started::Pending(op_ref),
        }
    }

    /// One turn of the owner's loop: wait for readiness or a wake-up (up to
    /// `timeout`; `None` blocks, zero only looks), then run and deliver
    /// every operation that can go further.
    pub(crate) fn turn(&self, timeout: Option<Duration>) {
        let mut core = self.lock();
        self.visits.fetch_add(1, SeqCst);
        let before = core.delivered;
        let me = self as *const Self as usize;
        PREAMBLE.with(|p| p.set(me));
        self.drain_mail(&mut core);
        self.try_fresh(&mut core);
        PREAMBLE.with(|p| p.set(0));
        // What this turn delivered before waiting may be what the owner
        // waits for (its wait loop skips the look before a turn that may
        // block: `Driver::looks_for_free`): then it does not block, and
        // does not even look if the turn before it did (a send that
        // completed as it was tried, then the wait for the next receive:
        // one `epoll_wait` per echo; events wait at most one turn more).
        let delivered = core.delivered != before;
        if delivered && timeout != Some(Duration::ZERO) && !core.skipped {
            core.skipped = true;
            self.sleeping.store(false, SeqCst);
            self.release(core);
            return;
        }
        core.skipped = false;
        let block = timeout != Some(Duration::ZERO)
            && !delivered
            && !self.has_mail.load(SeqCst)
            && !self.woken.load(SeqCst);
        core.wait(if block { timeout } else { Some(Duration::ZERO) });
        self.sleeping.store(false, SeqCst);
        self.woken.store(false, SeqCst);
        self.dispatch(&mut core);
        self.try_fresh(&mut core);
        self.release(core);
    }

    /// Marks the owner as (about to be) blocked in this ring, so that wakers
    /// write to its eventfd; the owner re-checks its conditions after setting it.
    pub(crate) fn set_sleeping(&self, sleeping: bool) {
        self.sleeping.store(sleeping, SeqCst);
        if !sleeping {
            service::owner_back();
        }
    }

    /// Tries the operations started in batching mode (or by routines).
    pub(crate) fn flush(&self) {
        if !self.queued.load(SeqCst) {
            return;
        }
        let mut core = self.lock();
        self.try_fresh(&mut core);
        self.release(core);
    }

    /// Drives the ring from any thread if nobody holds it (the tokio
    /// driver). Returns false if the ring was busy.
    pub(crate) fn try_drive(&self) -> bool {
        if self.foreign() {
            return false;
        }
        let Some(mut core) = self.try_lock() else {
            return false;
        };
        let before = core.delivered;
        self.drain_mail(&mut core);
        self.try_fresh(&mut core);
        core.wait(Some(Duration::ZERO));
        self.dispatch(&mut core);
        self.try_fresh(&mut core);
        let delivered = core.delivered != before;
        self.release(core);
        if delivered {
            self.wake_owner();
        }
        true
    }

    /// Polling a record: runs what is ready (any thread may drive an
    /// epoll ring).
    pub(crate) fn poll_owned(&self) {
        self.serve();
    }

    /// After a drive by any thread that delivered completions: the owner
    /// may be about to block for one of them (it checked its condition, said
    /// it sleeps, and waits for the ring's lock): wake it. The owner says
    /// it sleeps before its last look at its condition and the delivery is
    /// made before this look at `sleeping` (fenced), so either it sees the
    /// completion or this sees it asleep. (The owner's own turn counts what
    /// it delivers before it blocks, and then does not block.)
    fn wake_owner(&self) {
        fence(SeqCst);
        self.wake();
    }

    /// Wakes the owner if it is blocked in this ring.
    pub(crate) fn wake(&self) {
        if self.sleeping.load(SeqCst) && !self.foreign() {
            if PREAMBLE.with(|p| p.get()) == self as *const Self as usize {
                // The owner itself, delivering before its turn waits (an
                // event it waits for, set by its own completion): that
                // turn does not block after a delivery; no eventfd write.
                return;
            }
            self.woken.store(true, SeqCst);
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
            let _ = unsafe { libc::write(self.waker.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Tries the operations started in batching mode, and those that
    /// reached the head of their lane; one that was cancelled (or whose
    /// socket closed) on its way ends without a try.
    fn try_fresh(&self, core: &mut Core<O>) {
        while !core.fresh.is_empty() {
            self.queued.store(false, Release);
            let mut batch = std::mem::take(&mut core.fresh_spare);
            std::mem::swap(&mut batch, &mut core.fresh);
            for ud in batch.drain(..) {
                let key = (ud & 0xffff_ffff) as usize;
                let ended = match core.slots.get(key) {
                    Some((stored, slot)) if *stored == ud => {
                        slot.cancelled || slot.op.socket_closed()
                    }
                    _ => continue,
                };
                let done = if ended {
                    self.end(core, ud, -libc::ECANCELED)
                } else {
                    self.advance_pending(core, ud)
                };
                if let Some(done) = done {
                    core.deliver(done);
                }
            }
            core.fresh_spare = batch;
        }
    }

    /// Runs what the events in `core.events` let go further.
    fn dispatch(&self, core: &mut Core<O>) {
        if core.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut core.events);
        let mut woken = std::mem::take(&mut core.woken);
        woken.clear();
        for ev in &events {
            let data = ev.u64;
            if data == WAKER {
                let mut n: u64 = 0;
                // SAFETY: reads 8 bytes into a live u64 from our own eventfd.
                let _ =
                    unsafe { libc::read(self.waker.as_raw_fd(), (&mut n as *mut u64).cast(), 8) };
            } else {
                core.woken(data as RawFd, ev.events, &mut woken);
            }
        }
        core.events = events;
        core.events.clear();
        // A descriptor found not ready in this round stays not ready until
        // its next edge: the other operations waiting on it wait again
        // without a try (many `AcceptEx` on one listener).
        core.blocked.clear();
        for &(ud, fd, events) in &woken {
            if core.blocked.contains(&(fd, events)) {
                self.rewait(core, ud, fd, events);
                continue;
            }
            if let Some(done) = self.advance_noting(core, ud, true, false, true) {
                core.deliver(done);
            }
        }
        core.woken = woken;
    }

    fn rewait(&self, core: &mut Core<O>, ud: u64, fd: RawFd, events: u32) {
        let key = (ud & 0xffff_ffff) as usize;
        if !core.slots.contains(key) {
            return;
        }
        if let Err(e) = core.wait_on(ud, fd, events) {
            if let Some(done) = self.fail(core, ud, &e) {
                core.deliver(done);
            }
        }
    }

    /// Runs operation `ud` as far as it goes now; its outcome if it ended.
    fn advance(&self, core: &mut Core<O>, ud: u64) -> Option<O::Done> {
        self.advance_noting(core, ud, false, false, false)
    }

    /// As `advance`, for an operation whose caller was already told it is
    /// pending (a batched start, the next of a lane): a receive on a socket
    /// found empty since its last edge waits for the next one untried. (Not
    /// for an eager start: data whose edge is not collected yet must still
    /// complete it at once, as Winsock does when data is there.)
    fn advance_pending(&self, core: &mut Core<O>, ud: u64) -> Option<O::Done> {
        self.advance_noting(core, ud, false, true, true)
    }

    /// `note`: an operation that must wait again marks its descriptor as not
    /// ready in this round (`dispatch`). `deliver`: an outcome is delivered
    /// here, where it is made (not moved out through the callers).
    fn advance_noting(
        &self,
        core: &mut Core<O>,
        ud: u64,
        note: bool,
        pending: bool,
        deliver: bool,
    ) -> Option<O::Done> {
        let key = (ud & 0xffff_ffff) as usize;
        let mut first = pending;
        loop {
            let slot = match core.slots.get_mut(key) {
                Some((stored, slot)) if *stored == ud => slot,
                _ => return None,
            };
            if slot.wait != Wait::Idle {
                return None;
            }
            // A new receive on a socket found empty since its last edge
            // waits for the next one untried (a try could only fail).
            let skip = std::mem::take(&mut first);
            let regs = &core.regs;
            let tried = attempt::try_step(slot, |fd, socket| skip && core::quiet(regs, fd, socket));
            if let Try::Worker(job) = tried {
                slot.wait = Wait::Worker;
                let me: Weak<dyn Watched> = self.me.clone();
                worker::run(job, me, ud);
                return None;
            }
            if let Some(fd) = slot.drained.take() {
                core.drained(fd);
            }
            match tried {
                Try::Res(res) => match self.complete(core, ud, res, deliver) {
                    Some(done) => return done,
                    None => continue,
                },
                Try::Wait { fd, events, .. } => {
                    if let Err(e) = core.wait_on(ud, fd, events) {
                        return self.fail(core, ud, &e);
                    }
                    if note {
                        core.blocked.push((fd, events));
                    }
                    return None;
                }
                Try::Worker(_) => unreachable!("handled above"),
            }
        }
    }

    /// The descriptor could not be watched (a closed socket's placeholder
    /// is not pollable): the step ends with that error.
    fn fail(&self, core: &mut Core<O>, ud: u64, e: &io::Error) -> Option<O::Done> {
        // An operation that would go on after this error is ended as
        // cancelled rather than tried again (`end`).
        self.end(core, ud, -e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// Ends the current step of operation `ud` with `res`: `Some` if the
    /// operation is over (taken out of the table, the next of its lane
    /// queued to start; its outcome, `None` inside if the record settled it
    /// itself, or if `deliver` and it was delivered here), `None` if it goes
    /// on with another step (or was not found).
    fn complete(
        &self,
        core: &mut Core<O>,
        ud: u64,
        res: i32,
        deliver: bool,
    ) -> Option<Option<O::Done>> {
        let key = (ud & 0xffff_ffff) as usize;
        let slot = match core.slots.get_mut(key) {
            Some((stored, slot)) if *stored == ud => slot,
            _ => return None,
        };
        match slot.op.step(&mut slot.mem, res, slot.cancelled) {
            Step::Resubmit => {
                slot.wait = Wait::Idle;
                None
            }
            Step::Done(ended) => {
                // Out of the waiters of its descriptor (`Core::unwait`,
                // without looking the slot up again).
                if let Wait::Fd { fd, .. } = std::mem::replace(&mut slot.wait, Wait::Idle) {
                    if let Some(reg) = core.regs.get_mut(&fd) {
                        reg.waiters.retain(|&w| w != ud);
                    }
                }
                let (_, slot) = core.slots.remove(key);
                let Slot {
                    op,
                    mut mem,
                    submitted,
                    ..
                } = slot;
                let lane = submitted.then_some((&self.me, ud));
                let finished = op.finish(&mut mem, ended, lane);
                core.spare.push(mem);
                // (Under the lock: see `start`.)
                self.ops.store(self.ops.load(Relaxed) - 1, Release);
                if let Some((driver, next)) = finished.next {
                    self.next_in_lane(core, driver, next);
                }
                match finished.done {
                    Some(done) if deliver => {
                        core.deliver(done);
                        Some(None)
                    }
                    done => Some(done),
                }
            }
        }
    }
}

/// Descriptor `fd` names another open file now (`dup3` by
/// `sys::fd::replace` or a close's placeholder): every epoll ring with
/// operations waiting on the old file ends them.
pub(crate) fn replaced(fd: RawFd) {
    for ring in service::rings() {
        if ring.in_flight() > 0 {
            ring.replaced(fd);
        }
    }
}

/// What the service thread and descriptor changes need of a ring,
/// whatever its record type.
pub(super) trait Watched: Send + Sync {
    fn ring_id(&self) -> u64;
    fn epfd(&self) -> RawFd;
    fn serve_now(&self);
    fn in_flight(&self) -> usize;
    fn owner_visits(&self) -> u64;
    fn owner_sleeping(&self) -> bool;
    fn armed(&self) -> &AtomicBool;
    fn is_foreign(&self) -> bool;
    fn has_mail(&self) -> bool;
    fn replaced(&self, fd: RawFd);
    /// A worker's result for operation `ud` (any thread).
    fn worked(&self, ud: u64, res: i32);
}

impl<O: Op> Driver<O> {
    fn epoll(&self) -> &Ring<O> {
        match self {
            Driver::Epoll(ring) => ring,
            #[allow(unreachable_patterns)]
            _ => unreachable!("only epoll drivers are watched"),
        }
    }
}

impl<O: Op> Watched for Driver<O> {
    fn ring_id(&self) -> u64 {
        self.epoll().id
    }
    fn epfd(&self) -> RawFd {
        self.epoll().fd
    }
    fn serve_now(&self) {
        self.epoll().serve();
    }
    fn in_flight(&self) -> usize {
        self.epoll().ops()
    }
    fn owner_visits(&self) -> u64 {
        self.epoll().visits.load(SeqCst)
    }
    fn owner_sleeping(&self) -> bool {
        self.epoll().sleeping.load(SeqCst)
    }
    fn armed(&self) -> &AtomicBool {
        &self.epoll().armed
    }
    fn is_foreign(&self) -> bool {
        self.epoll().foreign()
    }
    fn has_mail(&self) -> bool {
        self.epoll().has_mail.load(SeqCst)
    }
    fn replaced(&self, fd: RawFd) {
        self.epoll().post(Mail::Replaced(fd));
    }
    fn worked(&self, ud: u64, res: i32) {
        self.epoll().post(Mail::Worked(ud, res));
    }
}

pub(crate) use service::{adopt, lock_for_fork};
