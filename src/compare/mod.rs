//! `overlapped compare`.

/// Arguments of `overlapped compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {}

/// Runs the comparison.
pub fn run(_args: CompareArgs) -> std::io::Result<()> {
    Ok(())
}
