//! The per-thread side of the model: the thread's ring, its APC queue
//! (completion routines and user APCs), and the one wait loop that every
//! blocking call of the library goes through.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::model::error::WsaError;
use crate::model::op::Outcome;
use crate::model::op::Ring;
use crate::model::port_queue::PortQueue;
use crate::sys::SetupError;

/// An APC that may be queued from another thread.
pub(crate) enum RemoteApc {
    User(Box<dyn FnOnce() + Send>),
    Routine(usize, Outcome),
}

enum LocalApc {
    User(Box<dyn FnOnce()>),
    Routine(usize, Outcome),
}

/// What other threads may touch of a thread: its ring (to wake it) and the
/// remote half of its APC queue.
pub(crate) struct ThreadShared {
    pub(crate) ring: Arc<Ring>,
    alive: AtomicBool,
    remote: Mutex<Vec<RemoteApc>>,
    has_remote: AtomicBool,
}

impl ThreadShared {
    /// Wakes the thread if it is blocked in the library.
    pub(crate) fn wake(&self) {
        self.ring.wake();
    }

    /// Queues an APC to this thread from any thread. Returns false (and drops
    /// the APC) if the thread has exited.
    pub(crate) fn post(self: &Arc<Self>, apc: RemoteApc) -> bool {
        if !self.alive.load(SeqCst) {
            return false;
        }
        if self.is_current() {
            push_local(match apc {
                RemoteApc::User(f) => LocalApc::User(f),
                RemoteApc::Routine(k, o) => LocalApc::Routine(k, o),
            });
            return true;
        }
        self.post_remote(apc)
    }

    /// Queues the completion of the routine kept under `key` (the usual
    /// case: its own thread reaps it, and the outcome goes straight into
    /// the local queue).
    #[inline]
    pub(crate) fn post_routine(self: &Arc<Self>, key: usize, outcome: Outcome) {
        if self.is_current() && self.alive.load(SeqCst) {
            push_local(LocalApc::Routine(key, outcome));
        } else {
            self.post(RemoteApc::Routine(key, outcome));
        }
    }

    /// Whether this is the calling thread's state (one thread-local load).
    #[inline]
    fn is_current(self: &Arc<Self>) -> bool {
        CURRENT.try_with(|c| c.get()) == Ok(Arc::as_ptr(self) as usize)
    }

    /// [`ThreadShared::post`] from another thread (out of line: the usual
    /// post is the owner's, reaping its own completions).
    #[cold]
    #[inline(never)]
    fn post_remote(&self, apc: RemoteApc) -> bool {
        self.remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(apc);
        self.has_remote.store(true, SeqCst);
        self.wake();
        true
    }
}

/// A completion routine, kept in place when it is small (no allocation
/// per operation for the usual closure that captures a handle or two).
pub(crate) type Routine = crate::sys::inline_fn::InlineFn<crate::model::completion::Completion>;

/// The thread-local side: never shared, so completion routines need not be `Send`.
pub(crate) struct Local {
    pub(crate) shared: Arc<ThreadShared>,
    apcs: RefCell<VecDeque<LocalApc>>,
    routines: RefCell<Slab<Routine>>,
    delivering: Cell<bool>,
    /// The last single-event wait's registration, reused while the event is the same.
    single: RefCell<
        Option<(
            crate::model::event::Event,
            Arc<crate::model::ready::ReadySet>,
        )>,
    >,
    /// The completion port this thread last waited on ([fact 139](crate::semantics#fact-139)), if any.
    port: RefCell<Option<Arc<PortQueue>>>,
    /// Whether this thread counts as running for that port.
    port_running: Cell<bool>,
    /// Whether it stopped counting because it blocked in a wait (see `park`).
    port_blocked: Cell<bool>,
}

