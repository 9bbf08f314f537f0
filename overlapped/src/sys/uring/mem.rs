//! The memory an operation shares with the kernel.

use crate::BufList;

/// The memory an operation shares with the kernel. Boxed so that its address
/// is stable; recycled by the backend to avoid an allocation per operation.
pub(crate) struct OpMem {
    pub(crate) msg: libc::msghdr,
    pub(crate) iov: Vec<libc::iovec>,
    pub(crate) bufs: BufList,
}

// SAFETY: the raw pointers inside `msg`/`iov` point into `bufs` and `iov`, which
// this struct owns; moving the box between threads moves their owner with them.
unsafe impl Send for OpMem {}

impl OpMem {
    pub(crate) fn new() -> Box<OpMem> {
        Box::new(OpMem {
            // SAFETY: msghdr is a plain C struct for which all-zero is valid.
            msg: unsafe { std::mem::zeroed() },
            iov: Vec::new(),
            bufs: BufList::new(),
        })
    }

    /// Points `msg` at the buffers, skipping the first `skip` bytes.
    pub(crate) fn prepare(&mut self, skip: usize) {
        self.bufs.fill_iovecs(skip, &mut self.iov);
        // SAFETY: as in `new`.
        self.msg = unsafe { std::mem::zeroed() };
        self.msg.msg_iov = self.iov.as_mut_ptr();
        self.msg.msg_iovlen = self.iov.len();
    }
}
