//! `overlapped soak`: both echo servers under a churn of connections that
//! open, echo, reset, half-close, stop reading and vanish; fails if a byte
//! comes back wrong, or if the server's memory or descriptors grow once the
//! churn stops.
//!
//! Each server runs as a child process (`serve --model M --port 0`). A warm-up
//! churn comes first; the baseline (`VmRSS` of `/proc/PID/status`, entries of
//! `/proc/PID/fd`) is taken once the server has closed every connection;
//! after the main churn the same figures must come back to that baseline,
//! within a tolerance.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::{int_in, secs_in, MAX_SECS};
use crate::compare::child::{Launcher, Server};

mod phases;
use phases::Phases;

/// Arguments of `overlapped soak`.
#[derive(clap::Args, Debug)]
pub struct SoakArgs {
    /// Seconds of churn per server, after a warm-up of a quarter of that (at
    /// least 0.5 s) (from 0.5 to 86400).
    #[arg(long, default_value_t = 10.0, value_parser = secs_in(0.5, MAX_SECS))]
    pub secs: f64,
    /// Which server(s) to soak.
    #[arg(long, value_enum, default_value = "both")]
    pub model: Which,
    /// Client threads churning connections (from 1 to 256).
    #[arg(long, default_value_t = 4, value_parser = int_in(1usize, MAX_WORKERS))]
    pub workers: usize,
    /// Allowed growth of resident memory after the churn, KiB, or 20% of the
    /// baseline if larger (from 0 to 16777216).
    #[arg(long, default_value_t = 8192, value_parser = int_in(0u64, 16 << 20))]
    pub rss_slack_kib: u64,
    /// Allowed growth of open descriptors after the churn (from 0 to 1000000).
    #[arg(long, default_value_t = 4, value_parser = int_in(0usize, 1_000_000))]
    pub fd_slack: usize,
}

/// The most churning threads (each starts a second one per echo).
pub const MAX_WORKERS: usize = 256;

/// The servers a soak covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// `serve --model event`.
    Event,
    /// `serve --model routine`.
    Routine,
    /// Both, one after the other.
    Both,
}

/// What the clients did, shared by the workers.
#[derive(Default)]
struct Tally {
    conns: AtomicU64,
    echoed: AtomicU64,
    resets: AtomicU64,
    half_closes: AtomicU64,
    stalls: AtomicU64,
    vanished: AtomicU64,
    bytes: AtomicU64,
    wrong: AtomicU64,
    errors: AtomicU64,
}

/// Runs the soak; `Err` (non-zero exit) names what went wrong.
pub fn run(args: SoakArgs) -> std::io::Result<()> {
    if crate::cli::only_checking() {
        return Ok(());
    }
    let models: &[&str] = match args.model {
        Which::Event => &["event"],
        Which::Routine => &["routine"],
        Which::Both => &["event", "routine"],
    };
    // The servers run on the library's backend (the same environment).
    println!("soak servers' {}", crate::backend_line());
    if let Err(e) = overlapped::backend() {
        // Their servers could not start either: say why once.
        return Err(std::io::Error::other(crate::cli::setup_error_text(&e)));
    }
    let mut failures = Vec::new();
    for model in models {
        if let Err(e) = soak_one(model, &args) {
            println!("soak {model}: FAILED: {e}");
            failures.push(format!("{model}: {e}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "soak failed: {}",
            failures.join("; ")
        )))
    }
}

