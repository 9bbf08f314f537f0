//! The TCP load: connections on one client (io_uring or epoll), each keeping `depth`
//! messages in flight.
//!
//! Each connection sends its own deterministic byte stream (see [`super::pattern`]): message
//! `m` is bytes `m * size .. (m + 1) * size`. At most one send and one receive are in flight
//! per connection; a send covers every issued message not yet sent. A message is done when
//! the last of its bytes has come back and checked out; its latency runs from its issue time
//! (closed loop) or its intended send time (paced), so a slow server cannot hide its stalls.

use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::client::{Client, Completion, Op};
use super::driver::{drive, Load, Window};
use super::pattern::{self, Pattern};
use super::stats::{Recorder, Report};
use super::Config;

/// Connects in flight at once while connecting.
const CONNECT_BATCH: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Connecting,
    Active,
    Dead,
}

struct Conn {
    state: State,
    seed: u64,
    sent: u64,
    sending: bool,
    issued: u64,
    due: u64,
    received: u64,
}

/// The run's state.
struct Tcp<'a> {
    cfg: &'a Config,
    ring: Client,
    conns: Vec<Conn>,
    /// Issue (or intended) time of each in-flight message, `depth` slots per connection.
    stamps: Vec<u64>,
    rec: Recorder,
    live: usize,
    connected: usize,
    outstanding: u64,
    last_reply: u64,
    max_run: usize,
    fatal: Option<String>,
}

/// Runs the TCP load described by `cfg`.
pub fn run(cfg: &Config) -> std::io::Result<Report> {
    let pat = Pattern::new(cfg.size.max(64 * 1024));
    let recv_len = (cfg.size * cfg.depth).clamp(256, 64 * 1024);
    let addr = cfg.addr.into();
    let ring = Client::new(
        cfg.client.backend,
        cfg.conns,
        recv_len,
        2,
        pat.table(),
        addr,
        cfg.connect_timeout,
    )?;
    let conns = (0..cfg.conns)
        .map(|c| Conn {
            state: State::Idle,
            seed: pattern::seed(c),
            sent: 0,
            sending: false,
            issued: 0,
            due: 0,
            received: 0,
        })
        .collect();
    let base = Instant::now();
    let mut load = Tcp {
        cfg,
        ring,
        conns,
        stamps: vec![0; cfg.conns * cfg.depth],
        rec: Recorder::new(),
        live: 0,
        connected: 0,
        outstanding: 0,
        last_reply: 0,
        max_run: pat.max_run(),
        fatal: None,
    };
    let (secs, fatal) = match load.connect_all() {
        Ok(()) => drive(cfg, base, &mut load)?,
        Err(e) => (0.0, Some(e)),
    };
    let mut report = Report::new(cfg, "tcp");
    report.connected = load.connected;
    report.error = fatal;
    report.fill(&load.rec, secs);
    Ok(report)
}