thread_local! {
    static LOCAL: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
    /// The address of the `ThreadShared` of `LOCAL` (0: none): tells a
    /// post from this thread to its own queue without borrowing `LOCAL`.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// Pushes an APC to the calling thread's own queue (it has one: see
/// [`ThreadShared::is_current`]); during the thread's exit, when its
/// state is being dropped, the APC is dropped too (it could never run).
fn push_local(apc: LocalApc) {
    let _ = LOCAL.try_with(|l| {
        if let Ok(l) = l.try_borrow() {
            if let Some(local) = l.as_ref() {
                local.apcs.borrow_mut().push_back(apc);
            }
        }
    });
}

/// The calling thread's state, created (with its ring) on first use.
///
/// Called by every start: the usual case returns without the (large)
/// reason a ring could not be made.
#[inline]
pub(crate) fn current() -> Result<Rc<Local>, WsaError> {
    if let Ok(Some(local)) = LOCAL.try_with(|l| l.borrow().clone()) {
        if !local.shared.ring.foreign() {
            return Ok(local);
        }
    }
    make_current().map_err(|_| WsaError::WSASYSNOTREADY)
}

/// Like [`current`], with the reason a ring could not be made.
///
/// Called by every start and every wait: the usual case (the state exists
/// and is this process's) stays small; making it is out of line.
#[inline]
pub(crate) fn try_current() -> Result<Rc<Local>, SetupError> {
    if let Ok(Some(local)) = LOCAL.try_with(|l| l.borrow().clone()) {
        if !local.shared.ring.foreign() {
            return Ok(local);
        }
    }
    make_current()
}

/// [`try_current`]'s first use on a thread (or first after `fork`).
#[cold]
#[inline(never)]
fn make_current() -> Result<Rc<Local>, SetupError> {
    let found = LOCAL
        .try_with(|l| l.borrow().clone())
        .map_err(|_| SetupError::Other(std::io::Error::other("thread is exiting")))?;
    if let Some(local) = found {
        if !local.shared.ring.foreign() {
            return Ok(local);
        }
        // A child process after `fork`: this thread's state is the parent's
        // (its ring's queues are shared with the parent). Leave it alone for
        // good (never dropped: dropping would cancel the parent's operations)
        // and start afresh. See DESIGN.md, "fork".
        let _ = LOCAL.try_with(|l| std::mem::forget(l.borrow_mut().take()));
    }
    let ring = Ring::new()?;
    let local = Rc::new(Local {
        shared: Arc::new(ThreadShared {
            ring,
            alive: AtomicBool::new(true),
            remote: Mutex::new(Vec::new()),
            has_remote: AtomicBool::new(false),
        }),
        apcs: RefCell::new(VecDeque::new()),
        routines: RefCell::new(Slab::new()),
        delivering: Cell::new(false),
        single: RefCell::new(None),
        port: RefCell::new(None),
        port_running: Cell::new(false),
        port_blocked: Cell::new(false),
    });
    let _ = LOCAL.try_with(|l| *l.borrow_mut() = Some(local.clone()));
    let _ = CURRENT.try_with(|c| c.set(Arc::as_ptr(&local.shared) as usize));
    Ok(local)
}

/// The instant `timeout` from now; `None` (wait for ever) for `None` and for
/// any timeout too large to express as an instant (`Duration::MAX`, ...): a
/// timeout that cannot end within the life of the process is infinite.
pub(crate) fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// How a [`Local::park`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    Satisfied,
    Timeout,
    Apc,
}

impl Local {
    /// True while routines are being delivered: operations started now are
    /// queued and submitted together when the delivery ends.
    pub(crate) fn delivering(&self) -> bool {
        self.delivering.get()
    }

    /// Keeps a completion routine until its operation completes.
    pub(crate) fn keep_routine(
        &self,
        routine: impl FnOnce(crate::model::completion::Completion) + 'static,
    ) -> usize {
        self.keep(Routine::new(routine))
    }

    /// [`Local::keep_routine`] for a routine already made.
    pub(crate) fn keep(&self, routine: Routine) -> usize {
        self.routines.borrow_mut().insert(routine)
    }

    /// Drops a routine whose operation never started.
    pub(crate) fn forget_routine(&self, key: usize) {
        self.routines.borrow_mut().try_remove(key);
    }

