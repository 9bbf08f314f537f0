//! UDP echo in both overlapped models: every datagram goes back to its sender.
//!
//! One socket, one worker thread, [`PENDING`] receives posted at once (each
//! with its own 64 KiB buffer, enough for the largest datagram), so that a
//! burst finds buffers waiting. `--model event` is Overlapped (1): one event
//! per receive slot in an [`EventSet`], `recv_from` then `send_to` from the
//! same buffer. `--model routine` is Overlapped (2): `recv_from_with` whose
//! routine echoes with `send_to_with`, whose routine receives again.

use std::io::Write;
use std::net::SocketAddr;

use overlapped::{
    get_overlapped_result, wait_for_single_object_ex, BufList, Completion, Event, EventSet,
    MsgFlags, Overlapped, Socket, WaitResult, WsaError,
};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::Model;

/// Receives kept posted at once.
pub const PENDING: usize = 32;
/// Bytes per receive buffer unless `--buffer` says otherwise: the largest
/// UDP payload fits.
pub const BUFFER: usize = 65_536;
/// Socket buffer sizes asked for (the kernel caps them at `rmem_max`/`wmem_max`).
const SOCKET_BUFFER: usize = 8 << 20;

fn io(e: WsaError) -> std::io::Error {
    std::io::Error::other(e)
}

/// Binds, prints `listening on ADDR:PORT`, and serves until SIGINT/SIGTERM.
pub fn run(bind: SocketAddr, model: Model, buffer: usize) -> std::io::Result<()> {
    let socket = Socket::udp_for(&bind).map_err(io)?;
    let _ = socket.as_socket2().set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.as_socket2().set_send_buffer_size(SOCKET_BUFFER);
    socket
        .bind(&bind)
        .map_err(|e| std::io::Error::other(format!("cannot bind {bind}: {e}")))?;
    let local = socket.local_addr().map_err(io)?;
    {
        // Both lines in one write: a reader that takes the first line and
        // closes the pipe then never makes the second one fail.
        let mut out = std::io::stdout().lock();
        let lines = format!("listening on {local}\n{}\n", crate::backend_line());
        out.write_all(lines.as_bytes())?;
        out.flush()?;
    }
    let stop = Event::new();
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let s = stop.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                s.set();
            }
        })?;
    match model {
        Model::Event => serve_event(socket, stop, buffer),
        Model::Routine => serve_routine(socket, stop, buffer),
        Model::Port | Model::Async => Err(std::io::Error::other(
            "--model port and --model async serve TCP only",
        )),
    }
}

struct Slot {
    ov: Overlapped,
    sending: bool,
}

/// Overlapped (1): events[0] is the stop event, events[i] belongs to slots[i - 1].
fn serve_event(socket: Socket, stop: Event, buffer: usize) -> std::io::Result<()> {
    overlapped::set_batching(true).map_err(io)?;
    let mut events = EventSet::new();
    events.push(stop);
    let mut slots = Vec::with_capacity(PENDING);
    for _ in 0..PENDING {
        let event = Event::new();
        let mut slot = Slot {
            ov: Overlapped::new(&event),
            sending: false,
        };
        post_recv(&socket, &mut slot, BufList::zeroed(buffer)).map_err(io)?;
        events.push(event);
        slots.push(slot);
    }
    loop {
        let first = match events.wait(false, None, false).map_err(io)? {
            WaitResult::Signaled(i) => i,
            _ => continue,
        };
        // Serve every signalled slot from `first` on before waiting again.
        let mut next = Some(first);
        while let Some(index) = next {
            if index == 0 {
                return Ok(());
            }
            events.events()[index].reset();
            step(&socket, &mut slots[index - 1], buffer).map_err(io)?;
            next = events.next_signaled(index + 1);
        }
    }
}

/// One completion of a slot: echo what was received, or receive again.
fn step(socket: &Socket, slot: &mut Slot, buffer: usize) -> Result<(), WsaError> {
    let result = get_overlapped_result(socket, &slot.ov, false);
    let Some(mut bufs) = slot.ov.take_buffers() else {
        return Ok(());
    };
    bufs.unlimit();
    if !slot.sending {
        // A truncated datagram (larger than `--buffer`) echoes what fit.
        let received = matches!(result, Ok(_) | Err(WsaError::WSAEMSGSIZE));
        if let (true, Some(from)) = (received, slot.ov.source_addr()) {
            bufs.limit(slot.ov.bytes_transferred() as usize);
            slot.sending = true;
            match socket.send_to(&mut slot.ov, bufs, &from, MsgFlags::empty()) {
                Ok(_) | Err(WsaError::WSA_IO_PENDING) => return Ok(()),
                Err(_) => {
                    // Not sent (e.g. no buffer space): drop it, receive again.
                    slot.sending = false;
                    bufs = slot.ov.take_buffers().unwrap_or_default();
                    bufs.unlimit();
                }
            }
        }
    }
    slot.sending = false;
    if bufs.total_len() != buffer {
        bufs = BufList::zeroed(buffer);
    }
    post_recv(socket, slot, bufs)
}

fn post_recv(socket: &Socket, slot: &mut Slot, bufs: BufList) -> Result<(), WsaError> {
    match socket.recv_from(&mut slot.ov, bufs, MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Overlapped (2): the routines do the echoing while the thread waits alertably.
fn serve_routine(socket: Socket, stop: Event, buffer: usize) -> std::io::Result<()> {
    for _ in 0..PENDING {
        recv(&socket, BufList::zeroed(buffer));
    }
    loop {
        match wait_for_single_object_ex(&stop, None, true).map_err(io)? {
            WaitResult::Signaled(_) => return Ok(()),
            _ => continue,
        }
    }
}

fn recv(socket: &Socket, bufs: BufList) {
    let s = socket.clone();
    let r = socket.recv_from_with(bufs, MsgFlags::empty(), move |c| on_received(s, c));
    if let Err(e) = r {
        if e != WsaError::WSA_IO_PENDING {
            eprintln!("overlapped: receive failed to start: {e}");
        }
    }
}

fn on_received(socket: Socket, c: Completion) {
    let mut bufs = c.buffers;
    let received = c.error.is_ok() || c.error == WsaError::WSAEMSGSIZE;
    if let (true, Some(from)) = (received, c.from) {
        let size = bufs.buffers().iter().map(Vec::len).sum();
        bufs.limit(c.bytes as usize);
        let s = socket.clone();
        let r = socket.send_to_with(bufs, &from, MsgFlags::empty(), move |c: Completion| {
            let mut bufs = c.buffers;
            bufs.unlimit();
            recv(&s, bufs);
        });
        if matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)) {
            return;
        }
        // Never started, so the routine will not run: keep a receive posted.
        bufs = BufList::zeroed(size);
    }
    recv(&socket, bufs);
}
