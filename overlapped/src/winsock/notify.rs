//! Change notifications in the model's three modes, shared by `WSAIoctl`
//! (`SIO_ADDRESS_LIST_CHANGE`, `SIO_ROUTING_INTERFACE_CHANGE`),
//! `WSANSPIoctl` (`SIO_NSP_NOTIFY_CHANGE`) and `WSAProviderConfigChange`.
//!
//! A request opens its own change source (an rtnetlink socket, an inotify
//! instance), so every posted request hears of every change that happens
//! after it was posted, and completes exactly once. The source is read
//! through the ring like any socket (`OpKind::Change`); its filter decides
//! which reads are changes. The source belongs to an *owner* (the socket
//! the ioctl was issued on, the lookup handle, the provider handle):
//! closing the owner closes the source and aborts the request with
//! `WSA_OPERATION_ABORTED` ([fact 119](crate::semantics#fact-119)).

use std::sync::{Arc, Mutex};

use crate::model::op::{ChangeFilter, Notify, OpKind, Outcome};
use crate::model::op::{OpSlot, Started};
use crate::model::socket::SocketInner;
use crate::model::thread::{self, Wake};
use crate::{BufList, Completion, Event, MsgFlags, Overlapped, Socket, WsaError, WsaResult};

/// How a caller wants to hear of a completion.
pub(crate) enum Mode<'a> {
    /// An overlapped record: its event, or for a record without one the
    /// event of `signal` (the socket the call was made on; the change
    /// source's own when there is none).
    Record {
        ov: &'a mut Overlapped,
        signal: Option<&'a Socket>,
    },
    /// A completion routine, run in the calling thread's next alertable wait.
    Routine(Box<dyn FnOnce(Completion)>),
}

/// A change request: its source and the filter that recognizes a change.
pub(crate) struct Change {
    pub(crate) source: Socket,
    pub(crate) filter: Box<dyn ChangeFilter>,
}

/// Closes `source` (its pending request ends with `WSA_OPERATION_ABORTED`)
/// and lets its descriptor go on the closer thread once no operation holds
/// it: closing an inotify instance waits for a kernel grace period, which
/// must not stall the thread that reaps a ring.
pub(crate) fn close_later(source: Socket) {
    let inner = Arc::clone(&source.inner);
    drop(source);
    if Arc::strong_count(&inner) == 1 {
        // Nothing in flight: close here, in the caller's thread (as a slow
        // `CloseHandle` would), which also keeps a loop that makes and ends
        // handles from outrunning the kernel's limit on instances.
        return;
    }
    CLOSING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    send_to_closer(Closing::Source(inner));
}

