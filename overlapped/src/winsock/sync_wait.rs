//! Synchronous calls that have to wait do so alertably (semantics [fact 7](crate::semantics#fact-7)):
//! APCs and completion routines queued to the thread run inside the call,
//! which then goes on waiting and returns normally.

use std::io;

use crate::model::lane::Direction;
use crate::model::op::OpKind;
use crate::model::thread::{self, Wake};
use crate::{BufList, Event, Overlapped, Socket, WsaError, WsaResult};

impl Socket {
    /// Runs one synchronous system call the Winsock way. On a blocking
    /// socket the kernel is asked not to block (`MSG_DONTWAIT`); if it would,
    /// the thread waits alertably for readiness in `direction` and tries
    /// again. A non-blocking socket, or a `MSG_WAITALL` receive (which must
    /// not return a part), calls the kernel as asked. `wsa` maps the errors.
    pub(crate) fn sync_call<T>(
        &self,
        direction: Direction,
        flags: i32,
        wsa: fn(&io::Error) -> WsaError,
        mut call: impl FnMut(i32) -> io::Result<T>,
    ) -> WsaResult<T> {
        let alertable = flags & libc::MSG_WAITALL == 0 && !self.is_nonblocking();
        let flags = if alertable {
            flags | libc::MSG_DONTWAIT
        } else {
            flags
        };
        loop {
            match call(flags) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if alertable && e.kind() == io::ErrorKind::WouldBlock => match direction {
                    Direction::Receive => self.wait_readable()?,
                    Direction::Send | Direction::Unordered => self.wait_writable()?,
                },
                Err(e) => return Err(wsa(&e)),
            }
        }
    }

    /// Blocks until the socket is readable (or closed, or in error), in an
    /// alertable wait. `SO_RCVTIMEO` bounds the wait: `WSAETIMEDOUT` ([fact 8](crate::semantics#fact-8)).
    fn wait_readable(&self) -> WsaResult<()> {
        let timeout = self.as_socket2().read_timeout().ok().flatten();
        self.wait_ready(OpKind::PollIn, timeout)
    }

    /// Blocks until the socket has room to send (or is in error), in an
    /// alertable wait bounded by `SO_SNDTIMEO`.
    fn wait_writable(&self) -> WsaResult<()> {
        let timeout = self.as_socket2().write_timeout().ok().flatten();
        self.wait_ready(OpKind::PollOut, timeout)
    }

    fn wait_ready(&self, poll: OpKind, timeout: Option<std::time::Duration>) -> WsaResult<()> {
        let deadline = thread::deadline_after(timeout);
        self.run_alertable(poll, BufList::new(), deadline)
            .map(|_| ())
    }

    /// Runs one operation as a synchronous call: starts it, and if it does
    /// not complete at once, waits alertably (APCs run, then the wait goes
    /// on, [fact 7](crate::semantics#fact-7)) until it completes or
    /// `deadline` passes (`WSAETIMEDOUT`; the operation is then cancelled).
    /// Returns its byte count or error. Used by readiness waits and by the
    /// blocking calls that are operations underneath (`accept`, `connect`, a
    /// synchronous `DisconnectEx`).
    pub(crate) fn run_alertable(
        &self,
        kind: OpKind,
        bufs: BufList,
        deadline: Option<std::time::Instant>,
    ) -> WsaResult<u32> {
        // A private event: the socket's own event (fact 20) must not fire,
        // nor its completion port get a packet (the low-bit rule, fact 22).
        let event = Event::with_reset(true, false);
        let mut ov = Overlapped::new_event_only(&event);
        match self.start_overlapped(&mut ov, kind, bufs) {
            Ok(n) => return Ok(n),
            Err(WsaError::WSA_IO_PENDING) => {}
            Err(e) => return Err(e),
        }
        let local = thread::current()?;
        // Completed during the call (a failure the connection calls report
        // through the record): no wait, so no APC runs.
        while !ov.state.done() {
            // Waits for its own operation only.
            let woke =
                crate::sys::uring::own_wait(|| local.park(&mut || ov.state.done(), deadline, true));
            match woke {
                Wake::Satisfied => break,
                // APCs ran inside the call: keep waiting (fact 7).
                Wake::Apc => continue,
                // Dropping the record cancels the operation.
                Wake::Timeout => return Err(WsaError::WSAETIMEDOUT),
            }
        }
        crate::get_overlapped_result(self, &ov, false).map(|(n, _)| n)
    }
}
