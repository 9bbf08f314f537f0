//! Synchronous calls that have to wait do so alertably (semantics fact 7):
//! APCs and completion routines queued to the thread run inside the call,
//! which then goes on waiting and returns normally.

use std::time::Instant;

use crate::op::OpKind;
use crate::thread::{self, Wake};
use crate::{BufList, Event, Overlapped, Socket, WsaError, WsaResult};

impl Socket {
    /// Blocks until the socket is readable (or closed, or in error), in an
    /// alertable wait. `SO_RCVTIMEO` bounds the wait: `WSAETIMEDOUT` (fact 8).
    pub(crate) fn wait_readable(&self) -> WsaResult<()> {
        let timeout = self.as_socket2().read_timeout().ok().flatten();
        self.wait_ready(OpKind::PollIn, timeout)
    }

    /// Blocks until the socket has room to send (or is in error), in an
    /// alertable wait bounded by `SO_SNDTIMEO`.
    pub(crate) fn wait_writable(&self) -> WsaResult<()> {
        let timeout = self.as_socket2().write_timeout().ok().flatten();
        self.wait_ready(OpKind::PollOut, timeout)
    }

    fn wait_ready(&self, poll: OpKind, timeout: Option<std::time::Duration>) -> WsaResult<()> {
        let deadline = timeout.map(|t| Instant::now() + t);
        // A private event: the socket's own event (fact 20) must not fire.
        let event = Event::with_reset(true, false);
        let mut ov = Overlapped::new(&event);
        match self.start_overlapped(&mut ov, poll, BufList::new()) {
            Ok(_) => return Ok(()),
            Err(WsaError::WSA_IO_PENDING) => {}
            Err(e) => return Err(e),
        }
        let local = thread::current()?;
        loop {
            match local.park(&mut || ov.state.done(), deadline, true) {
                Wake::Satisfied => break,
                // APCs ran inside the call: keep waiting (fact 7).
                Wake::Apc => continue,
                // Dropping the record cancels the poll.
                Wake::Timeout => return Err(WsaError::WSAETIMEDOUT),
            }
        }
        crate::get_overlapped_result(self, &ov, false).map(|_| ())
    }
}
