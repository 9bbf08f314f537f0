//! The UDP load: one connected UDP socket per "connection", `depth` datagrams in flight each.
//!
//! Datagram `s` of a connection carries bytes `s * size .. (s + 1) * size` of the connection's
//! pattern stream, so an echo identifies itself: it must equal the expected content of one of
//! the connection's in-flight datagrams. A datagram not echoed within the loss timeout is
//! counted lost and its slot reused; an echo that arrives after that is counted late.

use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};

use super::client::{Client, Completion, Op};
use super::driver::{drive, Load, Window};
use super::pattern::{self, Pattern};
use super::stats::{Recorder, Report};
use super::Config;

#[derive(Clone, Copy, Default)]
struct Slot {
    seq: u64,
    stamp: u64,
    live: bool,
}

struct Conn {
    seed: u64,
    next: u64,
    due: u64,
    up: bool,
}

struct Udp<'a> {
    cfg: &'a Config,
    ring: Client,
    conns: Vec<Conn>,
    /// `depth` slots per connection; datagram `s` uses slot `s % depth`.
    slots: Vec<Slot>,
    rec: Recorder,
    outstanding: u64,
    last_reply: u64,
    late: u64,
    loss_ns: u64,
}

/// Runs the UDP load described by `cfg`.
pub fn run(cfg: &Config) -> std::io::Result<Report> {
    let pat = Pattern::new(cfg.size.max(64 * 1024));
    let ops = cfg.depth + 1;
    let ring = Client::new(
        cfg.client.backend,
        cfg.conns,
        cfg.size + 64,
        ops,
        pat.table(),
        cfg.addr.into(),
        cfg.connect_timeout,
    )?;
    let mut load = Udp {
        cfg,
        ring,
        conns: Vec::with_capacity(cfg.conns),
        slots: vec![Slot::default(); cfg.conns * cfg.depth],
        rec: Recorder::new(),
        outstanding: 0,
        last_reply: 0,
        late: 0,
        loss_ns: cfg.loss_timeout.as_nanos() as u64,
    };
    let mut connected = 0;
    for c in 0..cfg.conns {
        let sock = Socket::new(
            Domain::for_address(cfg.addr),
            Type::DGRAM,
            Some(Protocol::UDP),
        )?;
        let up = match sock.connect(&cfg.addr.into()) {
            Ok(()) => {
                load.ring.attach(c, sock.into())?;
                connected += 1;
                true
            }
            Err(e) => {
                let e = overlapped::WsaError::from_io(&e);
                load.rec.error(|| format!("connect to {}: {e}", cfg.addr));
                false
            }
        };
        load.conns.push(Conn {
            seed: pattern::seed(c),
            next: 0,
            due: 0,
            up,
        });
    }
    let (secs, fatal) = if connected == 0 {
        (0.0, Some("no socket could be connected".to_string()))
    } else {
        drive(cfg, Instant::now(), &mut load)?
    };
    let mut report = Report::new(cfg, "udp");
    report.connected = connected;
    report.error = fatal;
    report.late = load.late;
    report.fill(&load.rec, secs);
    Ok(report)
}