    /// The ready set registered with `event` for single-event waits: the
    /// cached one if it is for the same event, else one made by `make`
    /// (which is handed the old registration to undo).
    pub(crate) fn single_wait_set(
        &self,
        event: &crate::model::event::Event,
        make: impl FnOnce(
            Option<&(
                crate::model::event::Event,
                Arc<crate::model::ready::ReadySet>,
            )>,
        ) -> Arc<crate::model::ready::ReadySet>,
    ) -> Arc<crate::model::ready::ReadySet> {
        let mut single = self.single.borrow_mut();
        if let Some((cached, set)) = single.as_ref() {
            if cached.same(event) {
                return set.clone();
            }
        }
        let set = make(single.as_ref());
        *single = Some((event.clone(), set.clone()));
        set
    }

    fn has_apcs(&self) -> bool {
        !self.apcs.borrow().is_empty() || self.shared.has_remote.load(SeqCst)
    }

    /// The wait loop. Returns when `cond` holds, when the deadline passes,
    /// or (if `alertable`) after running every queued APC.
    ///
    /// A thread that runs packets of a completion port stops counting
    /// against the port's concurrency limit while it actually blocks here,
    /// and counts again once the wait returns ([fact 139](crate::semantics#fact-139)).
    pub(crate) fn park(
        &self,
        cond: &mut dyn FnMut() -> bool,
        deadline: Option<Instant>,
        alertable: bool,
    ) -> Wake {
        let woke = self.park_loop(cond, deadline, alertable);
        if self.port_blocked.replace(false) {
            if let Some(port) = self.port.borrow().as_ref() {
                port.resume_running();
            }
        }
        woke
    }

    /// About to block: a thread running a port's packets lets another run.
    fn block_for_port(&self) {
        if self.port_running.get() && !self.port_blocked.get() {
            if let Some(port) = self.port.borrow().as_ref() {
                self.port_blocked.set(true);
                port.stop_running();
            }
        }
    }

    /// The thread comes to `port` for packets: it is associated with that
    /// port from now on, and no longer runs for any port. Returns whether
    /// it was running for `port` (which then stops counting it).
    pub(crate) fn arrive_at_port(&self, port: &Arc<PortQueue>) -> bool {
        let was = self.port_running.replace(false);
        let mut current = self.port.borrow_mut();
        match current.as_ref() {
            Some(p) if Arc::ptr_eq(p, port) => was,
            old => {
                if was {
                    if let Some(old) = old {
                        old.stop_running();
                    }
                }
                *current = Some(port.clone());
                false
            }
        }
    }

    /// The thread took packets from its port: it counts as running.
    pub(crate) fn run_for_port(&self) {
        self.port_running.set(true);
    }

