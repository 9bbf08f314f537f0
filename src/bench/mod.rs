//! `overlapped bench`: the load generator.
//!
//! One thread, one client: io_uring with fixed buffers ([`ring`]) or, where io_uring cannot
//! run, non-blocking sockets on epoll ([`epoll`]); [`client`] chooses and puts both behind
//! one surface. See also [`tcp`] (the load), [`pattern`] (what is sent and checked) and
//! [`stats`] (what is reported).

pub mod client;
pub mod connect_rate;
mod driver;
mod epoll;
mod pattern;
mod progress;
pub mod ring;
pub mod stats;
mod target;
mod tcp;
mod udp;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::{int_in, num_in, secs_in, usage_error, MAX_SECS};

/// Transport to load.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// TCP streams.
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// The most operations one load generator keeps in flight: its one ring's
/// completion queue (TCP: 2 per connection; UDP: depth + 1 per connection).
pub const MAX_OPS: usize = 65_000;
/// The most TCP connections ([`MAX_OPS`] / 2).
pub const MAX_CONNS: usize = MAX_OPS / 2;
/// The largest UDP message: fits one datagram on any loopback.
pub const MAX_UDP_SIZE: usize = 65_000;

/// Arguments of `overlapped bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Echo server to load, HOST:PORT (loopback only unless --allow-remote);
    /// with `--connect-rate` it may be left out: then the servers are
    /// started and compared.
    #[arg(long, required_unless_present = "connect_rate")]
    pub addr: Option<String>,
    /// Connections (UDP: sockets); with UDP, connections × (depth + 1) must
    /// be at most 65000 (from 1 to 32500).
    #[arg(long, default_value_t = 50, value_parser = int_in(1usize, MAX_CONNS))]
    pub conns: usize,
    /// Message size in bytes; at most 65000 with UDP (from 1 to 1048576).
    #[arg(long, default_value_t = 64, value_parser = int_in(1usize, 1 << 20))]
    pub size: usize,
    /// Messages in flight per connection; with UDP, connections × (depth + 1)
    /// must be at most 65000 (from 1 to 1024).
    #[arg(long, default_value_t = 1, value_parser = int_in(1usize, 1024))]
    pub depth: usize,
    /// Measured seconds (from 0.01 to 86400).
    #[arg(long, default_value_t = 5.0, value_parser = secs_in(0.01, MAX_SECS))]
    pub secs: f64,
    /// Warm-up seconds before measuring (from 0 to 86400).
    #[arg(long, default_value_t = 1.0, value_parser = secs_in(0.0, MAX_SECS))]
    pub warmup: f64,
    /// Pace the total offered load at this many messages per second (latency is then
    /// measured from each message's intended send time) (from 1 to 1000000000).
    #[arg(long, value_parser = num_in(1.0, 1e9))]
    pub rate: Option<f64>,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Proto::Tcp)]
    pub proto: Proto,
    /// Print exactly one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Allow a target outside the loopback range.
    #[arg(long)]
    pub allow_remote: bool,
    /// Seconds to wait for a connection (from 0.01 to 86400).
    #[arg(long, default_value_t = 5.0, value_parser = secs_in(0.01, MAX_SECS))]
    pub connect_timeout: f64,
    /// Seconds without any reply (while messages are in flight) after which the run stops
    /// and fails (from 0.01 to 86400).
    #[arg(long, default_value_t = 3.0, value_parser = secs_in(0.01, MAX_SECS))]
    pub stall_timeout: f64,
    /// UDP: seconds after which an unanswered datagram counts as lost (from 0.001 to 86400).
    #[arg(long, default_value_t = 1.0, value_parser = secs_in(0.001, MAX_SECS))]
    pub loss_timeout: f64,
    /// Measure connections per second instead of messages: each connection
    /// is made with `ConnectEx` carrying one `--size` message, receives its
    /// echo (every byte checked) and closes; `--conns` of them in flight,
    /// from one thread. Without `--addr`, compares `serve --accept ex`,
    /// `serve --accept thread` (event and routine models) and `serve-tokio`.
    #[arg(long)]
    pub connect_rate: bool,
    /// Connections to make with `--connect-rate` (from 1 to 1000000)
    /// [default: 10000].
    #[arg(long, value_parser = int_in(1usize, 1_000_000))]
    pub connections: Option<usize>,
    /// Print `overlapped-bench: measure start|end` to stderr around the measured window.
    #[arg(long, hide = true)]
    pub markers: bool,
    /// The load generator's client: uring or epoll [default: io_uring if it
    /// runs here (a ring, the opcodes, a NOP through io_uring_enter), else
    /// epoll]. The report names it and why. OVERLAPPED_BACKEND is not read:
    /// it chooses the library's backend, in the servers.
    #[arg(long, value_enum)]
    pub client_backend: Option<client::ClientBackend>,
}

