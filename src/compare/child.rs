//! Child processes of `compare`: a server to load, and a `bench --json` run against it.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::bench::ring;
use crate::bench::stats::Report;

/// How to launch the children: the program itself, optionally through `taskset`.
pub struct Launcher {
    exe: PathBuf,
    pin: bool,
}

impl Launcher {
    /// Uses the current executable; pins to CPUs when `taskset` works and there are two.
    pub fn new() -> std::io::Result<Launcher> {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset")
            .args(["-c", "0", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Ok(Launcher {
            exe: std::env::current_exe()?,
            pin: cpus >= 2 && taskset,
        })
    }

    /// Whether servers run on CPU 0 and the load generator on CPU 1.
    pub fn pinned(&self) -> bool {
        self.pin
    }

    fn command(&self, cpu: u32, args: &[String]) -> Command {
        let mut cmd = if self.pin {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(&self.exe);
            c
        } else {
            Command::new(&self.exe)
        };
        crate::process::die_with_parent(&mut cmd);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

/// The arguments that start server `name` on a free loopback port.
pub fn server_args(name: &str) -> Vec<String> {
    // `MODEL-thread`, `MODEL-ex`, `MODEL-first`: the model with `--accept
    // thread`, `--accept ex`, or `--accept ex --first-data`.
    let (model, accept) = name.split_once('-').unwrap_or((name, ""));
    let mut args: Vec<String> = match model {
        "tokio" => vec!["serve-tokio".into()],
        "uring" => vec!["serve-uring".into()],
        model => vec!["serve".into(), "--model".into(), model.into()],
    };
    match accept {
        "thread" => args.extend(["--accept", "thread"].map(String::from)),
        "ex" => args.extend(["--accept", "ex"].map(String::from)),
        "first" => args.extend(["--accept", "ex", "--first-data"].map(String::from)),
        _ => {}
    }
    args.extend(["--addr", "127.0.0.1", "--port", "0"].map(String::from));
    args
}

/// A running server.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Drains a pipe in the background, keeping its last 4 KiB of text.
fn collect(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 4096 {
                kept.drain(..kept.len() - 4096);
            }
        }
        String::from_utf8_lossy(&kept).trim().to_string()
    })
}

impl Server {
    /// Starts server `name`; fails unless it prints `listening on ADDR:PORT` within `wait`.
    pub fn start(launcher: &Launcher, name: &str, wait: Duration) -> Result<Server, String> {
        Server::start_command(launcher.command(0, &server_args(name)), wait)
    }

