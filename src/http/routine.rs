//! `http --model routine`: completion routines in the worker's alertable
//! wait; each routine receives or transmits the connection's next step.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use overlapped::{
    wait_for_single_object_ex, BufList, Completion, MsgFlags, Socket, WaitResult, WsaError,
};
use slab::Slab;

use super::conn::{log_timeout, refuse_connection, Conn, Next, Site};
use super::response::Clock;
use super::{sweep_interval, Outgoing, RECV_BUFFER};
use crate::serve::shared::Shared;

/// What every routine of the worker shares.
struct Ctx {
    site: Arc<Site>,
    clock: RefCell<Clock>,
    /// Every open connection, for the deadline sweep (the clients
    /// themselves belong to their pending routines).
    watch: RefCell<Slab<Watch>>,
}

/// What the sweep knows of a connection.
struct Watch {
    socket: Socket,
    /// From [`Conn::deadline`]: `None` while an answer is being sent.
    deadline: Option<(Instant, &'static str)>,
    timed_out: bool,
}

struct Client {
    socket: Socket,
    conn: Conn,
    out: Outgoing,
    spare: Vec<u8>,
    ctx: Rc<Ctx>,
    /// Its key in `ctx.watch`.
    key: usize,
}

impl Client {
    /// Tells the sweep the connection's deadline.
    fn watch(&self) {
        if let Some(w) = self.ctx.watch.borrow_mut().get_mut(self.key) {
            w.deadline = self.conn.deadline(&self.ctx.site.limits);
        }
    }

    /// Logs a failed operation, unless the sweep closed the connection.
    fn failed(&self, what: &str, e: impl std::fmt::Display) {
        let timed_out = self
            .ctx
            .watch
            .borrow()
            .get(self.key)
            .is_some_and(|w| w.timed_out);
        if !timed_out {
            self.conn.log_failure(what, e);
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.ctx.watch.borrow_mut().try_remove(self.key);
    }
}

/// Closes the connections whose receive or send is past its deadline;
/// their routines then run, aborted, and drop them.
fn sweep(ctx: &Ctx, now: Instant) {
    for (_, w) in ctx.watch.borrow_mut().iter_mut() {
        match w.deadline {
            Some((deadline, why)) if now >= deadline && !w.timed_out => {
                w.timed_out = true;
                log_timeout(w.socket.peer_addr().ok(), why);
                let _ = w.socket.clone().close();
            }
            _ => {}
        }
    }
}

/// Serves until a stop is requested.
pub fn serve(shared: Arc<Shared>, site: Arc<Site>) -> std::io::Result<()> {
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    let ctx = Rc::new(Ctx {
        site,
        clock: RefCell::new(Clock::new()),
        watch: RefCell::new(Slab::new()),
    });
    let interval = sweep_interval(&ctx.site);
    let mut next_sweep = Instant::now() + interval;
    loop {
        let now = Instant::now();
        if now >= next_sweep {
            next_sweep = now + interval;
            sweep(&ctx, now);
        }
        match wait_for_single_object_ex(&shared.accept_event, Some(next_sweep - now), true) {
            Ok(WaitResult::Signaled(_)) => {}
            Ok(_) => continue,
            Err(e) => return Err(std::io::Error::other(e)),
        }
        shared.accept_event.reset();
        if shared.stopping() {
            return Ok(());
        }
        for socket in shared.take_new() {
            let open = ctx.watch.borrow().len();
            if open >= ctx.site.limits.max_conns {
                refuse_connection(socket, open);
                continue;
            }
            super::conn::tune(&socket, &ctx.site.limits);
            let key = ctx.watch.borrow_mut().insert(Watch {
                socket: socket.clone(),
                deadline: None,
                timed_out: false,
            });
            let client = Box::new(Client {
                conn: Conn::new(socket.peer_addr().ok()),
                socket,
                out: Outgoing::default(),
                spare: Vec::with_capacity(512),
                ctx: ctx.clone(),
                key,
            });
            client.watch();
            recv(client, BufList::zeroed(RECV_BUFFER));
        }
    }
}

/// Starts a receive; a failure to start drops (closes) the connection,
/// with a log line.
fn recv(client: Box<Client>, bufs: BufList) {
    let s = client.socket.clone();
    let peer = client.conn.peer();
    match s.recv_with(bufs, MsgFlags::empty(), move |c| on_received(client, c)) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => eprintln!("http: {peer} receive failed: {e}"),
    }
}

fn on_received(mut client: Box<Client>, c: Completion) {
    if !c.error.is_ok() {
        return client.failed("receive", c.error);
    }
    if c.bytes == 0 {
        return;
    }
    client.conn.received(&c.buffers.first()[..c.bytes as usize]);
    drive(client, c.buffers);
}

/// Answers the next complete request, or receives more into `bufs`.
fn drive(mut client: Box<Client>, bufs: BufList) {
    let ctx = client.ctx.clone();
    let next = client
        .conn
        .next(&ctx.site, &mut ctx.clock.borrow_mut(), &mut client.spare);
    client.watch();
    match next {
        Next::Receive => recv(client, bufs),
        Next::Send(reply) => {
            client.out = Outgoing::new(reply.file, reply.close);
            transmit(client, reply.head, bufs);
        }
    }
}

fn transmit(mut client: Box<Client>, head: Vec<u8>, bufs: BufList) {
    client.conn.transmitting();
    client.watch();
    let s = client.socket.clone();
    let c = client.out.chunk(head);
    let peer = client.conn.peer();
    let started = c.transmit_with(&s, move |c| on_sent(client, c, bufs));
    match started {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => eprintln!("http: {peer} TransmitFile failed: {e}"),
    }
}

fn on_sent(mut client: Box<Client>, c: Completion, bufs: BufList) {
    if !c.error.is_ok() {
        return client.failed("TransmitFile", c.error);
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
