//! `http --model routine`: completion routines in the worker's alertable
//! wait; each routine receives or transmits the connection's next step.

use std::cell::RefCell;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::sync::Arc;

use overlapped::{wait_for_single_object_ex, BufList, Completion, MsgFlags, Socket, WaitResult};

use super::conn::{Conn, Next, Site};
use super::response::Clock;
use super::{Outgoing, RECV_BUFFER};
use crate::serve::shared::Shared;

/// What every routine of the worker shares.
struct Ctx {
    site: Arc<Site>,
    clock: RefCell<Clock>,
}

struct Client {
    socket: Socket,
    conn: Conn,
    out: Outgoing,
    spare: Vec<u8>,
    ctx: Rc<Ctx>,
}

/// Serves until a stop is requested.
pub fn serve(shared: Arc<Shared>, site: Arc<Site>) -> std::io::Result<()> {
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    let ctx = Rc::new(Ctx {
        site,
        clock: RefCell::new(Clock::new()),
    });
    loop {
        match wait_for_single_object_ex(&shared.accept_event, None, true) {
            Ok(WaitResult::Signaled(_)) => {}
            Ok(_) => continue,
            Err(e) => return Err(std::io::Error::other(e)),
        }
        shared.accept_event.reset();
        if shared.stopping() {
            return Ok(());
        }
        for socket in shared.take_new() {
            let client = Box::new(Client {
                conn: Conn::new(socket.peer_addr().ok()),
                socket,
                out: Outgoing::default(),
                spare: Vec::with_capacity(512),
                ctx: ctx.clone(),
            });
            recv(client, BufList::zeroed(RECV_BUFFER));
        }
    }
}

/// Starts a receive; a failure to start drops (closes) the connection.
fn recv(client: Box<Client>, bufs: BufList) {
    let s = client.socket.clone();
    let _ = s.recv_with(bufs, MsgFlags::empty(), move |c| on_received(client, c));
}

fn on_received(mut client: Box<Client>, c: Completion) {
    if !c.error.is_ok() || c.bytes == 0 {
        return;
    }
    client.conn.received(&c.buffers.first()[..c.bytes as usize]);
    drive(client, c.buffers);
}

/// Answers the next complete request, or receives more into `bufs`.
fn drive(mut client: Box<Client>, bufs: BufList) {
    let head = std::mem::take(&mut client.spare);
    let ctx = client.ctx.clone();
    let next = client
        .conn
        .next(&ctx.site, &mut ctx.clock.borrow_mut(), head);
    match next {
        Next::Receive => recv(client, bufs),
        Next::Send(reply) => {
            client.out = Outgoing::new(reply.file, reply.close);
            transmit(client, reply.head, bufs);
        }
    }
}

fn transmit(client: Box<Client>, head: Vec<u8>, bufs: BufList) {
    let s = client.socket.clone();
    let c = client.out.chunk(head);
    let fd = c.file.as_deref().map(AsFd::as_fd);
    let _ = s.transmit_file_with(fd, c.offset, c.len, 0, c.buffers, c.flags, move |c| {
        on_sent(client, c, bufs)
    });
}

fn on_sent(mut client: Box<Client>, c: Completion, bufs: BufList) {
    if !c.error.is_ok() {
        return;
    }
    if let Some(head) = c.buffers.into_inner().into_iter().next() {
        client.spare = head;
    }
    if client.out.advance() {
        return transmit(client, Vec::new(), bufs);
    }
    if client.out.close {
        return;
    }
    drive(client, bufs)
}
