//! Results of a comparison: every run, the medians, the table and `results.json`.

use serde::Serialize;

use super::scenario::Scenario;
use crate::bench::client::ClientChoice;
use crate::bench::stats::Report;

/// A server of the comparison that cannot run here.
#[derive(Serialize, Clone, Debug)]
pub struct Skipped {
    /// Server name.
    pub server: String,
    /// Why it cannot run.
    pub why: String,
}

/// The library's backend the servers ran on (each server, a child process, makes the same
/// choice: `--backend` reaches it as `OVERLAPPED_BACKEND`), and why.
#[derive(Serialize, Clone, Debug)]
pub struct ServersBackend {
    /// `uring`, `epoll`, or `none` (the library cannot start here).
    pub backend: String,
    /// Why: forced, io_uring works, or why io_uring cannot run.
    pub why: String,
}

impl ServersBackend {
    /// The backend this process (and so each server it starts) runs on.
    pub fn current() -> Self {
        match overlapped::backend() {
            Ok(b) => ServersBackend {
                backend: b.kind.to_string(),
                why: crate::cli::backend_reason(&b),
            },
            Err(e) => ServersBackend {
                backend: "none".into(),
                why: crate::cli::setup_error_text(&e),
            },
        }
    }
}

/// How the figures were taken: the servers' backend, the load generator's client, and the
/// servers left out.
pub struct Setting<'a> {
    /// The library's backend under the servers that run on it.
    pub servers: &'a ServersBackend,
    /// The client every run used.
    pub client: &'a ClientChoice,
    /// Servers that could not run here.
    pub skipped: &'a [Skipped],
}

/// One bench run of one server in one scenario and round.
#[derive(Serialize, Clone, Debug)]
pub struct Run {
    /// Scenario name.
    pub scenario: String,
    /// Server name.
    pub server: String,
    /// Round, from 1.
    pub round: usize,
    /// Why the run failed, if it did (the server did not start, bench gave no report...).
    pub failure: Option<String>,
    /// The bench report.
    pub report: Option<Report>,
    /// Server CPU seconds in the measured window.
    pub server_cpu_s: Option<f64>,
    /// Load generator CPU seconds in the measured window.
    pub client_cpu_s: Option<f64>,
    /// Wall-clock length of the measured window, seconds.
    pub window_s: Option<f64>,
    /// TCP retransmissions on the machine during the run (loopback drops).
    pub retransmits: Option<u64>,
}

impl Run {
    fn cpu_us_per_msg(&self) -> Option<f64> {
        let msgs = self.report.as_ref()?.msgs;
        (msgs > 0).then(|| self.server_cpu_s.map(|c| c * 1e6 / msgs as f64))?
    }
}

/// Medians of one server in one scenario.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Server name.
    pub server: String,
    /// Runs that produced a report.
    pub runs: usize,
    /// Why no run produced a report, if none did.
    pub failure: Option<String>,
    /// Median messages per second.
    pub msgs_per_sec: f64,
    /// Median of p50 latency, microseconds.
    pub p50_us: f64,
    /// Median of p99 latency, microseconds.
    pub p99_us: f64,
    /// Median of p99.9 latency, microseconds.
    pub p999_us: f64,
    /// Median server CPU microseconds per message.
    pub cpu_us_per_msg: Option<f64>,
    /// Median share of one CPU the server used.
    pub server_util: Option<f64>,
    /// Median share of one CPU the load generator used.
    pub client_util: Option<f64>,
    /// Errors over all runs.
    pub errors: u64,
    /// Messages per second relative to tokio.
    pub vs_tokio_msgs: Option<f64>,
    /// CPU per message relative to tokio.
    pub vs_tokio_cpu: Option<f64>,
}

