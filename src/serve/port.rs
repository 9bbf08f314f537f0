//! The I/O completion port echo server: the book's IOCP server.
//!
//! N worker threads wait on one completion port (concurrency N). With
//! `--accept ex` (the default) the listener is associated with the port too
//! and keeps `--backlog-posts` `AcceptEx` posted: an accept's packet (the
//! listener's key) admits the client and posts a new accept, so there is no
//! accepting thread. With `--accept thread`, a thread blocked in `accept`
//! queues each new client and posts a packet. A client is associated with
//! the port under its slot in a shared table, and gets its first receive (or,
//! with `--first-data`, the echo of what came with the accept). From then on
//! every packet is one completed receive (echo it) or send (receive again),
//! handled by whichever worker the port releases; each client has one
//! operation in flight at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use overlapped::{
    BufList, CompletionEntry, CompletionPort, MsgFlags, NotificationModes, Overlapped, Socket,
    WsaError,
};
use slab::Slab;

use super::acceptor::{AcceptMode, Acceptor, AREA};
use super::shared::Shared;

/// The key of the accepting thread's packets and of the stop.
pub(crate) const NEWS: usize = usize::MAX;
/// The listener's key (`AcceptEx` completions, fact 90).
pub(crate) const LISTENER: usize = usize::MAX - 1;

struct Conn {
    socket: Socket,
    io: Mutex<Io>,
}

struct Io {
    ov: Overlapped,
    sending: bool,
}

/// One `AcceptEx` kept posted: its record and its accept socket.
struct Post {
    ov: Overlapped,
    socket: Option<Socket>,
}

/// What the workers share.
struct Server {
    port: CompletionPort,
    shared: Arc<Shared>,
    conns: Mutex<Slab<Arc<Conn>>>,
    buffer: usize,
    accept: Option<Accepts>,
}

pub(crate) struct Accepts {
    acceptor: Acceptor,
    posts: Vec<Mutex<Post>>,
    /// Record id → index in `posts`.
    by_record: HashMap<usize, usize>,
    /// Posts that could not be renewed (out of descriptors): retried when a
    /// client closes.
    down: Mutex<Vec<usize>>,
}

/// How the server takes connections (`--accept`, `--backlog-posts`, `--first-data`).
pub struct AcceptArgs {
    /// `AcceptEx` posted on the listener, or an accepting thread.
    pub mode: AcceptMode,
    /// Accepts kept posted.
    pub posts: usize,
    /// Each accept also receives the first message.
    pub first_data: bool,
}

/// Serves with `threads` workers until a stop is requested.
pub fn serve(
    listener: Socket,
    threads: usize,
    buffer: usize,
    accept: AcceptArgs,
) -> std::io::Result<()> {
    let port = CompletionPort::new(threads as u32).map_err(std::io::Error::other)?;
    let poster = port.clone();
    let news: Box<dyn Fn() + Send + Sync> = Box::new(move || {
        let _ = poster.post_queued_completion_status(0, NEWS, None);
    });
    let (shared, accepts) = match accept.mode {
        AcceptMode::Thread => (Shared::start_with(listener, Some(news))?, None),
        AcceptMode::Ex => {
            let acceptor = Acceptor::new(listener, accept.posts, accept.first_data, buffer);
            let accepts = Accepts::start(&port, acceptor)?;
            (Shared::start_signals_with(Some(news))?, Some(accepts))
        }
    };
    let server = Arc::new(Server {
        port,
        shared,
        conns: Mutex::new(Slab::new()),
        buffer,
        accept: accepts,
    });
    run_workers("port-worker", threads, move || worker(&server))
}

/// Runs `work` on `threads` threads (the calling one and `threads - 1` named
/// `{name}-N`), the port's workers; the first error any of them returns, or a
/// panic as an error.
pub(crate) fn run_workers(
    name: &str,
    threads: usize,
    work: impl Fn() -> std::io::Result<()> + Clone + Send + 'static,
) -> std::io::Result<()> {
    let mut workers = Vec::new();
    for i in 1..threads {
        let work = work.clone();
        workers.push(
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(work)?,
        );
    }
    let mut result = work();
    for w in workers {
        let r = w
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("a worker panicked")));
        result = result.and(r);
    }
    result
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn worker(server: &Server) -> std::io::Result<()> {
    // Workers always come back to the port: their operations reach the
    // kernel together, with the wait (or after a burst of packets).
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    loop {
        let entry = server
            .port
            .get_queued_completion_status(None)
            .map_err(std::io::Error::other)?;
        match entry.key {
            NEWS => {
                if server.shared.stopping() {
                    // Pass the stop on to the next worker.
                    let _ = server.port.post_queued_completion_status(0, NEWS, None);
                    return Ok(());
                }
                for socket in server.shared.take_new() {
                    admit(server, socket, None);
                }
            }
            LISTENER => accepted(server, entry),
            key => {
                let Some(conn) = lock(&server.conns).get(key).cloned() else {
                    continue;
                };
                if !step(&conn, entry, server.buffer) {
                    close(server, key);
                }
            }
        }
    }
}

