//! The memory an operation shares with the kernel.

use std::net::SocketAddr;

use super::buf::BufList;
use super::{cmsg, iov};

/// The memory an operation shares with the kernel. Boxed so that its address
/// is stable; recycled by the backend to avoid an allocation per operation.
pub(crate) struct OpMem {
    pub(crate) msg: libc::msghdr,
    pub(crate) iov: Vec<libc::iovec>,
    pub(crate) bufs: BufList,
    /// Datagrams: the source (receive) or destination (send) address.
    pub(crate) name: libc::sockaddr_storage,
    /// Datagrams: control data received or to send.
    pub(crate) control: Vec<u8>,
    /// Set while `msg` asks the kernel for a source address and control data.
    receiving: bool,
    /// The control length the caller asked for (Windows-sized, [fact 80](crate::semantics#fact-80)).
    control_asked: usize,
    /// Past [`iov::IOV_MAX`] buffers, the rest goes through this (`sys::iov`).
    bounce: Vec<u8>,
    /// For a receive through `bounce`: the byte offset in `bufs` it fills.
    scatter_at: Option<usize>,
}

/// Which way the bytes of a bounce buffer go (`sys::iov`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    /// Copied from the buffers before the call.
    Send,
    /// Scattered into the buffers after the call; `whole`: all the rest
    /// (a stream `MSG_WAITALL` receive), else at most 64 KiB.
    Receive { whole: bool },
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
            name: cmsg::zeroed_storage(),
            control: Vec::new(),
            receiving: false,
            control_asked: 0,
            bounce: Vec::new(),
            scatter_at: None,
        })
    }

    /// Points `msg` at the buffers, skipping the first `skip` bytes; more
    /// than `IOV_MAX` buffers go partly through the bounce buffer, `way`.
    pub(crate) fn prepare(&mut self, skip: usize, way: Way) {
        self.scatter_at = None;
        if let Some(at) = self.bufs.fill_iovecs(skip, &mut self.iov, iov::IOV_MAX) {
            let whole = way == Way::Receive { whole: true };
            let len = iov::bounce_len(self.bufs.total_len() - at, whole);
            self.bounce.clear();
            self.bounce.resize(len, 0);
            match way {
                Way::Send => self.bufs.copy_out(at, &mut self.bounce),
                Way::Receive { .. } => self.scatter_at = Some(at),
            }
            self.iov.push(libc::iovec {
                iov_base: self.bounce.as_mut_ptr().cast(),
                iov_len: len,
            });
        }
        // SAFETY: as in `new`.
        self.msg = unsafe { std::mem::zeroed() };
        self.msg.msg_iov = self.iov.as_mut_ptr();
        self.msg.msg_iovlen = self.iov.len();
        self.receiving = false;
    }

    /// A stream operation on exactly one buffer, from byte `skip` on: the
    /// plain opcode needs neither `iovec` nor `msghdr`, only the address
    /// and length, so this skips [`OpMem::prepare`]. It resets what a
    /// completion reads of the message (`msg_flags`, the bounce and
    /// datagram state). `None` (use `prepare`) for several buffers, an
    /// empty rest, or a rest longer than `u32::MAX`.
    pub(crate) fn single(&mut self, skip: usize) -> Option<(*mut u8, u32)> {
        if self.bufs.count() != 1 {
            return None;
        }
        let len = self.bufs.total_len();
        if skip >= len || len - skip > u32::MAX as usize {
            return None;
        }
        self.scatter_at = None;
        self.receiving = false;
        self.msg.msg_flags = 0;
        let buf = self.bufs.buffers_mut()[0][skip..].as_mut_ptr();
        Some((buf, (len - skip) as u32))
    }

    /// After [`OpMem::prepare`]: also ask for the source address (at most
    /// `name_len` bytes) and `control_len` bytes of control data.
    pub(crate) fn prepare_recv_msg(&mut self, name_len: u32, control_len: u32) {
        self.receiving = true;
        if name_len > 0 {
            self.msg.msg_name = (&mut self.name as *mut libc::sockaddr_storage).cast();
            self.msg.msg_namelen =
                name_len.min(std::mem::size_of::<libc::sockaddr_storage>() as u32);
        }
        self.control_asked = control_len as usize;
        if control_len > 0 {
            // Room for what a Windows-sized buffer holds (fact 80); cut to
            // the Windows sizes at completion (`fit_control`).
            self.control.clear();
            self.control
                .resize(cmsg::kernel_len(control_len as usize), 0);
            self.msg.msg_control = self.control.as_mut_ptr().cast();
            self.msg.msg_controllen = self.control.len();
        }
    }

    /// At a receive's completion: keeps the control messages that fit in
    /// the length asked for, counted the Windows way, and sets
    /// `MSG_CTRUNC` if any did not ([fact 81](crate::semantics#fact-81)).
    pub(crate) fn fit_control(&mut self) {
        if !self.receiving || self.msg.msg_control.is_null() {
            return;
        }
        let used = self.msg.msg_controllen.min(self.control.len());
        let keep = cmsg::fit_windows(&self.control[..used], self.control_asked);
        if keep < used {
            self.msg.msg_flags |= libc::MSG_CTRUNC;
        }
        self.msg.msg_controllen = keep;
    }

    /// After [`OpMem::prepare`]: also name the destination and the control data.
    pub(crate) fn prepare_send_msg(&mut self, to: Option<&std::net::SocketAddr>, control: &[u8]) {
        if let Some(to) = to {
            self.msg.msg_namelen = cmsg::write_addr(to, &mut self.name);
            self.msg.msg_name = (&mut self.name as *mut libc::sockaddr_storage).cast();
        }
        if !control.is_empty() {
            self.control.clear();
            self.control.extend_from_slice(control);
            self.msg.msg_control = self.control.as_mut_ptr().cast();
            self.msg.msg_controllen = self.control.len();
        }
    }

    /// At completion of a step that moved `bytes`: a receive's bytes that
    /// went into the bounce buffer are copied into the buffers; the bounce
    /// buffer is freed (it is not kept in recycled memory).
    pub(crate) fn finish(&mut self, bytes: usize) {
        if let Some(at) = self.scatter_at.take() {
            let got = bytes.saturating_sub(at).min(self.bounce.len());
            self.bufs.copy_in(at, &self.bounce[..got]);
        }
        if self.bounce.capacity() > 0 {
            self.bounce = Vec::new();
        }
    }

    /// A connect's destination, written into the operation's own memory:
    /// the address and length to hand the kernel.
    pub(crate) fn prepare_connect(
        &mut self,
        to: &std::net::SocketAddr,
    ) -> (*const libc::sockaddr, libc::socklen_t) {
        self.receiving = false;
        let len = cmsg::write_addr(to, &mut self.name);
        ((&self.name as *const libc::sockaddr_storage).cast(), len)
    }

    /// The data length the buffers can hold.
    pub(crate) fn capacity(&self) -> usize {
        self.bufs.total_len()
    }

    /// At completion: the source address and the control data (in the
    /// kernel's layout) a datagram receive asked for; `None` for other
    /// operations. Called once per completion, before the memory is recycled.
    #[inline]
    pub(crate) fn take_dgram(&mut self) -> Option<(Option<SocketAddr>, Vec<u8>)> {
        if !std::mem::take(&mut self.receiving) {
            return None;
        }
        Some(self.read_dgram())
    }

    /// [`OpMem::take_dgram`] of a datagram receive (out of line: streams never come here).
    #[inline(never)]
    fn read_dgram(&mut self) -> (Option<SocketAddr>, Vec<u8>) {
        let from = if self.msg.msg_name.is_null() {
            None
        } else {
            cmsg::read_addr(&self.name, self.msg.msg_namelen)
        };
        let control = if self.msg.msg_control.is_null() {
            Vec::new()
        } else {
            let used = self.msg.msg_controllen.min(self.control.len());
            self.control[..used].to_vec()
        };
        (from, control)
    }
}
