//! `overlapped compare`: runs each server (a child process of this program) under the same
//! loads, with the load generator (another child) pinned to another CPU, and compares them.
//!
//! Rounds are interleaved: every server runs a scenario once before any runs it again. Each
//! run gets a fresh server on a free loopback port, which is stopped and reaped afterwards.

mod charts;
pub mod child;
mod report;
pub mod scenario;

use std::path::{Path, PathBuf};

use clap::builder::PossibleValuesParser;
use std::time::Duration;

use child::{Launcher, Load, Server};
use report::{Results, Run};
use scenario::Scenario;

use crate::bench::client::{self, ClientBackend, ClientChoice};
use crate::cli::{int_in, secs_in, usage_error, MAX_SECS};

/// Every server `compare` knows, in table order.
pub const SERVERS: [&str; 5] = ["event", "routine", "async", "tokio", "uring"];

/// The servers of [`SERVERS`] that run on the library (and so on its backend).
const LIBRARY_SERVERS: [&str; 3] = ["event", "routine", "async"];

/// Arguments of `overlapped compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Measured seconds per run [default: 5, or 1 with --quick] (from 0.01 to 86400).
    #[arg(long, value_parser = secs_in(0.01, MAX_SECS))]
    pub secs: Option<f64>,
    /// Rounds; the table shows medians over them [default: 3, or 1 with --quick]
    /// (from 1 to 100).
    #[arg(long, value_parser = int_in(1usize, 100))]
    pub rounds: Option<usize>,
    /// Write results.json and SVG charts into this directory (created if
    /// missing; checked before the first run).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Servers to compare, comma-separated: the library's models (event, routine, async), tokio
    /// (current_thread, one task per connection) and uring (a hand-written io_uring loop
    /// without the library: the floor).
    #[arg(long, value_delimiter = ',', default_value = "event,routine,tokio,uring",
          value_parser = PossibleValuesParser::new(SERVERS))]
    pub servers: Vec<String>,
    /// Scenarios to run, comma-separated [default: all of them].
    #[arg(long, value_delimiter = ',', value_parser = scenario::names())]
    pub scenarios: Vec<String>,
    /// Short runs: 1 s each, 1 round, 0.3 s warm-up (unless --secs/--rounds say otherwise).
    #[arg(long)]
    pub quick: bool,
    /// The library's backend: uring or epoll [default: io_uring if it can
    /// start here and has every opcode needed, else epoll; the environment
    /// variable OVERLAPPED_BACKEND=uring|epoll does the same]. Applies to the
    /// event, routine and async servers; the report names it.
    #[arg(long, value_enum)]
    pub backend: Option<crate::cli::BackendArg>,
    /// The load generator's client: uring or epoll [default: io_uring if it
    /// runs here, else epoll]. Every run of the comparison uses the same
    /// one; the table and results.json name it.
    #[arg(long, value_enum)]
    pub client_backend: Option<ClientBackend>,
}

/// A comparison to run.
pub struct Plan {
    /// Servers, by name.
    pub servers: Vec<String>,
    /// Scenarios.
    pub scenarios: Vec<Scenario>,
    /// Measured seconds per run.
    pub secs: f64,
    /// Warm-up seconds per run.
    pub warmup: f64,
    /// Rounds.
    pub rounds: usize,
    /// Where to write results and charts.
    pub out: Option<PathBuf>,
    /// The load generator's client, if forced.
    pub client: Option<ClientBackend>,
}

/// Runs `overlapped compare`.
pub fn run(args: CompareArgs) -> std::io::Result<()> {
    crate::cli::force_backend(args.backend);
    // clap has checked the names and ranges.
    let secs = args.secs.unwrap_or(if args.quick { 1.0 } else { 5.0 });
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 3 });
    let mut scenarios = scenario::all();
    if !args.scenarios.is_empty() {
        scenarios.retain(|s| args.scenarios.iter().any(|a| a == s.name));
    }
    let mut servers = args.servers;
    servers.dedup();
    let plan = Plan {
        servers,
        scenarios,
        secs,
        warmup: if args.quick { 0.3 } else { 1.0 },
        rounds,
        out: args.out,
        client: args.client_backend,
    };
    if let Some(dir) = &plan.out {
        if let Err(e) = check_out_dir(dir) {
            usage_error(&e);
        }
    }
    if crate::cli::only_checking() {
        return Ok(());
    }
    execute(&plan)
}

