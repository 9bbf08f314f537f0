//! Overlapped (1): the event-object echo server.
//!
//! The worker keeps one event per client in an [`EventSet`] and waits for
//! any of them, resets the one that fired, reads its result with
//! `get_overlapped_result`, and echoes or receives again. 0 bytes or an
//! error closes that client. Index 0 is the stop (and, with `--accept
//! thread`, the accepting thread's "new clients") event; with `--accept ex`
//! indices 1..=P are the listener's posted `AcceptEx` records, and each
//! completed one becomes a client and is posted again.

use std::sync::Arc;
use std::time::Duration;

use overlapped::{
    get_overlapped_result, BufList, Event, EventSet, MsgFlags, Overlapped, Socket, WaitResult,
    WsaError,
};

use super::acceptor::{Acceptor, AREA};
use super::shared::Shared;

enum State {
    Receiving,
    Sending,
}

struct Client {
    socket: Socket,
    ov: Overlapped,
    state: State,
}

/// One posted `AcceptEx`: its accept socket (none while it could not be posted).
struct Post {
    socket: Option<Socket>,
    ov: Overlapped,
}

/// How long to wait before posting again accepts that could not be posted
/// (out of descriptors).
const RETRY: Duration = Duration::from_millis(20);

/// Serves until a stop is requested.
pub fn serve(
    shared: Arc<Shared>,
    acceptor: Option<Acceptor>,
    buffer: usize,
) -> std::io::Result<()> {
    // This thread always comes back to its wait: let its operations reach
    // the kernel in one batch per turn.
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    let mut events = EventSet::new();
    events.push(shared.accept_event.clone());
    let mut posts: Vec<Post> = Vec::new();
    if let Some(a) = &acceptor {
        for _ in 0..a.posts {
            let event = Event::new();
            let mut post = Post {
                socket: None,
                ov: Overlapped::new(&event),
            };
            repost(a, &mut post, None);
            events.push(event);
            posts.push(post);
        }
    }
    let first_client = 1 + posts.len();
    // Accepts that could not be posted (kept as a count: the wait's timeout
    // is asked for every wait, and a scan of the posts would cost more than
    // the rest of the server's work per message).
    let mut down = posts.iter().filter(|p| p.socket.is_none()).count();
    // clients[i - first_client] owns events[i].
    let mut clients: Vec<Client> = Vec::new();
    loop {
        let first = match events.wait(false, (down > 0).then_some(RETRY), false) {
            Ok(WaitResult::Signaled(i)) => i,
            Ok(_) => {
                down = retry_posts(acceptor.as_ref(), &mut posts);
                continue;
            }
            Err(e) => return Err(std::io::Error::other(e)),
        };
        // Serve every signalled event from `first` on before waiting again:
        // the wait prefers low indices, and a sweep keeps it fair.
        let mut next = Some(first);
        while let Some(index) = next {
            if index == 0 {
                shared.accept_event.reset();
                if shared.stopping() {
                    return Ok(());
                }
                for socket in shared.take_new() {
                    admit(&mut events, &mut clients, socket, None, buffer);
                }
                next = events.next_signaled(1);
                continue;
            }
            events.events()[index].reset();
            if index < first_client {
                let a = acceptor
                    .as_ref()
                    .expect("posts exist only with an acceptor");
                let post = &mut posts[index - 1];
                if let Some((client, first_data)) = accepted(a, post) {
                    admit(&mut events, &mut clients, client, first_data, buffer);
                }
                down += usize::from(post.socket.is_none());
                next = events.next_signaled(index + 1);
                continue;
            }
            if step(&mut clients[index - first_client], buffer) {
                next = events.next_signaled(index + 1);
            } else {
                // Closing: the last client takes this index; look at it again.
                events.swap_remove(index);
                clients.swap_remove(index - first_client);
                next = events.next_signaled(index);
            }
        }
    }
}