    /// [`Server::start`] of a prepared command.
    fn start_command(mut command: Command, wait: Duration) -> Result<Server, String> {
        let mut child = command.spawn().map_err(|e| format!("cannot start: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = collect(child.stderr.take().expect("piped stderr"));
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            lines.for_each(drop);
        });
        let first = rx.recv_timeout(wait);
        let addr = first
            .as_deref()
            .ok()
            .and_then(|l| l.strip_prefix("listening on "))
            .map(str::trim);
        match addr.map(str::parse::<SocketAddr>) {
            Some(Ok(addr)) => Ok(Server { child, addr }),
            _ => {
                let mut server = Server {
                    child,
                    addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                };
                // Its stdout closed without an address: it is exiting (a
                // refusal at start-up); give it a moment to be reaped.
                let closed = matches!(first, Err(mpsc::RecvTimeoutError::Disconnected));
                let mut exited = server.child.try_wait().ok().flatten();
                let until = Instant::now() + Duration::from_secs(2);
                while closed && exited.is_none() && Instant::now() < until {
                    thread::sleep(Duration::from_millis(10));
                    exited = server.child.try_wait().ok().flatten();
                }
                server.stop();
                let said = stderr.join().unwrap_or_default();
                let why = match (&first, exited) {
                    (Ok(line), _) => format!("unexpected first line {line:?}"),
                    (Err(_), Some(status)) => format!("exited ({status})"),
                    (Err(_), None) => format!("printed no address within {wait:?}"),
                };
                let said = said
                    .lines()
                    .last()
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default();
                Err(format!("{why}{said}"))
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server: SIGTERM, then SIGKILL after 2 s; always reaps it.
    pub fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = ring::signal(self.child.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// User + system CPU seconds of process `pid`, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / ring::clock_ticks_per_second() as f64)
}

/// TCP segments retransmitted by this machine so far (`RetransSegs` in `/proc/net/snmp`).
/// On loopback these only happen when packets are dropped, which disturbs a measurement.
pub fn tcp_retransmits() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let at = names.split_whitespace().position(|n| n == "RetransSegs")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// One load: what `bench` is told.
#[derive(Clone, Debug)]
pub struct Load {
    /// Connections.
    pub conns: usize,
    /// Message size.
    pub size: usize,
    /// Depth.
    pub depth: usize,
    /// Total paced rate, if any.
    pub rate: Option<f64>,
    /// Measured seconds.
    pub secs: f64,
    /// Warm-up seconds.
    pub warmup: f64,
    /// The load generator's client.
    pub client: crate::bench::client::ClientBackend,
}

/// What a bench child measured, with CPU times over its measured window.
pub struct Measured {
    /// The bench report.
    pub report: Report,
    /// Server CPU seconds within the window.
    pub server_cpu: Option<f64>,
    /// Load generator CPU seconds within the window.
    pub client_cpu: Option<f64>,
    /// Wall-clock length of the window, seconds.
    pub window: Option<f64>,
    /// TCP retransmissions on the machine during the run.
    pub retransmits: Option<u64>,
}

/// Runs `bench --json` against `server`; the server's CPU is read at the window's markers.
pub fn bench(launcher: &Launcher, server: &Server, load: &Load) -> Result<Measured, String> {
    let mut args: Vec<String> = vec!["bench".into(), "--json".into(), "--markers".into()];
    let mut opt = |k: &str, v: String| args.extend([format!("--{k}"), v]);
    opt("addr", server.addr.to_string());
    opt("conns", load.conns.to_string());
    opt("size", load.size.to_string());
    opt("depth", load.depth.to_string());
    opt("secs", load.secs.to_string());
    opt("warmup", load.warmup.to_string());
    opt("client-backend", load.client.name().to_string());
    if let Some(r) = load.rate {
        opt("rate", r.to_string());
    }
    let retrans_before = tcp_retransmits();
    let mut child = launcher
        .command(1, &args)
        .spawn()
        .map_err(|e| format!("bench: {e}"))?;
    let pid = child.id();
    let out = collect(child.stdout.take().expect("piped stdout"));
    let err = child.stderr.take().expect("piped stderr");
    let server_pid = server.child.id();
    let marks = thread::spawn(move || {
        let mut samples = Vec::new();
        let mut other = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.starts_with("overlapped-bench: measure") {
                samples.push((Instant::now(), cpu_seconds(server_pid), cpu_seconds(pid)));
            } else if other.len() < 4096 {
                other.push_str(&line);
                other.push('\n');
            }
        }
        (samples, other)
    });
    let limit =
        Duration::from_secs_f64(load.secs + load.warmup + 30.0 + load.conns as f64 / 1000.0);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let (samples, stderr) = marks.join().unwrap_or_default();
    let report: Report = match serde_json::from_str(stdout.lines().last().unwrap_or("")) {
        Ok(r) => r,
        Err(_) if status.is_none() => return Err(format!("bench did not finish within {limit:?}")),
        Err(_) => return Err(format!("bench gave no report: {}", stderr.trim())),
    };
    let (server_cpu, client_cpu, window) = match samples.as_slice() {
        [(t0, s0, c0), (t1, s1, c1)] => (
            s0.zip(*s1).map(|(a, b)| b - a),
            c0.zip(*c1).map(|(a, b)| b - a),
            Some((*t1 - *t0).as_secs_f64()),
        ),
        _ => (None, None, None),
    };
    let retransmits = retrans_before
        .zip(tcp_retransmits())
        .map(|(a, b)| b.saturating_sub(a));
    Ok(Measured {
        report,
        server_cpu,
        client_cpu,
        window,
        retransmits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_exits_at_once_is_reported_as_exited() {
        // `sh -c` takes the server's arguments as its own and fails at once
        // with a message, as a server that refuses to start does.
        let launcher = Launcher {
            exe: PathBuf::from("/bin/sh"),
            pin: false,
        };
        let mut args = vec!["-c".to_string(), "echo no backend here >&2; exit 1".into()];
        args.extend(server_args("event"));
        let why = Server::start_command(launcher.command(0, &args), Duration::from_secs(30))
            .err()
            .unwrap();
        assert_eq!(why, "exited (exit status: 1): no backend here");
    }
}
