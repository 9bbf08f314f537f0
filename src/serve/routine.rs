//! Overlapped (2): the completion-routine echo server.
//!
//! The worker sits in an alertable wait on the accepting thread's event.
//! For each new client it starts a receive with a routine; the routines
//! echo what arrived and start the next receive. All of a client's I/O, and
//! every routine, runs on the worker thread.

use std::sync::Arc;

use overlapped::{wait_for_single_object_ex, BufList, Completion, MsgFlags, Socket, WaitResult};

use super::shared::Shared;

/// Serves until a stop is requested.
pub fn serve(shared: Arc<Shared>, buffer: usize) -> std::io::Result<()> {
    // This thread always comes back to its alertable wait: what the routines
    // start is submitted by that wait, in the call that sleeps.
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    loop {
        match wait_for_single_object_ex(&shared.accept_event, None, true) {
            Ok(WaitResult::IoCompletion) => continue,
            Ok(WaitResult::Signaled(_)) => {}
            Ok(WaitResult::Timeout) => continue,
            Err(e) => return Err(std::io::Error::other(e)),
        }
        shared.accept_event.reset();
        if shared.stopping() {
            return Ok(());
        }
        for socket in shared.take_new() {
            recv(socket, BufList::zeroed(buffer));
        }
    }
}

/// Starts a receive whose routine echoes; a failure to start closes the client.
fn recv(socket: Socket, bufs: BufList) {
    let s = socket.clone();
    let _ = socket.recv_with(bufs, MsgFlags::empty(), move |c: Completion| {
        on_received(s, c)
    });
}

fn on_received(socket: Socket, c: Completion) {
    if !c.error.is_ok() || c.bytes == 0 {
        return; // dropping the last handle closes the client
    }
    let mut bufs = c.buffers;
    bufs.limit(c.bytes as usize);
    let s = socket.clone();
    let _ = socket.send_with(bufs, MsgFlags::empty(), move |c: Completion| on_sent(s, c));
}

fn on_sent(socket: Socket, c: Completion) {
    if !c.error.is_ok() {
        return;
    }
    let mut bufs = c.buffers;
    bufs.unlimit();
    recv(socket, bufs);
}
