//! `http --model event`: one event per connection in an `EventSet`; the
//! worker waits for any, reads the result, and receives or transmits next.

use std::sync::Arc;
use std::time::Instant;

use overlapped::{
    get_overlapped_result, BufList, Event, EventSet, MsgFlags, Overlapped, Socket, WaitResult,
    WsaError,
};

use super::conn::{refuse_connection, Conn, Next, Site};
use super::response::Clock;
use super::{sweep_interval, Outgoing, RECV_BUFFER};
use crate::serve::shared::Shared;

pub(super) enum State {
    Receiving,
    Transmitting,
}

/// One connection and its single operation in flight (the port model
/// keeps the same record behind a lock).
pub(super) struct Client {
    socket: Socket,
    ov: Overlapped,
    conn: Conn,
    state: State,
    out: Outgoing,
    /// A head buffer to reuse.
    spare: Vec<u8>,
    recv: Option<BufList>,
    /// Closed for a timeout: the aborted operation is no error to log.
    timed_out: bool,
}

/// Serves until a stop is requested.
pub fn serve(shared: Arc<Shared>, site: Arc<Site>) -> std::io::Result<()> {
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    let mut clock = Clock::new();
    let mut events = EventSet::new();
    events.push(shared.accept_event.clone());
    let mut clients: Vec<Client> = Vec::new();
    let interval = sweep_interval(&site);
    let mut next_sweep = Instant::now() + interval;
    loop {
        let now = Instant::now();
        if now >= next_sweep {
            next_sweep = now + interval;
            for client in &mut clients {
                client.sweep(&site, now);
            }
        }
        let first = match events.wait(false, Some(next_sweep - now), false) {
            Ok(WaitResult::Signaled(i)) => i,
            Ok(_) => continue,
            Err(e) => return Err(std::io::Error::other(e)),
        };
        let mut next = Some(first);
        while let Some(index) = next {
            if index == 0 {
                shared.accept_event.reset();
                if shared.stopping() {
                    return Ok(());
                }
                for socket in shared.take_new() {
                    if clients.len() >= site.limits.max_conns {
                        refuse_connection(socket, clients.len());
                        continue;
                    }
                    super::conn::tune(&socket, &site.limits);
                    let event = Event::new();
                    let mut client = Client::new(socket, Overlapped::new(&event));
                    if post_recv(&mut client).is_ok() {
                        events.push(event);
                        clients.push(client);
                    }
                }
                next = events.next_signaled(1);
                continue;
            }
            events.events()[index].reset();
            if step(&mut clients[index - 1], &site, &mut clock) {
                next = events.next_signaled(index + 1);
            } else {
                events.swap_remove(index);
                clients.swap_remove(index - 1);
                next = events.next_signaled(index);
            }
        }
    }
}

impl Client {
    /// A new connection whose operations use `ov`.
    pub(super) fn new(socket: Socket, ov: Overlapped) -> Client {
        Client {
            conn: Conn::new(socket.peer_addr().ok()),
            socket,
            ov,
            state: State::Receiving,
            out: Outgoing::default(),
            spare: Vec::with_capacity(512),
            recv: Some(BufList::zeroed(RECV_BUFFER)),
            timed_out: false,
        }
    }

    /// Closes the connection if its receive or send is past its deadline
    /// (the operation then completes, aborted, and ends it).
    pub(super) fn sweep(&mut self, site: &Site, now: Instant) {
        if self.timed_out {
            return;
        }
        if let Some((deadline, why)) = self.conn.deadline(&site.limits) {
            if now >= deadline {
                self.timed_out = true;
                self.conn.log_timeout(why);
                let _ = self.socket.clone().close();
            }
        }
    }

    /// The connection's socket.
    pub(super) fn socket(&self) -> &Socket {
        &self.socket
    }
}

/// Handles one completion; false when the connection is done.
fn step(client: &mut Client, site: &Site, clock: &mut Clock) -> bool {
    let result = get_overlapped_result(&client.socket, &client.ov, false);
    let bufs = client.ov.take_buffers();
    completed(client, result.map(|(bytes, _)| bytes), bufs, site, clock)
}

/// Takes the result of the connection's operation (`bufs`: its buffers)
/// and starts the next one; false when the connection is done (nothing is
/// in flight then).
pub(super) fn completed(
    client: &mut Client,
    result: Result<u32, WsaError>,
    bufs: Option<BufList>,
    site: &Site,
    clock: &mut Clock,
) -> bool {
    let bytes = match result {
        Ok(bytes) => bytes,
        Err(e) => {
            if !client.timed_out {
                let what = match client.state {
                    State::Receiving => "receive",
                    State::Transmitting => "TransmitFile",
                };
                client.conn.log_failure(what, e);
            }
            return false;
        }
    };
    match client.state {
        State::Receiving => {
            let Some(bufs) = bufs else { return false };
            if bytes == 0 {
                return false;
            }
            client.conn.received(&bufs.first()[..bytes as usize]);
            client.recv = Some(bufs);
        }
        State::Transmitting => {
            if let Some(mut b) = bufs.map(BufList::into_inner) {
                if let Some(head) = b.drain(..).next() {
                    client.spare = head;
                }
            }
            if client.out.advance() {
                return post_transmit(client, Vec::new());
            }
            if client.out.close {
                return false;
            }
        }
    }
    drive(client, site, clock)
}

/// Answers the next complete request, or receives more.
fn drive(client: &mut Client, site: &Site, clock: &mut Clock) -> bool {
    match client.conn.next(site, clock, &mut client.spare) {
        Next::Receive => post_recv(client).is_ok(),
        Next::Send(reply) => {
            client.out = Outgoing::new(reply.file, reply.close);
            post_transmit(client, reply.head)
        }
    }
}

/// Starts a receive (the connection's first operation too).
/// Errors are logged.
pub(super) fn post_recv(client: &mut Client) -> Result<(), WsaError> {
    client.state = State::Receiving;
    let bufs = client
        .recv
        .take()
        .unwrap_or_else(|| BufList::zeroed(super::RECV_BUFFER));
    match client.socket.recv(&mut client.ov, bufs, MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => Ok(()),
        Err(e) => {
            client.conn.log_failure("receive", e);
            Err(e)
        }
    }
}

/// Starts the next `TransmitFile` of the answer; false (logged) if it
/// cannot start.
fn post_transmit(client: &mut Client, head: Vec<u8>) -> bool {
    client.state = State::Transmitting;
    client.conn.transmitting();
    let c = client.out.chunk(head);
    match c.transmit(&client.socket, &mut client.ov) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => true,
        Err(e) => {
            client.conn.log_failure("TransmitFile", e);
            false
        }
    }
}
