//! The readiness source behind `WSAEventSelect`: one epoll instance and one
//! thread for the process, started by the first `WSAEventSelect`.
//!
//! Every registration is one-shot (`EPOLLONESHOT`) and keyed by the
//! `SOCKET` value (never reused, so a late report for a closed socket finds
//! nothing and is dropped). After each report the owner decides what to
//! watch next and arms the registration again ([`arm`]): a network event
//! that is recorded and not yet re-enabled is not watched, so a level that
//! stays true (unread data, a full send buffer) never spins the thread.

use std::os::fd::RawFd;
use std::sync::OnceLock;

/// The epoll instance; the thread is started with it.
fn epoll() -> Option<RawFd> {
    static EPOLL: OnceLock<Option<RawFd>> = OnceLock::new();
    *EPOLL.get_or_init(|| {
        // SAFETY: plain system call; the descriptor is kept for the process.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        std::thread::Builder::new()
            .name("overlapped-event-select".into())
            .spawn(move || run(fd))
            .ok()?;
        Some(fd)
    })
}

/// Waits for readiness reports and hands each to the network-event rules.
fn run(ep: RawFd) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
    loop {
        // SAFETY: `events` is a valid array of 64 entries for the call.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 64, -1) };
        if n < 0 {
            // EINTR (a signal handled on this thread); nothing else can fail
            // on a valid epoll descriptor and buffer.
            continue;
        }
        for e in &events[..n as usize] {
            let (handle, revents) = (e.u64 as usize, e.events);
            crate::network_events::observed(handle, revents);
        }
    }
}

/// Whether the readiness thread could be started (`WSAEventSelect` fails
/// with `WSAENOBUFS` if not).
pub fn available() -> bool {
    epoll().is_some()
}

/// Arms `fd`'s one-shot registration for `interest` (`EPOLLIN`,
/// `EPOLLOUT`, `EPOLLPRI`, `EPOLLRDHUP`), adding it if it is new. Errors
/// and hang-ups are always reported once per arming.
pub fn arm(fd: RawFd, handle: usize, interest: u32, registered: &mut bool) {
    let Some(ep) = epoll() else { return };
    let mut ev = libc::epoll_event {
        events: interest | libc::EPOLLONESHOT as u32,
        u64: handle as u64,
    };
    let op = if *registered {
        libc::EPOLL_CTL_MOD
    } else {
        libc::EPOLL_CTL_ADD
    };
    // SAFETY: valid epoll descriptor and event struct; `fd` is the open
    // descriptor of a socket the caller holds.
    let r = unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) };
    if r == 0 {
        *registered = true;
    }
}

/// Removes `fd`'s registration (before the descriptor is closed, or when
/// the selection is cancelled).
pub fn remove(fd: RawFd, registered: &mut bool) {
    let Some(ep) = epoll() else { return };
    if *registered {
        // SAFETY: valid epoll descriptor; `fd` is still open (caller).
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
        *registered = false;
    }
}
