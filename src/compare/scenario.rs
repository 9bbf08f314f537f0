//! The loads a comparison runs.

use serde::Serialize;

/// One scenario: a shape of load.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// Short name, used in tables and charts.
    pub name: &'static str,
    /// Connections.
    pub conns: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Messages in flight per connection.
    pub depth: usize,
    /// Total paced rate (messages per second), or unpaced.
    pub rate: Option<f64>,
}

const fn s(name: &'static str, conns: usize, size: usize, depth: usize) -> Scenario {
    Scenario {
        name,
        conns,
        size,
        depth,
        rate: None,
    }
}

/// Every scenario of a full comparison.
pub fn all() -> Vec<Scenario> {
    vec![
        s("50x64B", 50, 64, 1),
        s("500x64B", 500, 64, 1),
        s("16x16KiB", 16, 16 * 1024, 1),
        s("50x64Bx16", 50, 64, 16),
        s("10000x64B", 10_000, 64, 1),
        Scenario {
            rate: Some(60_000.0),
            ..s("50x64B@60k", 50, 64, 1)
        },
    ]
}

/// The scenario names, each with its description: what `--scenarios`
/// accepts, listed in `compare --help`.
pub fn names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        all()
            .into_iter()
            .map(|s| clap::builder::PossibleValue::new(s.name).help(s.describe())),
    )
}

/// The small scenarios of the demo.
pub fn demo() -> Vec<Scenario> {
    vec![s("50x64B", 50, 64, 1), s("500x64B", 500, 64, 1)]
}

impl Scenario {
    /// A one-line description.
    pub fn describe(&self) -> String {
        let rate = self
            .rate
            .map(|r| format!(", paced at {r:.0} msgs/s"))
            .unwrap_or_default();
        format!(
            "{} conns x {} B, depth {}{rate}",
            self.conns, self.size, self.depth
        )
    }
}
