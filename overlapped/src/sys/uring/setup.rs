//! Creating a ring, and saying clearly why it failed.

use io_uring::{opcode, IoUring, Probe};
use std::io;

/// Why the io_uring driver could not start, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The kernel has no io_uring (`ENOSYS`).
    #[error("io_uring is not available in this kernel (ENOSYS): overlapped needs Linux 5.19 or newer built with CONFIG_IO_URING")]
    NotSupported,
    /// io_uring is switched off or filtered (`EPERM`).
    #[error("io_uring is not permitted (EPERM): check `sysctl kernel.io_uring_disabled` (must be 0, or 1 with this user in kernel.io_uring_group), and any seccomp profile (Docker's default blocks io_uring_setup; run with --security-opt seccomp=unconfined or a profile that allows it)")]
    NotPermitted,
    /// The ring memory could not be had (`ENOMEM`).
    #[error("io_uring ring memory could not be allocated (ENOMEM): raise the locked-memory limit (`ulimit -l`, RLIMIT_MEMLOCK) or use fewer threads with rings")]
    NoMemory,
    /// The kernel lacks an opcode the library needs.
    #[error(
        "this kernel's io_uring lacks the {0} operation: overlapped needs Linux 5.19 or newer"
    )]
    MissingOpcode(&'static str),
    /// Any other failure.
    #[error("io_uring setup failed: {0}")]
    Other(#[source] io::Error),
    /// `OVERLAPPED_BACKEND=uring` asked for io_uring, and it cannot start
    /// here (the reason follows); unset the variable to fall back to epoll.
    #[error("OVERLAPPED_BACKEND=uring, but io_uring cannot start here: {0} (unset OVERLAPPED_BACKEND to use the epoll backend)")]
    ForcedUring(String),
    /// `OVERLAPPED_BACKEND` holds something other than `uring` or `epoll`.
    #[error("OVERLAPPED_BACKEND={0:?} is not a backend: use uring or epoll (or leave it unset to choose automatically)")]
    BadBackend(String),
}

impl SetupError {
    fn from_io(err: io::Error) -> SetupError {
        match err.raw_os_error() {
            Some(libc::ENOSYS) => SetupError::NotSupported,
            Some(libc::EPERM) | Some(libc::EACCES) => SetupError::NotPermitted,
            Some(libc::ENOMEM) => SetupError::NoMemory,
            _ => SetupError::Other(err),
        }
    }
}

/// Submission queue entries per ring. Completions get a larger queue, since
/// thousands of receives may be pending at once (overflow is still safe:
/// the kernel keeps what does not fit and we flush it).
const SQ_ENTRIES: u32 = 256;
const CQ_ENTRIES: u32 = 8192;

/// Whether io_uring can run here: a ring can be made, the kernel lists every
/// opcode the library needs, and one NOP goes through `io_uring_enter` and
/// completes (a seccomp profile may allow `io_uring_setup` and deny
/// `io_uring_enter`: such a ring can be made but never used). `Err` is the
/// reason in one line naming the call that failed and its errno, e.g.
/// `io_uring_enter: EPERM (Operation not permitted)`.
pub(crate) fn probe() -> Result<(), String> {
    let mut ring = builder()
        .build(SQ_ENTRIES)
        .map_err(|e| failed("io_uring_setup", &e))?;
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| failed("io_uring_register(IORING_REGISTER_PROBE)", &e))?;
    if let Some(name) = missing_opcode(&probe) {
        return Err(format!("the kernel's io_uring lacks {name}"));
    }
    let nop = opcode::Nop::new().build().user_data(1);
    // SAFETY: a NOP names no memory; the queue is empty (fresh ring).
    unsafe { ring.submission().push(&nop) }
        .map_err(|_| "the probe's submission queue is full".to_string())?;
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => break,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(failed("io_uring_enter", &e)),
        }
    }
    let result = ring.completion().next().map(|cqe| cqe.result());
    match result {
        Some(res) if res >= 0 => Ok(()),
        Some(res) => Err(failed("IORING_OP_NOP", &io::Error::from_raw_os_error(-res))),
        None => Err("io_uring_enter: a NOP was submitted but did not complete".into()),
    }
}