/// Sources handed to the closer and not yet closed.
static CLOSING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `open` again while it fails for want of descriptors or instances
/// (`EMFILE`) and the closer still has some to close: waits up to 2 s.
pub(crate) fn retry_while_closing<T>(
    mut open: impl FnMut() -> std::io::Result<T>,
) -> std::io::Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match open() {
            Err(e)
                if e.raw_os_error() == Some(libc::EMFILE)
                    && CLOSING.load(std::sync::atomic::Ordering::SeqCst) > 0
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

enum Closing {
    /// Dropped once nothing else holds it.
    Source(Arc<SocketInner>),
}

fn send_to_closer(item: Closing) {
    static CLOSER: std::sync::OnceLock<Option<Mutex<std::sync::mpsc::Sender<Closing>>>> =
        std::sync::OnceLock::new();
    let closer = CLOSER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Closing>();
        std::thread::Builder::new()
            .name("overlapped-closer".into())
            .spawn(move || run_closer(rx))
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let item = match closer {
        Some(tx) => match tx.lock().unwrap_or_else(|e| e.into_inner()).send(item) {
            Ok(()) => return,
            Err(e) => e.0,
        },
        None => item,
    };
    drop(item); // no closer thread: close here
}

fn run_closer(rx: std::sync::mpsc::Receiver<Closing>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut held: Vec<Arc<SocketInner>> = Vec::new();
    loop {
        let next = if held.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(std::time::Duration::from_millis(20))
        };
        match next {
            Ok(Closing::Source(inner)) => held.push(inner),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // An operation still holding the source lets go when its cancel lands.
        let (done, still): (Vec<_>, Vec<_>) = held
            .into_iter()
            .partition(|inner| Arc::strong_count(inner) == 1);
        held = still;
        let closed = done.len();
        drop(done); // the slow part: the kernel's close
        CLOSING.fetch_sub(closed, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The receive buffer of a change read: large enough for a burst of
/// rtnetlink messages or inotify events.
pub(crate) const READ_BUFFER: usize = 16 * 1024;

impl Mode<'_> {
    /// Turns the mode into the operation's notification. For a record:
    /// starts it (`WSAEINVAL` if it is busy) and resets its event.
    fn notify(
        self,
        source: Option<&Socket>,
    ) -> WsaResult<(Notify, Option<Arc<crate::model::ov_state::OvState>>)> {
        match self {
            Mode::Record { ov, signal } => {
                // The record completes "on" the socket the call was made on
                // (its event for a record without one, its completion port).
                let on = signal.or(source).ok_or(WsaError::WSAEINVAL)?;
                ov.state.begin(&on.inner)?;
                Ok((Notify::Overlapped(ov.state.clone()), Some(ov.state.clone())))
            }
            Mode::Routine(routine) => {
                let local = thread::current()?;
                let key = local.keep_routine(routine);
                Ok((
                    Notify::Routine {
                        thread: local.shared.clone(),
                        key,
                    },
                    None,
                ))
            }
        }
    }
}

/// An outcome of `error` with no bytes.
pub(crate) fn outcome(error: WsaError, bufs: BufList) -> Outcome {
    Outcome {
        error,
        bytes: bufs.total_len() as u32,
        flags: MsgFlags::empty(),
        bufs,
        dgram: None,
    }
}

/// Completes a request at once through its notification (the event is set,
/// the routine queued, the port's packet queued) and reports
/// `WSA_IO_PENDING`, as Windows does for requests that are always
/// asynchronous (facts [115](crate::semantics#fact-115), [119](crate::semantics#fact-119), [122](crate::semantics#fact-122)).
pub(crate) fn complete_now(mode: Mode<'_>, outcome: Outcome) -> WsaResult<u32> {
    let (notify, _) = mode.notify(None)?;
    crate::model::op::deliver(notify, outcome);
    Err(WsaError::WSA_IO_PENDING)
}

/// A request that succeeded during the call: notified all the same
/// ([fact 19](crate::semantics#fact-19)), but a socket with
/// `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS` gets no packet
/// ([fact 140](crate::semantics#fact-140)).
pub(crate) fn succeed_now(mode: Mode<'_>, outcome: Outcome) -> WsaResult<()> {
    match mode.notify(None)? {
        (Notify::Overlapped(state), _) => state.complete(outcome, true),
        (other, _) => crate::model::op::deliver(other, outcome),
    }
    Ok(())
}

/// Starts `change` in `mode`: `Err(WSA_IO_PENDING)`, its notification to
/// come when the filter sees a change (or the owner closes). The source is
/// kept by `owner` (see [`Socket::attach`]).
pub(crate) fn start(change: Change, mode: Mode<'_>, owner: &dyn Fn(Socket)) -> WsaResult<u32> {
    let local = thread::current()?;
    let Change { source, filter } = change;
    let (notify, record) = mode.notify(Some(&source))?;
    let eager = !local.delivering() && !local.shared.ring.batching();
    let op = OpSlot::new(OpKind::Change { filter }, notify, Arc::clone(&source.inner));
    let started = local
        .shared
        .ring
        .start(op, BufList::zeroed(READ_BUFFER), eager);
    match started {
        Started::Pending(op) => {
            if let Some(state) = record {
                state.set_op(op);
            }
            owner(source);
            Err(WsaError::WSA_IO_PENDING)
        }
        Started::Immediate((notify, outcome)) => {
            // A change arrived during submission: notified, and still
            // reported pending (a change request is always asynchronous).
            crate::model::op::deliver(notify, outcome);
            Err(WsaError::WSA_IO_PENDING)
        }
    }
}

/// Waits, alertably, for `change` (the blocking form without a record:
/// `SIO_ADDRESS_LIST_CHANGE` on a blocking socket, [fact 119](crate::semantics#fact-119)). APCs and
/// routines run while it waits, then it goes on waiting ([fact 7](crate::semantics#fact-7)).
pub(crate) fn wait(
    change: Change,
    owner: &dyn Fn(Socket),
    signal: Option<&Socket>,
) -> WsaResult<()> {
    let event = Event::with_reset(true, false);
    let mut ov = Overlapped::new(&event);
    match start(
        change,
        Mode::Record {
            ov: &mut ov,
            signal,
        },
        owner,
    ) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => return Err(e),
    }
    let local = thread::current()?;
    loop {
        // Waits for its own operation only.
        let woke = crate::sys::uring::own_wait(|| local.park(&mut || ov.state.done(), None, true));
        match woke {
            Wake::Satisfied => break,
            Wake::Apc | Wake::Timeout => continue,
        }
    }
    notification_result(&ov)
}

/// The result of a change notification started with `ov`, for the calls
/// that have no socket to give `get_overlapped_result`
/// (`WSANSPIoctl`, `WSAProviderConfigChange`): `Ok(())` once a change was
/// notified, `Err(WSA_IO_INCOMPLETE)` while pending,
/// `Err(WSA_OPERATION_ABORTED)` if the handle was closed.
#[doc(alias = "WSAGetOverlappedResult")]
pub fn notification_result(ov: &Overlapped) -> WsaResult<()> {
    if !ov.is_completed() {
        return Err(WsaError::WSA_IO_INCOMPLETE);
    }
    match ov.state.result() {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(e),
        None => Err(WsaError::WSA_IO_INCOMPLETE),
    }
}
