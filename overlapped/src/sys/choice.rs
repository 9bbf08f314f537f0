//! Which backend runs, chosen once per process.
//!
//! io_uring when a ring can be created and the kernel's probe lists every
//! opcode the library needs; otherwise the epoll backend, with the reason.
//! `OVERLAPPED_BACKEND=uring` or `=epoll` forces one; forcing `uring`
//! where it cannot start is an error (every thread's start then fails with
//! it), never a silent fallback.

use std::fmt;
use std::sync::OnceLock;

use super::SetupError;

/// The environment variable that forces a backend (`uring` or `epoll`).
pub const BACKEND_VAR: &str = "OVERLAPPED_BACKEND";

/// A backend of the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// io_uring: every operation is a request the kernel completes.
    Uring,
    /// epoll: readiness plus non-blocking system calls (see DESIGN.md).
    Epoll,
}

impl BackendKind {
    /// The name `OVERLAPPED_BACKEND` takes and [`Backend`]'s `Display` shows:
    /// `"uring"` or `"epoll"`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Uring => "uring",
            BackendKind::Epoll => "epoll",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The backend this process runs on, and why it was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Which one.
    pub kind: BackendKind,
    /// Why, in words: `"io_uring works and has every opcode needed"`,
    /// `"forced by OVERLAPPED_BACKEND=epoll"`, or why io_uring could not
    /// be used (`"io_uring_setup: EPERM (Operation not permitted)"`, ...).
    pub reason: String,
}

impl fmt::Display for Backend {
    /// `epoll (io_uring_setup: EPERM (Operation not permitted))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind, self.reason)
    }
}

/// Why no backend can run (kept to make the same error again for every caller).
#[derive(Clone, Debug)]
enum Refusal {
    ForcedUring(String),
    BadValue(String),
}

static CHOICE: OnceLock<Result<Backend, Refusal>> = OnceLock::new();

/// The backend of this process (chosen on first use).
pub(crate) fn chosen() -> Result<Backend, SetupError> {
    match CHOICE.get_or_init(choose) {
        Ok(b) => Ok(b.clone()),
        Err(Refusal::ForcedUring(why)) => Err(SetupError::ForcedUring(why.clone())),
        Err(Refusal::BadValue(v)) => Err(SetupError::BadBackend(v.clone())),
    }
}

/// The backend of this process, for the hot paths: epoll or not. A
/// refused choice counts as io_uring (whose start then fails with the reason).
pub(crate) fn is_epoll() -> bool {
    matches!(
        CHOICE.get_or_init(choose),
        Ok(Backend {
            kind: BackendKind::Epoll,
            ..
        })
    )
}

/// Whether io_uring can run here, asked once on a thread of its own: the
/// probe's ring then belongs to no thread of the program (a thread that made
/// and closed a ring before its real one was seen to stall its first
/// requests while it slept elsewhere).
fn probe_uring() -> Result<(), String> {
    std::thread::Builder::new()
        .name("overlapped-probe".into())
        .spawn(super::uring::setup::probe)
        .map_err(|e| format!("the io_uring probe's thread could not start: {e}"))?
        .join()
        .unwrap_or_else(|_| Err("the io_uring probe panicked".into()))
}

fn choose() -> Result<Backend, Refusal> {
    let forced = std::env::var_os(BACKEND_VAR).map(|v| v.to_string_lossy().trim().to_owned());
    match forced.as_deref() {
        None | Some("") => Ok(match probe_uring() {
            Ok(()) => Backend {
                kind: BackendKind::Uring,
                reason: "io_uring works and has every opcode needed".into(),
            },
            Err(why) => Backend {
                kind: BackendKind::Epoll,
                reason: why,
            },
        }),
        Some("uring") | Some("io_uring") => match probe_uring() {
            Ok(()) => Ok(Backend {
                kind: BackendKind::Uring,
                reason: format!("forced by {BACKEND_VAR}=uring"),
            }),
            Err(why) => Err(Refusal::ForcedUring(why)),
        },
        Some("epoll") => Ok(Backend {
            kind: BackendKind::Epoll,
            reason: format!("forced by {BACKEND_VAR}=epoll"),
        }),
        Some(other) => Err(Refusal::BadValue(other.to_owned())),
    }
}
