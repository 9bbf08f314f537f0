//! The ring itself and its operations table, as only its lock holder sees them.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};
use slab::Slab;

use super::prep::Sqes;
use super::{Slot, WAKER};
use crate::sys::op::Op;
use crate::sys::OpMem;

pub(super) struct Core<O: Op> {
    pub(super) uring: IoUring,
    pub(super) slots: Slab<(u64, Slot<O>)>,
    pub(super) generation: u32,
    /// Recycled operation memory; boxed because a slot's memory must keep
    /// its address while the slab moves slots around.
    #[allow(clippy::vec_box)]
    pub(super) spare: Vec<Box<OpMem>>,
    pub(super) cqes: Vec<(u64, i32, u32)>,
    pub(super) waker_buf: Box<u64>,
    pub(super) waker_armed: bool,
    /// The owner is exiting: event-notified operations that the kernel
    /// cancels (or that need another step) are parked here, to be submitted
    /// again by the service thread (see `retire`).
    pub(super) retiring: bool,
    pub(super) parked: Vec<u64>,
    /// What the ring's `io_uring_enter` can still do (see [`Enter`]).
    pub(super) enter: Enter,
}

/// Entries remembered per ring: at least the submission queue's size
/// (`setup::SQ_ENTRIES`), so every entry the kernel has not taken is here.
const RECENT: usize = 256;

/// The result an operation gets when its entry can never reach the kernel:
/// `ENETDOWN`, Winsock's `WSAENETDOWN`, "the network subsystem has failed".
const BROKEN_RESULT: i32 = -libc::ENETDOWN;

/// A ring whose `io_uring_enter` fails for good after it was made (a seccomp
/// filter installed after start-up returns `EPERM`, ...) must not spin: each
/// wait would return at once with the error. From the first such failure
/// nothing is submitted again: the entries the kernel did not take complete
/// with [`BROKEN_RESULT`], so do operations started later, and waits block in
/// `ppoll(2)` on the ring's descriptor (readable when a completion is posted:
/// operations already in the kernel still complete) and the owner's eventfd.
pub(super) struct Enter {
    /// The `user_data` of the last [`RECENT`] entries pushed, by push count.
    recent: Box<[u64; RECENT]>,
    pushed: u64,
    /// The errno of the failure that broke the ring, if one did.
    broken: Option<i32>,
    /// Operations that failed so, not yet collected.
    failed: Vec<u64>,
    /// The owner's eventfd (known from `arm_waker`), polled while broken.
    waker: RawFd,
}

/// Some ring of the process is broken. Its failed operations wait in
/// `Enter::failed`, which the lock-free look of a non-blocking turn
/// (`nothing_ready`, a peek at the completion queue) cannot see: while this is
/// set, every such turn takes its ring and collects (a filter that denies
/// `io_uring_enter` usually binds every thread, so every ring breaks anyway).
static ANY_BROKEN: AtomicBool = AtomicBool::new(false);

/// Whether some ring of the process is broken (see [`ANY_BROKEN`]).
pub(super) fn any_broken() -> bool {
    ANY_BROKEN.load(Relaxed)
}

impl Default for Enter {
    fn default() -> Enter {
        Enter {
            recent: Box::new([0; RECENT]),
            pushed: 0,
            broken: None,
            failed: Vec::new(),
            waker: -1,
        }
    }
}

impl<O: Op> Core<O> {
    pub(super) fn push(&mut self, sqe: &squeue::Entry) {
        loop {
            if self.enter.broken.is_some() {
                // It would never be submitted: it fails now (see `Enter`).
                self.enter.failed.push(sqe.get_user_data());
                return;
            }
            // SAFETY: every entry we build points only into memory owned by a
            // slot in `self.slots` (boxed, so it does not move) or by `self`,
            // and a slot is removed only after its completion has been reaped.
            if unsafe { self.uring.submission().push(sqe) }.is_ok() {
                let at = self.enter.pushed as usize % RECENT;
                self.enter.recent[at] = sqe.get_user_data();
                self.enter.pushed += 1;
                return;
            }
            self.submit();
        }
    }

    /// Pushes an operation's entries: one, or a chain of linked entries that
    /// must reach the kernel in one submission (a chain split across two
    /// would be cut in two).
    pub(super) fn push_all(&mut self, sqes: Sqes) {
        match sqes {
            Sqes::One(sqe) => self.push(&sqe),
            Sqes::Chain(chain) => {
                let room = {
                    let sq = self.uring.submission();
                    sq.capacity() - sq.len()
                };
                if room < chain.len() {
                    self.submit();
                }
                for sqe in &chain {
                    self.push(sqe);
                }
            }
        }
    }