/// A checked run configuration.
pub struct Config {
    /// Target.
    pub addr: SocketAddr,
    /// Connections.
    pub conns: usize,
    /// Message size.
    pub size: usize,
    /// Messages in flight per connection.
    pub depth: usize,
    /// Warm-up.
    pub warmup: Duration,
    /// Measured window.
    pub secs: Duration,
    /// Total offered load, messages per second.
    pub rate: Option<f64>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Stall watchdog.
    pub stall_timeout: Duration,
    /// UDP loss timeout.
    pub loss_timeout: Duration,
    /// Print window markers to stderr.
    pub markers: bool,
    /// JSON output (no progress bar).
    pub json: bool,
    /// Set by SIGINT/SIGTERM: the run stops and reports what it measured.
    pub interrupt: Arc<AtomicBool>,
    /// The client the load runs on, and why.
    pub client: client::ClientChoice,
}

impl Config {
    /// Checks what clap cannot check option by option (the ranges are
    /// checked as the options are parsed).
    pub fn from_args(
        a: &BenchArgs,
        addr: SocketAddr,
        client: client::ClientChoice,
    ) -> Result<Config, String> {
        if a.proto == Proto::Udp && a.size > MAX_UDP_SIZE {
            return Err(format!(
                "--size must be at most {MAX_UDP_SIZE} with --proto udp"
            ));
        }
        // Every operation in flight needs a completion-queue entry of the one ring.
        if a.proto == Proto::Udp && a.conns * (a.depth + 1) > MAX_OPS {
            return Err(format!(
                "--conns {} with --depth {} keeps {} datagrams in flight: with --proto udp, \
                 connections × (depth + 1) must be at most {MAX_OPS}",
                a.conns,
                a.depth,
                a.conns * (a.depth + 1)
            ));
        }
        let secs = Duration::from_secs_f64;
        Ok(Config {
            addr,
            conns: a.conns,
            size: a.size,
            depth: a.depth,
            warmup: secs(a.warmup),
            secs: secs(a.secs),
            rate: a.rate,
            connect_timeout: secs(a.connect_timeout),
            stall_timeout: secs(a.stall_timeout),
            loss_timeout: secs(a.loss_timeout),
            markers: a.markers,
            json: a.json,
            interrupt: Arc::default(),
            client,
        })
    }
}

/// Prints a window marker to stderr, if asked for.
fn marker(cfg: &Config, what: &str) {
    if cfg.markers {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "overlapped-bench: measure {what}");
        let _ = err.flush();
    }
}