impl Load for Udp<'_> {
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
        None
    }

    fn begin(&mut self, w: &Window, now: u64) -> std::io::Result<()> {
        for c in 0..self.conns.len() {
            if self.conns[c].up {
                self.ring.push_recv(c)?;
                self.issue(c, w, now)?;
            }
        }
        Ok(())
    }

    fn due(&mut self, c: usize, w: &Window, now: u64) -> std::io::Result<()> {
        self.conns[c].due += 1;
        if self.conns[c].up {
            self.issue(c, w, now)?;
        }
        Ok(())
    }

    fn complete(&mut self, done: &Completion, w: &Window, now: u64) -> std::io::Result<()> {
        let (c, res) = (done.conn, done.result);
        if !self.conns[c].up {
            return Ok(());
        }
        match done.op {
            Op::Send if res >= 0 && res as usize != self.cfg.size => {
                self.rec
                    .error(|| format!("short datagram send: {res} bytes"));
            }
            Op::Send if res < 0 => {
                let err = overlapped::WsaError::from_io(&std::io::Error::from_raw_os_error(-res));
                self.rec.error(|| format!("send: {err}"));
            }
            Op::Recv if res >= 0 => {
                self.received(c, res as usize, w, now)?;
                self.ring.push_recv(c)?;
            }
            Op::Recv => {
                // A refused datagram (nobody listening) is reported here: count it and go on;
                // the watchdog ends the run if no reply ever comes.
                let err = overlapped::WsaError::from_io(&std::io::Error::from_raw_os_error(-res));
                self.rec.error(|| format!("recv: {err}"));
                self.ring.push_recv(c)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Gives up on datagrams older than the loss timeout and sends the next ones.
    fn tick(&mut self, w: &Window, now: u64) -> std::io::Result<()> {
        let depth = self.cfg.depth;
        for c in 0..self.conns.len() {
            let mut freed = false;
            for slot in &mut self.slots[c * depth..(c + 1) * depth] {
                if slot.live && now.saturating_sub(slot.stamp) > self.loss_ns {
                    slot.live = false;
                    self.outstanding -= 1;
                    freed = true;
                    if w.measuring(now) {
                        self.rec.lost += 1;
                    }
                }
            }
            if freed {
                self.issue(c, w, now)?;
            }
        }
        Ok(())
    }
}

impl Udp<'_> {
    /// Sends connection `c`'s next datagrams while slots are free (and, paced, they are due).
    fn issue(&mut self, c: usize, w: &Window, now: u64) -> std::io::Result<()> {
        let (size, depth) = (self.cfg.size, self.cfg.depth);
        loop {
            let conn = &self.conns[c];
            let slot = c * depth + (conn.next % depth as u64) as usize;
            if self.slots[slot].live {
                return Ok(());
            }
            let stamp = match w.intended(c, conn.next) {
                None => now,
                Some(at) if conn.next < conn.due => at,
                Some(_) => return Ok(()),
            };
            let seq = conn.next;
            let start = pattern::start(conn.seed, seq * size as u64);
            self.slots[slot] = Slot {
                seq,
                stamp,
                live: true,
            };
            self.conns[c].next += 1;
            self.outstanding += 1;
            self.ring.push_send(c, start, size)?;
        }
    }

    /// Matches an echoed datagram of `n` bytes to the in-flight datagram it repeats.
    fn received(&mut self, c: usize, n: usize, w: &Window, now: u64) -> std::io::Result<()> {
        let (size, depth) = (self.cfg.size, self.cfg.depth);
        if n != size {
            self.rec
                .error(|| format!("echoed datagram of {n} bytes, {size} sent"));
            return Ok(());
        }
        let seed = self.conns[c].seed;
        let table = self.ring.pattern();
        let data = self.ring.received(c, n);
        let is = |seq: u64| {
            let at = pattern::start(seed, seq * size as u64);
            table[at..at + size] == *data
        };
        let mine = c * depth..(c + 1) * depth;
        if let Some(i) = mine
            .clone()
            .find(|&i| self.slots[i].live && is(self.slots[i].seq))
        {
            let slot = &mut self.slots[i];
            slot.live = false;
            self.outstanding -= 1;
            self.last_reply = now;
            if w.measuring(now) {
                let stamp = slot.stamp;
                self.rec.record(now.saturating_sub(stamp));
            }
            return self.issue(c, w, now);
        }
        let next = self.conns[c].next;
        if (next.saturating_sub(64 * depth as u64 + 1024)..next).any(is) {
            self.late += 1;
        } else {
            self.rec
                .error(|| "echoed datagram matches none sent".into());
        }
        Ok(())
    }
}
