//! The queue behind an I/O completion port: packets in FIFO order, waiting
//! threads released last-in first-out, and the concurrency limit on the
//! threads that run packets (semantics [fact 139](crate::semantics#fact-139)).
//!
//! A *waiter* is a thread blocked in `GetQueuedCompletionStatus(Ex)`. A
//! packet that arrives while the number of *running* associated threads is
//! below the limit is handed straight to the most recent waiter, which is
//! then counted as running; otherwise it waits in the queue. A thread stops
//! running when it comes back to the port, exits, or blocks in any other
//! wait of the library ([`Local::park`](crate::model::thread::Local::park) calls
//! [`block`] and [`unblock`]); each of those may release another waiter.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::error::WsaError;
use crate::model::ov_state::OvState;
use crate::model::thread::ThreadShared;

/// One completion packet (`OVERLAPPED_ENTRY`).
pub(crate) struct Packet {
    pub(crate) key: usize,
    pub(crate) record: Option<Arc<OvState>>,
    pub(crate) bytes: u32,
    pub(crate) status: WsaError,
}

/// A thread waiting on the port, and the packet it was handed.
pub(crate) struct Waiter {
    thread: Arc<ThreadShared>,
    handed: Mutex<Option<Packet>>,
    ready: AtomicBool,
}

impl Waiter {
    /// Whether a packet was handed over (or the port closed).
    pub(crate) fn ready(&self) -> bool {
        self.ready.load(SeqCst)
    }
}

#[derive(Default)]
struct State {
    packets: VecDeque<Packet>,
    /// Most recent last.
    waiters: Vec<Arc<Waiter>>,
    running: usize,
    closed: bool,
}

/// What a port's counters say now (for observing the thread rules).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) queued: usize,
    pub(crate) waiting: usize,
    pub(crate) running: usize,
}

/// The port itself (the kernel's `KQUEUE` on Windows).
pub(crate) struct PortQueue {
    state: Mutex<State>,
    limit: usize,
}

/// How a wait for packets ended.
pub(crate) enum Taken {
    Packets(Vec<Packet>),
    Closed,
}

impl PortQueue {
    pub(crate) fn new(limit: usize) -> PortQueue {
        PortQueue {
            state: Mutex::new(State::default()),
            limit: limit.max(1),
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn counts(&self) -> Counts {
        let s = self.lock();
        Counts {
            queued: s.packets.len(),
            waiting: s.waiters.len(),
            running: s.running,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Queues a packet (dropped if the port is closed) and releases a waiter
    /// if the limit allows.
    pub(crate) fn push(&self, packet: Packet) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        s.packets.push_back(packet);
        self.release(&mut s);
    }

    /// Hands queued packets to the most recent waiters while fewer than
    /// `limit` threads run.
    fn release(&self, s: &mut State) {
        while s.running < self.limit && !s.packets.is_empty() {
            let Some(waiter) = s.waiters.pop() else {
                return;
            };
            let packet = s.packets.pop_front();
            s.running += 1;
            *waiter.handed.lock().unwrap_or_else(|e| e.into_inner()) = packet;
            waiter.ready.store(true, SeqCst);
            waiter.thread.wake();
        }
    }

    /// A thread comes to the port for packets: it stops running (if it was),
    /// then takes up to `max` packets at once if the limit allows, or
    /// becomes the most recent waiter.
    pub(crate) fn arrive(
        &self,
        me: &Arc<ThreadShared>,
        was_running: bool,
        max: usize,
    ) -> Result<Taken, Arc<Waiter>> {
        let mut s = self.lock();
        if was_running {
            s.running = s.running.saturating_sub(1);
        }
        if s.closed {
            return Ok(Taken::Closed);
        }
        if s.running < self.limit && !s.packets.is_empty() {
            s.running += 1;
            let n = max.min(s.packets.len());
            let taken = s.packets.drain(..n).collect();
            // Other waiters may run too now that this thread gave up its place.
            self.release(&mut s);
            return Ok(Taken::Packets(taken));
        }
        // Someone else may take what this thread could not.
        self.release(&mut s);
        let waiter = Arc::new(Waiter {
            thread: me.clone(),
            handed: Mutex::new(None),
            ready: AtomicBool::new(false),
        });
        s.waiters.push(waiter.clone());
        Err(waiter)
    }

    /// A waiter stops waiting (released, timed out, or interrupted by APCs):
    /// its packet if it was handed one (it runs now), plus up to `max - 1`
    /// more from the queue; `None` if it was not released (it no longer
    /// waits); `Closed` if the port closed.
    pub(crate) fn leave(&self, waiter: &Arc<Waiter>, max: usize) -> Option<Taken> {
        let mut s = self.lock();
        if let Some(pos) = s.waiters.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            s.waiters.remove(pos);
        }
        let handed = waiter
            .handed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match handed {
            Some(first) => {
                let n = (max - 1).min(s.packets.len());
                let mut taken = Vec::with_capacity(n + 1);
                taken.push(first);
                taken.extend(s.packets.drain(..n));
                Some(Taken::Packets(taken))
            }
            None if s.closed => Some(Taken::Closed),
            None => None,
        }
    }

    /// A running thread blocks elsewhere (or exits): it stops counting, and
    /// another waiter may be released.
    pub(crate) fn stop_running(&self) {
        let mut s = self.lock();
        s.running = s.running.saturating_sub(1);
        self.release(&mut s);
    }

    /// A thread that blocked elsewhere runs again (it may take the count
    /// over the limit for a while, as on Windows).
    pub(crate) fn resume_running(&self) {
        self.lock().running += 1;
    }

    /// Closes the port: waiters wake with `ERROR_ABANDONED_WAIT_0`, queued
    /// packets are dropped, later packets are discarded.
    pub(crate) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        s.packets.clear();
        for w in s.waiters.drain(..) {
            w.ready.store(true, SeqCst);
            w.thread.wake();
        }
    }
}
