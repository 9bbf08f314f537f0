//! Descriptor plumbing for the connection calls: adopting the descriptor
//! an accept produced into a socket the caller created earlier (`AcceptEx`
//! accepts *into* a given socket; Linux's accept makes a new one), giving a
//! socket a fresh endpoint (`TF_REUSE_SOCKET`), and reading the TCP state.

use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// Takes ownership of a descriptor the kernel returned (an accept's result).
pub(crate) fn take(fd: i32) -> OwnedFd {
    debug_assert!(fd >= 0);
    // SAFETY: `fd` is a new descriptor the kernel just created for this
    // operation (an io_uring accept's result); nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Makes descriptor number `target` refer to `with`'s socket (`dup3`),
/// closing what `target` referred to before, atomically; `with`'s own
/// number is closed. The owner of `target` keeps owning the number.
pub(crate) fn replace(target: RawFd, with: OwnedFd) -> io::Result<()> {
    let from = with.into_raw_fd();
    // SAFETY: `from` is a descriptor we own (just taken out of the OwnedFd);
    // `target` is owned by the caller's socket, which stays open across the
    // call, so the number cannot be closed or reused under us.
    let r = unsafe { libc::dup3(from, target, libc::O_CLOEXEC) };
    let err = io::Error::last_os_error();
    bump_epoch(target);
    if r >= 0 && crate::sys::choice::is_epoll() {
        crate::sys::epoll::replaced(target);
    }
    // SAFETY: `from` is ours (see above) and is not used again.
    unsafe { libc::close(from) };
    if r < 0 {
        Err(err)
    } else {
        Ok(())
    }
}

/// `TCP_SYN_SENT` in the kernel's TCP state numbering.
pub(crate) const TCP_SYN_SENT: u8 = 2;

/// The kernel's TCP state of a socket (`TCP_INFO.tcpi_state`), if it has one.
pub(crate) fn tcp_state(fd: RawFd) -> Option<u8> {
    // SAFETY: tcp_info is a plain C struct for which all-zero is valid.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are live and writable; the kernel writes at
    // most `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (r == 0 && len >= 1).then_some(info.tcpi_state)
}

/// How many times each descriptor number had another open file put behind
/// it by [`replace`] or [`crate::sys::blocking::release_keeping_number`]:
/// a readiness backend's registration of a number is stale once this moves.
/// Numbers past the table share one counter (any change there counts for all).
static EPOCHS: std::sync::OnceLock<Box<[std::sync::atomic::AtomicU32]>> =
    std::sync::OnceLock::new();
const EPOCH_SLOTS: usize = 1 << 16;

fn epochs() -> &'static [std::sync::atomic::AtomicU32] {
    EPOCHS.get_or_init(|| {
        (0..=EPOCH_SLOTS)
            .map(|_| std::sync::atomic::AtomicU32::new(0))
            .collect()
    })
}

/// The number of times `fd` had another open file put behind it.
pub(crate) fn epoch(fd: RawFd) -> u32 {
    let i = (fd.max(0) as usize).min(EPOCH_SLOTS);
    epochs()[i].load(std::sync::atomic::Ordering::SeqCst)
}

/// Notes that `fd` now names another open file.
pub(crate) fn bump_epoch(fd: RawFd) {
    let i = (fd.max(0) as usize).min(EPOCH_SLOTS);
    epochs()[i].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}
