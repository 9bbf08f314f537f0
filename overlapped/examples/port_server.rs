//! I/O completion ports: the book's IOCP echo server, in Rust.
//!
//! The main thread creates a completion port and one worker thread per CPU
//! that waits on it (`GetQueuedCompletionStatus`), then accepts. Each
//! accepted socket is associated with the port, its key the socket's slot in
//! a shared table, and gets an overlapped receive. Whichever worker the port
//! releases echoes what arrived, then receives again.
//!
//! ```sh
//! cargo run -p overlapped --example port_server -- 5150
//! ```

use std::sync::{Arc, Mutex};

use overlapped::{
    startup, BufList, CompletionPort, MsgFlags, Overlapped, Socket, WsaError, WSA_INFINITE,
};

const DATA_BUFSIZE: usize = 4096;

/// The book's "per-handle data" (found by the key) with its "per-I/O data"
/// (one overlapped record: each client has one operation at a time).
struct PerHandleData {
    socket: Socket,
    io: Mutex<(Overlapped, bool)>, // (record, sending?)
}

type Table = Arc<Mutex<Vec<Option<Arc<PerHandleData>>>>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    startup()?; // WSAStartup
    let port_number = port_argument();
    // CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0): one running thread per CPU.
    let port = CompletionPort::new(0)?;
    let table: Table = Arc::default();
    for _ in 0..port.concurrency() {
        let (port, table) = (port.clone(), table.clone());
        std::thread::spawn(move || server_worker_thread(port, table));
    }
    let listen = Socket::listen_tcp(&([127, 0, 0, 1], port_number).into(), 5)?;
    println!("listening on {}", listen.local_addr()?);
    loop {
        let (accept, peer) = listen.accept()?;
        println!("socket {peer} connected");
        let data = Arc::new(PerHandleData {
            socket: accept,
            io: Mutex::new((Overlapped::without_event(), false)),
        });
        let key = {
            let mut t = table.lock().unwrap();
            t.push(Some(data.clone()));
            t.len() - 1
        };
        port.associate(&data.socket, key)?; // CreateIoCompletionPort(accept, port, key, 0)
        let mut io = data.io.lock().unwrap();
        match data
            .socket
            .recv(&mut io.0, BufList::zeroed(DATA_BUFSIZE), MsgFlags::empty())
        {
            Ok(_) | Err(WsaError::WSA_IO_PENDING) => {} // a packet will come either way
            Err(e) => println!("WSARecv failed: {e}"),
        }
    }
}

fn server_worker_thread(port: CompletionPort, table: Table) -> Result<(), WsaError> {
    loop {
        let mut entry = port.get_queued_completion_status(WSA_INFINITE)?;
        let Some(data) = table.lock().unwrap()[entry.key].clone() else {
            continue;
        };
        let bufs = entry.overlapped.as_mut().and_then(|o| o.take_buffers());
        let closing = !entry.error.is_ok() || (entry.bytes == 0 && !data.io.lock().unwrap().1);
        let Some(mut bufs) = bufs.filter(|_| !closing) else {
            println!("closing socket {}", entry.key);
            table.lock().unwrap()[entry.key] = None; // closesocket
            continue;
        };
        let mut io = data.io.lock().unwrap();
        let (record, sending) = &mut *io;
        let started = if *sending {
            // The echo went out whole: receive again.
            bufs.unlimit();
            *sending = false;
            data.socket.recv(record, bufs, MsgFlags::empty())
        } else {
            bufs.limit(entry.bytes as usize);
            *sending = true;
            data.socket.send(record, bufs, MsgFlags::empty())
        };
        if let Err(e) = started {
            if e != WsaError::WSA_IO_PENDING {
                table.lock().unwrap()[entry.key] = None;
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
    eprintln!("port_server: {msg}\nusage: port_server [PORT]   (default 5150)");
    std::process::exit(2);
}