/// Makes sure results can be written into `dir` before anything runs: creates
/// it if missing, and writes (then removes) a probe file. The error names the path.
fn check_out_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        return Err(format!("--out {shown}: exists and is not a directory"));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--out {shown}: cannot create the directory: {e}"))?;
    let probe = dir.join(format!(".overlapped-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| format!("--out {shown}: cannot write into the directory: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Runs a plan: all runs, then the table, then the files.
pub fn execute(plan: &Plan) -> std::io::Result<()> {
    let _ = crate::bench::ring::raise_nofile_limit();
    let client = client::choose(plan.client).map_err(std::io::Error::other)?;
    let launcher = Launcher::new()?;
    eprintln!("overlapped servers' {}", crate::backend_line());
    eprintln!("load generator's client: {client}");
    let skipped = skipped_servers(&plan.servers, &client);
    for s in &skipped {
        eprintln!("  {}: skipped: {}", s.server, s.why);
    }
    let servers: Vec<String> = plan
        .servers
        .iter()
        .filter(|name| !skipped.iter().any(|s| &s.server == *name))
        .cloned()
        .collect();
    if servers.is_empty() {
        return Err(std::io::Error::other(
            "no server of the comparison can run here (see above)",
        ));
    }
    // The library's servers cannot start either: say why once, run nothing.
    if let Err(e) = overlapped::backend() {
        if servers
            .iter()
            .any(|s| LIBRARY_SERVERS.contains(&s.as_str()))
        {
            return Err(std::io::Error::other(crate::cli::setup_error_text(&e)));
        }
    }
    if !launcher.pinned() {
        eprintln!(
            "note: not pinning CPUs (taskset missing or a single CPU); figures will be noisier"
        );
    }
    let total = plan.scenarios.len() * plan.rounds * servers.len();
    eprintln!(
        "comparing {} on {} scenario(s), {} round(s) of {} s: {total} runs",
        servers.join(", "),
        plan.scenarios.len(),
        plan.rounds,
        plan.secs
    );
    let mut runs = Vec::new();
    let mut dead: Vec<(String, String)> = Vec::new();
    for sc in &plan.scenarios {
        for round in 1..=plan.rounds {
            for server in &servers {
                let failed = dead
                    .iter()
                    .find(|(s, _)| s == server)
                    .map(|(_, why)| why.clone());
                let run = match failed {
                    Some(why) => failed_run(sc, server, round, why),
                    None => one_run(&launcher, plan, client.backend, sc, server, round),
                };
                if let Some(why) = run
                    .failure
                    .as_ref()
                    .filter(|w| w.starts_with("failed to start"))
                {
                    if !dead.iter().any(|(s, _)| s == server) {
                        eprintln!("  {server}: {why}");
                        dead.push((server.clone(), why.clone()));
                    }
                }
                runs.push(run);
            }
        }
    }
    let summaries = report::summarise(&runs, &plan.scenarios, &servers);
    let servers_backend = report::ServersBackend::current();
    let setting = report::Setting {
        servers: &servers_backend,
        client: &client,
        skipped: &skipped,
    };
    report::print_table(&summaries, &runs, &plan.scenarios, &setting);
    if let Some(dir) = &plan.out {
        let shown = Shown {
            servers: &servers,
            summaries: &summaries,
            runs: &runs,
            setting: &setting,
        };
        write_out(dir, plan, &launcher, &shown).map_err(|e| {
            std::io::Error::other(format!("cannot write results into {}: {e}", dir.display()))
        })?;
    }
    let failed = runs.iter().filter(|r| r.failure.is_some()).count();
    if failed > 0 {
        return Err(std::io::Error::other(format!(
            "{failed} of {} runs failed (see the table)",
            runs.len()
        )));
    }
    Ok(())
}

/// What a comparison measured, for its files.
struct Shown<'a> {
    servers: &'a [String],
    summaries: &'a [report::Summary],
    runs: &'a [Run],
    setting: &'a report::Setting<'a>,
}

/// Servers of `servers` that cannot run here, and why: `uring` (the bare loop on the
/// `io-uring` crate) where io_uring cannot run. The others run on the library's backend,
/// which falls back to epoll by itself.
fn skipped_servers(servers: &[String], client: &ClientChoice) -> Vec<report::Skipped> {
    if !servers.iter().any(|s| s == "uring") || client.backend == ClientBackend::Uring {
        return Vec::new();
    }
    match crate::bench::ring::probe() {
        Ok(()) => Vec::new(),
        Err(why) => vec![report::Skipped {
            server: "uring".into(),
            why: format!(
                "serve-uring is a loop written directly on io_uring, which cannot run here: {why}"
            ),
        }],
    }
}

fn write_out(dir: &Path, plan: &Plan, launcher: &Launcher, shown: &Shown) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let results = Results {
        pinned: launcher.pinned(),
        secs: plan.secs,
        rounds: plan.rounds,
        servers_backend: shown.setting.servers,
        client: shown.setting.client,
        skipped: shown.setting.skipped,
        scenarios: &plan.scenarios,
        summaries: shown.summaries,
        runs: shown.runs,
    };
    let json = serde_json::to_string_pretty(&results).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("results.json"), json + "\n")?;
    charts::write(dir, shown.summaries, &plan.scenarios, shown.servers)?;
    println!(
        "wrote {}/results.json, throughput.svg, latency.svg",
        dir.display()
    );
    Ok(())
}

fn failed_run(sc: &Scenario, server: &str, round: usize, why: String) -> Run {
    Run {
        scenario: sc.name.into(),
        server: server.into(),
        round,
        failure: Some(why),
        report: None,
        server_cpu_s: None,
        client_cpu_s: None,
        window_s: None,
        retransmits: None,
    }
}

/// Starts `server`, loads it with scenario `sc`, stops it.
fn one_run(
    launcher: &Launcher,
    plan: &Plan,
    client: ClientBackend,
    sc: &Scenario,
    server: &str,
    round: usize,
) -> Run {
    eprint!("  {} round {round}: {server} ... ", sc.name);
    let mut srv = match Server::start(launcher, server, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("failed to start");
            return failed_run(sc, server, round, format!("failed to start: {why}"));
        }
    };
    let load = Load {
        conns: sc.conns,
        size: sc.size,
        depth: sc.depth,
        rate: sc.rate,
        secs: plan.secs,
        warmup: plan.warmup,
        client,
    };
    let measured = child::bench(launcher, &srv, &load);
    srv.stop();
    match measured {
        Ok(m) => {
            let r = &m.report;
            eprintln!(
                "{:.0} msgs/s, p99 {} us, {} errors",
                r.msgs_per_sec, r.p99_us, r.errors
            );
            Run {
                failure: r.error.clone().filter(|_| r.msgs == 0),
                report: Some(m.report),
                server_cpu_s: m.server_cpu,
                client_cpu_s: m.client_cpu,
                window_s: m.window,
                retransmits: m.retransmits,
                ..failed_run(sc, server, round, String::new())
            }
        }
        Err(why) => {
            eprintln!("{why}");
            failed_run(sc, server, round, why)
        }
    }
}
