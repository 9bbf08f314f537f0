//! The io_uring backend: one ring per thread that issues operations.
//!
//! A ring is driven by its owner thread: it submits, and while it waits in the
//! library it blocks in `io_uring_enter`, then reaps every ready completion at
//! once and delivers them. When the owner is not in its ring, the kernel tells
//! the service thread (`service.rs`) of each completion, and the service
//! drives the ring instead. No other thread ever submits to a ring or reaps
//! it; they hand it requests through a mailbox. See DESIGN.md, "Driver".

mod core;
mod exit;
mod mail;
mod ops;
mod peek;
mod prep;
mod service;
pub(crate) mod setup;
mod splice;

use self::core::Core;
use mail::Mail;

use slab::Slab;
use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{
    fence, AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst,
};
use std::sync::{Arc, Mutex, Weak};

use std::time::Duration;

use super::op::Op;
use super::{fork, registry, Driver, OpMem};
pub use setup::SetupError;

/// `user_data` tags of the ring's own requests (bit 63 set); operations use
/// `generation << 32 | slab key` with bit 63 clear.
const TAG: u64 = 1 << 63;
const WAKER: u64 = TAG | 1;
const CANCEL: u64 = TAG | 2;

/// Orders a store before a later load (the flag switch before the look at
/// the completion queue; the unlock before the look at `wanted`). On x86
/// the locked read-modify-write just before each (the flag's `lock and`, the
/// mutex's `xchg`) is a full barrier already, so this costs nothing on the
/// owner's hot path there.
#[inline(always)]
fn store_load_fence() {
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    fence(SeqCst);
}

thread_local! {
    /// The id of the ring the calling thread owns (0: none).
    static OWN: Cell<u64> = const { Cell::new(0) };
}

/// One operation in flight: the model's record and the memory the kernel
/// may use, owned here until the completion is reaped.
pub(super) struct Slot<O> {
    pub(super) op: O,
    pub(super) mem: Box<OpMem>,
    /// False while queued behind another operation of its socket lane.
    pub(super) submitted: bool,
    /// A cancel was asked for (by a dropped record, a close or a cancel call).
    pub(super) cancelled: bool,
    /// Arm the readiness poll before trying a receive (batched submissions).
    pub(super) poll_first: bool,
}

