//! `overlapped serve`: echo servers in the Winsock overlapped models.

/// Arguments of `overlapped serve`.
#[derive(clap::Args)]
pub struct ServeArgs {}

/// Runs the server.
pub fn run(_args: ServeArgs) -> std::io::Result<()> {
    Ok(())
}
