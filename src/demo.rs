//! `overlapped demo`: a short comparison that needs no arguments and no set-up.

use crate::compare::{self, scenario, Plan, SERVERS};

/// Runs every server under two small loads, 3 s each, one round, and prints the table.
pub fn run() -> std::io::Result<()> {
    let plan = Plan {
        servers: SERVERS.iter().map(|s| s.to_string()).collect(),
        scenarios: scenario::demo(),
        secs: 3.0,
        warmup: 0.5,
        rounds: 1,
        out: None,
        client: None,
    };
    compare::execute(&plan)
}
