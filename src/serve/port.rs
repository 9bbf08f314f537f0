//! The I/O completion port echo server: the book's IOCP server.
//!
//! N worker threads wait on one completion port (concurrency N). The
//! accepting thread queues each new client and posts a packet; the worker
//! that takes it associates the client with the port (its key: the client's
//! slot) and posts the first receive. From then on every packet is one
//! completed receive (echo it) or send (receive again), handled by whichever
//! worker the port releases; the client's operations are started on that
//! worker's ring, and each client has one operation in flight at a time.

use std::sync::{Arc, Mutex};

use overlapped::{
    BufList, CompletionEntry, CompletionPort, MsgFlags, NotificationModes, Overlapped, Socket,
    WsaError,
};
use slab::Slab;

use super::shared::Shared;

/// The key of the accepting thread's packets ("new clients, or stop").
const NEWS: usize = usize::MAX;

struct Conn {
    socket: Socket,
    io: Mutex<Io>,
}

struct Io {
    ov: Overlapped,
    sending: bool,
}

type Conns = Arc<Mutex<Slab<Arc<Conn>>>>;

/// Serves with `threads` workers until a stop is requested.
pub fn serve(listener: Socket, threads: usize, buffer: usize) -> std::io::Result<()> {
    let port = CompletionPort::new(threads as u32).map_err(std::io::Error::other)?;
    let poster = port.clone();
    let shared = Shared::start_with(
        listener,
        Some(Box::new(move || {
            let _ = poster.post_queued_completion_status(0, NEWS, None);
        })),
    )?;
    let conns: Conns = Arc::new(Mutex::new(Slab::new()));
    let mut workers = Vec::new();
    for i in 1..threads {
        let (port, shared, conns) = (port.clone(), shared.clone(), conns.clone());
        workers.push(
            std::thread::Builder::new()
                .name(format!("port-worker-{i}"))
                .spawn(move || worker(&port, &shared, &conns, buffer))?,
        );
    }
    let mut result = worker(&port, &shared, &conns, buffer);
    for w in workers {
        let r = w
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("a worker panicked")));
        result = result.and(r);
    }
    result
}

fn lock(conns: &Conns) -> std::sync::MutexGuard<'_, Slab<Arc<Conn>>> {
    conns.lock().unwrap_or_else(|e| e.into_inner())
}

fn worker(
    port: &CompletionPort,
    shared: &Shared,
    conns: &Conns,
    buffer: usize,
) -> std::io::Result<()> {
    // Workers always come back to the port: their operations reach the
    // kernel together, with the wait (or just before a packet is returned).
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    loop {
        let entry = port
            .get_queued_completion_status(None)
            .map_err(std::io::Error::other)?;
        if entry.key == NEWS {
            if shared.stopping() {
                // Pass the stop on to the next worker.
                let _ = port.post_queued_completion_status(0, NEWS, None);
                return Ok(());
            }
            for socket in shared.take_new() {
                admit(port, conns, socket, buffer);
            }
            continue;
        }
        let key = entry.key;
        let Some(conn) = lock(conns).get(key).cloned() else {
            continue;
        };
        if !step(&conn, entry, buffer) {
            // Nothing is in flight for it: closing is final.
            lock(conns).try_remove(key);
        }
    }
}

/// Associates a new client with the port and posts its first receive.
fn admit(port: &CompletionPort, conns: &Conns, socket: Socket, buffer: usize) {
    let conn = Arc::new(Conn {
        socket,
        io: Mutex::new(Io {
            ov: Overlapped::without_event(),
            sending: false,
        }),
    });
    let key = lock(conns).insert(conn.clone());
    // As the book's servers do: nobody waits on the socket itself.
    let _ = conn
        .socket
        .set_file_completion_notification_modes(NotificationModes::SKIP_SET_EVENT_ON_HANDLE);
    let started = port.associate(&conn.socket, key).is_ok() && {
        let mut io = conn.io.lock().unwrap_or_else(|e| e.into_inner());
        started(
            conn.socket
                .recv(&mut io.ov, BufList::zeroed(buffer), MsgFlags::empty()),
        )
    };
    if !started {
        lock(conns).try_remove(key);
    }
}

/// Handles one packet of a client; false when the client is done.
fn step(conn: &Conn, mut entry: CompletionEntry, buffer: usize) -> bool {
    if !entry.error.is_ok() {
        return false;
    }
    let Some(mut bufs) = entry.overlapped.as_mut().and_then(Overlapped::take_buffers) else {
        return false;
    };
    let mut io = conn.io.lock().unwrap_or_else(|e| e.into_inner());
    let io = &mut *io;
    if io.sending {
        // An overlapped stream send completes only when every byte is sent.
        bufs.unlimit();
        if bufs.total_len() != buffer {
            bufs = BufList::zeroed(buffer);
        }
        io.sending = false;
        started(conn.socket.recv(&mut io.ov, bufs, MsgFlags::empty()))
    } else {
        if entry.bytes == 0 {
            return false;
        }
        bufs.limit(entry.bytes as usize);
        io.sending = true;
        started(conn.socket.send(&mut io.ov, bufs, MsgFlags::empty()))
    }
}

/// Completed at once and pending both end in one packet (fact 137).
fn started(r: Result<u32, WsaError>) -> bool {
    matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING))
}
