//! The synchronous datagram calls (neither a record nor a routine): plain
//! `recvmsg`/`sendmsg` with the same checks as the overlapped ones.

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;

use super::{MsgSpace, NAME_MAX};
use crate::model::flags::FlagCall;
use crate::model::lane::Direction;
use crate::sys::cmsg as raw;
use crate::sys::iov;
use crate::{Control, MsgFlags, Socket, WsaError, WsaResult};

/// What a synchronous [`Socket::recv_msg_sync`] received, filled in also
/// when it fails with `WSAEMSGSIZE` ([fact 81](crate::semantics#fact-81)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[doc(alias = "WSAMSG")]
pub struct MsgInfo {
    /// Bytes stored in the buffers.
    pub bytes: usize,
    /// `WSAMSG.dwFlags` on output: `TRUNC`, `CTRUNC`.
    pub flags: MsgFlags,
    /// The source address, if one was asked for.
    pub from: Option<SocketAddr>,
    /// The control data received.
    pub control: Control,
}

/// A datagram call's error: ICMP "port unreachable" is `WSAECONNRESET` ([fact 77](crate::semantics#fact-77)).
fn io_error(e: &std::io::Error) -> WsaError {
    match e.raw_os_error() {
        Some(errno) => crate::model::op::dgram_error(errno),
        None => WsaError::from_io(e),
    }
}

impl Socket {
    /// A synchronous datagram receive (`recvfrom`): the source address goes
    /// to `from` (left untouched on a stream socket, [fact 72](crate::semantics#fact-72)). A truncated
    /// datagram fills the buffers and returns `Err(WSAEMSGSIZE)` ([fact 78](crate::semantics#fact-78)).
    #[doc(alias = "WSARecvFrom")]
    #[doc(alias = "recvfrom")]
    pub fn recv_from_sync(
        &self,
        buffers: &mut [IoSliceMut<'_>],
        flags: MsgFlags,
        from: &mut Option<SocketAddr>,
    ) -> WsaResult<usize> {
        if self.is_stream() {
            return self.recv_sync(buffers, flags);
        }
        let mut info = MsgInfo::default();
        let r = self.recv_msg_sync_inner(buffers, MsgSpace::default(), flags, false, &mut info);
        if info.from.is_some() {
            *from = info.from;
        }
        r
    }

    /// A synchronous datagram send (`sendto`); returns the bytes sent.
    #[doc(alias = "WSASendTo")]
    #[doc(alias = "sendto")]
    pub fn send_to_sync(
        &self,
        buffers: &[IoSlice<'_>],
        to: &SocketAddr,
        flags: MsgFlags,
    ) -> WsaResult<usize> {
        if self.is_stream() {
            return self.send_sync(buffers, flags);
        }
        self.send_msg_sync_inner(buffers, Some(to), &Control::new(), flags, FlagCall::Send)
    }

    /// A synchronous `WSARecvMsg`: results in `info`, which is filled in also
    /// when the call fails with `WSAEMSGSIZE` (truncated data or control, [fact 81](crate::semantics#fact-81)).
    #[doc(alias = "WSARecvMsg")]
    #[doc(alias = "recvmsg")]
    pub fn recv_msg_sync(
        &self,
        buffers: &mut [IoSliceMut<'_>],
        space: MsgSpace,
        flags: MsgFlags,
        info: &mut MsgInfo,
    ) -> WsaResult<usize> {
        self.recv_msg_sync_inner(buffers, space, flags, true, info)
    }

    /// A synchronous `WSASendMsg`; returns the bytes sent.
    #[doc(alias = "WSASendMsg")]
    #[doc(alias = "sendmsg")]
    pub fn send_msg_sync(
        &self,
        buffers: &[IoSlice<'_>],
        to: Option<&SocketAddr>,
        control: &Control,
        flags: MsgFlags,
    ) -> WsaResult<usize> {
        self.send_msg_sync_inner(buffers, to, control, flags, FlagCall::SendMsg)
    }

    fn recv_msg_sync_inner(
        &self,
        buffers: &mut [IoSliceMut<'_>],
        space: MsgSpace,
        flags: MsgFlags,
        msg: bool,
        info: &mut MsgInfo,
    ) -> WsaResult<usize> {
        let mode = self.sync_mode(flags);
        let flags = self.check_dgram_recv(buffers.len(), space, flags, msg, mode)?;
        let capacity: usize = buffers.iter().map(|b| b.len()).sum();
        let mut name = raw::zeroed_storage();
        // Room for what a Windows-sized buffer holds (fact 80), cut to it below.
        let mut control = vec![0u8; raw::kernel_len(space.control_len)];
        let fd = self.inner.fd();
        let name_len = space.name_len.min(NAME_MAX) as libc::socklen_t;
        // More than 1,024 buffers: the rest through a bounce buffer (sys::iov).
        let stored = |r: &WsaResult<raw::RawRecv>| r.as_ref().map_or(0, |got| got.bytes);
        let got = iov::recv_sync(
            buffers,
            false,
            |buffers| {
                self.sync_call(Direction::Receive, flags, io_error, |f| {
                    raw::recv_msg(fd, buffers, &mut name, name_len, &mut control, f)
                })
            },
            stored,
        )?;
        control.truncate(got.control_len);
        let mut msg_flags = got.flags;
        if !msg {
            // `WSARecvFrom` has no control buffer: control data it never
            // asked for is not truncation (fact 81).
            msg_flags &= !libc::MSG_CTRUNC;
        }
        let keep = raw::fit_windows(&control, space.control_len);
        if keep < control.len() {
            msg_flags |= libc::MSG_CTRUNC;
        }
        control.truncate(keep);
        *info = MsgInfo {
            bytes: got.bytes.min(capacity),
            flags: MsgFlags::from_linux(msg_flags),
            from: raw::read_addr(&name, got.name_len),
            control: Control::from_kernel(control),
        };
        if msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
            return Err(WsaError::WSAEMSGSIZE);
        }
        Ok(info.bytes)
    }

    fn send_msg_sync_inner(
        &self,
        buffers: &[IoSlice<'_>],
        to: Option<&SocketAddr>,
        control: &Control,
        flags: MsgFlags,
        call: FlagCall,
    ) -> WsaResult<usize> {
        let total = buffers.iter().map(|b| b.len()).sum();
        let flags =
            self.check_dgram_send(buffers.len(), total, to, flags, call)? | libc::MSG_NOSIGNAL;
        let fd = self.inner.fd();
        iov::send_sync(buffers, |buffers| {
            self.sync_call(Direction::Send, flags, io_error, |f| {
                raw::send_msg(fd, buffers, to, control.as_bytes(), f)
            })
        })
    }
}
