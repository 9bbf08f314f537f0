//! Message flags (`MSG_*`) with their Winsock values, and their Linux translation.

use bitflags::bitflags;

bitflags! {
    /// Flags of a receive or send (`lpFlags` / `dwFlags`), with Winsock's values.
    ///
    /// On input they select the behaviour (`PEEK`, `OOB`, `WAITALL`, ...); on output
    /// a receive reports what happened (`TRUNC`, `CTRUNC`, ...).
    #[doc(alias = "MSG_PEEK")]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct MsgFlags: u32 {
        /// `MSG_OOB`: urgent (out-of-band) data.
        const OOB = 0x1;
        /// `MSG_PEEK`: copy the data without removing it.
        const PEEK = 0x2;
        /// `MSG_DONTROUTE`: do not route.
        const DONTROUTE = 0x4;
        /// `MSG_WAITALL`: complete only when the buffers are full, the connection closed, or an error.
        const WAITALL = 0x8;
        /// `MSG_TRUNC` (output): the datagram was larger than the buffers.
        const TRUNC = 0x0100;
        /// `MSG_CTRUNC` (output): the control data was larger than its buffer.
        const CTRUNC = 0x0200;
        /// `MSG_BCAST` (output): the datagram was a broadcast.
        const BCAST = 0x0400;
        /// `MSG_MCAST` (output): the datagram was a multicast.
        const MCAST = 0x0800;
        /// `MSG_PARTIAL`: a partial message (not supported by TCP or UDP).
        const PARTIAL = 0x8000;
    }
}

impl MsgFlags {
    /// The Linux `MSG_*` bits for an input flag set; `Err(WSAEOPNOTSUPP)` for
    /// flags Linux stream and datagram sockets cannot honour (`PARTIAL`).
    pub(crate) fn to_linux(self) -> Result<i32, crate::WsaError> {
        if self.contains(MsgFlags::PARTIAL) {
            return Err(crate::WsaError::WSAEOPNOTSUPP);
        }
        let mut out = 0;
        if self.contains(MsgFlags::OOB) {
            out |= libc::MSG_OOB;
        }
        if self.contains(MsgFlags::PEEK) {
            out |= libc::MSG_PEEK;
        }
        if self.contains(MsgFlags::DONTROUTE) {
            out |= libc::MSG_DONTROUTE;
        }
        if self.contains(MsgFlags::WAITALL) {
            out |= libc::MSG_WAITALL;
        }
        Ok(out)
    }

    /// The output flags of a Linux `msg_flags` value.
    pub(crate) fn from_linux(flags: i32) -> MsgFlags {
        let mut out = MsgFlags::empty();
        if flags & libc::MSG_OOB != 0 {
            out |= MsgFlags::OOB;
        }
        if flags & libc::MSG_TRUNC != 0 {
            out |= MsgFlags::TRUNC;
        }
        if flags & libc::MSG_CTRUNC != 0 {
            out |= MsgFlags::CTRUNC;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation() {
        assert_eq!(MsgFlags::PEEK.to_linux().unwrap(), libc::MSG_PEEK);
        assert_eq!(
            (MsgFlags::OOB | MsgFlags::WAITALL).to_linux().unwrap(),
            libc::MSG_OOB | libc::MSG_WAITALL
        );
        assert_eq!(
            MsgFlags::PARTIAL.to_linux(),
            Err(crate::WsaError::WSAEOPNOTSUPP)
        );
        assert_eq!(MsgFlags::from_linux(libc::MSG_TRUNC), MsgFlags::TRUNC);
        assert_eq!(MsgFlags::PEEK.bits(), 2);
        assert_eq!(MsgFlags::WAITALL.bits(), 8);
    }
}
