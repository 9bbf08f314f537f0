//! The state of one `TransmitFile` / `TransmitPackets` operation, described
//! independently of the backend.
//!
//! The data is a list of elements (memory buffers and file ranges) sent in
//! order. Each step loads a *chain* of members into the kernel at once:
//! memory is written into a pipe, file ranges are spliced into it (page
//! references, no copy into user memory), and the pipe is spliced into the
//! socket; then the next load. The backend submits a chain as linked
//! requests that all carry the operation's `user_data`, and hands their
//! results back in order ([`TransmitOp::absorb`]); when the chain is over,
//! [`TransmitOp::conclude`] says whether the operation is done or needs
//! another chain. A short result breaks the chain (the kernel cancels the
//! rest) and the next chain starts from where the bytes really are.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::model::error::WsaError;
use crate::sys::buf::BufList;
use crate::sys::op::Request;
use crate::sys::{page_size, sendnow, Pipe};

/// Members per chain at most (the submission queue has 256 entries).
pub(crate) const MAX_MEMBERS: usize = 32;
/// Bytes moved by one chain at most, so that progress is reported and a
/// cancel is noticed between chains.
const CHAIN_BYTES: u64 = 8 << 20;
/// Bytes of a transmit sent inline (before any chain) at most: small
/// answers; a larger transmit keeps the chains from its first byte.
const INLINE_MAX: u64 = 64 << 10;
/// `nSendSize` value that lets `TP_ELEMENT_EOP` delimit each send.
pub(crate) const SEND_SIZE_BY_EOP: u32 = u32::MAX;

/// Where an element's bytes come from.
pub(crate) enum Source {
    /// The operation's buffer number `n` (in its `BufList`).
    Memory(usize),
    /// File number `file`, from `offset` (`None`: the file's current position).
    File { file: usize, offset: Option<u64> },
}

/// One element: its source, its length, and whether a send ends after it
/// (`TP_ELEMENT_EOP`).
pub(crate) struct Element {
    pub(crate) source: Source,
    pub(crate) len: u64,
    pub(crate) eop: bool,
}

pub(crate) use crate::sys::op::Member;

/// What a finished chain means.
pub(crate) enum Conclusion {
    Done(WsaError, u32),
    Again,
}

/// A transmit in progress.
pub(crate) struct TransmitOp {
    elements: Vec<Element>,
    files: Vec<OwnedFd>,
    pipe: Option<Pipe>,
    send_size: u32,
    disconnect: bool,
    /// `TF_REUSE_SOCKET` (with `disconnect`): a fresh endpoint once shut down.
    reuse: bool,
    datagram: bool,
    /// Position: element index and bytes of it already in the pipe or sent.
    elem: usize,
    at: u64,
    in_pipe: u64,
    sent: u64,
    shut: bool,
    error: Option<i32>,
    truncated: bool,
    stalls: u32,
    /// The position when the current chain was planned (to see progress).
    mark: (usize, u64, u64, u64, bool),
    chain: Vec<Member>,
    absorbed: usize,
    /// A splice into the socket said `EAGAIN` (non-blocking mode, which
    /// overlapped operations ignore, [fact 4](crate::semantics#fact-4)): the
    /// next chain waits first.
    wait_writable: bool,
    /// The inline attempt was made (once, before the first chain).
    inline_tried: bool,
}

impl TransmitOp {
    pub(crate) fn new(
        elements: Vec<Element>,
        files: Vec<OwnedFd>,
        pipe: Pipe,
        send_size: u32,
        disconnect: bool,
        reuse: bool,
        datagram: bool,
    ) -> TransmitOp {
        TransmitOp {
            elements,
            files,
            pipe: Some(pipe),
            send_size,
            disconnect,
            reuse,
            datagram,
            elem: 0,
            at: 0,
            in_pipe: 0,
            sent: 0,
            shut: false,
            error: None,
            truncated: false,
            stalls: 0,
            mark: (0, 0, 0, 0, false),
            chain: Vec::new(),
            absorbed: 0,
            wait_writable: false,
            inline_tried: false,
        }
    }

