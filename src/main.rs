//! `overlapped`: Winsock-style echo servers on io_uring, a load generator, and comparisons.

mod bench;
mod serve;

use clap::{Parser, Subcommand};

/// The overlapped program.
#[derive(Parser)]
#[command(name = "overlapped", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve TCP (or UDP) echo with one of the Winsock overlapped models.
    Serve(serve::ServeArgs),
    /// Load generator against any echo server.
    Bench(bench::BenchArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
    };
    if let Err(e) = result {
        eprintln!("overlapped: {e}");
        std::process::exit(1);
    }
}
