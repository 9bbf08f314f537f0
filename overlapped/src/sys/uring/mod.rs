//! The io_uring backend: one ring per thread that issues operations.
//!
//! A ring is driven by its owner thread: it submits, and while it waits in the
//! library it blocks in `io_uring_enter`, then reaps every ready completion at
//! once and delivers them. Other threads never block on another thread's ring:
//! they *try* to drive it when its owner is away (so an event-notified
//! operation completes even while its issuing thread sleeps elsewhere), and
//! hand it requests through a mailbox otherwise. See DESIGN.md, "Driver".

pub(crate) mod mem;
mod orphans;
mod prep;
pub(crate) mod setup;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use slab::Slab;

use crate::op::{Notify, OpKind, OpSlot, Outcome, Step};
use crate::socket::SocketInner;
use crate::{BufList, WsaError};
use mem::OpMem;
pub use setup::SetupError;

/// `user_data` tags of the ring's own requests (bit 63 set); operations use
/// `generation << 32 | slab key` with bit 63 clear.
const TAG: u64 = 1 << 63;
const WAKER: u64 = TAG | 1;
const CANCEL: u64 = TAG | 2;
const WATCH: u64 = TAG | (1 << 62);

/// How an operation's start went.
pub(crate) enum Started {
    /// Submitted; it will complete through its notification.
    Pending(OpRef),
    /// Completed during submission; nothing has been notified yet.
    Immediate(Notify, Outcome),
}

/// Names one operation in flight on one ring (for cancellation).
#[derive(Clone)]
pub(crate) struct OpRef {
    pub(crate) ring: Weak<Ring>,
    pub(crate) user_data: u64,
}

enum Mail {
    Cancel(u64),
    /// Cancel every operation of this ring on the socket. Weak: if the socket
    /// is gone, so are its operations, and its descriptor number may already
    /// name another socket that must not be touched.
    CancelSocket(Weak<SocketInner>),
    /// Submit an operation that was queued behind another in its socket lane.
    Submit(u64),
}

/// A ring, its operations in flight, and the way to wake its owner.
pub(crate) struct Ring {
    id: u64,
    fd: RawFd,
    core: Mutex<Core>,
    waker: OwnedFd,
    sleeping: AtomicBool,
    mail: Mutex<Vec<Mail>>,
    has_mail: AtomicBool,
    /// Operations in flight that notify an `Overlapped` (others may drive those).
    event_ops: AtomicUsize,
    /// All operations in flight.
    ops: AtomicUsize,
    /// Submit at the owner's next wait rather than at once.
    batching: AtomicBool,
}