/// Runs the load generator. Exits with code 2 on a refused (non-loopback) or invalid target
/// or arguments, 1 if the run saw any error (a run that echoed nothing in its measured
/// window, or stalled, is an error), 130 if SIGINT or SIGTERM ended it early; the report
/// is printed in every case.
pub fn run(args: BenchArgs) -> std::io::Result<()> {
    if args.connections.is_some() && !args.connect_rate {
        usage_error("--connections needs --connect-rate");
    }
    if args.connect_rate {
        crate::cli::refuse_given(
            &[
                "depth",
                "secs",
                "warmup",
                "rate",
                "connect_timeout",
                "loss_timeout",
                "markers",
                "client_backend",
            ],
            "do not apply with --connect-rate (it makes --connections connections, --conns at a time)",
        );
        return run_connect_rate(&args);
    }
    if args.proto == Proto::Tcp {
        crate::cli::refuse_given(&["loss_timeout"], "applies only with --proto udp");
    }
    let Some(addr) = args.addr.as_deref() else {
        usage_error("--addr is required (HOST:PORT of the echo server)");
    };
    let addr = match target::resolve(addr, args.allow_remote) {
        Ok(a) => a,
        Err(e) => usage_error(&e.to_string()),
    };
    // Checked first with a stand-in client, so that bad arguments are refused
    // before anything is probed.
    let forced = client::ClientChoice {
        backend: args.client_backend.unwrap_or(client::ClientBackend::Epoll),
        why: String::new(),
    };
    if let Err(e) = Config::from_args(&args, addr, forced) {
        usage_error(&e);
    }
    if crate::cli::only_checking() {
        return Ok(());
    }
    let chosen = client::choose(args.client_backend).map_err(std::io::Error::other)?;
    let cfg = Config::from_args(&args, addr, chosen).map_err(std::io::Error::other)?;
    // Ctrl-C (or SIGTERM) ends the run early with the figures so far; a
    // second one ends the program at once.
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_default(sig, cfg.interrupt.clone())?;
        signal_hook::flag::register(sig, cfg.interrupt.clone())?;
    }
    if let Ok(limit) = ring::raise_nofile_limit() {
        if (limit as usize) < cfg.conns + 64 {
            eprintln!(
                "overlapped: warning: open file limit {limit} is low for {} connections",
                cfg.conns
            );
        }
    }
    let report = match args.proto {
        Proto::Tcp => tcp::run(&cfg)?,
        Proto::Udp => udp::run(&cfg)?,
    };
    if args.json {
        let line = serde_json::to_string(&report).map_err(std::io::Error::other)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    } else {
        report.print_human();
    }
    if cfg.interrupt.load(Ordering::SeqCst) {
        std::process::exit(130); // as a shell reports a program ended by SIGINT
    }
    if report.errors > 0 || report.error.is_some() {
        std::process::exit(1);
    }
    Ok(())
}

/// `bench --connect-rate`: one server (`--addr`) or the comparison.
fn run_connect_rate(args: &BenchArgs) -> std::io::Result<()> {
    if args.proto != Proto::Tcp {
        usage_error("--connect-rate measures TCP connections (--proto tcp)");
    }
    let addr = match args
        .addr
        .as_deref()
        .map(|a| target::resolve(a, args.allow_remote))
    {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => usage_error(&e.to_string()),
    };
    if crate::cli::only_checking() {
        return Ok(());
    }
    // Ctrl-C (or SIGTERM) ends the run early with the figures so far; a
    // second one ends the program at once.
    let interrupt = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_default(sig, interrupt.clone())?;
        signal_hook::flag::register(sig, interrupt.clone())?;
    }
    let _ = ring::raise_nofile_limit();
    crate::cli::startup()?;
    if !args.json {
        // Which backend the ConnectEx client (and the servers it starts) runs on.
        println!("{}", crate::backend_line());
    }
    let total = args.connections.unwrap_or(10_000);
    let stall = Duration::from_secs_f64(args.stall_timeout);
    let reports = match addr {
        Some(addr) => {
            let r = connect_rate::measure(addr, total, args.conns, args.size, stall, &interrupt);
            vec![(addr.to_string(), r)]
        }
        None => connect_rate::compare(total, args.conns, args.size, stall, &interrupt),
    };
    if args.json {
        let line = if addr.is_some() {
            serde_json::to_string(&reports[0].1)
        } else {
            serde_json::to_string(&reports.iter().map(|(n, r)| (n, r)).collect::<Vec<_>>())
        }
        .map_err(std::io::Error::other)?;
        println!("{line}");
    } else if addr.is_some() {
        let r = &reports[0].1;
        println!(
            "connect rate {}: {} connections in {:.2} s = {:.0} connections/s, {} errors, {} mismatches{}",
            r.addr,
            r.connections,
            r.secs,
            r.conns_per_sec,
            r.errors,
            r.mismatches,
            r.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
        );
        if let Some(first) = &r.first_failure {
            println!("first failure: {first}");
        }
    } else {
        connect_rate::print_comparison(&reports, total, args.conns, args.size);
    }
    if interrupt.load(Ordering::SeqCst) {
        eprintln!("overlapped: interrupted");
        std::process::exit(130); // as a shell reports a program ended by SIGINT
    }
    if reports
        .iter()
        .any(|(_, r)| r.errors > 0 || r.mismatches > 0 || r.error.is_some())
    {
        std::process::exit(1);
    }
    Ok(())
}
