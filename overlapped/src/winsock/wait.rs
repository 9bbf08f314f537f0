//! Waiting: `WSAWaitForMultipleEvents`, the reusable [`EventSet`], `SleepEx`.
//!
//! Every wait goes through one loop (the thread's ring): while a thread waits
//! in the library, it also reaps and delivers completions, and an alertable
//! wait runs the thread's queued completion routines and APCs.

use std::sync::Arc;
use std::time::Duration;

use crate::model::ready::ReadySet;
use crate::model::thread::{self, Wake};
use crate::{Event, WsaError, WsaResult};

/// `WSA_INFINITE`: a timeout that never expires.
#[doc(alias = "INFINITE")]
pub const WSA_INFINITE: Option<Duration> = None;

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(alias = "WSA_WAIT_EVENT_0")]
#[doc(alias = "WSA_WAIT_TIMEOUT")]
#[doc(alias = "WSA_WAIT_IO_COMPLETION")]
#[doc(alias = "WAIT_OBJECT_0")]
pub enum WaitResult {
    /// `WSA_WAIT_EVENT_0 + i`: event `i` is signalled (the lowest such index);
    /// for a wait-all, every event is.
    #[doc(alias = "WSA_WAIT_EVENT_0")]
    Signaled(usize),
    /// `WSA_WAIT_TIMEOUT`: the timeout expired; no routine ran.
    #[doc(alias = "WSA_WAIT_TIMEOUT")]
    Timeout,
    /// `WSA_WAIT_IO_COMPLETION`: an alertable wait ran the queued completion
    /// routines and APCs; wait again to go on.
    #[doc(alias = "WSA_WAIT_IO_COMPLETION")]
    #[doc(alias = "WAIT_IO_COMPLETION")]
    IoCompletion,
}

impl WaitResult {
    /// The Winsock return value: `i`, 258 (`WSA_WAIT_TIMEOUT`) or 0xC0 (`WSA_WAIT_IO_COMPLETION`).
    pub fn code(self) -> u32 {
        match self {
            WaitResult::Signaled(i) => i as u32,
            WaitResult::Timeout => 258,
            WaitResult::IoCompletion => 0xC0,
        }
    }
}

/// Waits until one (or, with `wait_all`, every) event in `events` is
/// signalled, the timeout expires (`None` = forever), or, if `alertable`,
/// completion routines or APCs were run (`WSAWaitForMultipleEvents`).
///
/// Returns the lowest signalled index. An auto-reset event that satisfies
/// the wait is reset; a manual-reset one is not. An empty list, or a
/// wait-all list with one event twice, is `WSA_INVALID_PARAMETER`.
/// There is no limit of 64 events. This form registers with every event on
/// each call; to wait on thousands of events repeatedly, keep them in an
/// [`EventSet`], whose waits cost the same whatever its size.
///
/// ```
/// use overlapped::{wait_for_multiple_events, Event, WaitResult};
/// use std::time::Duration;
/// let events = [Event::new(), Event::new(), Event::new()];
/// events[2].set();
/// events[1].set();
/// let r = wait_for_multiple_events(&events, false, Some(Duration::ZERO), false).unwrap();
/// assert_eq!(r, WaitResult::Signaled(1));
/// ```
#[doc(alias = "WSAWaitForMultipleEvents")]
#[doc(alias = "WaitForMultipleObjectsEx")]
pub fn wait_for_multiple_events(
    events: &[Event],
    wait_all: bool,
    timeout: Option<Duration>,
    alertable: bool,
) -> WsaResult<WaitResult> {
    check(events, wait_all)?;
    let ready = Arc::new(ReadySet::new(events.len()));
    for (i, e) in events.iter().enumerate() {
        e.watch(&ready, i);
    }
    let local = thread::current()?;
    let result = wait_list(&local, events, &ready, wait_all, timeout, alertable, false);
    for (i, e) in events.iter().enumerate() {
        e.unwatch(&ready, i);
    }
    result
}

impl Event {
    /// Waits until the event is signalled (`WaitForSingleObject`); `None` waits forever.
    #[doc(alias = "WaitForSingleObject")]
    pub fn wait(&self, timeout: Option<Duration>) -> WsaResult<WaitResult> {
        wait_for_single_object_ex(self, timeout, false)
    }
}