    pub(crate) fn pipe(&self) -> &Pipe {
        self.pipe
            .as_ref()
            .expect("a transmit keeps its pipe until dropped")
    }

    /// Plans the next chain: the request that carries it out on `socket`.
    pub(crate) fn request(&mut self, socket: RawFd) -> Request<'_> {
        self.plan();
        let pipe = self.pipe();
        Request::Chain {
            members: &self.chain,
            pipe: (pipe.read_fd(), pipe.write_fd()),
            files: &self.files,
            socket,
        }
    }

    /// True once `TF_DISCONNECT`'s shutdown went through.
    pub(crate) fn disconnected(&self) -> bool {
        self.shut
    }

    /// Whether the socket is to be reused once disconnected (`TF_REUSE_SOCKET`).
    pub(crate) fn reuse(&self) -> bool {
        self.reuse
    }

    /// Before the first chain, sends inline what goes without waiting,
    /// in order, straight into `socket` (`sys::sendnow`: memory with
    /// `send(MSG_DONTWAIT)`, file ranges with `sendfile`), if the transmit
    /// is small (at most `INLINE_MAX` bytes), a plain stream one (no
    /// `nSendSize`, every file range at a known offset) and nothing can block: the socket is
    /// non-blocking (`nonblocking`: the mode the caller set through the
    /// library), every file range is in the page cache, and `SIGPIPE` is
    /// ignored. It stops at the first call that sends short or would
    /// block; the chains then go on from the exact byte. An error ends the
    /// operation, reported at completion with the bytes that went, as a
    /// chain's would be. `bufs` are the operation's memory buffers.
    pub(crate) fn send_inline(&mut self, bufs: &BufList, socket: RawFd, nonblocking: bool) {
        if std::mem::replace(&mut self.inline_tried, true) || !nonblocking || !self.inline_fits() {
            return;
        }
        let cached = self.elements.iter().all(|el| match el.source {
            Source::File {
                file,
                offset: Some(o),
            } => sendnow::cached(self.files[file].as_raw_fd(), o, el.len),
            _ => true,
        });
        if !cached || !sendnow::sigpipe_ignored() {
            return;
        }
        loop {
            self.advance(0);
            let Some(el) = self.elements.get(self.elem) else {
                return;
            };
            let rest = el.len - self.at;
            let more = self.elements[self.elem + 1..].iter().any(|e| e.len > 0);
            let res = match el.source {
                Source::Memory(b) => {
                    let at = self.at as usize;
                    sendnow::send(socket, &bufs.buffers()[b][at..at + rest as usize], more)
                }
                Source::File { file, offset } => sendnow::sendfile(
                    socket,
                    self.files[file].as_raw_fd(),
                    offset.unwrap_or(0) + self.at,
                    rest as usize,
                ),
            };
            if res > 0 {
                if self.sent == 0 {
                    sendnow::count_inline();
                }
                self.sent += res as u64;
                self.advance(res as u64);
                if (res as u64) < rest {
                    // The socket is full, or the file ends early (the chain
                    // that follows finds out which).
                    return;
                }
                continue;
            }
            if res == -libc::EAGAIN {
                // The socket is full: the first chain waits for room.
                self.wait_writable = true;
            } else if res < 0 && res != -libc::EINTR {
                self.error = Some(-res);
            }
            return;
        }
    }

    /// Whether the transmit is one [`TransmitOp::send_inline`] tries.
    fn inline_fits(&self) -> bool {
        let total: u64 = self.elements.iter().map(|e| e.len).sum();
        !self.datagram
            && self.send_size == 0
            && total > 0
            && total <= INLINE_MAX
            && self
                .elements
                .iter()
                .all(|el| !matches!(el.source, Source::File { offset: None, .. }))
    }

    /// Moves `(e, at)` past finished elements (zero-length ones included),
    /// carrying bytes beyond an element's end into the next.
    fn skip_done(&self, e: &mut usize, at: &mut u64) {
        while *e < self.elements.len() && *at >= self.elements[*e].len {
            *at -= self.elements[*e].len;
            *e += 1;
        }
    }

    /// Plans the next chain from the current position; returns its members.
    pub(crate) fn plan(&mut self) -> &[Member] {
        let page = u64::from(page_size());
        let slots = u64::from(self.pipe().slots());
        let mut chain = std::mem::take(&mut self.chain);
        chain.clear();
        self.absorbed = 0;
        self.mark = self.snapshot();
        let (mut e, mut at) = (self.elem, self.at);
        self.skip_done(&mut e, &mut at);
        let mut bytes_left = CHAIN_BYTES;
        if self.error.is_some() {
            // Failed inline: nothing more goes; the completion reports it.
            chain.push(Member::Nop);
            self.chain = chain;
            return &self.chain;
        }
        if std::mem::take(&mut self.wait_writable) {
            chain.push(Member::Writable);
        }
        if self.in_pipe > 0 {
            chain.push(Member::Out {
                len: self.in_pipe as u32,
            });
            bytes_left = bytes_left.saturating_sub(self.in_pipe);
        }
        while !self.truncated && e < self.elements.len() && bytes_left > 0 {
            if self.datagram {
                let need = self.group_members(e) + 1;
                if chain.len() + need > MAX_MEMBERS {
                    break;
                }
            } else if chain.len() + 2 > MAX_MEMBERS {
                break;
            }
            let limit = if self.datagram {
                u64::MAX
            } else {
                match self.send_size {
                    0 | SEND_SIZE_BY_EOP => u64::MAX,
                    n => u64::from(n),
                }
                .min(bytes_left)
            };
            let mut free = slots;
            let mut load = 0u64;
            loop {
                self.skip_done(&mut e, &mut at);
                if e == self.elements.len() || chain.len() + 1 >= MAX_MEMBERS {
                    break;
                }
                let el = &self.elements[e];
                let rest = (el.len - at).min(limit - load);
                let (n, used) = match el.source {
                    Source::Memory(buf) => {
                        let n = rest.min(free * page);
                        if n > 0 {
                            chain.push(Member::Write {
                                buf,
                                at: at as usize,
                                len: n as u32,
                            });
                        }
                        (n, n.div_ceil(page))
                    }
                    Source::File { file, offset } => {
                        let from = offset.map(|o| o + at);
                        // The first page may be partly used; unknown position: assume the worst.
                        let lead = from.map_or(page - 1, |o| o % page);
                        let n = rest.min((free * page).saturating_sub(lead));
                        if n > 0 {
                            chain.push(Member::SpliceIn {
                                file,
                                offset: from,
                                len: n as u32,
                            });
                        }
                        (n, (lead + n).div_ceil(page))
                    }
                };
                if n == 0 {
                    break;
                }
                free -= used.min(free);
                load += n;
                at += n;
                if at == el.len {
                    let eop = el.eop;
                    at = 0;
                    e += 1;
                    if eop && (self.datagram || self.send_size == SEND_SIZE_BY_EOP) {
                        break;
                    }
                }
                if load >= limit || free == 0 {
                    break;
                }
            }
            if load == 0 {
                break;
            }
            chain.push(Member::Out { len: load as u32 });
            bytes_left = bytes_left.saturating_sub(load);
        }
        self.skip_done(&mut e, &mut at);
        if self.disconnect && !self.shut && !self.truncated && e == self.elements.len() {
            chain.push(Member::Shutdown);
        }
        if chain.is_empty() {
            chain.push(Member::Nop);
        }
        self.chain = chain;
        &self.chain
    }

    /// Elements of the datagram that starts at element `e` (up to its EOP).
    fn group_members(&self, e: usize) -> usize {
        let mut n = 0;
        for el in &self.elements[e..] {
            n += 1;
            if el.eop {
                break;
            }
        }
        n
    }

    fn snapshot(&self) -> (usize, u64, u64, u64, bool) {
        (self.elem, self.at, self.in_pipe, self.sent, self.shut)
    }

    /// Counts `n` more bytes of the elements as loaded into the pipe. The
    /// position first moves past finished (and zero-length) elements, so the
    /// bytes count for the element they came from: an empty head buffer
    /// before a file must not swallow the file's progress.
    fn advance(&mut self, n: u64) {
        let (mut e, mut at) = (self.elem, self.at);
        self.skip_done(&mut e, &mut at);
        at += n;
        self.skip_done(&mut e, &mut at);
        self.elem = e;
        self.at = at;
    }

    fn note(&mut self, res: i32) {
        let errno = -res;
        if errno == libc::EAGAIN {
            self.wait_writable = true;
            return;
        }
        if errno != libc::ECANCELED && errno != libc::EINTR && self.error.is_none() {
            self.error = Some(errno);
        }
    }

    /// Takes the result of the chain's next member. True while more of the
    /// chain's results are to come.
    pub(crate) fn absorb(&mut self, res: i32) -> bool {
        let Some(&member) = self.chain.get(self.absorbed) else {
            return false;
        };
        self.absorbed += 1;
        match member {
            Member::Write { len, .. } | Member::SpliceIn { len, .. } => {
                if res > 0 {
                    self.in_pipe += res as u64;
                    self.advance(res as u64);
                } else if res == 0 && len > 0 {
                    if matches!(member, Member::SpliceIn { .. }) {
                        // The file ends before the range asked for.
                        self.truncated = true;
                    } else {
                        self.error.get_or_insert(libc::EIO);
                    }
                } else if res < 0 {
                    self.note(res);
                }
            }
            Member::Out { len } => {
                if res > 0 {
                    let n = (res as u64).min(self.in_pipe);
                    self.in_pipe -= n;
                    self.sent += n;
                } else if res == 0 && len > 0 {
                    self.error.get_or_insert(libc::EPIPE);
                } else if res < 0 {
                    self.note(res);
                }
            }
            Member::Shutdown => {
                if res == 0 {
                    self.shut = true;
                } else if res < 0 {
                    self.note(res);
                }
            }
            Member::Writable => {
                if res < 0 {
                    self.note(res);
                }
            }
            Member::Nop => {}
        }
        self.absorbed < self.chain.len()
    }

    /// The chain is over: done (error, bytes sent) or another chain.
    /// `ended`: the operation was cancelled or its socket closed.
    pub(crate) fn conclude(&mut self, ended: bool) -> Conclusion {
        self.advance(0);
        let sent = self.sent as u32;
        let all = self.elem == self.elements.len() && self.in_pipe == 0;
        if all && (!self.disconnect || self.shut) {
            return Conclusion::Done(WsaError::NO_ERROR, sent);
        }
        if ended {
            return Conclusion::Done(WsaError::WSA_OPERATION_ABORTED, sent);
        }
        if let Some(errno) = self.error {
            return Conclusion::Done(WsaError::from_errno(errno), sent);
        }
        if self.truncated && (self.in_pipe == 0 || self.datagram) {
            return Conclusion::Done(WsaError::ERROR_HANDLE_EOF, sent);
        }
        if self.datagram && self.in_pipe > 0 {
            // Part of a datagram is loaded but the rest did not follow.
            return Conclusion::Done(WsaError::WSAENOBUFS, sent);
        }
        let progressed = self.mark != self.snapshot();
        self.stalls = if progressed { 0 } else { self.stalls + 1 };
        if self.stalls > 3 {
            return Conclusion::Done(WsaError::WSAENOBUFS, sent);
        }
        Conclusion::Again
    }
}

impl Drop for TransmitOp {
    fn drop(&mut self) {
        // Every request of the operation has been reaped by now; a pipe that
        // still holds bytes is closed rather than reused.
        if let Some(pipe) = self.pipe.take() {
            if self.in_pipe == 0 {
                pipe.recycle();
            }
        }
    }
}
