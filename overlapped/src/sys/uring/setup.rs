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

/// Whether io_uring can run here: a ring can be made and has every opcode
/// the library needs (the probe's answer is kept for the process).
pub(crate) fn probe() -> Result<(), SetupError> {
    build().map(drop)
}

pub(crate) fn build() -> Result<IoUring, SetupError> {
    let ring = IoUring::builder()
        .setup_cqsize(CQ_ENTRIES)
        .setup_clamp()
        // Completions that arrive while the owner runs wait for its next
        // system call instead of interrupting it with an IPI. A sleeping owner
        // is still woken to run them (TWA_SIGNAL_NO_IPI only skips the kick of
        // a running task), so another thread's wait never depends on it.
        .setup_coop_taskrun()
        .setup_taskrun_flag()
        .build(SQ_ENTRIES)
        .map_err(SetupError::from_io)?;
    check_opcodes(&ring)?;
    Ok(ring)
}

fn check_opcodes(ring: &IoUring) -> Result<(), SetupError> {
    use std::sync::OnceLock;
    static CHECKED: OnceLock<Result<(), &'static str>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let mut probe = Probe::new();
        if ring.submitter().register_probe(&mut probe).is_err() {
            return Err("IORING_REGISTER_PROBE");
        }
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
        for (code, name) in needed {
            if !probe.is_supported(code) {
                return Err(name);
            }
        }
        Ok(())
    });
    result.map_err(SetupError::MissingOpcode)
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
}