/// A ring, its operations in flight, and the way to wake its owner.
pub(crate) struct Ring<O: Op> {
    /// The driver this ring is (lanes and `OpRef`s name it by this).
    me: Weak<Driver<O>>,
    id: u64,
    /// The process generation it was made in (see `fork.rs`).
    born: u32,
    /// The ring's descriptor (readable while completions wait: tokio's reactor watches it).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fd: RawFd,
    /// (Under parking_lot's lock: no poison check at every lock and unlock.)
    core: parking_lot::Mutex<Core<O>>,
    waker: OwnedFd,
    sleeping: AtomicBool,
    /// A wake-up was sent since the owner last went to sleep. Another
    /// thread driving this ring may reap the eventfd's completion itself, so
    /// the owner checks this before it blocks (else that wake-up is lost).
    woken: AtomicBool,
    mail: Mutex<Vec<Mail<O>>>,
    has_mail: AtomicBool,
    /// All operations in flight.
    ops: AtomicUsize,
    /// Submit at the owner's next wait rather than at once.
    batching: AtomicBool,
    /// The service found the ring taken: its holder serves it again after
    /// letting go (see [`Ring::serve`]).
    wanted: AtomicBool,
    /// The owner let go of the ring with notifications left off (see
    /// [`Ring::unlock`]): the service looks at it on its ticks instead.
    grace: AtomicBool,
    /// How often the owner took or let go of the ring: odd while it holds
    /// it. Written only by the owner (under the lock), read by the service
    /// to tell an owner that comes back from one that went away.
    turns: AtomicU64,
    /// `turns` as the service saw it at its last look (only it writes this).
    seen: AtomicU64,
    /// A lock-free look at the completion queue (`None`: the kernel refused
    /// the mapping; then every non-blocking turn takes the ring).
    peek: Option<peek::CqPeek>,
    /// The owner counts in the service's sleepers (see [`Ring::set_sleeping`]).
    counted: AtomicBool,
    /// The service thread holds the ring (in [`Ring::serve`]): an owner that
    /// must not leave its close to it waits for it instead (`close_socket`).
    service_holds: AtomicBool,
    /// The owner let go of the ring in grace with operations in flight and
    /// has not taken it since: it counts in the service's `GRACE_OUT`.
    out: AtomicBool,
    /// Entries were left in the submission queue at the last unlock. Every
    /// push happens under the lock and every lock ends in `unlock`, so while
    /// nobody holds the ring this says whether [`Ring::flush`] has anything
    /// to do (the owner's flush then skips the lock).
    queued: AtomicBool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl<O: Op> Ring<O> {
    /// Makes the calling thread's ring, as its driver.
    pub(crate) fn new_driver() -> Result<Arc<Driver<O>>, SetupError> {
        let uring = setup::build()?;
        let peek = peek::CqPeek::new(&uring, uring.as_raw_fd());
        // Completions posted while nobody holds the ring wake the service.
        let kick = service::kick_fd::<O>().ok_or_else(|| {
            SetupError::Other(io::Error::other("could not start the service thread"))
        })?;
        uring
            .submitter()
            .register_eventfd(kick)
            .map_err(SetupError::Other)?;
        // SAFETY: eventfd has no memory-safety preconditions; we check the result.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(SetupError::Other(io::Error::last_os_error()));
        }
        // SAFETY: `efd` is a fresh descriptor that nothing else owns.
        let waker = unsafe { OwnedFd::from_raw_fd(efd) };
        fork::watch_forks();
        let id = NEXT_ID.fetch_add(1, SeqCst);
        let driver = Arc::new_cyclic(|me| {
            Driver::Uring(Ring {
                me: me.clone(),
                id,
                born: fork::generation(),
                fd: uring.as_raw_fd(),
                core: parking_lot::Mutex::new(Core {
                    uring,
                    slots: Slab::with_capacity(64),
                    generation: 0,
                    spare: Vec::new(),
                    cqes: Vec::with_capacity(256),
                    waker_buf: Box::new(0),
                    waker_armed: false,
                    retiring: false,
                    parked: Vec::new(),
                    enter: Default::default(),
                }),
                waker,
                sleeping: AtomicBool::new(false),
                woken: AtomicBool::new(false),
                mail: Mutex::new(Vec::new()),
                has_mail: AtomicBool::new(false),
                ops: AtomicUsize::new(0),
                batching: AtomicBool::new(false),
                wanted: AtomicBool::new(false),
                queued: AtomicBool::new(false),
                grace: AtomicBool::new(false),
                turns: AtomicU64::new(0),
                seen: AtomicU64::new(0),
                peek,
                counted: AtomicBool::new(false),
                service_holds: AtomicBool::new(false),
                out: AtomicBool::new(false),
            })
        });
        registry::add(&driver);
        // `new_driver` runs on the thread that will own the ring.
        OWN.with(|o| o.set(id));
        Ok(driver)
    }

    /// A ring inherited from the parent process across `fork`: its queues
    /// are shared with the parent, so this process never touches it again.
    pub(crate) fn foreign(&self) -> bool {
        self.born != fork::generation()
    }

