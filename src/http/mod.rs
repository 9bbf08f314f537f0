//! `overlapped http`: a static-file HTTP/1.1 server whose every response is
//! sent with `TransmitFile` (head = the response headers, then the file in
//! calls of at most 1 MiB; nothing of the file is read into the program's
//! memory).
//!
//! The shape is the echo servers': an accepting thread hands new clients to
//! one worker, which does all the I/O in the chosen model. `--model event`
//! waits on every client's event (Overlapped (1)); `--model routine` runs
//! completion routines in an alertable wait (Overlapped (2)). `--model port`
//! has no accepting thread: `AcceptEx` packets and every connection's
//! completions go to one I/O completion port, served by `--threads` workers.

mod conn;
mod event;
mod port;
mod resolve;
mod response;
mod routine;

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::os::fd::AsFd;

use overlapped::{Socket, TransmitFileBuffers, TransmitFlags, WsaResult};

use crate::cli::{int_in, secs_in};
use crate::serve::shared::Shared;
use conn::{Limits, Site};

/// The notification model of the HTTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HttpModel {
    /// Overlapped (1): event objects and wait-for-multiple-events.
    Event,
    /// Overlapped (2): completion routines and alertable waits.
    Routine,
    /// I/O completion port: `--threads` workers on one port, `AcceptEx`-fed.
    Port,
}

