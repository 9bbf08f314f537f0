//! `overlapped bench --connect-rate`: connections per second, each one
//! "connect, one echo, close", made with `ConnectEx` from one thread (the
//! first message goes with the connect), every echoed byte checked.
//!
//! With `--addr` it loads that server. Without, it starts `serve --accept
//! ex`, `serve --accept thread` and `serve-tokio` in turn, loads each the
//! same way, and reports the rates and their ratios.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use overlapped::{
    get_overlapped_result, BufList, Event, EventSet, MsgFlags, Overlapped, Socket, WaitResult,
    WsaError,
};
use serde::Serialize;

/// What one run measured.
#[derive(Debug, Serialize)]
pub struct RateReport {
    /// The server (`--addr`) loaded.
    pub addr: String,
    /// The library's backend the client (and the servers it starts) ran on,
    /// and why (`epoll (io_uring_setup: EPERM ...)`).
    pub backend: String,
    /// Connections completed: connected, echoed, checked, closed.
    pub connections: usize,
    /// Seconds the run took.
    pub secs: f64,
    /// Completed connections per second.
    pub conns_per_sec: f64,
    /// Connections that failed (refused, reset, closed early).
    pub errors: usize,
    /// Echoes whose bytes differed from what was sent.
    pub mismatches: usize,
    /// Why the run stopped early, if it did (`interrupted` for Ctrl-C).
    pub error: Option<String>,
    /// The first failed connection's error (`WSAECONNREFUSED (10061): ...`).
    pub first_failure: Option<String>,
}

impl RateReport {
    fn failed(&mut self, why: String) {
        self.errors += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(why);
        }
    }
}

/// The backend as the `backend: ...` line shows it, without the prefix.
fn backend_text() -> String {
    let line = crate::backend_line();
    line.strip_prefix("backend: ").unwrap_or(&line).to_string()
}

/// One connection in flight.
struct Slot {
    socket: Option<Socket>,
    ov: Overlapped,
    id: u64,
    /// Bytes of the echo received so far; `None` while connecting.
    got: Option<Vec<u8>>,
}

/// The message connection `id` sends: `size` bytes, unique to it.
fn message(id: u64, size: usize) -> Vec<u8> {
    let tag = id.to_le_bytes();
    (0..size)
        .map(|i| tag[i % 8] ^ (i as u8).wrapping_mul(31))
        .collect()
}

/// Makes `total` connections to `addr`, `inflight` at a time, from this
/// thread; stops if nothing completes for `stall`.
pub fn measure(
    addr: SocketAddr,
    total: usize,
    inflight: usize,
    size: usize,
    stall: Duration,
    interrupt: &AtomicBool,
) -> RateReport {
    let mut report = RateReport {
        first_failure: None,
        addr: addr.to_string(),
        backend: backend_text(),
        connections: 0,
        secs: 0.0,
        conns_per_sec: 0.0,
        errors: 0,
        mismatches: 0,
        error: None,
    };
    let start = Instant::now();
    let mut events = EventSet::new();
    let mut slots = Vec::new();
    let mut next_id = 0u64;
    for _ in 0..inflight.min(total) {
        let event = Event::new();
        let mut slot = Slot {
            socket: None,
            ov: Overlapped::new(&event),
            id: 0,
            got: None,
        };
        begin(&mut slot, addr, &mut next_id, size, &mut report);
        events.push(event);
        slots.push(slot);
    }
    let mut done = 0;
    let mut last = Instant::now();
    while done < total {
        if interrupt.load(Ordering::SeqCst) {
            report.error = Some("interrupted".to_string());
            break;
        }
        // Short waits, so that Ctrl-C is seen within 100 ms.
        let i = match events.wait(false, Some(stall.min(Duration::from_millis(100))), false) {
            Ok(WaitResult::Signaled(i)) => {
                last = Instant::now();
                i
            }
            Ok(_) if last.elapsed() < stall => continue,
            Ok(_) => {
                report.error = Some(format!("nothing completed for {stall:?}"));
                break;
            }
            Err(e) => {
                report.error = Some(format!("wait failed: {e}"));
                break;
            }
        };
        events.events()[i].reset();
        let slot = &mut slots[i];
        if !step(slot, size, &mut report) {
            continue;
        }
        // This connection is over (checked, failed or closed): the next one.
        done += 1;
        slot.socket = None;
        if (next_id as usize) < total {
            begin(slot, addr, &mut next_id, size, &mut report);
        }
    }
    report.secs = start.elapsed().as_secs_f64();
    report.conns_per_sec = report.connections as f64 / report.secs.max(1e-9);
    report
}

