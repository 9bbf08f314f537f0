//! Overlapped (2): the completion-routine echo server.
//!
//! The worker sits in an alertable wait. With `--accept thread` it waits on
//! the accepting thread's event and starts a receive with a routine for
//! each new client; with `--accept ex` it keeps `AcceptEx` posted on the
//! listener, each with a routine that takes the client (echoing its first
//! data if the accept received some) and posts the next accept. The
//! routines echo what arrived and start the next receive. All of a client's
//! I/O, and every routine, runs on the worker thread.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use overlapped::{wait_for_single_object_ex, BufList, Completion, MsgFlags, Socket, WaitResult};

use super::acceptor::{Acceptor, AREA};
use super::shared::Shared;

/// The worker's accepts: the acceptor and how many accepts are not posted
/// (out of descriptors), to post again after a pause.
struct Accepts {
    acceptor: Acceptor,
    down: Cell<usize>,
    /// `--buffer`: each client's receive buffer.
    buffer: usize,
}

/// Serves until a stop is requested.
pub fn serve(
    shared: Arc<Shared>,
    acceptor: Option<Acceptor>,
    buffer: usize,
) -> std::io::Result<()> {
    // This thread always comes back to its alertable wait: what the routines
    // start is submitted by that wait, in the call that sleeps.
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    let accepts = acceptor.map(|acceptor| {
        let a = Rc::new(Accepts {
            down: Cell::new(acceptor.posts),
            acceptor,
            buffer,
        });
        repost_down(&a);
        a
    });
    loop {
        let pause = accepts
            .as_ref()
            .is_some_and(|a| a.down.get() > 0)
            .then_some(Duration::from_millis(20));
        match wait_for_single_object_ex(&shared.accept_event, pause, true) {
            Ok(WaitResult::IoCompletion) => continue,
            Ok(WaitResult::Signaled(_)) => {}
            Ok(WaitResult::Timeout) => {
                if let Some(a) = &accepts {
                    repost_down(a);
                }
                continue;
            }
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

/// Posts the accepts that are down.
fn repost_down(a: &Rc<Accepts>) {
    for _ in 0..a.down.replace(0) {
        post_accept(a);
    }
}

/// Posts one `AcceptEx` whose routine takes the client and posts the next.
fn post_accept(a: &Rc<Accepts>) {
    let acc = &a.acceptor;
    let Ok(socket) = acc.accept_socket() else {
        a.down.set(a.down.get() + 1);
        return;
    };
    let (s, ctx) = (socket.clone(), a.clone());
    let started = acc.listener.accept_ex_with(
        &socket,
        acc.output(),
        acc.receive_len,
        AREA,
        AREA,
        move |c: Completion| on_accepted(ctx, s, c),
    );
    if let Err(e) = started {
        if e != overlapped::WsaError::WSA_IO_PENDING {
            a.down.set(a.down.get() + 1);
        }
    }
}

fn on_accepted(a: Rc<Accepts>, socket: Socket, c: Completion) {
    if !c.error.is_ok() {
        if Acceptor::transient(c.error) {
            eprintln!("AcceptEx failed: {}", c.error);
            a.down.set(a.down.get() + 1); // posted again after a pause
        }
        // Aborted: the listener is closing; post nothing.
        return;
    }
    post_accept(&a);
    a.acceptor.admit(&socket);
    if a.acceptor.receive_len == 0 {
        recv(socket, BufList::zeroed(a.buffer));
        return;
    }
    if c.bytes == 0 {
        return; // the client closed without sending
    }
    let mut bufs = c.buffers;
    bufs.limit(c.bytes as usize);
    let s = socket.clone();
    let _ = socket.send_with(bufs, MsgFlags::empty(), move |c: Completion| on_sent(s, c));
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