    /// The ring's descriptor.
    #[cfg(feature = "tokio")]
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd
    }

    /// Whether operations wait for the owner's next wait to be submitted.
    pub(crate) fn batching(&self) -> bool {
        self.batching.load(Relaxed)
    }

    /// Sets the owner's submission mode (the public `set_batching`).
    pub(crate) fn set_batching(&self, on: bool) {
        self.batching.store(on, Relaxed);
    }

    /// All operations in flight.
    pub(crate) fn ops(&self) -> usize {
        self.ops.load(SeqCst)
    }

    /// Whether the calling thread may submit to this ring: its owner, or
    /// the service thread (both outlive the requests they submit).
    fn may_submit_here(&self) -> bool {
        OWN.with(Cell::get) == self.id || service::on_service_thread()
    }

    /// Takes the ring. While it is held, the kernel does not notify the
    /// service of completions: the holder reaps them.
    fn lock(&self) -> parking_lot::MutexGuard<'_, Core<O>> {
        let mut core = self.core.lock();
        core.uring.completion().disable_eventfd();
        self.count_turn();
        core
    }

    /// The owner took or lets go of the ring (called under the lock).
    fn count_turn(&self) {
        if self.is_owner() {
            let turns = self.turns.load(Relaxed).wrapping_add(1);
            self.turns.store(turns, Relaxed);
            if turns & 1 == 1 && self.out.load(Relaxed) {
                // Back in its ring: no longer out of it in grace.
                self.out.store(false, Relaxed);
                service::grace_out(false);
            }
        }
    }

    fn try_lock(&self) -> Option<parking_lot::MutexGuard<'_, Core<O>>> {
        let mut core = self.core.try_lock()?;
        core.uring.completion().disable_eventfd();
        self.count_turn();
        Some(core)
    }

    /// Lets go of the ring, leaving nothing behind: notifications go back
    /// on, then completions that arrived while they were off are reaped
    /// (a completion posted after the switch notifies the service; the
    /// kernel's barrier between publishing a completion and reading the
    /// flag, and ours between the switch and the look, make sure one of the
    /// two sees it). Then mail or a service request that came meanwhile is
    /// served.
    fn release(&self, core: parking_lot::MutexGuard<'_, Core<O>>) {
        if self.unlock(core) {
            self.serve();
        }
    }

    /// [`Ring::release`] without the follow-up; true if one is needed.
    ///
    /// The owner (not exiting) leaves notifications **off** instead (the
    /// ring is in *grace*): it reaps what is there now, and what comes
    /// later it reaps at its next turn, which for a busy owner is soon.
    /// Completions that arrive while it is between turns therefore wake
    /// nobody (every system call the owner makes between turns runs the
    /// kernel's pending completion work, which would otherwise wake the
    /// service about once per request of a server). The service looks at
    /// rings in grace on a tick instead, and serves one whose owner has not
    /// come back for a whole tick (see `service.rs`): an operation whose
    /// owner went away still completes, a tick or two later.
    fn unlock(&self, mut core: parking_lot::MutexGuard<'_, Core<O>>) -> bool {
        let grace = self.is_owner() && !core.retiring;
        if grace {
            if !core.uring.completion().is_empty() {
                self.reap(&mut core, None);
            }
        } else {
            loop {
                core.uring.completion().enable_eventfd();
                store_load_fence();
                if core.uring.completion().is_empty() {
                    break;
                }
                core.uring.completion().disable_eventfd();
                self.reap(&mut core, None);
            }
        }
        self.grace.store(grace, Relaxed);
        // The owner submits where it chooses (at once, or with its next
        // wait when batching); the service leaves nothing queued; any other
        // thread (the tokio driver) never submits: it hands that to the service.
        let mut leftover = !core.uring.submission().is_empty() && !self.is_owner();
        if leftover && service::on_service_thread() {
            core.submit();
            leftover = false;
        }
        self.queued
            .store(!core.uring.submission().is_empty(), Relaxed);
        self.count_turn();
        drop(core);
        if grace && self.ops() > 0 {
            // Only the owner writes `out`: a load and a store, not a locked swap.
            if !self.out.load(Relaxed) {
                self.out.store(true, Relaxed);
                // `grace_out`'s read-modify-write is also the fence `watch` needs.
                service::grace_out(true);
            } else {
                // Pairs with the service's fence between lowering its tick
                // and its look at the rings (free on x86 after the unlock's
                // `xchg`).
                store_load_fence();
            }
            service::watch::<O>(self);
        }
        if leftover {
            self.wanted.store(true, SeqCst);
        }
        store_load_fence();
        self.wanted.load(SeqCst) || self.has_mail.load(SeqCst)
    }

    fn is_owner(&self) -> bool {
        OWN.with(Cell::get) == self.id
    }

    /// Serves the ring from its owner or the service thread: reads its mail,
    /// submits, reaps and delivers. If another thread holds the ring, leaves
    /// it a note (`wanted`) that it reads after letting go, so the work is
    /// done either way and nobody waits for anybody.
    pub(crate) fn serve(&self) {
        if self.foreign() {
            return;
        }
        if !self.may_submit_here() {
            service::kick::<O>();
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
                        None => return, // the holder sees `wanted` after unlocking
                    }
                }
            };
            self.wanted.store(false, SeqCst);
            let service = service::on_service_thread();
            if service {
                self.service_holds.store(true, SeqCst);
            }
            let mut core = core;
            self.drain_mail(&mut core);
            if !core.uring.submission().is_empty() {
                core.submit();
            }
            self.reap(&mut core, None);
            if !core.uring.submission().is_empty() {
                core.submit();
            }
            if service {
                // Cleared while still held: never seen set by an owner that
                // holds the ring itself (it would wait for itself).
                self.service_holds.store(false, SeqCst);
            }
            if !self.unlock(core) {
                return;
            }
        }
    }

    /// One turn of the owner's loop: submit what is queued, wait for a
    /// completion or a wake-up (up to `timeout`; `None` blocks, zero only
    /// polls), then reap and deliver every ready completion.
    pub(crate) fn turn(&self, timeout: Option<Duration>) {
        if timeout == Some(Duration::ZERO) && self.nothing_ready() {
            // What the turn would do — reap, read mail, serve the service's
            // note — there is none of: skip taking the ring.
            return;
        }
        let mut core = self.lock();
        self.drain_mail(&mut core);
        let block = timeout != Some(Duration::ZERO);
        if block {
            core.arm_waker(self.waker.as_raw_fd());
        }
        // Reap first: if anything is ready we do not block.
        core.collect();
        if block && core.cqes.is_empty() && !self.has_mail.load(SeqCst) && !self.woken.load(SeqCst)
        {
            core.wait(timeout);
        }
        // Awake again: what we deliver now must not write to our own eventfd.
        self.sleeping.store(false, SeqCst);
        self.woken.store(false, SeqCst);
        // Without blocking, nothing is submitted here: the caller flushes
        // when it returns, or submits with the wait that sleeps.
        self.reap(&mut core, None);
        self.release(core);
    }

    /// No completion waits to be reaped, no mail, no note from the service,
    /// no wake-up to consume: a non-blocking turn would find nothing to do.
    fn nothing_ready(&self) -> bool {
        self.peek.as_ref().is_some_and(peek::CqPeek::is_empty)
            && !self.has_mail.load(SeqCst)
            && !self.wanted.load(SeqCst)
            && !self.woken.load(SeqCst)
            && !self::core::any_broken()
    }

    /// Marks the owner as (about to be) blocked in this ring, so that wakers
    /// write to its eventfd; the owner re-checks its conditions after setting it.
    ///
    /// A thread about to sleep may be waiting for another thread's
    /// operation: while it sleeps, the service looks at rings in grace on
    /// its short tick (see `service.rs`).
    pub(crate) fn set_sleeping(&self, sleeping: bool) {
        self.sleeping.store(sleeping, SeqCst);
        let count = sleeping && !service::in_own_wait();
        if self.counted.swap(count, Relaxed) != count {
            service::sleeper::<O>(self, count);
        }
    }

    /// Submits whatever is queued (the operations routines started).
    pub(crate) fn flush(&self) {
        // Nothing was left queued (see `queued`): a holder that pushes now
        // is the service, which submits before it lets go.
        if !self.queued.load(Relaxed) {
            return;
        }
        let mut core = self.lock();
        if !core.uring.submission().is_empty() {
            core.submit();
        }
        self.release(core);
    }

    /// Reaps and delivers if nobody holds the ring, from any thread (the
    /// tokio driver runs on whichever worker thread). Submissions that
    /// follow (the next operation of a lane, mail) stay with the owner and
    /// the service thread. Returns false if the ring was busy.
    pub(crate) fn try_drive(&self) -> bool {
        if self.foreign() {
            return false;
        }
        if self.may_submit_here() {
            self.serve();
            return true;
        }
        let Some(mut core) = self.try_lock() else {
            return false;
        };
        self.reap(&mut core, None);
        self.release(core);
        true
    }

    /// Polling a record on the owner's thread: submits what is queued and
    /// reaps what is ready. Other threads leave the ring alone (its owner or
    /// the service thread delivers for them).
    pub(crate) fn poll_owned(&self) {
        if self.is_owner() {
            self.serve();
        }
    }

    /// Wakes the owner if it is blocked in this ring.
    pub(crate) fn wake(&self) {
        if self.sleeping.load(SeqCst) && !self.foreign() {
            self.woken.store(true, SeqCst);
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
            let _ = unsafe { libc::write(self.waker.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }
}

impl<O: Op> Drop for Ring<O> {
    fn drop(&mut self) {
        // Pitfall 4: the kernel must be done with every buffer before the
        // slots are freed. A ring is dropped only when no operation is in
        // flight (see `service`), but make sure.
        let core = self.core.get_mut();
        if !core.slots.is_empty() {
            // Leak rather than free memory the kernel may still write.
            std::mem::forget(std::mem::take(&mut core.slots));
        }
    }
}

pub(crate) use service::{adopt, lock_for_fork, own_wait};