/// Starts connection `next_id` in `slot`: a bound socket, `ConnectEx` with
/// the message. A failure to start counts as an error and frees the slot.
fn begin(slot: &mut Slot, addr: SocketAddr, next_id: &mut u64, size: usize, r: &mut RateReport) {
    let id = *next_id;
    *next_id += 1;
    let local: SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse().expect("valid")
    } else {
        "0.0.0.0:0".parse().expect("valid")
    };
    let started = Socket::tcp_for(&addr).and_then(|s| {
        s.bind(&local)?;
        // Close with a reset: 10,000s of client ports in TIME_WAIT would
        // exhaust the ephemeral range across runs.
        let _ = s.as_socket2().set_linger(Some(Duration::ZERO));
        let _ = s.as_socket2().set_tcp_nodelay(true);
        match s.connect_ex(&addr, &mut slot.ov, BufList::from(message(id, size))) {
            Ok(_) | Err(WsaError::WSA_IO_PENDING) => Ok(s),
            Err(e) => Err(e),
        }
    });
    match started {
        Ok(s) => {
            slot.socket = Some(s);
            slot.id = id;
            slot.got = None;
        }
        Err(e) => {
            r.failed(e.to_string());
            // Signal the slot so the loop moves on to the next connection.
            slot.socket = None;
            if let Some(e) = slot.ov.event() {
                e.set();
            }
        }
    }
}

/// Handles one completion of `slot`; true when its connection is over.
fn step(slot: &mut Slot, size: usize, r: &mut RateReport) -> bool {
    let Some(socket) = slot.socket.as_ref() else {
        return true; // failed to start
    };
    let result = get_overlapped_result(socket, &slot.ov, false);
    let bufs = slot.ov.take_buffers();
    let bytes = match result {
        Ok((n, _)) => n as usize,
        Err(WsaError::WSA_IO_INCOMPLETE) => return false,
        Err(e) => {
            r.failed(e.to_string());
            return true;
        }
    };
    let got = match slot.got.as_mut() {
        None => {
            // Connected, message sent: receive the echo.
            slot.got = Some(Vec::with_capacity(size));
            slot.got.as_mut().expect("just set")
        }
        Some(got) => {
            if bytes == 0 {
                r.failed("the server closed before the whole echo came".to_string());
                return true;
            }
            if let Some(b) = bufs {
                got.extend_from_slice(&b.first()[..bytes]);
            }
            got
        }
    };
    if got.len() >= size {
        if *got == message(slot.id, size) {
            r.connections += 1;
        } else {
            r.mismatches += 1;
        }
        return true;
    }
    let want = size - got.len();
    match socket.recv(&mut slot.ov, BufList::zeroed(want), MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => false,
        Err(e) => {
            r.failed(e.to_string());
            true
        }
    }
}

/// The servers `bench --connect-rate` compares when no `--addr` is given
/// (names as `compare::child::server_args` knows them).
pub const SERVERS: [&str; 5] = [
    "event-ex",
    "event-thread",
    "routine-ex",
    "routine-thread",
    "tokio",
];

/// Starts each of [`SERVERS`] in turn, warms it up, measures it, and
/// returns the reports (a server that could not start reports why).
pub fn compare(
    total: usize,
    inflight: usize,
    size: usize,
    stall: Duration,
    interrupt: &AtomicBool,
) -> Vec<(String, RateReport)> {
    use crate::compare::child::{Launcher, Server};
    let mut out = Vec::new();
    let launcher = match Launcher::new() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("overlapped: cannot start servers: {e}");
            return out;
        }
    };
    for name in SERVERS {
        if interrupt.load(Ordering::SeqCst) {
            break;
        }
        let report = match Server::start(&launcher, name, Duration::from_secs(5)) {
            Ok(mut server) => {
                let warm = (total / 10).clamp(1, 1000);
                let _ = measure(server.addr, warm, inflight, size, stall, interrupt);
                let r = measure(server.addr, total, inflight, size, stall, interrupt);
                server.stop();
                r
            }
            Err(e) => RateReport {
                addr: String::new(),
                backend: backend_text(),
                connections: 0,
                secs: 0.0,
                conns_per_sec: 0.0,
                errors: 1,
                mismatches: 0,
                error: Some(format!("server did not start: {e}")),
                first_failure: None,
            },
        };
        eprintln!(
            "  {name}: {:.0} connections/s{}",
            report.conns_per_sec,
            report
                .error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        out.push((name.to_string(), report));
    }
    out
}

/// Prints the comparison: rates, ratio to tokio, and `--accept ex` over
/// `--accept thread` for each model.
pub fn print_comparison(rows: &[(String, RateReport)], total: usize, inflight: usize, size: usize) {
    let rate = |n: &str| {
        rows.iter()
            .find(|(name, _)| name == n)
            .map(|(_, r)| r.conns_per_sec)
            .filter(|r| *r > 0.0)
    };
    println!(
        "connect rate: {total} connections (ConnectEx with a {size} B message, its echo checked, close), {inflight} in flight, one client thread"
    );
    println!("  server            conns/s   x tokio   errors  mismatches");
    for (name, r) in rows {
        let vs = match (rate(name), rate("tokio")) {
            (Some(a), Some(t)) => format!("{:.2}", a / t),
            _ => "-".into(),
        };
        println!(
            "  {name:<15} {:>9.0} {vs:>9} {:>8} {:>11}",
            r.conns_per_sec, r.errors, r.mismatches
        );
    }
    for model in ["event", "routine"] {
        if let (Some(ex), Some(th)) = (
            rate(&format!("{model}-ex")),
            rate(&format!("{model}-thread")),
        ) {
            println!("  {model}: --accept ex / --accept thread = {:.2}", ex / th);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ_per_connection() {
        assert_ne!(message(1, 16), message(2, 16));
        assert_eq!(message(7, 5).len(), 5);
    }
}