/// `call: NAME (text)`, the errno by its C name.
fn failed(call: &str, e: &io::Error) -> String {
    let Some(errno) = e.raw_os_error() else {
        return format!("{call}: {e}");
    };
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::ENOSYS => "ENOSYS",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::EFAULT => "EFAULT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        _ => return format!("{call}: errno {errno} ({})", strerror(errno)),
    };
    format!("{call}: {name} ({})", strerror(errno))
}

/// The C library's text for `errno`, without Rust's "(os error N)".
fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn builder() -> io_uring::Builder {
    let mut builder = IoUring::builder();
    builder
        .setup_cqsize(CQ_ENTRIES)
        .setup_clamp()
        // Completions that arrive while the owner runs wait for its next
        // system call instead of interrupting it with an IPI. A sleeping owner
        // is still woken to run them (TWA_SIGNAL_NO_IPI only skips the kick of
        // a running task), so another thread's wait never depends on it.
        .setup_coop_taskrun()
        .setup_taskrun_flag();
    builder
}

pub(crate) fn build() -> Result<IoUring, SetupError> {
    let ring = builder().build(SQ_ENTRIES).map_err(SetupError::from_io)?;
    check_opcodes(&ring)?;
    Ok(ring)
}

/// The first opcode the library needs that `probe` does not list.
fn missing_opcode(probe: &Probe) -> Option<&'static str> {
    let needed = [
        (opcode::RecvMsg::CODE, "RECVMSG"),
        (opcode::SendMsg::CODE, "SENDMSG"),
        (opcode::PollAdd::CODE, "POLL_ADD"),
        (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
        (opcode::Read::CODE, "READ"),
        (opcode::Accept::CODE, "ACCEPT"),
        (opcode::Connect::CODE, "CONNECT"),
        (opcode::Shutdown::CODE, "SHUTDOWN"),
        (opcode::Recv::CODE, "RECV"),
        (opcode::Send::CODE, "SEND"),
        (opcode::Write::CODE, "WRITE"),
        (opcode::Splice::CODE, "SPLICE"),
        (opcode::Nop::CODE, "NOP"),
    ];
    needed
        .into_iter()
        .find(|&(code, _)| !probe.is_supported(code))
        .map(|(_, name)| name)
}

fn check_opcodes(ring: &IoUring) -> Result<(), SetupError> {
    use std::sync::OnceLock;
    static CHECKED: OnceLock<Result<(), Option<&'static str>>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let mut probe = Probe::new();
        if ring.submitter().register_probe(&mut probe).is_err() {
            return Err(None);
        }
        missing_opcode(&probe).map_or(Ok(()), |name| Err(Some(name)))
    });
    match *result {
        Ok(()) => Ok(()),
        Err(Some(name)) => Err(SetupError::MissingOpcode(name)),
        Err(None) => Err(SetupError::Other(io::Error::other(
            "io_uring_register(IORING_REGISTER_PROBE) failed",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_errors_name_cause_and_fix() {
        let e = SetupError::from_io(io::Error::from_raw_os_error(libc::EPERM));
        assert!(matches!(e, SetupError::NotPermitted));
        let text = e.to_string();
        assert!(
            text.contains("io_uring_disabled") && text.contains("seccomp"),
            "{text}"
        );
        let e = SetupError::from_io(io::Error::from_raw_os_error(libc::ENOSYS));
        assert!(e.to_string().contains("ENOSYS"));
        let e = SetupError::from_io(io::Error::from_raw_os_error(libc::ENOMEM));
        assert!(e.to_string().contains("ulimit -l"));
    }

    #[test]
    fn probe_reasons_name_the_call_and_the_real_errno() {
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(
            failed("io_uring_setup", &e),
            "io_uring_setup: EACCES (Permission denied)"
        );
        let e = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(
            failed("io_uring_enter", &e),
            "io_uring_enter: EPERM (Operation not permitted)"
        );
        let e = io::Error::from_raw_os_error(libc::EBADMSG);
        assert!(
            failed("x", &e).starts_with("x: errno 74 ("),
            "{}",
            failed("x", &e)
        );
    }
}