    fn park_loop(
        &self,
        cond: &mut dyn FnMut() -> bool,
        deadline: Option<Instant>,
        alertable: bool,
    ) -> Wake {
        let ring = &self.shared.ring;
        // One system call per turn: what is queued goes in with the wait that
        // sleeps, or, when there is work ready already, just before returning.
        // A blocking turn ends by reaping and delivering (and serving mail),
        // so the look that starts the next round is skipped right after one.
        // A backend whose look costs a system call of its own (epoll) skips
        // the first one when the wait may block: the blocking turn returns at
        // once if anything is ready, and reaps it.
        let mut reaped = !ring.looks_for_free() && deadline.is_none_or(|d| d > Instant::now());
        loop {
            if !std::mem::take(&mut reaped) {
                ring.turn(Some(Duration::ZERO));
            }
            if alertable && self.has_apcs() {
                ring.flush();
                self.run_apcs();
                self.drain_started();
                return Wake::Apc;
            }
            if cond() {
                ring.flush();
                return Wake::Satisfied;
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        ring.flush();
                        return Wake::Timeout;
                    }
                    Some(d - now)
                }
            };
            ring.set_sleeping(true);
            if alertable && self.has_apcs() {
                ring.set_sleeping(false);
                continue;
            }
            if cond() {
                // Satisfied (and, for an auto-reset event, consumed): report it.
                ring.set_sleeping(false);
                ring.flush();
                return Wake::Satisfied;
            }
            self.block_for_port();
            ring.turn(timeout);
            ring.set_sleeping(false);
            reaped = true;
        }
    }

    /// After an alertable wait ran its APCs: what those routines started is
    /// submitted now, and what the kernel finished at submission (a send on
    /// a connected stream usually is) is reaped and its routines run before
    /// the wait returns — Windows queues such a completion's APC at once,
    /// and a wait drains every APC queued before it returns
    /// ([fact 34](crate::semantics#fact-34); never inside the routine that
    /// started it, [fact 36](crate::semantics#fact-36)). One round more only, so
    /// that a stream of immediate completions cannot keep the wait from
    /// returning; the rest runs in the next wait. An echo server saves a
    /// whole wait per message (receive routine → send → send routine in one).
    fn drain_started(&self) {
        let ring = &self.shared.ring;
        ring.flush();
        if ring.looks_for_free() {
            // (epoll: the flush tried what the routines started, and
            // delivered what completed at once; a look would cost an
            // `epoll_wait` for what the next wait collects anyway.)
            ring.turn(Some(Duration::ZERO));
        }
        if self.has_apcs() {
            self.run_apcs();
        }
    }

    /// Runs every queued APC, in order, until the queue is empty; then
    /// submits what the routines started, in one batch.
    ///
    /// A routine or APC that panics unwinds out of the wait that ran it, as
    /// on any call stack; the guard below first puts the thread back as it
    /// was (not delivering, what the routines started submitted), and the
    /// APCs still queued run in the next alertable wait.
    pub(crate) fn run_apcs(&self) {
        let _delivery = Delivery::begin(self);
        loop {
            // (A load first: the locked swap only when another thread posted.)
            if self.shared.has_remote.load(SeqCst) && self.shared.has_remote.swap(false, SeqCst) {
                let remote = std::mem::take(
                    &mut *self.shared.remote.lock().unwrap_or_else(|e| e.into_inner()),
                );
                let mut apcs = self.apcs.borrow_mut();
                for apc in remote {
                    apcs.push_back(match apc {
                        RemoteApc::User(f) => LocalApc::User(f),
                        RemoteApc::Routine(k, o) => LocalApc::Routine(k, o),
                    });
                }
            }
            let next = self.apcs.borrow_mut().pop_front();
            match next {
                None => break,
                Some(LocalApc::User(f)) => f(),
                Some(LocalApc::Routine(key, outcome)) => {
                    let routine = self.routines.borrow_mut().try_remove(key);
                    if let Some(routine) = routine {
                        routine.call(outcome.into());
                    }
                }
            }
        }
    }
}

/// The "delivering" state of a thread while it runs its APCs, ended on every
/// way out of [`Local::run_apcs`], a panicking routine included: a thread
/// left marked as delivering would queue every later operation instead of
/// starting it.
struct Delivery<'a> {
    local: &'a Local,
}

impl<'a> Delivery<'a> {
    fn begin(local: &'a Local) -> Delivery<'a> {
        local.delivering.set(true);
        Delivery { local }
    }
}

impl Drop for Delivery<'_> {
    fn drop(&mut self) {
        self.local.delivering.set(false);
        // A batching thread submits what the routines started with its next
        // wait, in the same system call that sleeps; otherwise it goes now.
        if !self.local.shared.ring.batching() {
            self.local.shared.ring.flush();
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // The thread is exiting. Its routines can never run: cancel their
        // operations (the kernel consumes no more data for them), and hand
        // the ring to the service thread, which keeps every buffer alive until
        // the kernel has let go and keeps completing event-notified
        // operations (semantics fact 133). See DESIGN.md, "Thread exit".
        self.shared.alive.store(false, SeqCst);
        // (A later state at this address must not pass for this thread's.)
        let _ = CURRENT.try_with(|c| {
            if c.get() == Arc::as_ptr(&self.shared) as usize {
                c.set(0);
            }
        });
        if self.port_running.get() && !self.port_blocked.get() {
            if let Some(port) = self.port.borrow().as_ref() {
                port.stop_running();
            }
        }
        self.shared.ring.retire();
        self.routines.borrow_mut().clear();
        self.apcs.borrow_mut().clear();
        // The cached single-event registration: the event must not keep
        // marking a set of a thread that is gone.
        if let Some((event, set)) = self.single.borrow_mut().take() {
            event.unwatch(&set, 0);
        }
        self.shared.ring.clone().adopt();
    }
}