    pub(super) fn submit(&mut self) {
        if self.enter.broken.is_some() {
            return;
        }
        loop {
            match self.uring.submit() {
                Ok(_) => return,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                // EBUSY: the completion queue is full: the caller reaps, then
                // we get another chance at the next submit. EAGAIN: the same
                // for the kernel's memory.
                Err(e) => return self.failed_enter(&e),
            }
        }
    }

    #[inline]
    pub(super) fn wait(&mut self, timeout: Option<Duration>) {
        if self.enter.broken.is_none() {
            let result = match timeout {
                None => self.uring.submit_and_wait(1),
                Some(t) => {
                    let ts = types::Timespec::new()
                        .sec(t.as_secs())
                        .nsec(t.subsec_nanos());
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.uring.submitter().submit_with_args(1, &args)
                }
            };
            // ETIME (timeout), EINTR (signal) and EBUSY (overflow, reaped
            // next) all mean "go and look".
            match result {
                Err(e) if e.raw_os_error() != Some(libc::ETIME) => self.failed_enter(&e),
                _ => return,
            }
            if self.enter.broken.is_none() || !self.enter.failed.is_empty() {
                return;
            }
        }
        self.poll_wait(timeout);
    }

    /// `io_uring_enter` failed with `e`: if for good, the ring is broken from
    /// now on and the entries the kernel did not take fail (see [`Enter`]).
    #[cold]
    #[inline(never)]
    fn failed_enter(&mut self, e: &io::Error) {
        let errno = e.raw_os_error().unwrap_or(libc::EIO);
        if matches!(
            errno,
            // EBADR: completions were dropped once (an overflow the kernel
            // could not keep); ENOMEM: the kernel's memory, for now.
            libc::EINTR | libc::EBUSY | libc::EAGAIN | libc::ETIME | libc::EBADR | libc::ENOMEM
        ) {
            return;
        }
        self.enter.broken = Some(errno);
        ANY_BROKEN.store(true, Relaxed);
        let unsent = self.uring.submission().len().min(RECENT) as u64;
        let pushed = self.enter.pushed;
        for n in pushed - unsent..pushed {
            let ud = self.enter.recent[n as usize % RECENT];
            self.enter.failed.push(ud);
        }
    }

    /// A broken ring's wait: until a completion is posted (the ring's
    /// descriptor is readable), the owner is woken (its eventfd, drained
    /// here), or `timeout`.
    #[cold]
    #[inline(never)]
    fn poll_wait(&mut self, timeout: Option<Duration>) {
        let mut fds = [
            libc::pollfd {
                fd: self.uring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.enter.waker,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        // SAFETY: `fds` is a live array of two pollfds (a negative descriptor
        // is ignored by the kernel); `ts_ptr` is null or points at `ts`,
        // alive for the call; a null signal mask leaves the mask alone.
        let n = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, ts_ptr, std::ptr::null()) };
        if n > 0 && fds[1].revents & libc::POLLIN != 0 {
            let mut count = 0u64;
            // SAFETY: reads 8 bytes into a live u64 from the owner's eventfd
            // (non-blocking: another reader may have taken the count).
            let _ = unsafe {
                libc::read(
                    self.enter.waker,
                    (&mut count as *mut u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
    }

    pub(super) fn arm_waker(&mut self, fd: RawFd) {
        self.enter.waker = fd;
        if self.waker_armed || self.enter.broken.is_some() {
            return;
        }
        self.waker_armed = true;
        let buf: *mut u64 = &mut *self.waker_buf;
        let sqe = opcode::Read::new(types::Fd(fd), buf.cast(), 8)
            .build()
            .user_data(WAKER);
        self.push(&sqe);
    }

    #[inline]
    pub(super) fn collect(&mut self) {
        if !self.enter.failed.is_empty() {
            self.collect_failed();
        }
        let mut cq = self.uring.completion();
        cq.sync();
        for cqe in &mut cq {
            self.cqes.push((cqe.user_data(), cqe.result(), cqe.flags()));
        }
    }

    /// A broken ring's failed operations, as completions (out of line: the
    /// reap loop of a working ring never comes here).
    #[cold]
    #[inline(never)]
    fn collect_failed(&mut self) {
        for ud in std::mem::take(&mut self.enter.failed) {
            self.cqes.push((ud, BROKEN_RESULT, 0));
        }
    }
}
