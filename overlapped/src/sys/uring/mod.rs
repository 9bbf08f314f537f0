//! The io_uring backend: one ring per thread that issues operations.
//!
//! A ring is driven by its owner thread: it submits, and while it waits in the
//! library it blocks in `io_uring_enter`, then reaps every ready completion at
//! once and delivers them. Other threads never block on another thread's ring:
//! they *try* to drive it when its owner is away (so an event-notified
//! operation completes even while its issuing thread sleeps elsewhere), and
//! hand it requests through a mailbox otherwise. See DESIGN.md, "Driver".

mod core;
mod exit;
mod mail;
pub(crate) mod mem;
mod orphans;
mod prep;
#[cfg(feature = "tokio")]
pub(crate) mod reactor;
pub(crate) mod registry;
pub(crate) mod setup;
mod splice;

use self::core::Core;
use mail::Mail;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use io_uring::{cqueue, opcode, types};
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

/// A ring, its operations in flight, and the way to wake its owner.
pub(crate) struct Ring {
    id: u64,
    fd: RawFd,
    core: Mutex<Core>,
    waker: OwnedFd,
    sleeping: AtomicBool,
    mail: Mutex<Vec<Mail>>,
    has_mail: AtomicBool,
    /// Operations in flight that notify an `Overlapped` or a future (others may drive those).
    event_ops: AtomicUsize,
    /// All operations in flight.
    ops: AtomicUsize,
    /// Submit at the owner's next wait rather than at once.
    batching: AtomicBool,
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

    /// Operations in flight that notify an `Overlapped` or a future.
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
        let counts_event = notify.any_thread();
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
            let sqes = prep::sqes(slot, user_data);
            core.push_all(sqes);
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

    /// Wakes the owner if it is blocked in this ring.
    pub(crate) fn wake(&self) {
        if self.sleeping.load(SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
            let _ = unsafe { libc::write(self.waker.as_raw_fd(), (&one as *const u64).cast(), 8) };
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

    fn complete(&self, core: &mut Core, ud: u64, res: i32) -> Option<(Notify, Outcome)> {
        let key = (ud & 0xffff_ffff) as usize;
        match core.slots.get_mut(key) {
            Some((stored, _)) if *stored == ud => {}
            _ => return None,
        }
        let retiring = core.retiring;
        let (_, slot) = &mut core.slots[key];
        if slot.absorb(res) {
            // More results of this operation's chain are on their way.
            return None;
        }
        // Park only what someone still waits for: not a record that was
        // dropped, nor an operation whose cancel was asked for.
        let parks =
            retiring && !slot.cancelled && slot.notify.any_thread() && slot.notify.awaited();
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
                let sqes = prep::sqes(slot, ud);
                core.push_all(sqes);
                None
            }
            Step::Done {
                error,
                bytes,
                flags,
            } => {
                let (_, mut slot) = core.slots.remove(key);
                if slot.submitted {
                    self.next_in_lane(core, &slot, ud);
                }
                slot.mem.finish(bytes as usize);
                let bufs = std::mem::take(&mut slot.mem.bufs);
                let dgram = slot.mem.take_dgram();
                core.spare.push(slot.mem);
                self.ops.fetch_sub(1, SeqCst);
                if slot.notify.any_thread() {
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