/// Arguments of `overlapped http`.
#[derive(clap::Args, Debug)]
pub struct HttpArgs {
    /// The directory to serve (no path ever leads outside it).
    #[arg(long)]
    pub root: PathBuf,
    /// The notification model.
    #[arg(long, value_enum, default_value = "event")]
    pub model: HttpModel,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub addr: IpAddr,
    /// Port to listen on (0 picks a free one; the first line of output says
    /// which) (from 0 to 65535).
    #[arg(long, default_value_t = 8080, value_parser = int_in(0u16, u16::MAX))]
    pub port: u16,
    /// Bytes of request line and headers per request at most; more is
    /// answered 431 (414 when the request line alone is longer) and the
    /// connection closed (from 256 to 1048576).
    #[arg(long, default_value_t = 8192, value_parser = int_in(256usize, 1 << 20))]
    pub max_header: usize,
    /// Requests per connection at most; the last one's answer closes it
    /// (from 1 to 1000000).
    #[arg(long, default_value_t = 1000, value_parser = int_in(1u32, 1_000_000))]
    pub max_requests: u32,
    /// Seconds a request may take to arrive in full, from its first byte
    /// (the first request: from the connection's start); a slower client is
    /// closed, with a log line (from 0.1 to 3600).
    #[arg(long, default_value_t = 10.0, value_parser = secs_in(0.1, 3600.0))]
    pub header_timeout: f64,
    /// Seconds a kept-alive connection may wait idle for its next request
    /// before it is closed, with a log line (from 0.1 to 3600).
    #[arg(long, default_value_t = 30.0, value_parser = secs_in(0.1, 3600.0))]
    pub idle_timeout: f64,
    /// Seconds one send of an answer may take: answers go out in sends of
    /// at most 1 MiB of the file, and a client that takes longer to accept
    /// one (it stopped reading, or reads slower than 1 MiB per this time)
    /// is closed, with a log line (from 0.1 to 3600).
    #[arg(long, default_value_t = 60.0, value_parser = secs_in(0.1, 3600.0))]
    pub send_timeout: f64,
    /// Connections open at once at most; a connection beyond it is closed
    /// as soon as it is accepted, before anything is read, with a log line
    /// (from 1 to 1000000).
    #[arg(long, default_value_t = 4096, value_parser = int_in(1usize, 1_000_000))]
    pub max_conns: usize,
    /// Bytes of an answer a connection's socket holds not yet sent, at
    /// most (`TCP_NOTSENT_LOWAT`): a send waits until the peer's window
    /// takes what is queued, so large files go out as the client reads
    /// them rather than piling up in the socket; 0 leaves the system's
    /// default (from 0 to 1073741824).
    #[arg(long, default_value_t = 65536, value_parser = int_in(0u32, 1 << 30))]
    pub notsent_lowat: u32,
    /// Whether each connection is put in non-blocking mode (`FIONBIO`),
    /// which the server's overlapped calls ignore but which lets the
    /// library send a small answer whose file is in the page cache inline
    /// (`send` + `sendfile` in the call, as nginx does) instead of through
    /// a pipe and the kernel's io_uring workers.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub nonblocking: bool,
    /// Worker threads on the completion port (`--model port` only; default:
    /// the number of CPUs). It is also the port's concurrency value (from 1
    /// to 1024).
    #[arg(long, value_parser = int_in(1usize, 1024))]
    pub threads: Option<usize>,
    /// The library's backend: uring or epoll [default: io_uring if it can
    /// start here and has every opcode needed, else epoll; the environment
    /// variable OVERLAPPED_BACKEND=uring|epoll does the same]. The second
    /// line of output says which runs and why.
    #[arg(long, value_enum)]
    pub backend: Option<crate::cli::BackendArg>,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: HttpArgs) -> std::io::Result<()> {
    crate::cli::force_backend(args.backend);
    let root = args
        .root
        .canonicalize()
        .map_err(|e| std::io::Error::other(format!("--root {}: {e}", args.root.display())))?;
    if !root.is_dir() {
        return Err(std::io::Error::other(format!(
            "--root {}: not a directory",
            args.root.display()
        )));
    }
    let threads = match (args.model, args.threads) {
        (HttpModel::Port, None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        (HttpModel::Port, Some(n)) => n,
        (_, Some(_)) => crate::cli::usage_error(
            "--threads applies to --model port only (the event and routine servers have one worker)",
        ),
        (_, None) => 1,
    };
    if crate::cli::only_checking() {
        return Ok(());
    }
    crate::cli::startup()?;
    let _ = crate::bench::ring::raise_nofile_limit();
    let bind = SocketAddr::new(args.addr, args.port);
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
    let site = Arc::new(Site {
        root: resolve::Root::open(root)?,
        limits: Limits {
            max_header: args.max_header,
            max_requests: args.max_requests,
            header_timeout: Duration::from_secs_f64(args.header_timeout),
            idle_timeout: Duration::from_secs_f64(args.idle_timeout),
            send_timeout: Duration::from_secs_f64(args.send_timeout),
            max_conns: args.max_conns,
            notsent_lowat: args.notsent_lowat,
            nonblocking: args.nonblocking,
        },
    });
    match args.model {
        HttpModel::Event => event::serve(Shared::start(listener)?, site),
        HttpModel::Routine => routine::serve(Shared::start(listener)?, site),
        HttpModel::Port => port::serve(listener, threads, site),
    }
}

/// How often each model looks for connections past their deadline: a
/// tenth of the shortest timeout, between 10 ms and 1 s.
fn sweep_interval(site: &Site) -> Duration {
    let l = &site.limits;
    let shorter = l.header_timeout.min(l.idle_timeout).min(l.send_timeout);
    (shorter / 10).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Receive buffer per connection.
const RECV_BUFFER: usize = 4096;
/// File bytes per `TransmitFile` call at most: the unit of the send
/// timeout (a call that does not complete within `--send-timeout` closes
/// the connection). Small enough that a client reading at 17 KiB/s keeps
/// up with the default 60 s; large enough that a 1 MiB answer is one call.
const CHUNK: u64 = 1 << 20;

/// What is left to send of an answer: the file range, and whether the
/// connection closes after it. `Send` (the port model's workers take turns
/// on a connection); the `Arc` costs one uncontended increment per call.
#[derive(Default)]
struct Outgoing {
    file: Option<Arc<File>>,
    offset: u64,
    left: u64,
    close: bool,
}

/// The file of one `TransmitFile` call: lent (more calls follow) or, on
/// the answer's last call, given to the operation (no duplicate made; the
/// operation closes it).
enum ChunkFile {
    Lent(Arc<File>),
    Given(File),
}

/// The arguments of the next `TransmitFile` of an answer.
struct Chunk {
    file: Option<ChunkFile>,
    offset: u64,
    len: u32,
    buffers: Option<TransmitFileBuffers>,
    flags: TransmitFlags,
}

impl Outgoing {
    /// The next call: `head` (empty after the first) and up to `CHUNK` file
    /// bytes; `TF_DISCONNECT` on the last one of a closing answer.
    fn chunk(&mut self, head: Vec<u8>) -> Chunk {
        let last = self.left <= CHUNK;
        let file = if last {
            self.file.take().map(|f| match Arc::try_unwrap(f) {
                Ok(f) => ChunkFile::Given(f),
                Err(f) => ChunkFile::Lent(f),
            })
        } else {
            self.file.clone().map(ChunkFile::Lent)
        };
        let (offset, len) = (self.offset, self.left.min(CHUNK));
        Chunk {
            file,
            offset,
            len: len as u32,
            buffers: (!head.is_empty()).then_some(TransmitFileBuffers {
                head,
                tail: Vec::new(),
            }),
            flags: if self.close && last {
                TransmitFlags::DISCONNECT
            } else {
                TransmitFlags::empty()
            },
        }
    }

    /// A new answer's file range.
    fn new(file: Option<(File, u64, u64)>, close: bool) -> Outgoing {
        match file {
            Some((f, offset, left)) => Outgoing {
                file: Some(Arc::new(f)),
                offset,
                left,
                close,
            },
            None => Outgoing {
                close,
                ..Outgoing::default()
            },
        }
    }

    /// A call completed: true while file bytes remain.
    fn advance(&mut self) -> bool {
        let n = self.left.min(CHUNK);
        self.offset += n;
        self.left -= n;
        if self.left > 0 {
            return true;
        }
        self.file = None;
        false
    }
}

impl Chunk {
    /// Starts this call on `socket` with `ov` (its offset set here).
    fn transmit(self, socket: &Socket, ov: &mut overlapped::Overlapped) -> WsaResult<u32> {
        ov.set_offset(self.offset);
        match self.file {
            Some(ChunkFile::Given(f)) => socket.transmit_file_owned(
                ov,
                Some(f.into()),
                self.len,
                0,
                self.buffers,
                self.flags,
            ),
            file => {
                let lent = match &file {
                    Some(ChunkFile::Lent(f)) => Some(f.as_fd()),
                    _ => None,
                };
                socket.transmit_file(ov, lent, self.len, 0, self.buffers, self.flags)
            }
        }
    }

    /// Starts this call on `socket`, its completion running `routine`.
    fn transmit_with<F>(self, socket: &Socket, routine: F) -> WsaResult<u32>
    where
        F: FnOnce(overlapped::Completion) + 'static,
    {
        let (offset, len, buffers, flags) = (self.offset, self.len, self.buffers, self.flags);
        match self.file {
            Some(ChunkFile::Given(f)) => socket.transmit_file_owned_with(
                Some(f.into()),
                offset,
                len,
                0,
                buffers,
                flags,
                routine,
            ),
            file => {
                let lent = match &file {
                    Some(ChunkFile::Lent(f)) => Some(f.as_fd()),
                    _ => None,
                };
                socket.transmit_file_with(lent, offset, len, 0, buffers, flags, routine)
            }
        }
    }
}