fn soak_one(model: &str, args: &SoakArgs) -> Result<(), String> {
    let launcher = Launcher::new().map_err(|e| e.to_string())?;
    let mut server = Server::start(&launcher, model, Duration::from_secs(30))
        .map_err(|e| format!("the {model} server: {e}"))?;
    let pid = server.pid();
    let warmup = (args.secs / 4.0).max(0.5);
    let bar = Phases::new(model, warmup + args.secs);
    bar.phase(&format!("warm-up churn, {warmup} s"));
    churn(server.addr, args.workers, warmup, 1, &bar)?;
    bar.phase("baseline: waiting for the server to close every connection");
    let (base_rss, base_fds) = settle(pid, None)?;
    bar.phase(&format!("churn, {} s, {} workers", args.secs, args.workers));
    let tally = churn(server.addr, args.workers, args.secs, 2, &bar)?;
    bar.phase("checking memory and descriptors against the baseline");
    let (rss, fds) = settle(pid, Some(base_fds))?;
    server.stop();
    bar.finish();
    let t = |c: &AtomicU64| c.load(Relaxed);
    println!(
        "soak {model}: {} connections churned ({} echoed, {} reset mid-message, {} half-closed, \
         {} stopped reading, {} vanished), {} bytes echoed and checked; \
         VmRSS {base_rss} -> {rss} KiB, fds {base_fds} -> {fds}",
        t(&tally.conns),
        t(&tally.echoed),
        t(&tally.resets),
        t(&tally.half_closes),
        t(&tally.stalls),
        t(&tally.vanished),
        t(&tally.bytes),
    );
    if t(&tally.echoed) + t(&tally.half_closes) == 0 {
        return Err("no client got an echo back: the churn proved nothing".into());
    }
    if t(&tally.wrong) > 0 {
        return Err(format!("{} echoes came back wrong", t(&tally.wrong)));
    }
    if t(&tally.errors) > 0 {
        return Err(format!(
            "{} well-behaved clients saw an error",
            t(&tally.errors)
        ));
    }
    let rss_limit = base_rss + args.rss_slack_kib.max(base_rss / 5);
    if rss > rss_limit {
        return Err(format!(
            "resident memory grew: {base_rss} KiB after warm-up, {rss} KiB after the churn (limit {rss_limit})"
        ));
    }
    if fds > base_fds + args.fd_slack {
        return Err(format!(
            "open descriptors grew: {base_fds} after warm-up, {fds} after the churn"
        ));
    }
    println!("soak {model}: OK");
    Ok(())
}

/// `VmRSS` (KiB) and open descriptors of `pid`.
fn sample(pid: u32) -> Result<(u64, usize), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("server gone? /proc/{pid}/status: {e}"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmRSS line")?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|e| e.to_string())?
        .count();
    Ok((rss, fds))
}

/// Waits until the server has let go of the churn's connections: its
/// descriptor count back to `target` (or, without one, steady for 300 ms),
/// at most 30 s (a loaded machine may take seconds; a leak waits it out and
/// is then reported). Returns the sample then.
fn settle(pid: u32, target: Option<usize>) -> Result<(u64, usize), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = sample(pid)?;
    let mut steady_since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = sample(pid)?;
        if now.1 != last.1 {
            steady_since = Instant::now();
        }
        last = now;
        let done = match target {
            Some(t) => last.1 <= t,
            None => steady_since.elapsed() >= Duration::from_millis(300),
        };
        if done || Instant::now() > deadline {
            return Ok(last);
        }
    }
}

