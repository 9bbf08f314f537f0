//! The load generator's client: its io_uring [`Ring`], or where io_uring cannot run, the
//! readiness [`Poller`] (non-blocking sockets and epoll), behind one surface of completions.
//!
//! The choice is made as the library makes its own: io_uring if a ring can be made, has
//! every opcode the client uses and completes a NOP through `io_uring_enter`; otherwise
//! epoll, automatically, with the reason. `--client-backend uring|epoll` forces one; forcing
//! io_uring where it cannot run is an error naming the call that failed. The client does
//! not read `OVERLAPPED_BACKEND`: that variable chooses the library's backend in the
//! servers, and `OVERLAPPED_BACKEND=epoll compare` must load them with the same client as
//! any other run.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use socket2::SockAddr;

use super::epoll::Poller;
use super::ring::{self, Ring};

/// What kind of operation a completion belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A `connect`.
    Connect,
    /// The timeout linked to a `connect`.
    ConnectTimeout,
    /// A `send` from the pattern.
    Send,
    /// A `recv` into the connection's buffer.
    Recv,
    /// A cancellation (only at teardown).
    Cancel,
}

/// One completion: which connection, which operation, and the result (bytes or `-errno`).
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    /// Index of the connection.
    pub conn: usize,
    /// The operation.
    pub op: Op,
    /// The kernel's result: a count of bytes, 0, or a negated errno.
    pub result: i32,
}

/// `--client-backend`: what the load generator's client runs on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientBackend {
    /// io_uring (an error if it cannot run here).
    Uring,
    /// epoll: non-blocking sockets and readiness.
    Epoll,
}

impl ClientBackend {
    /// `uring` or `epoll`, as the option spells it.
    pub fn name(self) -> &'static str {
        match self {
            ClientBackend::Uring => "uring",
            ClientBackend::Epoll => "epoll",
        }
    }
}

/// The client chosen, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientChoice {
    /// The backend.
    pub backend: ClientBackend,
    /// Why: forced by the option, io_uring works, or why io_uring cannot run.
    pub why: String,
}

impl fmt::Display for ClientChoice {
    /// `epoll (io_uring_setup: EPERM (Operation not permitted))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.backend.name(), self.why)
    }
}

/// Chooses the client: `forced`, or io_uring if it runs here, else epoll.
pub fn choose(forced: Option<ClientBackend>) -> Result<ClientChoice, String> {
    let choice = |backend, why: &str| ClientChoice {
        backend,
        why: why.to_string(),
    };
    match forced {
        Some(ClientBackend::Epoll) => Ok(choice(
            ClientBackend::Epoll,
            "forced by --client-backend epoll",
        )),
        Some(ClientBackend::Uring) => match ring::probe() {
            Ok(()) => Ok(choice(
                ClientBackend::Uring,
                "forced by --client-backend uring",
            )),
            Err(why) => Err(uring_refused(&why)),
        },
        None => Ok(match ring::probe() {
            Ok(()) => choice(ClientBackend::Uring, "io_uring works here"),
            Err(why) => choice(ClientBackend::Epoll, &why),
        }),
    }
}

/// The error of a forced io_uring client that cannot run.
pub fn uring_refused(why: &str) -> String {
    format!(
        "--client-backend uring, but io_uring cannot run here: {why} \
         (drop --client-backend uring, or pass --client-backend epoll)"
    )
}

/// The load's client: a ring, or the readiness client.
pub enum Client {
    /// io_uring.
    Uring(Ring),
    /// epoll.
    Epoll(Poller),
}

/// Calls the same method on whichever client this is.
macro_rules! either {
    ($self:expr, $c:ident => $call:expr) => {
        match $self {
            Client::Uring($c) => $call,
            Client::Epoll($c) => $call,
        }
    };
}