struct Core {
    uring: IoUring,
    slots: Slab<(u64, OpSlot)>,
    generation: u32,
    /// Recycled operation memory; boxed because a slot's memory must keep
    /// its address while the slab moves slots around.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<OpMem>>,
    cqes: Vec<(u64, i32, u32)>,
    waker_buf: Box<u64>,
    waker_armed: bool,
    /// The owner is exiting: event-notified operations that the kernel
    /// cancels (or that need another step) are parked here, to be submitted
    /// again by the orphan service (see `retire`).
    retiring: bool,
    parked: Vec<u64>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Ring {
    pub(crate) fn new() -> Result<Arc<Ring>, SetupError> {
        let uring = setup::build()?;
        // SAFETY: eventfd has no memory-safety preconditions; we check the result.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(SetupError::Other(io::Error::last_os_error()));
        }
        // SAFETY: `efd` is a fresh descriptor that nothing else owns.
        let waker = unsafe { OwnedFd::from_raw_fd(efd) };
        let ring = Arc::new(Ring {
            id: NEXT_ID.fetch_add(1, SeqCst),
            fd: uring.as_raw_fd(),
            core: Mutex::new(Core {
                uring,
                slots: Slab::with_capacity(64),
                generation: 0,
                spare: Vec::new(),
                cqes: Vec::with_capacity(256),
                waker_buf: Box::new(0),
                waker_armed: false,
                retiring: false,
                parked: Vec::new(),
            }),
            waker,
            sleeping: AtomicBool::new(false),
            mail: Mutex::new(Vec::new()),
            has_mail: AtomicBool::new(false),
            event_ops: AtomicUsize::new(0),
            ops: AtomicUsize::new(0),
            batching: AtomicBool::new(false),
        });
        registry::add(&ring);
        Ok(ring)
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether operations wait for the owner's next wait to be submitted.
    pub(crate) fn batching(&self) -> bool {
        self.batching.load(Relaxed)
    }

    /// Sets the owner's submission mode (see `crate::set_batching`).
    pub(crate) fn set_batching(&self, on: bool) {
        self.batching.store(on, Relaxed);
    }

    /// Operations in flight that notify an `Overlapped`.
    pub(crate) fn event_ops(&self) -> usize {
        self.event_ops.load(SeqCst)
    }

    /// All operations in flight.
    pub(crate) fn ops(&self) -> usize {
        self.ops.load(SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an operation. With `eager`, it is submitted now and a completion
    /// that the kernel produced during submission is returned as `Immediate`;
    /// otherwise it waits for the owner's next `turn` (batched submission).
    pub(crate) fn start(
        self: &Arc<Self>,
        kind: OpKind,
        bufs: BufList,
        notify: Notify,
        socket: Arc<SocketInner>,
        eager: bool,
    ) -> Result<Started, WsaError> {
        let mut core = self.lock();
        let counts_event = matches!(notify, Notify::Overlapped(_));
        let mut mem = core.spare.pop().unwrap_or_else(OpMem::new);
        mem.bufs = bufs;
        let direction = kind.direction();
        let slot = OpSlot {
            kind,
            mem,
            notify,
            socket,
            submitted: false,
            cancelled: false,
            poll_first: !eager,
        };
        core.generation = core.generation.wrapping_add(1) & 0x7fff_ffff;
        let generation = u64::from(core.generation);
        let entry = core.slots.vacant_entry();
        let user_data = (generation << 32) | entry.key() as u64;
        let (_, slot) = entry.insert((user_data, slot));
        self.ops.fetch_add(1, SeqCst);
        if counts_event {
            self.event_ops.fetch_add(1, SeqCst);
        }
        if slot
            .socket
            .lanes
            .enter(direction, Arc::downgrade(self), user_data)
        {
            slot.submitted = true;
            let sqe = prep::sqe(slot, user_data);
            core.push(&sqe);
        }
        let op = OpRef {
            ring: Arc::downgrade(self),
            user_data,
        };
        if !eager {
            drop(core);
            self.after_unlock();
            return Ok(Started::Pending(op));
        }
        core.submit();
        let held = self.reap(&mut core, Some(user_data));
        drop(core);
        self.after_unlock();
        Ok(match held {
            Some((notify, outcome)) => Started::Immediate(notify, outcome),
            None => Started::Pending(op),
        })
    }

    /// One turn of the owner's loop: submit what is queued, wait for a
    /// completion or a wake-up (up to `timeout`; `None` blocks, zero only
    /// polls), then reap and deliver every ready completion. Returns the ids
    /// of other rings whose watch fired.
    pub(crate) fn turn(&self, timeout: Option<Duration>, watched: &mut Vec<u64>) -> Vec<u64> {
        let mut core = self.lock();
        self.drain_mail(&mut core);
        let block = timeout != Some(Duration::ZERO);
        if block {
            core.arm_waker(self.waker.as_raw_fd());
        }
        let mut fired = Vec::new();
        // Reap first: if anything is ready we do not block.
        core.collect();
        if block && core.cqes.is_empty() && !self.has_mail.load(SeqCst) {
            core.wait(timeout);
        }
        // Awake again: what we deliver now must not write to our own eventfd.
        self.sleeping.store(false, SeqCst);
        // Without blocking, nothing is submitted here: the caller flushes
        // when it returns, or submits with the wait that sleeps.
        self.reap_into(&mut core, None, &mut fired, watched);
        drop(core);
        self.after_unlock();
        fired
    }

    /// Marks the owner as (about to be) blocked in this ring, so that wakers
    /// write to its eventfd; the owner re-checks its conditions after setting it.
    pub(crate) fn set_sleeping(&self, sleeping: bool) {
        self.sleeping.store(sleeping, SeqCst);
    }

    /// Submits whatever is queued (the operations routines started).
    pub(crate) fn flush(&self) {
        let mut core = self.lock();
        if !core.uring.submission().is_empty() {
            core.submit();
        }
        drop(core);
        self.after_unlock();
    }

    /// Called on the owner thread as it exits. The kernel ties each request
    /// to the thread that submitted it and ends them when it exits; Winsock
    /// does not (fact 133). So: cancel everything now, let the completions
    /// of routine operations go (their routines can never run), and park the
    /// event-notified ones, which the orphan service submits again from a
    /// thread that lives on ([`Ring::resume`]). Data that had already
    /// arrived is delivered as a normal completion.
    pub(crate) fn retire(&self) {
        let mut core = self.lock();
        core.retiring = true;
        // Routine operations still queued behind others in their socket lane
        // have never reached the kernel: end them here.
        self.withdraw(&mut core, |_, slot| {
            matches!(slot.notify, Notify::Routine { .. })
        });
        // Those already popped from their lane (a `Submit` on the way) must
        // not reach the kernel later either.
        for (_, (_, slot)) in core.slots.iter_mut() {
            if matches!(slot.notify, Notify::Routine { .. }) {
                slot.cancelled = true;
            }
        }
        let cancel = types::CancelBuilder::any().all();
        core.push(&opcode::AsyncCancel2::new(cancel).build().user_data(CANCEL));
        core.submit();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while core.slots.iter().any(|(_, (_, s))| s.submitted)
            && std::time::Instant::now() < deadline
        {
            core.wait(Some(Duration::from_millis(20)));
            self.reap(&mut core, None);
        }
        drop(core);
        self.after_unlock();
    }

    /// Submits again, from the calling (long-lived) thread, the operations
    /// parked by [`Ring::retire`].
    pub(crate) fn resume(&self) {
        let mut core = self.lock();
        core.retiring = false;
        for ud in std::mem::take(&mut core.parked) {
            self.submit_queued(&mut core, ud);
        }
        core.submit();
        drop(core);
        self.after_unlock();
    }

    /// Drives the ring from a thread that does not own it, if nobody holds
    /// it: submits, reaps and delivers. Returns false if it was busy.
    pub(crate) fn try_drive(&self) -> bool {
        let Ok(mut core) = self.core.try_lock() else {
            return false;
        };
        self.drain_mail(&mut core);
        if !core.uring.submission().is_empty() {
            core.submit();
        }
        let mut ignore = Vec::new();
        self.reap_into(&mut core, None, &mut Vec::new(), &mut ignore);
        if !core.uring.submission().is_empty() {
            core.submit();
        }
        drop(core);
        self.after_unlock();
        true
    }

    /// Asks the kernel to watch `other`'s completion queue and tell this ring
    /// when it has entries (a multishot poll on its descriptor).
    pub(crate) fn watch(&self, other: &Ring) {
        let sqe = opcode::PollAdd::new(types::Fd(other.fd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(WATCH | other.id);
        self.lock().push(&sqe);
        self.after_unlock();
    }

    /// Cancels one operation, from any thread.
    pub(crate) fn cancel(&self, user_data: u64) {
        self.post(Mail::Cancel(user_data));
    }

    /// Cancels every operation of this ring on `socket`, from any thread.
    pub(crate) fn cancel_socket(&self, socket: &Arc<SocketInner>) {
        self.post(Mail::CancelSocket(Arc::downgrade(socket)));
    }

    fn post(&self, mail: Mail) {
        self.mail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(mail);
        self.has_mail.store(true, SeqCst);
        if let Ok(mut core) = self.core.try_lock() {
            self.drain_mail(&mut core);
            if !core.uring.submission().is_empty() {
                core.submit();
            }
            drop(core);
            self.after_unlock();
        } else {
            self.wake();
        }
        orphans::nudge();
    }

    /// Wakes the owner if it is blocked in this ring.
    pub(crate) fn wake(&self) {
        if self.sleeping.load(SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
            let _ = unsafe { libc::write(self.waker.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    fn drain_mail(&self, core: &mut Core) {
        if !self.has_mail.swap(false, SeqCst) {
            return;
        }
        let mail = std::mem::take(&mut *self.mail.lock().unwrap_or_else(|e| e.into_inner()));
        for m in mail {
            match m {
                Mail::Cancel(ud) => {
                    let submitted = match core.slots.get_mut((ud & 0xffff_ffff) as usize) {
                        Some((stored, slot)) if *stored == ud => {
                            slot.cancelled = true;
                            slot.submitted
                        }
                        _ => continue, // already completed: nothing to cancel
                    };
                    if submitted {
                        core.push(&opcode::AsyncCancel::new(ud).build().user_data(CANCEL));
                    } else {
                        // Queued in its lane: withdrawn now. Already popped
                        // from the lane (its `Submit` is on the way):
                        // `submit_queued` sees the flag and ends it instead.
                        self.withdraw(core, |slot_ud, _| slot_ud == ud);
                    }
                }
                Mail::CancelSocket(socket) => {
                    let Some(socket) = socket.upgrade() else {
                        continue;
                    };
                    let mut in_kernel = false;
                    for (_, (_, slot)) in core.slots.iter_mut() {
                        if Arc::ptr_eq(&slot.socket, &socket) {
                            slot.cancelled = true;
                            in_kernel |= slot.submitted;
                        }
                    }
                    self.withdraw(core, |_, slot| Arc::ptr_eq(&slot.socket, &socket));
                    if in_kernel {
                        // The descriptor stays open while `socket` lives (we
                        // hold it here, and each slot holds it), so the number
                        // names this socket when the kernel runs the cancel.
                        let fd = types::Fd(socket.fd());
                        let cancel = types::CancelBuilder::fd(fd).all();
                        core.push(&opcode::AsyncCancel2::new(cancel).build().user_data(CANCEL));
                    }
                }
                Mail::Submit(ud) => self.submit_queued(core, ud),
            }
        }
    }

    /// Completes as cancelled the operations still queued in their socket
    /// lane (the kernel has never seen them) that `pick` selects.
    fn withdraw(&self, core: &mut Core, pick: impl Fn(u64, &OpSlot) -> bool) {
        let found: Vec<u64> = core
            .slots
            .iter()
            .filter(|(_, (ud, slot))| !slot.submitted && pick(*ud, slot))
            .map(|(_, (ud, _))| *ud)
            .collect();
        for &ud in &found {
            let key = (ud & 0xffff_ffff) as usize;
            let (_, slot) = &core.slots[key];
            if slot.socket.lanes.withdraw(slot.kind.direction(), self, ud) {
                if let Some(done) = self.complete(core, ud, -libc::ECANCELED) {
                    crate::op::deliver(done.0, done.1);
                }
            }
        }
    }

    /// Submits an operation that reached the head of its socket lane.
    fn submit_queued(&self, core: &mut Core, ud: u64) {
        let key = (ud & 0xffff_ffff) as usize;
        match core.slots.get_mut(key) {
            Some((stored, slot)) if *stored == ud && !slot.submitted => {
                // It is the head of its lane now, in the kernel or not.
                slot.submitted = true;
                if slot.cancelled || slot.socket.is_closed() {
                    // Cancelled (or its socket closed) while on its way to
                    // the kernel: it never goes there, whenever the cancel
                    // mail is read (and the next in the lane moves up).
                    if let Some(done) = self.complete(core, ud, -libc::ECANCELED) {
                        crate::op::deliver(done.0, done.1);
                    }
                    return;
                }
                let sqe = prep::sqe(slot, ud);
                core.push(&sqe);
            }
            _ => {}
        }
    }

    /// After releasing the lock: mail that arrived while we held it is ours to send.
    fn after_unlock(&self) {
        while self.has_mail.load(SeqCst) {
            let Ok(mut core) = self.core.try_lock() else {
                return;
            };
            self.drain_mail(&mut core);
            core.submit();
        }
    }

    fn reap(&self, core: &mut Core, hold: Option<u64>) -> Option<(Notify, Outcome)> {
        self.reap_into(core, hold, &mut Vec::new(), &mut Vec::new())
    }

    /// Reaps every ready completion and delivers it, except the operation
    /// `hold`, whose result is returned instead.
    fn reap_into(
        &self,
        core: &mut Core,
        hold: Option<u64>,
        fired: &mut Vec<u64>,
        watched: &mut Vec<u64>,
    ) -> Option<(Notify, Outcome)> {
        let mut held = None;
        loop {
            core.collect();
            if core.cqes.is_empty() {
                return held;
            }
            let cqes = std::mem::take(&mut core.cqes);
            for &(ud, res, flags) in &cqes {
                if ud == WAKER {
                    core.waker_armed = false;
                } else if ud & WATCH == WATCH {
                    let id = ud & !WATCH;
                    fired.push(id);
                    if !cqueue::more(flags) {
                        watched.retain(|w| *w != id);
                    }
                } else if ud & TAG == 0 {
                    if let Some(done) = self.complete(core, ud, res) {
                        if Some(ud) == hold {
                            held = Some(done);
                        } else {
                            crate::op::deliver(done.0, done.1);
                        }
                    }
                }
            }
            core.cqes = cqes;
            core.cqes.clear();
            if !self.batching() && !core.uring.submission().is_empty() {
                core.submit();
            }
        }
    }

    /// The head of a socket lane completed: start the next operation queued
    /// there, on whichever ring holds it.
    fn next_in_lane(&self, core: &mut Core, done: &OpSlot) {
        let Some((ring, ud)) = done.socket.lanes.leave(done.kind.direction()) else {
            return;
        };
        match ring.upgrade() {
            Some(ring) if ring.id == self.id => self.submit_queued(core, ud),
            Some(ring) => ring.post(Mail::Submit(ud)),
            None => {}
        }
    }

    fn complete(&self, core: &mut Core, ud: u64, res: i32) -> Option<(Notify, Outcome)> {
        let key = (ud & 0xffff_ffff) as usize;
        match core.slots.get_mut(key) {
            Some((stored, _)) if *stored == ud => {}
            _ => return None,
        }
        let retiring = core.retiring;
        let (_, slot) = &mut core.slots[key];
        // Park only what someone still waits for: not a record that was
        // dropped, nor an operation whose cancel was asked for.
        let parks = retiring
            && !slot.cancelled
            && matches!(&slot.notify, Notify::Overlapped(st) if Arc::strong_count(st) > 1);
        if parks && res == -libc::ECANCELED {
            slot.submitted = false;
            core.parked.push(ud);
            return None;
        }
        match slot.step(res) {
            Step::Resubmit if parks => {
                slot.submitted = false;
                core.parked.push(ud);
                None
            }
            Step::Resubmit => {
                let sqe = prep::sqe(slot, ud);
                core.push(&sqe);
                None
            }
            Step::Done {
                error,
                bytes,
                flags,
            } => {
                let (_, mut slot) = core.slots.remove(key);
                if slot.submitted {
                    self.next_in_lane(core, &slot);
                }
                let bufs = std::mem::take(&mut slot.mem.bufs);
                let dgram = slot.mem.take_dgram();
                core.spare.push(slot.mem);
                self.ops.fetch_sub(1, SeqCst);
                if matches!(slot.notify, Notify::Overlapped(_)) {
                    self.event_ops.fetch_sub(1, SeqCst);
                }
                Some((
                    slot.notify,
                    Outcome {
                        error,
                        bytes,
                        flags,
                        bufs,
                        dgram,
                    },
                ))
            }
        }
    }
}

impl Core {
    fn push(&mut self, sqe: &squeue::Entry) {
        loop {
            // SAFETY: every entry we build points only into memory owned by a
            // slot in `self.slots` (boxed, so it does not move) or by `self`,
            // and a slot is removed only after its completion has been reaped.
            if unsafe { self.uring.submission().push(sqe) }.is_ok() {
                return;
            }
            self.submit();
        }
    }

    fn submit(&mut self) {
        loop {
            match self.uring.submit() {
                Ok(_) => return,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // The completion queue is full: the caller reaps, then we
                    // get another chance at the next submit.
                    return;
                }
                Err(_) => return,
            }
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) {
        let result = match timeout {
            None => self.uring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.uring.submitter().submit_with_args(1, &args)
            }
        };
        // ETIME (timeout), EINTR (signal) and EBUSY (overflow, reaped next)
        // all mean "go and look"; nothing else is expected here.
        let _ = result;
    }

    fn arm_waker(&mut self, fd: RawFd) {
        if self.waker_armed {
            return;
        }
        self.waker_armed = true;
        let buf: *mut u64 = &mut *self.waker_buf;
        let sqe = opcode::Read::new(types::Fd(fd), buf.cast(), 8)
            .build()
            .user_data(WAKER);
        self.push(&sqe);
    }

    fn collect(&mut self) {
        let mut cq = self.uring.completion();
        cq.sync();
        for cqe in &mut cq {
            self.cqes.push((cqe.user_data(), cqe.result(), cqe.flags()));
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Pitfall 4: the kernel must be done with every buffer before the
        // slots are freed. A ring is dropped only when no operation is in
        // flight (see `orphans`), but make sure.
        let core = self.core.get_mut().unwrap_or_else(|e| e.into_inner());
        if !core.slots.is_empty() {
            // Leak rather than free memory the kernel may still write.
            std::mem::forget(std::mem::take(&mut core.slots));
        }
    }
}

pub(crate) use orphans::adopt;

pub(crate) mod registry {
    //! Every live ring, so that a waiting thread can find the rings whose
    //! owners are away and drive them.

    use super::Ring;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex, Weak};

    static RINGS: Mutex<Vec<Weak<Ring>>> = Mutex::new(Vec::new());
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    pub(crate) fn add(ring: &Arc<Ring>) {
        let mut rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
        rings.retain(|r| r.strong_count() > 0);
        rings.push(Arc::downgrade(ring));
        COUNT.store(rings.len(), SeqCst);
    }

    /// Number of rings alive (a cheap check before [`others_with_event_ops`]).
    pub(crate) fn count() -> usize {
        COUNT.load(SeqCst)
    }

    /// Rings with operations in flight.
    pub(crate) fn with_ops() -> Vec<Arc<Ring>> {
        let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
        rings
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|r| r.ops() > 0)
            .collect()
    }

    /// Rings other than `me` with event-notified operations in flight.
    pub(crate) fn others_with_event_ops(me: &Ring) -> Vec<Arc<Ring>> {
        let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
        rings
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|r| r.id != me.id && r.event_ops() > 0)
            .collect()
    }
}