/// `workers` threads open connections and misbehave in turn for `secs`,
/// while `bar` shows the time and the connections so far. Each thread first
/// makes one connection of every kind, however long that takes (so a
/// starved machine still exercises them all), then random ones.
fn churn(
    addr: SocketAddr,
    workers: usize,
    secs: f64,
    seed: u64,
    bar: &Phases,
) -> Result<Arc<Tally>, String> {
    let tally = Arc::new(Tally::default());
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let threads = (0..workers)
        .map(|w| {
            let tally = tally.clone();
            std::thread::Builder::new()
                .name(format!("churn-{w}"))
                .spawn(move || {
                    let mut rng = Rng(seed * 7919 + w as u64 * 104_729 + 1);
                    for kind in Kind::ALL {
                        // A server that refuses every connection for this
                        // long is down: that is an error, not a hang.
                        let give_up = Instant::now() + Duration::from_secs(30);
                        while !client(addr, kind, &mut rng, &tally) {
                            if Instant::now() > give_up {
                                tally.errors.fetch_add(1, Relaxed);
                                break;
                            }
                        }
                    }
                    while Instant::now() < end {
                        let kind = Kind::pick(&mut rng);
                        client(addr, kind, &mut rng, &tally);
                    }
                })
                .map_err(|e| format!("cannot start churn thread {w}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    while threads.iter().any(|t| !t.is_finished()) {
        bar.tick(tally.conns.load(Relaxed));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.done_churning(secs);
    for t in threads {
        t.join()
            .map_err(|_| "a churn thread panicked".to_string())?;
    }
    Ok(tally)
}

/// The things a churning client does with its connection.
#[derive(Clone, Copy)]
enum Kind {
    /// A message echoed, every byte checked.
    Echo,
    /// Part of a message, then a reset.
    Reset,
    /// A message, the send side shut down, the echo read to the end.
    HalfClose,
    /// Sends until the echo backs up, then goes.
    StopReading,
    /// Connects and goes.
    Vanish,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Echo,
        Kind::Reset,
        Kind::HalfClose,
        Kind::StopReading,
        Kind::Vanish,
    ];

    /// Half the connections echo; the rest misbehave.
    fn pick(rng: &mut Rng) -> Kind {
        match rng.next() % 10 {
            0..=4 => Kind::Echo,
            5 => Kind::Reset,
            6 | 7 => Kind::HalfClose,
            8 => Kind::StopReading,
            _ => Kind::Vanish,
        }
    }
}

/// One connection, doing `kind`; false if it could not connect.
fn client(addr: SocketAddr, kind: Kind, rng: &mut Rng, tally: &Tally) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        // The listen queue overflowed for a moment: not the server's fault.
        std::thread::sleep(Duration::from_millis(5));
        return false;
    };
    tally.conns.fetch_add(1, Relaxed);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_nodelay(true);
    // Garbage sizes: from 1 byte to 256 KiB, skewed small.
    let size = match rng.next() % 4 {
        0 => 1 + rng.below(16),
        1 => 1 + rng.below(4096),
        2 => 1 + rng.below(65536),
        _ => 1 + rng.below(256 * 1024),
    };
    let data: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
    match kind {
        Kind::Echo => {
            let ok = echo(&mut s, &data, tally);
            tally.echoed.fetch_add(u64::from(ok), Relaxed);
            if rng.coin() {
                abort(s); // no TIME_WAIT pile-up on the client side
            }
        }
        Kind::Reset => {
            // Reset mid-message: part of a message, then RST.
            let _ = s.write_all(&data[..data.len() / 2 + 1]);
            abort(s);
            tally.resets.fetch_add(1, Relaxed);
        }
        Kind::HalfClose => {
            // Half-close: send, shut down sending, read the echo to the end.
            let ok = s.write_all(&data).is_ok() && s.shutdown(Shutdown::Write).is_ok();
            let mut back = Vec::new();
            let read = ok && s.read_to_end(&mut back).is_ok();
            if !read {
                tally.errors.fetch_add(1, Relaxed);
            } else if back != data {
                tally.wrong.fetch_add(1, Relaxed);
            } else {
                tally.bytes.fetch_add(back.len() as u64, Relaxed);
                tally.half_closes.fetch_add(1, Relaxed);
            }
        }
        Kind::StopReading => {
            // Stop reading: send until the server's echo backs up, then go.
            let _ = s.set_write_timeout(Some(Duration::from_millis(100)));
            let chunk = vec![0x5a; 64 * 1024];
            for _ in 0..64 {
                if s.write_all(&chunk).is_err() {
                    break;
                }
            }
            tally.stalls.fetch_add(1, Relaxed);
            if rng.coin() {
                abort(s);
            }
        }
        Kind::Vanish => {
            // Connect and vanish.
            tally.vanished.fetch_add(1, Relaxed);
            if rng.coin() {
                abort(s);
            }
        }
    }
    true
}

/// Sends `data` (from a second thread) while reading it all back; counts what it saw.
fn echo(s: &mut TcpStream, data: &[u8], tally: &Tally) -> bool {
    let mut writer = match s.try_clone() {
        Ok(w) => w,
        Err(_) => {
            tally.errors.fetch_add(1, Relaxed);
            return false;
        }
    };
    let owned = data.to_vec();
    let sender = std::thread::spawn(move || writer.write_all(&owned).is_ok());
    let mut back = vec![0u8; data.len()];
    let read = s.read_exact(&mut back).is_ok();
    let sent = sender.join().unwrap_or(false);
    if !(read && sent) {
        tally.errors.fetch_add(1, Relaxed);
        return false;
    }
    if back != data {
        tally.wrong.fetch_add(1, Relaxed);
        return false;
    }
    tally.bytes.fetch_add(back.len() as u64, Relaxed);
    true
}

/// Abortive close: `SO_LINGER {1, 0}`, so closing sends a reset.
fn abort(s: TcpStream) {
    let s = socket2::Socket::from(s);
    let _ = s.set_linger(Some(Duration::ZERO));
}

/// A small xorshift generator (the churn only needs variety, not quality).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
