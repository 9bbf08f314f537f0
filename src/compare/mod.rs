//! `overlapped compare`: runs each server (a child process of this program) under the same
//! loads, with the load generator (another child) pinned to another CPU, and compares them.
//!
//! Rounds are interleaved: every server runs a scenario once before any runs it again. Each
//! run gets a fresh server on a free loopback port, which is stopped and reaped afterwards.

mod charts;
pub mod child;
mod report;
pub mod scenario;

use std::path::PathBuf;
use std::time::Duration;

use child::{Launcher, Load, Server};
use report::{Results, Run};
use scenario::Scenario;

/// Every server `compare` knows, in table order.
pub const SERVERS: [&str; 3] = ["event", "routine", "tokio"];

/// Arguments of `overlapped compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Measured seconds per run.
    #[arg(long)]
    pub secs: Option<f64>,
    /// Rounds (the table shows medians over them).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Write results.json and SVG charts into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Servers to compare, comma-separated, from: event, routine, tokio.
    #[arg(long, value_delimiter = ',', default_value = "event,routine,tokio")]
    pub servers: Vec<String>,
    /// Scenarios to run, comma-separated names (default: all; see the table for names).
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Short runs: 1 s each, 1 round (unless --secs/--rounds say otherwise).
    #[arg(long)]
    pub quick: bool,
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
}

/// Runs `overlapped compare`.
pub fn run(args: CompareArgs) -> std::io::Result<()> {
    let unknown: Vec<&String> = args
        .servers
        .iter()
        .filter(|s| !SERVERS.contains(&s.as_str()))
        .collect();
    if !unknown.is_empty() || args.servers.is_empty() {
        eprintln!(
            "overlapped: unknown server(s) {unknown:?}; choose from {}",
            SERVERS.join(", ")
        );
        std::process::exit(2);
    }
    let secs = args.secs.unwrap_or(if args.quick { 1.0 } else { 5.0 });
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 3 });
    if !(secs.is_finite() && secs > 0.0) || rounds == 0 {
        eprintln!("overlapped: --secs must be positive and --rounds at least 1");
        std::process::exit(2);
    }
    let mut scenarios = scenario::all();
    if !args.scenarios.is_empty() {
        let names: Vec<&str> = scenarios.iter().map(|s| s.name).collect();
        if let Some(bad) = args.scenarios.iter().find(|s| !names.contains(&s.as_str())) {
            eprintln!(
                "overlapped: unknown scenario {bad:?}; choose from {}",
                names.join(", ")
            );
            std::process::exit(2);
        }
        scenarios.retain(|s| args.scenarios.iter().any(|a| a == s.name));
    }
    let plan = Plan {
        servers: args.servers,
        scenarios,
        secs,
        warmup: if args.quick { 0.3 } else { 1.0 },
        rounds,
        out: args.out,
    };
    execute(&plan)
}

/// Runs a plan: all runs, then the table, then the files.
pub fn execute(plan: &Plan) -> std::io::Result<()> {
    let _ = crate::bench::ring::raise_nofile_limit();
    let launcher = Launcher::new()?;
    if !launcher.pinned() {
        eprintln!(
            "note: not pinning CPUs (taskset missing or a single CPU); figures will be noisier"
        );
    }
    let total = plan.scenarios.len() * plan.rounds * plan.servers.len();
    eprintln!(
        "comparing {} on {} scenario(s), {} round(s) of {} s: {total} runs",
        plan.servers.join(", "),
        plan.scenarios.len(),
        plan.rounds,
        plan.secs
    );
    let mut runs = Vec::new();
    let mut dead: Vec<(String, String)> = Vec::new();
    for sc in &plan.scenarios {
        for round in 1..=plan.rounds {
            for server in &plan.servers {
                let failed = dead
                    .iter()
                    .find(|(s, _)| s == server)
                    .map(|(_, why)| why.clone());
                let run = match failed {
                    Some(why) => failed_run(sc, server, round, why),
                    None => one_run(&launcher, plan, sc, server, round),
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
    let summaries = report::summarise(&runs, &plan.scenarios, &plan.servers);
    report::print_table(&summaries, &runs, &plan.scenarios);
    if let Some(dir) = &plan.out {
        std::fs::create_dir_all(dir)?;
        let results = Results {
            pinned: launcher.pinned(),
            secs: plan.secs,
            rounds: plan.rounds,
            scenarios: &plan.scenarios,
            summaries: &summaries,
            runs: &runs,
        };
        let json = serde_json::to_string_pretty(&results).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("results.json"), json + "\n")?;
        charts::write(dir, &summaries, &plan.scenarios, &plan.servers)?;
        println!(
            "wrote {}/results.json, throughput.svg, latency.svg",
            dir.display()
        );
    }
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
fn one_run(launcher: &Launcher, plan: &Plan, sc: &Scenario, server: &str, round: usize) -> Run {
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
