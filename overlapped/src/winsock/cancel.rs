//! `CancelIo` and `CancelIoEx`: ending pending operations on request.
//!
//! A cancel is a request, not a guarantee (io_uring [pitfall 2](crate::semantics#pitfall-2), [fact 126](crate::semantics#fact-126)): an
//! operation that the kernel had already completed keeps its real result and
//! its data. The others complete with `WSA_OPERATION_ABORTED` through their
//! usual notification (the record's event, or the routine in the issuing
//! thread's next alertable wait). Neither call waits for that.

use crate::model::thread;
use crate::{Overlapped, Socket, WsaError, WsaResult};

/// Cancels the operations on `socket` that the **calling thread** issued
/// (`CancelIo`, [fact 125](crate::semantics#fact-125)). Each completes with `WSA_OPERATION_ABORTED` (unless
/// it had already completed) through its usual notification; operations
/// other threads issued on the socket continue. Succeeds even when nothing
/// was pending.
///
/// Each thread issues on its own ring, so this is a cancel of the socket's
/// operations on the calling thread's ring only.
#[doc(alias = "CancelIo")]
pub fn cancel_io(socket: &Socket) -> WsaResult<()> {
    let pending = socket.pending_parts();
    if pending.is_empty() {
        return Ok(());
    }
    let local = thread::current()?;
    for inner in &pending {
        local.shared.ring.cancel_socket(inner);
    }
    Ok(())
}

/// Cancels, from any thread, the operation on `socket` started with
/// `overlapped`, or with `None` every operation on `socket` whichever thread
/// issued it (`CancelIoEx`, [fact 126](crate::semantics#fact-126)).
///
/// `Err(ERROR_NOT_FOUND)` (1168) if there was nothing to cancel: no
/// operation pending on the socket, or `overlapped` names no operation
/// pending on it. A completion the kernel has already posted but the
/// library has not yet reaped is reaped first (a ring another thread holds
/// at that moment is tried again for up to 10 ms, then left), so on both
/// backends an operation that finished before the call is not cancelled
/// and keeps its real result; with `None`, if all of them had finished, the
/// answer is `ERROR_NOT_FOUND`. Does not wait for the cancelled operations:
/// they complete with `WSA_OPERATION_ABORTED` through their notifications
/// later, and one that raced to completion reports its real result.
///
/// ```
/// use overlapped::{cancel_io_ex, get_overlapped_result, BufList, Event, MsgFlags, Overlapped,
///                  Socket, WsaError};
/// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
/// let client = Socket::tcp_for(&listener.local_addr()?)?;
/// client.connect(&listener.local_addr()?)?;
/// let (server, _) = listener.accept()?;
/// let mut ov = Overlapped::new(&Event::new());
/// assert_eq!(server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()), Err(WsaError::WSA_IO_PENDING));
/// cancel_io_ex(&server, Some(&ov))?;                                   // CancelIoEx
/// assert_eq!(get_overlapped_result(&server, &ov, true), Err(WsaError::WSA_OPERATION_ABORTED));
/// assert_eq!(cancel_io_ex(&server, None), Err(WsaError::ERROR_NOT_FOUND));
/// # Ok::<(), WsaError>(())
/// ```
#[doc(alias = "CancelIoEx")]
pub fn cancel_io_ex(socket: &Socket, overlapped: Option<&Overlapped>) -> WsaResult<()> {
    // The socket's own operations, and its pending change notifications
    // (`SIO_ADDRESS_LIST_CHANGE`, ...), which run on sources it keeps.
    let pending = socket.pending_parts();
    match overlapped {
        None => {
            if pending.is_empty() {
                return Err(WsaError::ERROR_NOT_FOUND);
            }
            let rings = crate::sys::registry::with_ops::<crate::model::op::OpSlot>();
            // As with a record: completions already posted are reaped
            // first, so operations that all finished before the call give
            // ERROR_NOT_FOUND and keep their results.
            for ring in &rings {
                reap_posted(ring);
            }
            let pending = socket.pending_parts();
            if pending.is_empty() {
                return Err(WsaError::ERROR_NOT_FOUND);
            }
            for ring in rings {
                for inner in &pending {
                    ring.cancel_socket(inner);
                }
            }
            Ok(())
        }
        Some(ov) => {
            let op = ov.state.op().ok_or(WsaError::ERROR_NOT_FOUND)?;
            let ring = op.ring.upgrade().ok_or(WsaError::ERROR_NOT_FOUND)?;
            // A completion the kernel already posted is reaped first (if
            // nobody holds the ring), so that an operation that finished
            // before the cancel counts as not found, as on Windows.
            reap_posted(&ring);
            let pending = socket.pending_parts();
            if !pending
                .iter()
                .any(|inner| inner.lanes.holds(&op.ring, op.user_data))
            {
                return Err(WsaError::ERROR_NOT_FOUND);
            }
            ring.cancel(op.user_data);
            Ok(())
        }
    }
}

/// Reaps what `ring` holds before a cancel decides what is pending. A
/// ring another thread holds (the service thread, or an owner between
/// reaping and delivering) is usually let go within microseconds: tried
/// again, yielding, for up to 10 ms, so that an operation the kernel
/// finished before the call is not reported as cancelled merely because
/// the service was half-way through delivering it. After that the cancel
/// goes ahead (an owner blocked in a wait may hold its ring for long).
fn reap_posted(ring: &crate::model::op::Ring) {
    let until = std::time::Instant::now() + std::time::Duration::from_millis(10);
    while !ring.try_drive() && std::time::Instant::now() < until {
        std::thread::yield_now();
    }
}
