//! Overlapped (1): the event-object echo server.
//!
//! The worker keeps one event per client in an [`EventSet`] (index 0 is the
//! accepting thread's event), waits for any of them, resets the one that
//! fired, reads its result with `get_overlapped_result`, and echoes or
//! receives again. 0 bytes or an error closes that client.

use std::sync::Arc;

use overlapped::{
    get_overlapped_result, BufList, Event, EventSet, MsgFlags, Overlapped, Socket, WaitResult,
    WsaError,
};

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

/// Serves until a stop is requested.
pub fn serve(shared: Arc<Shared>, buffer: usize) -> std::io::Result<()> {
    // This thread always comes back to its wait: let its operations reach
    // the kernel in one batch per turn.
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    let mut events = EventSet::new();
    events.push(shared.accept_event.clone());
    // clients[i - 1] owns events[i].
    let mut clients: Vec<Client> = Vec::new();
    loop {
        let first = match events.wait(false, None, false) {
            Ok(WaitResult::Signaled(i)) => i,
            Ok(_) => continue,
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
                    let event = Event::new();
                    let mut client = Client {
                        socket,
                        ov: Overlapped::new(&event),
                        state: State::Receiving,
                    };
                    if post_recv(&mut client, BufList::zeroed(buffer)).is_ok() {
                        events.push(event);
                        clients.push(client);
                    }
                }
                next = events.next_signaled(1);
                continue;
            }
            events.events()[index].reset();
            if step(&mut clients[index - 1], buffer) {
                next = events.next_signaled(index + 1);
            } else {
                // Closing: the last client takes this index; look at it again.
                events.swap_remove(index);
                clients.swap_remove(index - 1);
                next = events.next_signaled(index);
            }
        }
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
