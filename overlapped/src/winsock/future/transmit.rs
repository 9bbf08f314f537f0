//! `TransmitFile`, `TransmitPackets` and `DisconnectEx` as futures.
//!
//! Like the connection futures they start **at the call**, on the calling
//! thread's ring (the file descriptors are duplicated by then, so the
//! borrowed ones may go), and their output is the result alone: the
//! buffers they carry are the call's own (head, tail, memory elements).

use std::os::fd::BorrowedFd;

use super::AsyncOp;
use crate::winsock::transmit::{file_request, packets_request};
use crate::{
    BufList, Completion, Socket, TransmitFileBuffers, TransmitFlags, TransmitPacketsElement,
    WsaResult,
};

fn result(c: Completion) -> WsaResult<u32> {
    if c.error.is_ok() {
        Ok(c.bytes)
    } else {
        Err(c.error)
    }
}

impl Socket {
    /// `TransmitFile` as a future: sends `head`, then `bytes_to_write`
    /// bytes of `file` from `offset` (0: to its end), then `tail`, and
    /// resolves to `Ok(bytes sent)` or the error. Arguments, flags
    /// (`DISCONNECT`, `REUSE_SOCKET`, ...) and errors as
    /// [`Socket::transmit_file_with`]; an error found at the call is the
    /// output at once.
    ///
    /// **Cancel safety**: dropping the future cancels the transmission; the
    /// peer has received a prefix of it, whose length is lost with the future.
    #[doc(alias = "TransmitFile")]
    pub fn transmit_file_async(
        &self,
        file: Option<BorrowedFd<'_>>,
        offset: u64,
        bytes_to_write: u32,
        bytes_per_send: u32,
        buffers: Option<TransmitFileBuffers>,
        flags: TransmitFlags,
    ) -> AsyncOp<WsaResult<u32>> {
        let req = file_request(
            file,
            Some(offset),
            bytes_to_write,
            bytes_per_send,
            buffers,
            flags,
        );
        self.start_transmit(self.transmit_kind(req))
    }

    /// `TransmitPackets` as a future: sends the elements in order and
    /// resolves to `Ok(bytes sent)` or the error. As
    /// [`Socket::transmit_packets_with`]; cancel safety as
    /// [`Socket::transmit_file_async`].
    #[doc(alias = "TransmitPackets")]
    pub fn transmit_packets_async(
        &self,
        elements: Vec<TransmitPacketsElement<'_>>,
        send_size: u32,
        flags: TransmitFlags,
    ) -> AsyncOp<WsaResult<u32>> {
        self.start_transmit(self.transmit_kind(packets_request(elements, send_size, flags)))
    }

    /// `DisconnectEx` as a future: closes the connection gracefully (the
    /// socket reusable with `REUSE_SOCKET`) and resolves to `Ok(0)` or the
    /// error, as [`Socket::disconnect_ex_with`].
    ///
    /// **Cancel safety**: dropping the future cancels the wait; the send
    /// side may already be shut down.
    #[doc(alias = "DisconnectEx")]
    pub fn disconnect_ex_async(&self, flags: TransmitFlags) -> AsyncOp<WsaResult<u32>> {
        self.start_transmit(self.disconnect_kind(flags).map(|k| (k, BufList::new())))
    }

    fn start_transmit(
        &self,
        kind: WsaResult<(crate::model::op::OpKind, BufList)>,
    ) -> AsyncOp<WsaResult<u32>> {
        match kind {
            Err(e) => AsyncOp::new(&self.inner, Err(e), BufList::new(), result),
            Ok((kind, bufs)) => AsyncOp::start_now(&self.inner, kind, bufs, result).0,
        }
    }
}
