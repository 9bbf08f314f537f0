//! `overlapped serve`: echo servers in the Winsock overlapped models.
//!
//! By default (`--accept ex`) the workers also take the connections, with
//! `AcceptEx` posted on the listener: there is no accepting thread.
//! `--accept thread` is the book's shape: a thread blocked in `accept` hands
//! each new client over. `--model event` is Overlapped (1): one worker waits
//! on every client's event at once. `--model routine` is Overlapped (2): one
//! worker sits in an alertable wait and completion routines do the echoing.
//! `--model port` is the I/O completion port server: `--threads` workers on
//! one port, any of them serving any client (and taking the accepts'
//! packets, which carry the listener's key). `--model async` is the same
//! echo written as `async` code on the library's executor (`block_on`),
//! taking connections with `accept_ex_async` (or, with `--accept thread`,
//! fed by an accepting thread).

pub(crate) mod acceptor;
mod event;
mod futures;
pub(crate) mod port;
mod routine;
pub(crate) mod shared;
mod udp;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use clap::ValueEnum;
use overlapped::Socket;

use crate::cli::{int_in, usage_error};
pub use acceptor::AcceptMode;
use acceptor::Acceptor;

/// The notification model a server uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// Overlapped (1): event objects and wait-for-multiple-events.
    Event,
    /// Overlapped (2): completion routines and alertable waits.
    Routine,
    /// I/O completion port: `--threads` workers on one port.
    Port,
    /// `async`/`await`: one task per client on the library's executor.
    Async,
}

/// The transport a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Proto {
    /// TCP stream echo.
    Tcp,
    /// UDP datagram echo: each datagram goes back to its sender.
    Udp,
}

/// Arguments of `overlapped serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The notification model.
    #[arg(long, value_enum, default_value = "event")]
    pub model: Model,
    /// The transport.
    #[arg(long, value_enum, default_value = "tcp")]
    pub proto: Proto,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub addr: IpAddr,
    /// Port to listen on (0 picks a free one; the first line of output says
    /// which) (from 0 to 65535).
    #[arg(long, default_value_t = 5150, value_parser = int_in(0u16, u16::MAX))]
    pub port: u16,
    /// Bytes per receive buffer, for both protocols [default: 16384 for TCP,
    /// as the tokio baseline reads; 65536 for UDP, so the largest datagram
    /// fits: a datagram larger than the buffer is echoed cut to its size]
    /// (from 1 to 1048576).
    #[arg(long, value_parser = int_in(1usize, MAX_BUFFER))]
    pub buffer: Option<usize>,
    /// Worker threads on the completion port (`--model port` only; default:
    /// the number of CPUs). It is also the port's concurrency value (from 1
    /// to 1024).
    #[arg(long, value_parser = int_in(1usize, 1024))]
    pub threads: Option<usize>,
    /// How connections are taken: `ex` (`AcceptEx` posted by the worker, no
    /// accepting thread) or `thread` (the book's accepting thread) [default:
    /// ex].
    #[arg(long, value_enum)]
    pub accept: Option<AcceptMode>,
    /// `AcceptEx` kept posted on the listener (`--accept ex` only) (from 1 to
    /// 4096) [default: 64].
    #[arg(long, value_parser = int_in(1usize, 4096))]
    pub backlog_posts: Option<usize>,
    /// Each `AcceptEx` also receives the client's first message
    /// (receive-with-accept; `--accept ex` only).
    #[arg(long)]
    pub first_data: bool,
    /// The library's backend: uring or epoll [default: io_uring if it can
    /// start here and has every opcode needed, else epoll; the environment
    /// variable OVERLAPPED_BACKEND=uring|epoll does the same]. The second
    /// line of output says which runs and why.
    #[arg(long, value_enum)]
    pub backend: Option<crate::cli::BackendArg>,
}

/// The largest `--buffer`: 1 MiB per receive (the TCP server holds one per
/// client, the UDP server [`udp::PENDING`]).
pub const MAX_BUFFER: usize = 1 << 20;

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> std::io::Result<()> {
    crate::cli::force_backend(args.backend);
    let buffer = args.buffer.unwrap_or(match args.proto {
        Proto::Tcp => 16 * 1024,
        Proto::Udp => udp::BUFFER,
    });
    let threads = match (args.model, args.threads) {
        (Model::Port, None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        (Model::Port, Some(n)) => n,
        (_, Some(_)) => usage_error(
            "--threads applies to --model port only (the event and routine servers have one worker)",
        ),
        (_, None) => 1,
    };
    if args.model == Model::Port && args.proto == Proto::Udp {
        usage_error("--model port serves TCP only (--proto tcp)");
    }
    if args.model == Model::Async && args.proto == Proto::Udp {
        usage_error("--model async serves TCP only (--proto tcp)");
    }
    let accept = match (args.model, args.proto, args.accept) {
        (_, Proto::Udp, Some(_)) => usage_error("--accept applies to TCP only"),
        (_, _, mode) => mode.unwrap_or(AcceptMode::Ex),
    };
    if accept != AcceptMode::Ex && (args.backlog_posts.is_some() || args.first_data) {
        usage_error("--backlog-posts and --first-data need --accept ex");
    }
    if crate::cli::only_checking() {
        return Ok(());
    }
    crate::cli::startup()?;
    let _ = crate::bench::ring::raise_nofile_limit();
    let bind = SocketAddr::new(args.addr, args.port);
    if args.proto == Proto::Udp {
        return udp::run(bind, args.model, buffer);
    }
    let listener = Socket::listen_tcp(&bind, 4096)
        .map_err(|e| std::io::Error::other(format!("cannot listen on {bind}: {e}")))?;
    let local = listener.local_addr().map_err(std::io::Error::other)?;
    {
        // Both lines in one write: a reader that takes the first line and
        // closes the pipe then never makes the second one fail.
        let mut out = std::io::stdout().lock();
        let lines = format!("listening on {local}\n{}\n", crate::backend_line());
        out.write_all(lines.as_bytes())?;
        out.flush()?;
    }
    if args.model == Model::Port {
        let accept = port::AcceptArgs {
            mode: accept,
            posts: args.backlog_posts.unwrap_or(64),
            first_data: args.first_data,
        };
        return port::serve(listener, threads, buffer, accept);
    }
    if args.model == Model::Async {
        let posts = args.backlog_posts.unwrap_or(64);
        return futures::serve(listener, buffer, accept, posts, args.first_data);
    }
    let (shared, acceptor) = match accept {
        AcceptMode::Thread => (shared::Shared::start(listener)?, None),
        AcceptMode::Ex => {
            let posts = args.backlog_posts.unwrap_or(64);
            let acceptor = Acceptor::new(listener, posts, args.first_data, buffer);
            (shared::Shared::start_signals_only()?, Some(acceptor))
        }
    };
    match args.model {
        Model::Event => event::serve(shared, acceptor, buffer),
        _ => routine::serve(shared, acceptor, buffer),
    }
}