/// Waits on one event (`WaitForSingleObjectEx`): `Signaled(0)`, `Timeout`,
/// or `IoCompletion` if alertable and routines ran.
#[doc(alias = "WaitForSingleObjectEx")]
pub fn wait_for_single_object_ex(
    event: &Event,
    timeout: Option<Duration>,
    alertable: bool,
) -> WsaResult<WaitResult> {
    // A thread usually waits on the same event again and again (the book's
    // routine server does nothing else): keep that registration.
    let local = thread::current()?;
    let ready = local.single_wait_set(event, |old| {
        if let Some((old_event, old_set)) = old {
            old_event.unwatch(old_set, 0);
        }
        let set = Arc::new(ReadySet::new(1));
        event.watch(&set, 0);
        set
    });
    wait_list(
        &local,
        std::slice::from_ref(event),
        &ready,
        false,
        timeout,
        alertable,
        true,
    )
}

/// Sleeps for `timeout` (`None` = forever). If `alertable`, returns early,
/// with `IoCompletion`, after running the queued completion routines and
/// APCs; otherwise returns `Timeout` (`SleepEx`, which returns 0 then).
#[doc(alias = "SleepEx")]
pub fn sleep_ex(timeout: Option<Duration>, alertable: bool) -> WsaResult<WaitResult> {
    let local = thread::current()?;
    let deadline = thread::deadline_after(timeout);
    // Waits for this thread's own routines and APCs only.
    let woke = crate::sys::uring::own_wait(|| local.park(&mut || false, deadline, alertable));
    Ok(match woke {
        Wake::Apc => WaitResult::IoCompletion,
        _ => WaitResult::Timeout,
    })
}

#[inline]
fn check(events: &[Event], wait_all: bool) -> WsaResult<()> {
    if events.is_empty() {
        return Err(WsaError::WSA_INVALID_PARAMETER);
    }
    if wait_all {
        return check_all(events);
    }
    Ok(())
}

/// A wait-all list must not name one event twice.
#[inline(never)]
fn check_all(events: &[Event]) -> WsaResult<()> {
    let mut ptrs: Vec<*const ()> = events
        .iter()
        .map(|e| Arc::as_ptr(&e.inner).cast())
        .collect();
    ptrs.sort_unstable();
    if ptrs.windows(2).any(|w| w[0] == w[1]) {
        return Err(WsaError::WSA_INVALID_PARAMETER);
    }
    Ok(())
}

pub(crate) fn wait_list(
    local: &thread::Local,
    events: &[Event],
    ready: &Arc<ReadySet>,
    wait_all: bool,
    timeout: Option<Duration>,
    alertable: bool,
    persistent: bool,
) -> WsaResult<WaitResult> {
    let _waiting = if persistent {
        ready.enter_persistent(&local.shared);
        None
    } else {
        Some(ready.enter(&local.shared))
    };
    let deadline = thread::deadline_after(timeout);
    let mut found = 0;
    // The mark count at the last look that found nothing: the wait looks
    // again (after it says it sleeps, after each turn) only once some event
    // marked the set since.
    let mut fruitless = None;
    let mut cond = || {
        if wait_all {
            acquire_all(events)
        } else {
            let marks = ready.marks();
            if fruitless == Some(marks) {
                return false;
            }
            match pick_lowest(events, ready) {
                Some(i) => {
                    found = i;
                    true
                }
                None => {
                    fruitless = Some(marks);
                    false
                }
            }
        }
    };
    Ok(match local.park(&mut cond, deadline, alertable) {
        Wake::Satisfied => WaitResult::Signaled(found),
        Wake::Timeout => WaitResult::Timeout,
        Wake::Apc => WaitResult::IoCompletion,
    })
}

/// The lowest signalled index, consuming an auto-reset event's signal.
/// Marks are hints: each is confirmed against its event, and stale ones cleared.
fn pick_lowest(events: &[Event], ready: &ReadySet) -> Option<usize> {
    pick_lowest_from(events, ready, 0)
}

fn pick_lowest_from(events: &[Event], ready: &ReadySet, mut from: usize) -> Option<usize> {
    // Word by word: the stale marks of one word are cleared without
    // looking the word up again for each.
    while let Some((word, mut bits)) = ready.word_from(from) {
        while bits != 0 {
            let i = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if pick(events, ready, i) {
                return Some(i);
            }
        }
        from = (word + 1) * 64;
    }
    None
}

/// Whether marked index `i` is signalled (consuming an auto-reset event's
/// signal); a stale mark is cleared.
#[inline]
fn pick(events: &[Event], ready: &ReadySet, i: usize) -> bool {
    let Some(e) = events.get(i) else {
        ready.clear_bit(i);
        return false;
    };
    if e.is_manual_reset() {
        if e.is_set() {
            return true;
        }
        // Clear, then look again: a `set` racing with us re-marks after
        // storing the signal, so either we see it or its mark stays.
        ready.clear_bit(i);
        if e.is_set() {
            ready.set_bit(i);
            return true;
        }
        false
    } else {
        ready.clear_bit(i);
        e.acquire()
    }
}

