//! `http --model port`: the book's I/O completion port server. The
//! listener is associated with one port and keeps `AcceptEx` posted (no
//! accepting thread); every connection is associated under its slot in a
//! shared table. `--threads` workers wait on the port: each packet is one
//! completed accept (admit the client, receive) or one completed receive or
//! `TransmitFile` of a connection, handled by whichever worker the port
//! releases with the connection's `event::completed` step. A connection has
//! one operation in flight at a time, so its lock is never contended.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use overlapped::{CompletionPort, NotificationModes, Overlapped, Socket};
use slab::Slab;

use super::conn::{refuse_connection, Site};
use super::event::{completed, post_recv, Client};
use super::response::Clock;
use super::sweep_interval;
use crate::serve::acceptor::Acceptor;
use crate::serve::port::{lock, Accepts, LISTENER, NEWS};
use crate::serve::shared::Shared;

/// `AcceptEx` kept posted on the listener.
const POSTS: usize = 64;

/// What the workers share.
struct Server {
    port: CompletionPort,
    shared: Arc<Shared>,
    accepts: Accepts,
    clients: Mutex<Slab<Arc<Mutex<Client>>>>,
    site: Arc<Site>,
    /// When connections are next checked for their deadlines (one worker
    /// at a time does it).
    next_sweep: Mutex<Instant>,
}

/// Serves with `threads` workers until a stop is requested.
pub fn serve(listener: Socket, threads: usize, site: Arc<Site>) -> std::io::Result<()> {
    let port = CompletionPort::new(threads as u32).map_err(std::io::Error::other)?;
    let poster = port.clone();
    let news: Box<dyn Fn() + Send + Sync> = Box::new(move || {
        let _ = poster.post_queued_completion_status(0, NEWS, None);
    });
    let accepts = Accepts::start(&port, Acceptor::new(listener, POSTS, false, 0))?;
    let server = Arc::new(Server {
        port,
        shared: Shared::start_signals_with(Some(news))?,
        accepts,
        clients: Mutex::new(Slab::new()),
        next_sweep: Mutex::new(Instant::now() + sweep_interval(&site)),
        site,
    });
    crate::serve::port::run_workers("http-worker", threads, move || worker(&server))
}

fn worker(server: &Server) -> std::io::Result<()> {
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    let mut clock = Clock::new();
    let interval = sweep_interval(&server.site);
    loop {
        sweep(server);
        let mut entry = match server.port.get_queued_completion_status(Some(interval)) {
            Ok(entry) => entry,
            Err(overlapped::WsaError::WAIT_TIMEOUT) => continue,
            Err(e) => return Err(std::io::Error::other(e)),
        };
        match entry.key {
            NEWS => {
                if server.shared.stopping() {
                    // Pass the stop on to the next worker.
                    let _ = server.port.post_queued_completion_status(0, NEWS, None);
                    return Ok(());
                }
            }
            LISTENER => {
                if let Some((socket, _)) = server.accepts.accepted(entry, server.shared.stopping())
                {
                    admit(server, socket);
                }
            }
            key => {
                let Some(client) = lock(&server.clients).get(key).cloned() else {
                    continue;
                };
                let bufs = entry.overlapped.as_mut().and_then(Overlapped::take_buffers);
                let result = if entry.error.is_ok() {
                    Ok(entry.bytes)
                } else {
                    Err(entry.error)
                };
                let more = completed(&mut lock(&client), result, bufs, &server.site, &mut clock);
                if !more {
                    close(server, key);
                }
            }
        }
    }
}

/// Closes the connections past their deadline, if it is time to look and
/// no other worker is looking. A connection whose lock is held is busy
/// with a completion: it is looked at next time.
fn sweep(server: &Server) {
    let now = Instant::now();
    {
        let Ok(mut next) = server.next_sweep.try_lock() else {
            return;
        };
        if now < *next {
            return;
        }
        *next = now + sweep_interval(&server.site);
    }
    let clients: Vec<_> = lock(&server.clients)
        .iter()
        .map(|(_, c)| c.clone())
        .collect();
    for client in clients {
        if let Ok(mut c) = client.try_lock() {
            c.sweep(&server.site, now);
        }
    }
}

/// Associates a new client with the port under a fresh key and posts its
/// first receive.
fn admit(server: &Server, socket: Socket) {
    let open = lock(&server.clients).len();
    if open >= server.site.limits.max_conns {
        refuse_connection(socket, open);
        return;
    }
    super::conn::tune(&socket, &server.site.limits);
    // As the book's servers do: nobody waits on the socket itself.
    let _ =
        socket.set_file_completion_notification_modes(NotificationModes::SKIP_SET_EVENT_ON_HANDLE);
    let client = Arc::new(Mutex::new(Client::new(socket, Overlapped::without_event())));
    let key = lock(&server.clients).insert(client.clone());
    let mut c = lock(&client);
    let started = server.port.associate(c.socket(), key).is_ok() && post_recv(&mut c).is_ok();
    drop(c);
    if !started {
        close(server, key);
    }
}

/// Forgets a connection (nothing is in flight for it: the socket closes
/// with its last handle), and renews accepts that were down for want of
/// descriptors.
fn close(server: &Server, key: usize) {
    lock(&server.clients).try_remove(key);
    server.accepts.renew();
}
