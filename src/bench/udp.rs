//! The UDP load (not written yet).

use super::stats::Report;
use super::Config;

/// Runs the UDP load described by `cfg`.
pub fn run(_cfg: &Config) -> std::io::Result<Report> {
    Err(std::io::Error::other("--proto udp is not yet supported"))
}