impl Client {
    /// A client on `backend` for `conns` connections to `addr`, each with a `recv_len`-byte
    /// buffer, sending from `pattern`; each connection may have up to `ops_per_conn`
    /// operations in flight.
    pub fn new(
        backend: ClientBackend,
        conns: usize,
        recv_len: usize,
        ops_per_conn: usize,
        pattern: Box<[u8]>,
        addr: SockAddr,
        connect_timeout: Duration,
    ) -> io::Result<Client> {
        Ok(match backend {
            ClientBackend::Uring => Client::Uring(Ring::new(
                conns,
                recv_len,
                ops_per_conn,
                pattern,
                addr,
                connect_timeout,
            )?),
            ClientBackend::Epoll => Client::Epoll(Poller::new(
                conns,
                recv_len,
                pattern,
                addr,
                connect_timeout,
            )?),
        })
    }

    /// The send pattern.
    pub fn pattern(&self) -> &[u8] {
        either!(self, c => c.pattern())
    }

    /// Gives connection `conn` its socket.
    pub fn attach(&mut self, conn: usize, fd: OwnedFd) -> io::Result<()> {
        match self {
            Client::Uring(c) => {
                c.attach(conn, fd);
                Ok(())
            }
            Client::Epoll(c) => c.attach(conn, fd),
        }
    }

    /// Shuts connection `conn` down; its socket is closed once nothing uses it.
    pub fn close(&mut self, conn: usize) {
        either!(self, c => c.close(conn))
    }

    /// Connects `conn` to the client's address, with the client's connect timeout: two
    /// completions, [`Op::Connect`] and [`Op::ConnectTimeout`].
    pub fn push_connect(&mut self, conn: usize) -> io::Result<()> {
        either!(self, c => c.push_connect(conn))
    }

    /// Sends `pattern[start..start + len]` on `conn`.
    pub fn push_send(&mut self, conn: usize, start: usize, len: usize) -> io::Result<()> {
        either!(self, c => c.push_send(conn, start, len))
    }

    /// Receives into `conn`'s buffer; at most one receive per connection at a time.
    pub fn push_recv(&mut self, conn: usize) -> io::Result<()> {
        either!(self, c => c.push_recv(conn))
    }

    /// The first `len` bytes of `conn`'s receive buffer; no receive of it may be in flight.
    pub fn received(&self, conn: usize, len: usize) -> &[u8] {
        either!(self, c => c.received(conn, len))
    }

    /// Starts what is queued and waits for one completion, at most `timeout`.
    pub fn submit_and_wait(&mut self, timeout: Duration) -> io::Result<()> {
        either!(self, c => c.submit_and_wait(timeout))
    }

    /// Moves every available completion into `out` (cleared first).
    pub fn reap(&mut self, out: &mut Vec<Completion>) {
        either!(self, c => c.reap(out))
    }
}

/// `call: NAME (text)`: a failed call with its errno's C name, as the library words its
/// fallback reasons (`io_uring_setup: EPERM (Operation not permitted)`).
pub fn failed_call(call: &str, e: &io::Error) -> String {
    const NAMES: [(i32, &str); 9] = [
        (libc::EPERM, "EPERM"),
        (libc::EACCES, "EACCES"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EINVAL, "EINVAL"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENFILE, "ENFILE"),
        (libc::EFAULT, "EFAULT"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    ];
    let Some(errno) = e.raw_os_error() else {
        return format!("{call}: {e}");
    };
    let text = io::Error::from_raw_os_error(errno).to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    match NAMES.iter().find(|(n, _)| *n == errno) {
        Some((_, name)) => format!("{call}: {name} ({text})"),
        None => format!("{call}: errno {errno} ({text})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_call_names_the_call_and_its_errno() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(
            failed_call("io_uring_setup", &e),
            "io_uring_setup: EPERM (Operation not permitted)"
        );
        let e = io::Error::from_raw_os_error(libc::EBADF);
        assert!(failed_call("x", &e).starts_with("x: errno 9 ("));
    }

    #[test]
    fn forcing_epoll_needs_no_probe() {
        let c = choose(Some(ClientBackend::Epoll)).unwrap();
        assert_eq!(c.to_string(), "epoll (forced by --client-backend epoll)");
    }
}