/// Median of the values (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Summarises `runs` per scenario and server, in the given orders.
pub fn summarise(runs: &[Run], scenarios: &[Scenario], servers: &[String]) -> Vec<Summary> {
    let mut out = Vec::new();
    for sc in scenarios {
        let first = out.len();
        for server in servers {
            let mine: Vec<&Run> = runs
                .iter()
                .filter(|r| r.scenario == sc.name && &r.server == server)
                .collect();
            let ok: Vec<&Run> = mine
                .iter()
                .copied()
                .filter(|r| r.report.is_some() && r.failure.is_none())
                .collect();
            let pick =
                |f: &dyn Fn(&Run) -> Option<f64>| median(ok.iter().filter_map(|r| f(r)).collect());
            let rep =
                |f: fn(&Report) -> f64| pick(&|r: &Run| r.report.as_ref().map(f)).unwrap_or(0.0);
            out.push(Summary {
                scenario: sc.name.to_string(),
                server: server.clone(),
                runs: ok.len(),
                failure: if ok.is_empty() {
                    mine.iter().find_map(|r| r.failure.clone())
                } else {
                    None
                },
                msgs_per_sec: rep(|r| r.msgs_per_sec),
                p50_us: rep(|r| r.p50_us as f64),
                p99_us: rep(|r| r.p99_us as f64),
                p999_us: rep(|r| r.p999_us as f64),
                cpu_us_per_msg: pick(&|r: &Run| r.cpu_us_per_msg()),
                server_util: pick(&|r: &Run| Some(r.server_cpu_s? / r.window_s?)),
                client_util: pick(&|r: &Run| Some(r.client_cpu_s? / r.window_s?)),
                errors: ok
                    .iter()
                    .filter_map(|r| r.report.as_ref())
                    .map(|r| r.errors)
                    .sum(),
                ..Summary::default()
            });
        }
        let base = out[first..]
            .iter()
            .find(|s| s.server == "tokio" && s.runs > 0)
            .cloned();
        if let Some(base) = base {
            for s in out[first..].iter_mut().filter(|s| s.runs > 0) {
                s.vs_tokio_msgs =
                    (base.msgs_per_sec > 0.0).then(|| s.msgs_per_sec / base.msgs_per_sec);
                s.vs_tokio_cpu = base
                    .cpu_us_per_msg
                    .zip(s.cpu_us_per_msg)
                    // Below one clock tick tokio's CPU reads 0: no ratio then, not NaN or inf.
                    .filter(|&(b, _)| b > 0.0)
                    .map(|(b, c)| c / b);
            }
        }
    }
    out
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

fn percent(v: Option<f64>) -> String {
    v.map_or("-".into(), |u| format!("{:.0}%", u * 100.0))
}

/// Prints the table of medians, one block per scenario.
pub fn print_table(summaries: &[Summary], runs: &[Run], scenarios: &[Scenario], setting: &Setting) {
    for sc in scenarios {
        println!("\n{}  ({})", sc.name, sc.describe());
        println!(
            "  {:<9} {:>11} {:>9} {:>9} {:>11} {:>8} {:>8} {:>8} {:>9} {:>7}",
            "server",
            "msgs/s",
            "p50 us",
            "p99 us",
            "CPU us/msg",
            "srv CPU",
            "gen CPU",
            "x tokio",
            "CPU x tk",
            "errors"
        );
        for s in summaries.iter().filter(|s| s.scenario == sc.name) {
            if let Some(f) = &s.failure {
                println!("  {:<9} failed: {f}", s.server);
                continue;
            }
            println!(
                "  {:<9} {:>11.0} {:>9.0} {:>9.0} {:>11} {:>8} {:>8} {:>8} {:>9} {:>7}",
                s.server,
                s.msgs_per_sec,
                s.p50_us,
                s.p99_us,
                opt(s.cpu_us_per_msg, 2),
                percent(s.server_util),
                percent(s.client_util),
                opt(s.vs_tokio_msgs, 2),
                opt(s.vs_tokio_cpu, 2),
                s.errors
            );
        }
        for s in setting.skipped {
            println!("  {:<9} skipped: {}", s.server, s.why);
        }
        let retrans: u64 = runs
            .iter()
            .filter(|r| r.scenario == sc.name)
            .filter_map(|r| r.retransmits)
            .sum();
        if retrans > 0 {
            println!("  note: {retrans} TCP retransmissions during these runs (loopback drops); figures may be disturbed");
        }
    }
    println!(
        "\n(medians over rounds; CPU us/msg: the server's user+system CPU time in the measured \
         window per message;\n srv/gen CPU: share of one CPU used by the server / the load \
         generator; x tokio: ratio to serve-tokio)"
    );
    println!(
        "figures measured by the load generator's client on {}; the library's servers on {} ({})",
        setting.client, setting.servers.backend, setting.servers.why
    );
}

/// Everything `results.json` holds.
#[derive(Serialize)]
pub struct Results<'a> {
    /// Whether servers and the load generator were pinned to separate CPUs.
    pub pinned: bool,
    /// Measured seconds per run.
    pub secs: f64,
    /// Rounds.
    pub rounds: usize,
    /// The library's backend under its servers (event, routine, port, ...), and why.
    pub servers_backend: &'a ServersBackend,
    /// The load generator's client, and why it was chosen.
    pub client: &'a ClientChoice,
    /// Servers left out because they cannot run here.
    pub skipped: &'a [Skipped],
    /// The scenarios.
    pub scenarios: &'a [Scenario],
    /// Medians.
    pub summaries: &'a [Summary],
    /// Every run.
    pub runs: &'a [Run],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(server: &str, round: usize, msgs_per_sec: f64, cpu: f64) -> Run {
        let report = Report {
            msgs: 1000,
            msgs_per_sec,
            p99_us: 100 * round as u64,
            ..Report::default()
        };
        Run {
            scenario: "s".into(),
            server: server.into(),
            round,
            failure: None,
            report: Some(report),
            server_cpu_s: Some(cpu),
            client_cpu_s: Some(0.5),
            window_s: Some(1.0),
            retransmits: Some(0),
        }
    }

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        let scenarios = [Scenario {
            name: "s",
            conns: 1,
            size: 1,
            depth: 1,
            rate: None,
        }];
        let servers = [
            "event".to_string(),
            "tokio".to_string(),
            "routine".to_string(),
        ];
        let mut runs = vec![
            run("tokio", 1, 100.0, 0.01),
            run("tokio", 2, 300.0, 0.01),
            run("tokio", 3, 200.0, 0.01),
            run("event", 1, 400.0, 0.02),
        ];
        runs.push(Run {
            failure: Some("failed to start: exited".into()),
            report: None,
            ..run("routine", 1, 0.0, 0.0)
        });
        let sums = summarise(&runs, &scenarios, &servers);
        let tokio = &sums[1];
        assert_eq!(
            (tokio.runs, tokio.msgs_per_sec, tokio.p99_us),
            (3, 200.0, 200.0)
        );
        assert_eq!(tokio.cpu_us_per_msg, Some(10.0));
        let event = &sums[0];
        assert_eq!(event.vs_tokio_msgs, Some(2.0));
        assert_eq!(event.vs_tokio_cpu, Some(2.0));
        assert_eq!(sums[2].runs, 0);
        assert!(sums[2]
            .failure
            .as_deref()
            .unwrap()
            .starts_with("failed to start"));
    }
}
