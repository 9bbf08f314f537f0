//! Event objects (`WSAEVENT`): the signal an overlapped operation sets when it completes.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Weak};

use crate::model::error::WsaResult;
use crate::model::ready::ReadySet;

/// An event object: signalled or not; manual-reset (stays signalled until
/// reset) or auto-reset (a satisfied wait resets it).
///
/// Cloning gives another handle to the same event, usable from any thread.
///
/// ```
/// use overlapped::Event;
/// let event = Event::new();                   // WSACreateEvent
/// assert!(!event.is_set());                   // created non-signalled
/// event.set();                                // WSASetEvent
/// assert!(event.is_set());
/// event.reset();                              // WSAResetEvent
/// assert!(!event.is_set());
/// ```
#[doc(alias = "WSAEVENT")]
#[doc(alias = "HANDLE")]
#[derive(Clone)]
pub struct Event {
    pub(crate) inner: Arc<EventInner>,
}

pub(crate) struct EventInner {
    signalled: AtomicBool,
    manual: bool,
    watchers: parking_lot::Mutex<Vec<(Weak<ReadySet>, usize)>>,
}

impl Event {
    /// A manual-reset event in the non-signalled state, as `WSACreateEvent` makes.
    ///
    /// `WSACreateEvent` can fail (`WSA_NOT_ENOUGH_MEMORY`); here an event is a
    /// small allocation and creation cannot fail, like [`Event::new_auto`] and
    /// [`Event::with_reset`].
    #[doc(alias = "WSACreateEvent")]
    pub fn new() -> Event {
        Event::with_reset(true, false)
    }

    /// An auto-reset event (`CreateEvent(NULL, FALSE, ...)`): a wait that it
    /// satisfies resets it.
    #[doc(alias = "CreateEvent")]
    pub fn new_auto() -> Event {
        Event::with_reset(false, false)
    }

    /// An event with the given reset kind and initial state (`CreateEvent`).
    #[doc(alias = "CreateEvent")]
    pub fn with_reset(manual_reset: bool, initially_set: bool) -> Event {
        Event {
            inner: Arc::new(EventInner {
                signalled: AtomicBool::new(initially_set),
                manual: manual_reset,
                watchers: parking_lot::Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sets the event to signalled and wakes its waiters (`WSASetEvent`).
    #[doc(alias = "WSASetEvent")]
    #[doc(alias = "SetEvent")]
    pub fn set(&self) {
        self.inner.signalled.store(true, SeqCst);
        // Waiters are told even if it was set already: a wait for a record
        // (`get_overlapped_result` with `wait`) watches the event, and a
        // second record that shares the event completes while it is set.
        let watchers = self.inner.watchers.lock();
        for (set, index) in watchers.iter() {
            if let Some(set) = set.upgrade() {
                set.mark(*index);
            }
        }
    }

    /// Sets the event to non-signalled (`WSAResetEvent`).
    #[doc(alias = "WSAResetEvent")]
    #[doc(alias = "ResetEvent")]
    pub fn reset(&self) {
        self.inner.signalled.store(false, SeqCst);
    }

    /// Whether the event is signalled now (a wait with timeout 0, without
    /// resetting an auto-reset event).
    pub fn is_set(&self) -> bool {
        self.inner.signalled.load(SeqCst)
    }

    /// Whether this is a manual-reset event.
    pub fn is_manual_reset(&self) -> bool {
        self.inner.manual
    }

    /// Closes this handle (`WSACloseEvent`). Other clones stay valid; the
    /// event itself goes when the last handle does.
    #[doc(alias = "WSACloseEvent")]
    #[doc(alias = "CloseHandle")]
    pub fn close(self) -> WsaResult<()> {
        Ok(())
    }

    /// Whether two handles name the same event.
    pub fn same(&self, other: &Event) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// For a wait: consumes the signal of an auto-reset event, or just
    /// reports a manual one. True if the event counted as signalled.
    pub(crate) fn acquire(&self) -> bool {
        if self.inner.manual {
            self.inner.signalled.load(SeqCst)
        } else {
            self.inner
                .signalled
                .compare_exchange(true, false, SeqCst, SeqCst)
                .is_ok()
        }
    }

    /// Tells `set` to mark `index` in `set` from now on.
    pub(crate) fn watch(&self, set: &Arc<ReadySet>, index: usize) {
        let mut w = self.inner.watchers.lock();
        w.retain(|(s, _)| s.strong_count() > 0);
        w.push((Arc::downgrade(set), index));
        drop(w);
        if self.is_set() {
            set.set_bit(index);
        }
    }

    /// Stops marking `set`.
    pub(crate) fn unwatch(&self, set: &Arc<ReadySet>, index: usize) {
        let mut w = self.inner.watchers.lock();
        let target = Arc::downgrade(set);
        if let Some(pos) = w
            .iter()
            .position(|(s, i)| *i == index && Weak::ptr_eq(s, &target))
        {
            w.swap_remove(pos);
        }
    }
}

impl Default for Event {
    /// The same as [`Event::new`]: manual-reset, non-signalled.
    fn default() -> Event {
        Event::new()
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("signalled", &self.is_set())
            .field("manual_reset", &self.inner.manual)
            .finish()
    }
}
