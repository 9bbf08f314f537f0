//! Owned scatter/gather buffers: the `WSABUF` array of an operation.

/// The buffers of one operation (`WSABUF` array), owned by the operation while
/// the kernel may use them and handed back at completion.
///
/// Each buffer's length is its `WSABUF.len`: a receive fills the buffers in
/// order, without holes; a send sends their bytes in order. [`BufList::limit`]
/// caps the total used (e.g. echo back the `n` bytes just received from a
/// 4 KiB buffer) without touching the buffers themselves.
///
/// ```
/// use overlapped::BufList;
/// let mut bufs = BufList::from(vec![vec![0u8; 4], vec![0u8; 5]]);
/// assert_eq!(bufs.total_len(), 9);
/// bufs.limit(6);
/// assert_eq!(bufs.total_len(), 6);
/// ```
#[doc(alias = "WSABUF")]
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BufList {
    bufs: Vec<Vec<u8>>,
    limit: usize,
}

impl BufList {
    /// An empty list (zero buffers: most calls reject it with `WSAEINVAL`).
    #[doc(alias = "WSABUF")]
    pub fn new() -> BufList {
        BufList {
            bufs: Vec::new(),
            limit: usize::MAX,
        }
    }

    /// One buffer of `len` zero bytes, ready to receive into.
    pub fn zeroed(len: usize) -> BufList {
        BufList::from(vec![0u8; len])
    }

    /// Appends a buffer.
    pub fn push(&mut self, buf: Vec<u8>) {
        self.bufs.push(buf);
    }

    /// Uses at most `n` bytes in total (the buffers keep their contents).
    pub fn limit(&mut self, n: usize) {
        self.limit = n;
    }

    /// Removes the limit set by [`BufList::limit`].
    pub fn unlimit(&mut self) {
        self.limit = usize::MAX;
    }

    /// The number of buffers (`dwBufferCount`).
    pub fn count(&self) -> usize {
        self.bufs.len()
    }

    /// Total bytes the operation may use: the sum of the lengths, capped by the limit.
    pub fn total_len(&self) -> usize {
        self.bufs
            .iter()
            .map(Vec::len)
            .sum::<usize>()
            .min(self.limit)
    }

    /// The buffers.
    #[doc(alias = "WSABUF")]
    pub fn buffers(&self) -> &[Vec<u8>] {
        &self.bufs
    }

    /// The buffers, mutably.
    pub fn buffers_mut(&mut self) -> &mut [Vec<u8>] {
        &mut self.bufs
    }

    /// The first buffer (most operations use one).
    pub fn first(&self) -> &[u8] {
        self.bufs.first().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Copies the first `n` bytes, across buffers in order, into one vector.
    pub fn gather(&self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        for b in &self.bufs {
            let take = (n - out.len()).min(b.len());
            out.extend_from_slice(&b[..take]);
            if out.len() == n {
                break;
            }
        }
        out
    }

    /// Gives the buffers back.
    pub fn into_inner(self) -> Vec<Vec<u8>> {
        self.bufs
    }

    /// The (pointer, length) pairs the kernel sees, honouring the limit.
    /// Pointers stay valid while the `BufList` is neither dropped nor its
    /// vectors resized: moving the `BufList` itself does not move the bytes.
    ///
    /// At most `max` pairs: if more would be needed, `max - 1` are made and
    /// the byte offset where they stop is returned (the rest goes through a
    /// bounce buffer, see `sys::iov`).
    pub(crate) fn fill_iovecs(
        &mut self,
        skip: usize,
        out: &mut Vec<libc::iovec>,
        max: usize,
    ) -> Option<usize> {
        self.fill_all(skip, out);
        if out.len() <= max {
            return None;
        }
        out.truncate(max - 1);
        Some(skip + out.iter().map(|v| v.iov_len).sum::<usize>())
    }

    /// Copies the bytes from offset `at` into `dst` (as many as fit).
    pub(crate) fn copy_out(&self, at: usize, dst: &mut [u8]) {
        let mut done = 0;
        self.walk_from(at, |chunk: &[u8]| {
            let n = chunk.len().min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&chunk[..n]);
            done += n;
            done < dst.len()
        });
    }

    /// Copies `src` into the buffers from offset `at` on.
    pub(crate) fn copy_in(&mut self, at: usize, src: &[u8]) {
        let mut done = 0;
        let mut skip = at;
        for b in &mut self.bufs {
            if done == src.len() {
                break;
            }
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            let n = (b.len() - skip).min(src.len() - done);
            b[skip..skip + n].copy_from_slice(&src[done..done + n]);
            done += n;
            skip = 0;
        }
    }

    /// Calls `f` with the bytes from offset `at` on, buffer by buffer, while it returns true.
    fn walk_from(&self, at: usize, mut f: impl FnMut(&[u8]) -> bool) {
        let mut skip = at;
        for b in &self.bufs {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            if !f(&b[skip..]) {
                return;
            }
            skip = 0;
        }
    }

    fn fill_all(&mut self, skip: usize, out: &mut Vec<libc::iovec>) {
        out.clear();
        let mut left = self.total_len();
        let mut skip = skip;
        for b in &mut self.bufs {
            if left == 0 {
                break;
            }
            let len = b.len().min(left);
            left -= len;
            if skip >= len {
                skip -= len;
                continue;
            }
            out.push(libc::iovec {
                iov_base: b[skip..].as_mut_ptr().cast(),
                iov_len: len - skip,
            });
            skip = 0;
        }
    }
}

impl From<Vec<u8>> for BufList {
    fn from(buf: Vec<u8>) -> BufList {
        BufList {
            bufs: vec![buf],
            limit: usize::MAX,
        }
    }
}

impl From<Vec<Vec<u8>>> for BufList {
    fn from(bufs: Vec<Vec<u8>>) -> BufList {
        BufList {
            bufs,
            limit: usize::MAX,
        }
    }
}

impl From<&[u8]> for BufList {
    fn from(buf: &[u8]) -> BufList {
        BufList::from(buf.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iovecs_honour_limit_and_skip() {
        let mut b = BufList::from(vec![vec![1u8; 4], vec![2u8; 5]]);
        let mut iov = Vec::new();
        assert_eq!(b.fill_iovecs(0, &mut iov, 1024), None);
        assert_eq!(iov.iter().map(|v| v.iov_len).collect::<Vec<_>>(), [4, 5]);
        b.limit(6);
        b.fill_iovecs(0, &mut iov, 1024);
        assert_eq!(iov.iter().map(|v| v.iov_len).collect::<Vec<_>>(), [4, 2]);
        b.fill_iovecs(5, &mut iov, 1024);
        assert_eq!(iov.iter().map(|v| v.iov_len).collect::<Vec<_>>(), [1]);
        assert_eq!(b.gather(6), [1, 1, 1, 1, 2, 2]);
    }

    #[test]
    fn more_buffers_than_iovecs_stop_early_and_copy_across() {
        let mut b = BufList::from((0..10u8).map(|i| vec![i; 3]).collect::<Vec<_>>());
        let mut iov = Vec::new();
        assert_eq!(b.fill_iovecs(4, &mut iov, 4), Some(12));
        assert_eq!(iov.iter().map(|v| v.iov_len).collect::<Vec<_>>(), [2, 3, 3]);
        let mut out = [0u8; 5];
        b.copy_out(10, &mut out);
        assert_eq!(out, [3, 3, 4, 4, 4]);
        b.copy_in(28, &[7, 7, 7]);
        assert_eq!(b.buffers()[9], [9, 7, 7]);
    }
}
