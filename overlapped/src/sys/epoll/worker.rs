//! The file-read workers: a regular file's read cannot be made
//! non-blocking (`O_NONBLOCK` means nothing to the page cache), so the
//! `splice` that moves a transmit's file range into its pipe runs on one
//! of a few worker threads, and its result comes back to the ring as mail,
//! as a completion would. The pool starts on first use, grows to
//! [`WORKERS`] threads, and its threads live as long as the process.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::{Condvar, Mutex, Weak};

use super::Watched;

/// Threads in the pool at most.
const WORKERS: usize = 4;

/// One file read: `len` bytes of `file` from `offset` (`None`: its current
/// position) into the write end of a pipe. The descriptors belong to the
/// operation, which stays in flight until the result is back.
pub(super) struct Job {
    pub(super) file: RawFd,
    pub(super) offset: Option<u64>,
    pub(super) pipe: RawFd,
    pub(super) len: u32,
}

struct Pool {
    queue: VecDeque<(Job, Weak<dyn Watched>, u64)>,
    threads: usize,
    idle: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    queue: VecDeque::new(),
    threads: 0,
    idle: 0,
});
static MORE: Condvar = Condvar::new();

/// Runs `job` for operation `ud` of `ring` on a worker.
pub(super) fn run(job: Job, ring: Weak<dyn Watched>, ud: u64) {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.queue.push_back((job, ring, ud));
    if pool.idle == 0 && pool.threads < WORKERS {
        let spawned = std::thread::Builder::new()
            .name("overlapped-file".into())
            .spawn(work)
            .is_ok();
        if spawned {
            pool.threads += 1;
        }
    }
    if pool.threads == 0 {
        // No thread could be made: run it here rather than never.
        let (job, ring, ud) = pool.queue.pop_back().expect("just pushed");
        drop(pool);
        finish(job, ring, ud);
        return;
    }
    MORE.notify_one();
}

fn work() {
    loop {
        let (job, ring, ud) = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(next) = pool.queue.pop_front() {
                    break next;
                }
                pool.idle += 1;
                pool = MORE.wait(pool).unwrap_or_else(|e| e.into_inner());
                pool.idle -= 1;
            }
        };
        finish(job, ring, ud);
    }
}

fn finish(job: Job, ring: Weak<dyn Watched>, ud: u64) {
    let mut off = job.offset.map_or(0, |o| o as libc::loff_t);
    let off_ptr: *mut libc::loff_t = if job.offset.is_some() {
        &mut off
    } else {
        std::ptr::null_mut()
    };
    let res = loop {
        // SAFETY: both descriptors stay open until the operation's result
        // is delivered (the slot is not freed while a worker runs its step);
        // `off_ptr` is null or points at a live local.
        let n = unsafe {
            libc::splice(
                job.file,
                off_ptr,
                job.pipe,
                std::ptr::null_mut(),
                job.len as usize,
                libc::SPLICE_F_MOVE,
            )
        };
        if n >= 0 {
            break n as i32;
        }
        let e = super::attempt::errno();
        if e != -libc::EINTR {
            break e;
        }
    };
    if let Some(ring) = ring.upgrade() {
        ring.worked(ud, res);
    }
}
