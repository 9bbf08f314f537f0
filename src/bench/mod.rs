//! `overlapped bench`: the load generator.

/// Arguments of `overlapped bench`.
#[derive(clap::Args)]
pub struct BenchArgs {}

/// Runs the load generator.
pub fn run(_args: BenchArgs) -> std::io::Result<()> {
    Ok(())
}
