//! Overlapped (2), completion routines: the book's echo server, in Rust.
//!
//! The main thread accepts and hands each socket to the worker through an
//! event. The worker sits in an alertable wait on that event; for each new
//! socket it posts a receive with a completion routine, and the routines
//! echo and post the next receive. Routines only ever run on the worker,
//! inside its alertable wait, so they need not be `Send`; each keeps a clone of
//! the socket handle to re-post on.
//!
//! ```sh
//! cargo run -p overlapped --example routine_server -- 5150
//! ```

use std::sync::{Arc, Mutex};

use overlapped::{
    startup, wait_for_single_object_ex, BufList, Completion, Event, MsgFlags, Socket, WaitResult,
    WsaError, WSA_INFINITE,
};

const DATA_BUFSIZE: usize = 4096;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    startup()?; // WSAStartup
    let port = port_argument();
    let listen = Socket::listen_tcp(&([127, 0, 0, 1], port).into(), 5)?;
    println!("listening on {}", listen.local_addr()?);

    let accept_event = Event::new();
    let accepted: Arc<Mutex<Vec<Socket>>> = Arc::default();
    {
        let (ev, queue) = (accept_event.clone(), accepted.clone());
        std::thread::spawn(move || worker_thread(ev, queue));
    }
    loop {
        let (accept_socket, peer) = listen.accept()?;
        println!("socket {peer} connected");
        accepted.lock().unwrap().push(accept_socket);
        accept_event.set(); // WSASetEvent
    }
}

fn worker_thread(accept_event: Event, accepted: Arc<Mutex<Vec<Socket>>>) -> Result<(), WsaError> {
    loop {
        // An alertable wait: completion routines run in here.
        match wait_for_single_object_ex(&accept_event, WSA_INFINITE, true)? {
            // A completion routine ran; go back to waiting.
            WaitResult::IoCompletion => continue,
            WaitResult::Signaled(_) => {}
            WaitResult::Timeout => continue,
        }
        accept_event.reset(); // WSAResetEvent
        for socket in accepted.lock().unwrap().drain(..) {
            post_recv(socket, BufList::zeroed(DATA_BUFSIZE));
        }
    }
}

fn post_recv(socket: Socket, buffers: BufList) {
    let s = socket.clone();
    if let Err(e) = socket.recv_with(buffers, MsgFlags::empty(), move |c| {
        worker_routine(s, c, false)
    }) {
        if e != WsaError::WSA_IO_PENDING {
            println!("WSARecv() failed with error {e}");
        }
    }
}

/// The completion routine: after a receive, echo; after a send, receive again.
fn worker_routine(socket: Socket, c: Completion, was_send: bool) {
    if !c.error.is_ok() || (!was_send && c.bytes == 0) {
        println!("closing socket");
        return; // the last handle goes: the socket closes
    }
    let mut buffers = c.buffers;
    if was_send {
        buffers.unlimit();
        post_recv(socket, buffers);
        return;
    }
    buffers.limit(c.bytes as usize);
    let s = socket.clone();
    if let Err(e) = socket.send_with(buffers, MsgFlags::empty(), move |c| {
        worker_routine(s, c, true)
    }) {
        if e != WsaError::WSA_IO_PENDING {
            println!("WSASend() failed with error {e}");
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
    eprintln!("routine_server: {msg}\nusage: routine_server [PORT]   (default 5150)");
    std::process::exit(2);
}
