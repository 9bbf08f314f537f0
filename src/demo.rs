//! `overlapped demo`.

/// Runs the demo.
pub fn run() -> std::io::Result<()> {
    Ok(())
}
