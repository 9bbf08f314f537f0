//! `overlapped`: Winsock-style echo servers on io_uring, a load generator, and comparisons.

mod bench;
mod cli;
mod compare;
mod demo;
mod http;
mod process;
mod serve;
mod soak;
mod tokio_echo;
mod uring_echo;
mod watch;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// The line servers print after `listening on ...`: which backend runs and
/// why (`backend: epoll (io_uring_setup: EPERM (Operation not permitted))`).
pub(crate) fn backend_line() -> String {
    match overlapped::backend() {
        Ok(b) => format!("backend: {}", cli::backend_text(&b)),
        Err(e) => format!("backend: none ({})", cli::setup_error_text(&e)),
    }
}

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
    /// TCP echo server on tokio (the baseline).
    ServeTokio(tokio_echo::TokioEchoArgs),
    /// TCP echo server written directly on io_uring, without the library (the floor).
    ServeUring(uring_echo::UringEchoArgs),
    /// Benchmark the servers against each other.
    Compare(compare::CompareArgs),
    /// A short comparison, no arguments.
    Demo,
    /// A static-file HTTP/1.1 server: every answer is sent with TransmitFile.
    Http(http::HttpArgs),
    /// Both echo servers under a churn of misbehaving clients; fails on a wrong byte or a leak.
    Soak(soak::SoakArgs),
    /// Print address, route, resolver and provider changes as they happen (WSAIoctl, WSANSPIoctl, WSAProviderConfigChange).
    Watch(watch::WatchArgs),
}

/// A bad `OVERLAPPED_BACKEND` is a usage error, exit 2, like a bad `--backend` (clap's),
/// unless `--backend` overrides it. `serve-tokio` and `serve-uring` do not read it.
fn check_backend_var(matches: &clap::ArgMatches) {
    let Some((name, sub)) = matches.subcommand() else {
        return;
    };
    if matches!(name, "serve-tokio" | "serve-uring")
        || matches!(sub.try_get_one::<cli::BackendArg>("backend"), Ok(Some(_)))
    {
        return;
    }
    if let Some(v) = std::env::var_os(overlapped::BACKEND_VAR) {
        if v != "uring" && v != "epoll" {
            let v = v.to_string_lossy().into_owned();
            cli::usage_error(&overlapped::SetupError::BadBackend(v).to_string());
        }
    }
}

fn main() {
    cli::quiet_on_broken_pipe();
    // `--port -1` is a bad value of --port, not an unknown option.
    let matches = Cli::command()
        .mut_subcommands(|s| s.allow_negative_numbers(true))
        .get_matches();
    cli::remember_given(&matches);
    check_backend_var(&matches);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
        Command::ServeTokio(args) => tokio_echo::run(args),
        Command::ServeUring(args) => uring_echo::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Demo => demo::run(),
        Command::Soak(args) => soak::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Http(args) => http::run(args),
    };
    if let Err(e) = result {
        eprintln!("overlapped: {e}");
        std::process::exit(1);
    }
}