/// A posted accept completed: its client (with the first data, if it was
/// asked for), and the accept is posted again.
fn accepted(a: &Acceptor, post: &mut Post) -> Option<(Socket, Option<BufList>)> {
    let result = get_overlapped_result(&a.listener, &post.ov, false);
    let out = post.ov.take_buffers();
    let socket = post.socket.take();
    let client = match (result, socket) {
        (Ok((bytes, _)), Some(socket)) => {
            a.admit(&socket);
            if a.receive_len == 0 {
                Some((socket, None))
            } else if bytes == 0 {
                None // the client closed without sending
            } else {
                let mut data = out.unwrap_or_default();
                data.limit(bytes as usize);
                Some((socket, Some(data)))
            }
        }
        (Err(e), _) if Acceptor::transient(e) => {
            // Out of descriptors or memory: post it again a little later.
            eprintln!("AcceptEx failed: {e}");
            return None;
        }
        _ => None,
    };
    repost(a, post, None);
    client
}

/// Posts `post`'s accept with a fresh accept socket; on failure leaves it
/// down (retried after [`RETRY`]).
fn repost(a: &Acceptor, post: &mut Post, out: Option<Vec<u8>>) {
    let Ok(socket) = a.accept_socket() else {
        return;
    };
    let out = out.unwrap_or_else(|| a.output());
    match a
        .listener
        .accept_ex(&socket, &mut post.ov, out, a.receive_len, AREA, AREA)
    {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => post.socket = Some(socket),
        Err(e) => eprintln!("AcceptEx failed: {e}"),
    }
}

/// Posts again the accepts that are down; returns how many still are.
fn retry_posts(a: Option<&Acceptor>, posts: &mut [Post]) -> usize {
    if let Some(a) = a {
        for post in posts.iter_mut().filter(|p| p.socket.is_none()) {
            repost(a, post, None);
        }
    }
    posts.iter().filter(|p| p.socket.is_none()).count()
}

/// Takes a new client: echoes its first data if the accept received some,
/// else starts its first receive.
fn admit(
    events: &mut EventSet,
    clients: &mut Vec<Client>,
    socket: Socket,
    first_data: Option<BufList>,
    buffer: usize,
) {
    let event = Event::new();
    let mut client = Client {
        socket,
        ov: Overlapped::new(&event),
        state: State::Receiving,
    };
    let started = match first_data {
        Some(data) => {
            client.state = State::Sending;
            post_send(&mut client, data)
        }
        None => post_recv(&mut client, BufList::zeroed(buffer)),
    };
    if started.is_ok() {
        events.push(event);
        clients.push(client);
    }
}

/// Handles one completion; false when the client is done.
fn step(client: &mut Client, buffer: usize) -> bool {
    let (bytes, _) = match get_overlapped_result(&client.socket, &client.ov, false) {
        Ok(r) => r,
        Err(_) => return false,
    };
    let Some(mut bufs) = client.ov.take_buffers() else {
        return false;
    };
    match client.state {
        State::Receiving => {
            if bytes == 0 {
                return false;
            }
            bufs.limit(bytes as usize);
            client.state = State::Sending;
            post_send(client, bufs).is_ok()
        }
        State::Sending => {
            // An overlapped stream send completes only when every byte is sent.
            bufs.unlimit();
            if bufs.total_len() != buffer {
                bufs = BufList::zeroed(buffer);
            }
            client.state = State::Receiving;
            post_recv(client, bufs).is_ok()
        }
    }
}

/// Starts a receive; completed-at-once and pending both end in the event.
fn post_recv(client: &mut Client, bufs: BufList) -> Result<(), WsaError> {
    match client.socket.recv(&mut client.ov, bufs, MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => Ok(()),
        Err(e) => Err(e),
    }
}

fn post_send(client: &mut Client, bufs: BufList) -> Result<(), WsaError> {
    match client.socket.send(&mut client.ov, bufs, MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => Ok(()),
        Err(e) => Err(e),
    }
}
