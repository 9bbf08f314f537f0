//! Overlapped (1), event objects: the book's echo server, in Rust.
//!
//! The main thread accepts; each accepted socket gets an event and an
//! overlapped receive, and a worker thread waits on all the events at once,
//! resets the one that fired, reads the result and echoes or receives again.
//!
//! ```sh
//! cargo run -p overlapped --example event_server -- 5150
//! ```

use std::sync::{Arc, Mutex};

use overlapped::{
    get_overlapped_result, startup, wait_for_multiple_events, BufList, Event, MsgFlags, Overlapped,
    Socket, WaitResult, WsaError, WSA_INFINITE,
};

const DATA_BUFSIZE: usize = 4096;

/// What the book keeps per socket: the socket, its overlapped record, and
/// whether we are receiving or echoing.
struct SocketInformation {
    socket: Socket,
    overlapped: Overlapped,
    sending: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    startup()?; // WSAStartup
    let port = port_argument();
    let listen = Socket::listen_tcp(&([127, 0, 0, 1], port).into(), 5)?;
    println!("listening on {}", listen.local_addr()?);

    // Event 0 tells the worker that a new socket is waiting.
    let accept_event = Event::new();
    let new_sockets: Arc<Mutex<Vec<Socket>>> = Arc::default();
    let worker = {
        let (ev, queue) = (accept_event.clone(), new_sockets.clone());
        std::thread::spawn(move || process_io(ev, queue))
    };

    loop {
        let (accept_socket, peer) = listen.accept()?;
        println!("socket {peer} connected");
        new_sockets.lock().unwrap().push(accept_socket);
        accept_event.set(); // WSASetEvent: wake the worker
        if worker.is_finished() {
            break;
        }
    }
    Ok(())
}

fn process_io(accept_event: Event, new_sockets: Arc<Mutex<Vec<Socket>>>) -> Result<(), WsaError> {
    let mut event_array = vec![accept_event.clone()];
    let mut sockets: Vec<SocketInformation> = Vec::new();
    loop {
        // Wait for one of the sockets' events (or the accept event).
        let index = match wait_for_multiple_events(&event_array, false, WSA_INFINITE, false)? {
            WaitResult::Signaled(i) => i,
            _ => continue,
        };
        event_array[index].reset(); // WSAResetEvent
        if index == 0 {
            for socket in new_sockets.lock().unwrap().drain(..) {
                let event = Event::new(); // WSACreateEvent
                let mut info = SocketInformation {
                    overlapped: Overlapped::new(&event),
                    socket,
                    sending: false,
                };
                match info.socket.recv(
                    &mut info.overlapped,
                    BufList::zeroed(DATA_BUFSIZE),
                    MsgFlags::empty(),
                ) {
                    Ok(_) | Err(WsaError::WSA_IO_PENDING) => {
                        event_array.push(event);
                        sockets.push(info);
                    }
                    Err(e) => println!("WSARecv() failed with error {e}"),
                }
            }
            continue;
        }
        let info = &mut sockets[index - 1];
        // Determine the status of the overlapped request.
        let bytes = match get_overlapped_result(&info.socket, &info.overlapped, false) {
            Ok((0, _)) | Err(_) => {
                println!("closing socket");
                event_array.remove(index);
                sockets.remove(index - 1);
                continue;
            }
            Ok((bytes, _)) => bytes,
        };
        let mut buffers = info.overlapped.take_buffers().expect("completed");
        let started = if info.sending {
            // The whole echo went out: post another receive.
            info.sending = false;
            buffers.unlimit();
            info.socket
                .recv(&mut info.overlapped, buffers, MsgFlags::empty())
        } else {
            // Echo what arrived.
            info.sending = true;
            buffers.limit(bytes as usize);
            info.socket
                .send(&mut info.overlapped, buffers, MsgFlags::empty())
        };
        if let Err(e) = started {
            if e != WsaError::WSA_IO_PENDING {
                println!("WSARecv()/WSASend() failed with error {e}");
                event_array.remove(index);
                sockets.remove(index - 1);
            }
        }
    }
}

/// The port to listen on: the first argument (from 0 to 65535; 0 picks a
/// free one), 5150 without one. Anything else is a usage error (exit 2).
fn port_argument() -> u16 {
    let mut args = std::env::args().skip(1);
    let port = match args.next() {
        None => return 5150,
        Some(arg) => arg.parse::<u16>().map_err(|_| arg),
    };
    match (port, args.next()) {
        (Ok(port), None) => port,
        (Err(arg), _) => usage(&format!("{arg:?} is not a port (from 0 to 65535)")),
        (Ok(_), Some(extra)) => usage(&format!("unexpected argument {extra:?}")),
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("event_server: {msg}\nusage: event_server [PORT]   (default 5150)");
    std::process::exit(2);
}
