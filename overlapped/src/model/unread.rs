//! A stream socket's *unread* bytes: what a receive took from the kernel but
//! never handed to anyone, because the future that started it was dropped
//! after the kernel had already filled its buffers.
//!
//! Windows has no such loss to undo (nothing can drop a pending `WSARecv`);
//! a dropped receive future here must not lose bytes either (issue 17): a
//! completed-but-abandoned stream receive puts its bytes back in this stash,
//! *before* the next receive of its lane starts, and every receive of the
//! socket reads the stash before the kernel:
//!
//! * overlapped, routine and future receives (`OpKind::Recv`): the one at
//!   the head of the receive lane takes the stash instead of going to the
//!   kernel (the backend submits a no-op for it, see
//!   `OpSlot::serves_unread`); lane order is kept because only the lane's
//!   head ever reads;
//! * a zero-byte receive (`OpKind::PollIn`) completes at once while the
//!   stash holds bytes;
//! * synchronous receives (`Socket::recv_sync`) read it first;
//! * `MSG_PEEK` copies without consuming; `FIONREAD` counts it.
//!
//! Only stream receives without `MSG_PEEK`/`MSG_OOB` keep their bytes: a
//! datagram is dropped whole (as UDP may drop it anyway), a peek consumed
//! nothing, out-of-band data is not part of the stream.

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Mutex;

use crate::sys::buf::BufList;

/// The unread bytes of one stream socket, oldest first.
#[derive(Default)]
pub(crate) struct Unread {
    /// Whether `bytes` may be non-empty: the receive paths' only cost.
    any: AtomicBool,
    bytes: Mutex<VecDeque<u8>>,
}

impl Unread {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<u8>> {
        self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether bytes wait here (a hint: read it again under the lock).
    /// Relaxed: bytes are put back before the receive lane moves on (its
    /// lock orders them before the next receive's look), or by a drop that
    /// happens before the caller's next receive; the look itself is one
    /// plain load, the whole cost of the stash on a socket that never had
    /// a future dropped.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.any.load(Relaxed)
    }

    /// How many bytes wait here.
    pub(crate) fn len(&self) -> usize {
        if !self.any() {
            return 0;
        }
        self.lock().len()
    }

    /// Puts the first `n` bytes of `bufs` (an abandoned receive's) back in
    /// front of those waiting here. They are the oldest: a receive that
    /// went to the kernel found the stash empty (only the head of the
    /// socket's receive lane reads, and only it can put bytes back), and one
    /// that read the stash took them from its front.
    pub(crate) fn put_back(&self, bufs: &BufList, n: usize) {
        if n == 0 {
            return;
        }
        let mut bytes = Vec::with_capacity(n);
        let mut left = n;
        for b in bufs.buffers() {
            let take = b.len().min(left);
            bytes.extend_from_slice(&b[..take]);
            left -= take;
            if left == 0 {
                break;
            }
        }
        let mut stash = self.lock();
        if stash.is_empty() {
            *stash = VecDeque::from(bytes);
        } else {
            for &b in bytes.iter().rev() {
                stash.push_front(b);
            }
        }
        self.any.store(!stash.is_empty(), SeqCst);
    }

    /// Copies the oldest bytes into `bufs` (in order, as many as fit);
    /// consumes them unless `peek`. Returns the count.
    pub(crate) fn take_into(&self, bufs: &mut BufList, peek: bool) -> usize {
        if !self.any() {
            return 0;
        }
        let mut stash = self.lock();
        let mut done = 0;
        for b in bufs.buffers_mut() {
            done += copy_from(&stash, done, b);
        }
        self.consume(&mut stash, done, peek);
        done
    }

    /// As [`Unread::take_into`], into caller's slices (`recv_sync`).
    pub(crate) fn take_into_slices(&self, bufs: &mut [IoSliceMut<'_>], peek: bool) -> usize {
        if !self.any() {
            return 0;
        }
        let mut stash = self.lock();
        let mut done = 0;
        for b in bufs.iter_mut() {
            done += copy_from(&stash, done, b);
        }
        self.consume(&mut stash, done, peek);
        done
    }

    fn consume(&self, stash: &mut VecDeque<u8>, n: usize, peek: bool) {
        if !peek {
            stash.drain(..n);
            self.any.store(!stash.is_empty(), SeqCst);
        }
    }
}

/// Copies the stash's bytes from `at` on into `dst`; returns the count.
fn copy_from(stash: &VecDeque<u8>, at: usize, dst: &mut [u8]) -> usize {
    let n = dst.len().min(stash.len().saturating_sub(at));
    let (front, back) = stash.as_slices();
    for (i, d) in dst[..n].iter_mut().enumerate() {
        let k = at + i;
        *d = if k < front.len() {
            front[k]
        } else {
            back[k - front.len()]
        };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_in_order_peeks_and_takes() {
        let u = Unread::default();
        assert!(!u.any());
        let mut two = BufList::new();
        two.push(b"lo".to_vec());
        two.push(b", world".to_vec());
        u.put_back(&two, 9);
        u.put_back(&BufList::from(b"hello".to_vec()), 3);
        assert_eq!(u.len(), 12);
        let mut out = BufList::zeroed(4);
        assert_eq!(u.take_into(&mut out, true), 4);
        assert_eq!(out.first(), b"hello"[..4].as_ref());
        assert_eq!(u.len(), 12);
        let mut parts = BufList::new();
        parts.push(vec![0; 2]);
        parts.push(vec![0; 3]);
        assert_eq!(u.take_into(&mut parts, false), 5);
        assert_eq!(parts.gather(5), b"hello");
        let mut buf = [0u8; 64];
        let n = u.take_into_slices(&mut [IoSliceMut::new(&mut buf)], false);
        assert_eq!(&buf[..n], b", world");
        assert!(!u.any());
        assert_eq!(u.take_into(&mut BufList::zeroed(8), false), 0);
    }
}