impl Load for Tcp<'_> {
    fn ring(&mut self) -> &mut Client {
        &mut self.ring
    }
    fn rec(&mut self) -> &mut Recorder {
        &mut self.rec
    }
    fn outstanding(&self) -> u64 {
        self.outstanding
    }
    fn last_reply(&self) -> u64 {
        self.last_reply
    }
    fn fatal(&self) -> Option<String> {
        self.fatal.clone()
    }

    fn begin(&mut self, w: &Window, now: u64) -> std::io::Result<()> {
        for c in 0..self.conns.len() {
            if self.conns[c].state == State::Active {
                self.ring.push_recv(c)?;
                self.issue(c, w, now)?;
            }
        }
        Ok(())
    }

    fn due(&mut self, c: usize, w: &Window, now: u64) -> std::io::Result<()> {
        self.conns[c].due += 1;
        if self.conns[c].state == State::Active {
            self.issue(c, w, now)?;
        }
        Ok(())
    }

    fn complete(&mut self, done: &Completion, w: &Window, now: u64) -> std::io::Result<()> {
        let c = done.conn;
        if self.conns[c].state != State::Active {
            return Ok(());
        }
        let res = done.result;
        match done.op {
            Op::Send if res > 0 => {
                self.conns[c].sending = false;
                self.conns[c].sent += res as u64;
                self.send(c)
            }
            Op::Recv if res > 0 => self.received(c, res as usize, w, now),
            Op::Recv if res == 0 => {
                self.fail(c, || "server closed the connection".into());
                Ok(())
            }
            Op::Send | Op::Recv => {
                let (op, err) = (
                    if done.op == Op::Send { "send" } else { "recv" },
                    errno_text(res),
                );
                self.fail(c, || format!("{op}: {err}"));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Tcp<'_> {
    /// Connects every connection, `CONNECT_BATCH` at a time; fails if none could connect.
    fn connect_all(&mut self) -> Result<(), String> {
        let mut next = 0;
        let mut pending = 0;
        let mut done = Vec::with_capacity(4096);
        // Each connect has its own timeout; this one only guards against a lost completion.
        let guard = Instant::now() + self.cfg.connect_timeout * 2 + Duration::from_secs(5);
        while next < self.conns.len() || pending > 0 {
            while next < self.conns.len() && pending < CONNECT_BATCH {
                let sock = Socket::new(
                    Domain::for_address(self.cfg.addr),
                    Type::STREAM,
                    Some(Protocol::TCP),
                )
                .map_err(|e| format!("socket: {e}"))?;
                let _ = sock.set_tcp_nodelay(true);
                let backend = self.cfg.client.backend.name();
                self.ring
                    .attach(next, sock.into())
                    .and_then(|()| self.ring.push_connect(next))
                    .map_err(|e| format!("{backend}: {e}"))?;
                self.conns[next].state = State::Connecting;
                next += 1;
                pending += 2;
            }
            if Instant::now() > guard {
                return Err("connect phase did not finish".into());
            }
            self.ring
                .submit_and_wait(Duration::from_millis(100))
                .map_err(|e| format!("{}: {e}", self.cfg.client.backend.name()))?;
            self.ring.reap(&mut done);
            for c in &done {
                pending -= 1;
                if c.op != Op::Connect {
                    continue;
                }
                if c.result == 0 {
                    self.conns[c.conn].state = State::Active;
                    self.connected += 1;
                } else {
                    self.conns[c.conn].state = State::Dead;
                    self.ring.close(c.conn);
                    let err = connect_error(c.result);
                    self.rec
                        .error(|| format!("connect to {}: {err}", self.cfg.addr));
                }
            }
        }
        if self.connected == 0 {
            let why = self.rec.first_error.clone().unwrap_or_default();
            return Err(format!("no connection could be made ({why})"));
        }
        self.live = self.connected;
        Ok(())
    }

    /// Issues what connection `c` may now send, and sends it.
    fn issue(&mut self, c: usize, w: &Window, now: u64) -> std::io::Result<()> {
        let (size, depth) = (self.cfg.size as u64, self.cfg.depth as u64);
        let conn = &mut self.conns[c];
        let completed = conn.received / size;
        while conn.issued - completed < depth {
            let stamp = match w.intended(c, conn.issued) {
                None => now,
                Some(at) if conn.issued < conn.due => at,
                Some(_) => break,
            };
            self.stamps[c * self.cfg.depth + (conn.issued % depth) as usize] = stamp;
            conn.issued += 1;
            self.outstanding += 1;
        }
        self.send(c)
    }

    /// Starts a send of connection `c`'s issued but unsent bytes, if none is in flight.
    fn send(&mut self, c: usize) -> std::io::Result<()> {
        let conn = &mut self.conns[c];
        let target = conn.issued * self.cfg.size as u64;
        if conn.sending || conn.sent >= target {
            return Ok(());
        }
        let len = ((target - conn.sent) as usize).min(self.max_run);
        conn.sending = true;
        let start = pattern::start(conn.seed, conn.sent);
        self.ring.push_send(c, start, len)
    }

    /// Checks `n` received bytes of connection `c` and completes the messages they end.
    fn received(&mut self, c: usize, n: usize, w: &Window, now: u64) -> std::io::Result<()> {
        let size = self.cfg.size as u64;
        let conn = &self.conns[c];
        let offset = conn.received;
        if offset + n as u64 > conn.issued * size {
            self.fail(c, || "server sent more bytes than it was sent".into());
            return Ok(());
        }
        if !pattern::matches(
            self.ring.pattern(),
            conn.seed,
            offset,
            self.ring.received(c, n),
        ) {
            self.fail(c, || {
                format!("echoed bytes differ from those sent (stream offset {offset})")
            });
            return Ok(());
        }
        self.last_reply = now;
        let before = offset / size;
        self.conns[c].received += n as u64;
        let after = self.conns[c].received / size;
        let measuring = w.measuring(now);
        for m in before..after {
            self.outstanding -= 1;
            if measuring {
                let stamp = self.stamps[c * self.cfg.depth + (m % self.cfg.depth as u64) as usize];
                self.rec.record(now.saturating_sub(stamp));
            }
        }
        if after > before {
            self.issue(c, w, now)?;
        }
        self.ring.push_recv(c)
    }

    /// Gives up on connection `c` after an error.
    fn fail(&mut self, c: usize, what: impl FnOnce() -> String) {
        let size = self.cfg.size as u64;
        let conn = &mut self.conns[c];
        conn.state = State::Dead;
        self.outstanding -= conn.issued - conn.received / size;
        self.ring.close(c);
        self.rec.error(what);
        self.live -= 1;
        if self.live == 0 {
            let first = self.rec.first_error.clone().unwrap_or_default();
            self.fatal = Some(format!("every connection failed (first error: {first})"));
        }
    }
}

/// A failed completion's result as the library prints errors:
/// `WSAECONNREFUSED (10061): No connection could be made ...`.
fn errno_text(res: i32) -> overlapped::WsaError {
    overlapped::WsaError::from_io(&std::io::Error::from_raw_os_error(-res))
}

fn connect_error(res: i32) -> String {
    if res == -libc::ECANCELED {
        "timed out".into()
    } else {
        errno_text(res).to_string()
    }
}
