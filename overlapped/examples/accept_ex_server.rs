//! AcceptEx with receive-with-accept, and socket reuse with
//! DisconnectEx(TF_REUSE_SOCKET): a one-message echo server (each client
//! sends one message, gets it back, and is disconnected) that creates its
//! sockets once and never calls `socket()` or `closesocket()` again.
//!
//! One thread, event objects: `POSTS` accept sockets, each with its own
//! record and event. Each goes around the same cycle: AcceptEx (completes
//! with the client's first message) → WSASend (the echo) → DisconnectEx
//! (TF_REUSE_SOCKET) → AcceptEx again, on the same socket.
//!
//! ```sh
//! cargo run -p overlapped --example accept_ex_server -- 5150
//! ```

use overlapped::{
    get_overlapped_result, startup, Event, EventSet, MsgFlags, Overlapped, Socket, TransmitFlags,
    WaitResult, WsaError, ACCEPT_EX_ADDRESS_LEN as AREA,
};

const POSTS: usize = 16;
const DATA_BUFSIZE: u32 = 4096;

enum Stage {
    Accepting,
    Echoing,
    Disconnecting,
}

/// One recycled accept socket and where it is in its cycle.
struct Slot {
    socket: Socket,
    overlapped: Overlapped,
    stage: Stage,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    startup()?; // WSAStartup
    let port = port_argument();
    let listen = Socket::listen_tcp(&([127, 0, 0, 1], port).into(), 128)?;
    println!("listening on {}", listen.local_addr()?);
    let mut events = EventSet::new();
    let mut slots = Vec::new();
    for _ in 0..POSTS {
        let event = Event::new();
        let mut slot = Slot {
            socket: Socket::tcp_for(&listen.local_addr()?)?, // created once, reused forever
            overlapped: Overlapped::new(&event),
            stage: Stage::Accepting,
        };
        post_accept(&listen, &mut slot)?;
        events.push(event);
        slots.push(slot);
    }
    loop {
        let WaitResult::Signaled(i) = events.wait(false, None, false)? else {
            continue;
        };
        events.events()[i].reset();
        let slot = &mut slots[i];
        // AcceptEx completes on the listener; the other two on the socket.
        let on = match slot.stage {
            Stage::Accepting => &listen,
            _ => &slot.socket,
        };
        let result = get_overlapped_result(on, &slot.overlapped, false);
        let buffers = slot.overlapped.take_buffers();
        match (&slot.stage, result) {
            (Stage::Accepting, Ok((bytes, _))) if bytes > 0 => {
                slot.socket.update_accept_context(&listen)?; // SO_UPDATE_ACCEPT_CONTEXT
                let mut data = buffers.unwrap_or_default();
                data.limit(bytes as usize); // the first message, echoed as it came
                slot.stage = Stage::Echoing;
                started(
                    slot.socket
                        .send(&mut slot.overlapped, data, MsgFlags::empty()),
                )?;
            }
            (Stage::Accepting, Ok(_)) | (Stage::Echoing, _) => {
                // Echoed (or the client left without a word): recycle the socket.
                slot.stage = Stage::Disconnecting;
                let flags = TransmitFlags::REUSE_SOCKET;
                if let Err(e) = started(slot.socket.disconnect_ex(&mut slot.overlapped, flags)) {
                    eprintln!("DisconnectEx failed ({e}): a new socket instead");
                    slot.socket = Socket::tcp_for(&listen.local_addr()?)?;
                    post_accept(&listen, slot)?;
                }
            }
            (Stage::Accepting, Err(e)) => {
                eprintln!("AcceptEx failed: {e}");
                post_accept(&listen, slot)?;
            }
            (Stage::Disconnecting, r) => {
                if let Err(e) = r {
                    eprintln!("DisconnectEx failed ({e}): a new socket instead");
                    slot.socket = Socket::tcp_for(&listen.local_addr()?)?;
                }
                post_accept(&listen, slot)?; // the same socket, accepting again
            }
        }
    }
}

/// AcceptEx into the slot's socket, receiving the first message with it.
fn post_accept(listen: &Socket, slot: &mut Slot) -> Result<(), WsaError> {
    slot.stage = Stage::Accepting;
    let output = vec![0u8; (DATA_BUFSIZE + 2 * AREA) as usize];
    started(listen.accept_ex(
        &slot.socket,
        &mut slot.overlapped,
        output,
        DATA_BUFSIZE,
        AREA,
        AREA,
    ))
}

/// Completed now or later: the event fires either way.
fn started(r: Result<u32, WsaError>) -> Result<(), WsaError> {
    match r {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => Ok(()),
        Err(e) => Err(e),
    }
}

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
    eprintln!("accept_ex_server: {msg}\nusage: accept_ex_server [PORT]   (default 5150)");
    std::process::exit(2);
}