/// An `AcceptEx` completed: admit its socket (with its first message, if
/// any); the accept is posted again.
fn accepted(server: &Server, entry: CompletionEntry) {
    let Some(a) = &server.accept else { return };
    if let Some((client, first)) = a.accepted(entry, server.shared.stopping()) {
        admit(server, client, first);
    }
}

impl Accepts {
    /// Associates the listener with `port` (key [`LISTENER`]) and posts
    /// the acceptor's accepts.
    pub(crate) fn start(port: &CompletionPort, acceptor: Acceptor) -> std::io::Result<Accepts> {
        port.associate(&acceptor.listener, LISTENER)
            .map_err(std::io::Error::other)?;
        let posts: Vec<Mutex<Post>> = (0..acceptor.posts)
            .map(|_| {
                Mutex::new(Post {
                    ov: Overlapped::without_event(),
                    socket: None,
                })
            })
            .collect();
        let by_record = posts
            .iter()
            .enumerate()
            .map(|(i, p)| (lock(p).ov.id(), i))
            .collect();
        let accepts = Accepts {
            acceptor,
            posts,
            by_record,
            down: Mutex::new(Vec::new()),
        };
        for i in 0..accepts.posts.len() {
            if !accepts.repost(i) {
                lock(&accepts.down).push(i);
            }
        }
        Ok(accepts)
    }

    /// A packet of the listener's key: the accepted client and, with
    /// receive-with-accept, its first data (limited to the bytes received).
    /// The accept is posted again with a fresh socket (not once `stopping`).
    pub(crate) fn accepted(
        &self,
        mut entry: CompletionEntry,
        stopping: bool,
    ) -> Option<(Socket, Option<BufList>)> {
        let &i = entry
            .overlapped
            .as_ref()
            .and_then(|o| self.by_record.get(&o.id()))?;
        if stopping {
            return None;
        }
        let out = entry.overlapped.as_mut().and_then(Overlapped::take_buffers);
        let client = lock(&self.posts[i]).socket.take();
        let admitted = match (entry.error, client) {
            (e, Some(client)) if e.is_ok() => {
                self.acceptor.admit(&client);
                let first = (self.acceptor.receive_len > 0).then(|| {
                    let mut bufs = out.unwrap_or_default();
                    bufs.limit(entry.bytes as usize);
                    bufs
                });
                Some((client, first))
            }
            (e, _) if Acceptor::transient(e) => {
                eprintln!("AcceptEx failed: {e}");
                None
            }
            _ => None,
        };
        if !self.repost(i) {
            lock(&self.down).push(i);
        }
        admitted
    }

    /// Renews the accepts that were down for want of descriptors (call when
    /// a client closes).
    pub(crate) fn renew(&self) {
        let down = std::mem::take(&mut *lock(&self.down));
        for i in down {
            if !self.repost(i) {
                lock(&self.down).push(i);
            }
        }
    }

    /// Posts accept `i` with a fresh accept socket; false if it could not.
    fn repost(&self, i: usize) -> bool {
        let Ok(socket) = self.acceptor.accept_socket() else {
            return false;
        };
        let mut post = lock(&self.posts[i]);
        match self.acceptor.listener.accept_ex(
            &socket,
            &mut post.ov,
            self.acceptor.output(),
            self.acceptor.receive_len,
            AREA,
            AREA,
        ) {
            Ok(_) | Err(WsaError::WSA_IO_PENDING) => {
                post.socket = Some(socket);
                true
            }
            Err(e) => {
                eprintln!("AcceptEx failed: {e}");
                false
            }
        }
    }
}

/// Associates a new client with the port and posts its first operation:
/// the echo of `first` (what came with the accept), or a receive.
fn admit(server: &Server, socket: Socket, first: Option<BufList>) {
    let conn = Arc::new(Conn {
        socket,
        io: Mutex::new(Io {
            ov: Overlapped::without_event(),
            sending: false,
        }),
    });
    let first_empty = first.as_ref().is_some_and(|b| b.total_len() == 0);
    let key = lock(&server.conns).insert(conn.clone());
    // As the book's servers do: nobody waits on the socket itself.
    let _ = conn
        .socket
        .set_file_completion_notification_modes(NotificationModes::SKIP_SET_EVENT_ON_HANDLE);
    let started = server.port.associate(&conn.socket, key).is_ok() && {
        let mut io = lock(&conn.io);
        let io = &mut *io;
        match first {
            // The client closed without sending.
            Some(_) if first_empty => false,
            Some(bufs) => {
                io.sending = true;
                started(conn.socket.send(&mut io.ov, bufs, MsgFlags::empty()))
            }
            None => started(conn.socket.recv(
                &mut io.ov,
                BufList::zeroed(server.buffer),
                MsgFlags::empty(),
            )),
        }
    };
    if !started {
        close(server, key);
    }
}

/// Forgets a client (nothing is in flight for it: closing is final), and
/// renews accepts that were down for want of descriptors.
fn close(server: &Server, key: usize) {
    lock(&server.conns).try_remove(key);
    if let Some(a) = &server.accept {
        a.renew();
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
    let mut io = lock(&conn.io);
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
pub(crate) fn started(r: Result<u32, WsaError>) -> bool {
    matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING))
}
