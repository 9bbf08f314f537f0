//! One socket's `WSAEventSelect` state and the rules that turn readiness
//! reports into recorded network events ([`crate::network_events`] holds
//! the table, the calls and the re-enabling hooks).

use std::os::fd::RawFd;

use overlapped::{Event, WsaError};

use crate::network_events::{
    ALL, FD_ACCEPT, FD_CLOSE, FD_CONNECT, FD_MAX_EVENTS, FD_OOB, FD_READ, FD_WRITE,
};
use crate::readiness;

/// What the socket is, for what can be watched on it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum State {
    /// A stream socket neither connected, connecting nor listening.
    Idle,
    Listening,
    Connecting,
    Connected,
    Datagram,
    /// Hung up or failed: nothing more will be reported by the kernel.
    Dead,
}

pub(crate) struct Selection {
    pub(crate) fd: RawFd,
    pub(crate) event: Event,
    pub(crate) mask: u32,
    /// Events that may be recorded now (not awaiting their re-enabling call).
    pub(crate) enabled: u32,
    pub(crate) recorded: u32,
    pub(crate) errors: [i32; FD_MAX_EVENTS],
    pub(crate) state: State,
    /// The peer's FIN (or a reset) was seen, with `FD_CLOSE`'s code.
    pub(crate) closed: Option<i32>,
    pub(crate) registered: bool,
}

pub(crate) fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for one int.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(v)
}

pub(crate) fn classify(fd: RawFd) -> State {
    if getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TYPE) != Some(libc::SOCK_STREAM) {
        return State::Datagram;
    }
    // SAFETY: all-zero is a valid tcp_info.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info`/`len` describe a writable tcp_info.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    match (r, info.tcpi_state) {
        (0, 10) => State::Listening, // TCP_LISTEN
        (0, 2) => State::Connecting, // TCP_SYN_SENT
        (0, 7) => State::Idle,       // TCP_CLOSE
        (0, _) => State::Connected,
        _ => State::Idle,
    }
}

/// What is queued to read on a stream socket, without taking it. The
/// count comes from `FIONREAD`; only when it is 0 and `peek` is allowed is
/// the socket peeked to tell the peer's FIN from nothing (never after an
/// error report: a peek would take the socket's pending error, which the
/// program's next call must get).
pub(crate) enum Queued {
    Data,
    Eof,
    Nothing,
}

pub(crate) fn queued(fd: RawFd, peek: bool) -> Queued {
    let mut count: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut count) } == 0 && count > 0 {
        return Queued::Data;
    }
    if !peek {
        return Queued::Nothing;
    }
    let mut byte = 0u8;
    // SAFETY: one writable byte; MSG_PEEK leaves the data queued.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        n if n > 0 => Queued::Data,
        0 => Queued::Eof,
        _ => Queued::Nothing,
    }
}

impl Selection {
    pub(crate) fn enabled(&self, bit: u32) -> bool {
        self.mask & self.enabled & bit != 0
    }

    /// Records `bit` (if selected and enabled) with `code`, and sets the event.
    pub(crate) fn record(&mut self, bit: u32, code: i32) {
        if !self.enabled(bit) {
            return;
        }
        self.recorded |= bit;
        self.errors[bit.trailing_zeros() as usize] = code;
        self.enabled &= !bit;
        self.event.set();
    }

    /// What the kernel should report next.
    pub(crate) fn interest(&self) -> u32 {
        let (i, o, p, h) = (
            libc::EPOLLIN as u32,
            libc::EPOLLOUT as u32,
            libc::EPOLLPRI as u32,
            libc::EPOLLRDHUP as u32,
        );
        let on = |bit: u32, flag: u32| if self.enabled(bit) { flag } else { 0 };
        match self.state {
            State::Listening => on(FD_ACCEPT, i),
            State::Connecting => o,
            State::Connected => {
                let open = self.closed.is_none();
                let read = if open { on(FD_READ, i) } else { 0 };
                let close = if open && self.mask & (FD_CLOSE | FD_READ) != 0 {
                    h
                } else {
                    0
                };
                read | close | on(FD_WRITE, o) | on(FD_OOB, p)
            }
            State::Datagram => on(FD_READ, i) | on(FD_WRITE, o),
            State::Idle | State::Dead => 0,
        }
    }

    /// Records what is true now but will not be reported again by the
    /// kernel (data left after the peer's FIN, a close already seen).
    pub(crate) fn catch_up(&mut self) {
        if matches!(self.state, State::Connected | State::Dead) && self.closed.is_some() {
            if self.enabled(FD_READ) && matches!(queued(self.fd, false), Queued::Data) {
                self.record(FD_READ, 0);
            }
            if let Some(code) = self.closed {
                self.record(FD_CLOSE, code);
            }
        }
    }

    pub(crate) fn arm(&mut self, handle: usize) {
        let interest = self.interest();
        if interest != 0 {
            readiness::arm(self.fd, handle, interest, &mut self.registered);
        }
    }

    /// Applies one readiness report.
    pub(crate) fn observe(&mut self, revents: u32) {
        let has = |flag: i32| revents & flag as u32 != 0;
        let failed = has(libc::EPOLLERR);
        match self.state {
            State::Listening => {
                if has(libc::EPOLLIN) {
                    self.record(FD_ACCEPT, 0);
                }
            }
            State::Connecting => {
                let err = getsockopt_int(self.fd, libc::SOL_SOCKET, libc::SO_ERROR).unwrap_or(0);
                if err != 0 {
                    let code = WsaError::from_io(&std::io::Error::from_raw_os_error(err));
                    self.record(FD_CONNECT, code.0);
                    self.state = State::Dead;
                } else if has(libc::EPOLLOUT) {
                    self.state = State::Connected;
                    self.record(FD_CONNECT, 0);
                    self.observe(revents);
                } else {
                    self.state = classify(self.fd);
                }
            }
            State::Connected => {
                let ended = has(libc::EPOLLRDHUP) || has(libc::EPOLLHUP) || failed;
                if self.enabled(FD_READ) && (has(libc::EPOLLIN) || ended) {
                    match queued(self.fd, !failed) {
                        Queued::Data => self.record(FD_READ, 0),
                        // FIN with FD_CLOSE unselected (RDHUP not asked for).
                        Queued::Eof if !failed => self.closed = self.closed.or(Some(0)),
                        _ => {}
                    }
                }
                if has(libc::EPOLLPRI) {
                    self.record(FD_OOB, 0);
                }
                if ended && self.closed.is_none() {
                    let code = if failed {
                        WsaError::WSAECONNABORTED.0
                    } else {
                        0
                    };
                    self.closed = Some(code);
                }
                if let Some(code) = self.closed {
                    self.record(FD_CLOSE, code);
                }
                if has(libc::EPOLLOUT) && !failed {
                    self.record(FD_WRITE, 0);
                }
                if has(libc::EPOLLHUP) || failed {
                    self.state = State::Dead;
                }
            }
            State::Datagram => {
                // A queued error (an ICMP report) is for the next receive.
                if has(libc::EPOLLIN) || failed {
                    self.record(FD_READ, 0);
                }
                if has(libc::EPOLLOUT) {
                    self.record(FD_WRITE, 0);
                }
            }
            State::Idle | State::Dead => {}
        }
    }
}

impl Selection {
    pub(crate) fn new(fd: RawFd, event: Event, mask: u32) -> Selection {
        Selection {
            fd,
            event,
            mask,
            enabled: ALL,
            recorded: 0,
            errors: [0; FD_MAX_EVENTS],
            state: classify(fd),
            closed: None,
            registered: false,
        }
    }
}