/// Wait-all: true once every event is signalled; auto-reset events are then
/// reset together. States are left alone until all are signalled.
fn acquire_all(events: &[Event]) -> bool {
    if !events.iter().all(Event::is_set) {
        return false;
    }
    let mut taken = Vec::new();
    for e in events.iter().filter(|e| !e.is_manual_reset()) {
        if e.acquire() {
            taken.push(e);
        } else {
            // Another waiter took it: give back what we took, keep waiting.
            for t in taken {
                t.set();
            }
            return false;
        }
    }
    true
}

/// A list of events kept registered for repeated waits: a wait costs the
/// same whether the set holds ten events or ten thousand, since a signalled
/// event marks its own index instead of the waiter scanning the list.
///
/// ```
/// use overlapped::{Event, EventSet, WaitResult};
/// use std::time::Duration;
/// let mut set = EventSet::new();
/// let events: Vec<Event> = (0..1000).map(|_| Event::new()).collect();
/// for e in &events {
///     set.push(e.clone());
/// }
/// events[700].set();
/// assert_eq!(set.wait(false, Some(Duration::ZERO), false).unwrap(), WaitResult::Signaled(700));
/// ```
#[doc(alias = "WSAWaitForMultipleEvents")]
pub struct EventSet {
    events: Vec<Event>,
    ready: Arc<ReadySet>,
}

impl Default for EventSet {
    fn default() -> Self {
        EventSet::new()
    }
}

impl EventSet {
    /// An empty set.
    pub fn new() -> EventSet {
        EventSet {
            events: Vec::new(),
            ready: Arc::new(ReadySet::new(64)),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The event at `index`.
    pub fn get(&self, index: usize) -> Option<&Event> {
        self.events.get(index)
    }

    /// The events, in index order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Appends an event; returns its index.
    pub fn push(&mut self, event: Event) -> usize {
        let index = self.events.len();
        if index >= self.capacity() {
            self.regrow((index + 1).next_power_of_two().max(64));
        }
        event.watch(&self.ready, index);
        self.events.push(event);
        index
    }

    /// Replaces the event at `index`, returning the old one.
    pub fn replace(&mut self, index: usize, event: Event) -> Event {
        self.events[index].unwatch(&self.ready, index);
        self.ready.clear_bit(index);
        event.watch(&self.ready, index);
        std::mem::replace(&mut self.events[index], event)
    }

    /// Removes the event at `index`; the last event takes its index.
    pub fn swap_remove(&mut self, index: usize) -> Event {
        let last = self.events.len() - 1;
        self.events[index].unwatch(&self.ready, index);
        self.ready.clear_bit(index);
        if index != last {
            self.events[last].unwatch(&self.ready, last);
            self.ready.clear_bit(last);
            self.events[last].watch(&self.ready, index);
        }
        self.events.swap_remove(index)
    }

    /// Waits as [`wait_for_multiple_events`] does, on the events of the set.
    ///
    /// The waiting thread is registered with the set only while it waits:
    /// once the wait returns, the set holds nothing of it (no ring, no
    /// descriptor), so any number of short-lived threads may wait on one
    /// long-lived set.
    #[doc(alias = "WSAWaitForMultipleEvents")]
    pub fn wait(
        &self,
        wait_all: bool,
        timeout: Option<Duration>,
        alertable: bool,
    ) -> WsaResult<WaitResult> {
        check(&self.events, wait_all)?;
        let local = thread::current()?;
        wait_list(
            &local,
            &self.events,
            &self.ready,
            wait_all,
            timeout,
            alertable,
            false,
        )
    }

    /// The lowest signalled index at or after `from`, without waiting
    /// (consuming an auto-reset event's signal), or `None`. After a wait
    /// returns `i`, sweeping with `next_signaled(i + 1)` serves every
    /// signalled event before waiting again, so that low indices cannot
    /// starve high ones under load (the wait itself always prefers the
    /// lowest index, as Winsock's does).
    #[doc(alias = "WSAWaitForMultipleEvents")]
    pub fn next_signaled(&self, from: usize) -> Option<usize> {
        pick_lowest_from(&self.events, &self.ready, from)
    }

    fn capacity(&self) -> usize {
        self.ready.capacity()
    }

    fn regrow(&mut self, capacity: usize) {
        let ready = Arc::new(ReadySet::new(capacity));
        for (i, e) in self.events.iter().enumerate() {
            e.unwatch(&self.ready, i);
            e.watch(&ready, i);
        }
        self.ready = ready;
    }
}

impl Drop for EventSet {
    fn drop(&mut self) {
        for (i, e) in self.events.iter().enumerate() {
            e.unwatch(&self.ready, i);
        }
    }
}
