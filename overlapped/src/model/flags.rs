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

/// The call a set of input flags is given to (the rows of the flag table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlagCall {
    /// `WSARecv` / `WSARecvFrom` (and `recv`, `recvfrom`).
    Receive,
    /// `WSARecvMsg`.
    ReceiveMsg,
    /// `WSASend` / `WSASendTo` (and `send`, `sendto`).
    Send,
    /// `WSASendMsg`.
    SendMsg,
}

/// How the call runs (the third axis of the flag table). An event record
/// and a completion routine are alike here: both are overlapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlagMode {
    /// With an overlapped record or a completion routine.
    Overlapped,
    /// Synchronous on a blocking socket.
    Blocking,
    /// Synchronous on a non-blocking socket.
    NonBlocking,
}

/// The flag-validity table: where each input flag may be used, by call and
/// socket type (`[stream, datagram]`). Any flag outside it, and any flag
/// in a cell marked `false`, fails the call with `WSAEOPNOTSUPP` before
/// anything starts ([fact 1](crate::semantics#fact-1)).
///
/// | flag        | receive       | `WSARecvMsg` | send          | `WSASendMsg` | facts |
/// |-------------|---------------|--------------|---------------|--------------|-------|
/// | `PEEK`      | stream, dgram | dgram        | —             | —            | 58, 79 |
/// | `OOB`       | stream        | —            | stream        | —            | 59, 83 |
/// | `WAITALL`   | stream ¹      | —            | —             | —            | 61 |
/// | `DONTROUTE` | stream, dgram ² | —          | stream, dgram | dgram        | 83 |
/// | `PARTIAL`   | —             | —            | —             | —            | 60 (TCP and UDP do not support it) |
/// | output-only (`TRUNC`, `CTRUNC`, `BCAST`, `MCAST`), unknown bits | — | — | — | — | |
///
/// ¹ Not with `OOB` or `PEEK`, nor in a synchronous call on a non-blocking
/// socket ([fact 61](crate::semantics#fact-61)). ² Accepted and ignored (it only concerns sending).
/// `WSARecvMsg` and `WSASendMsg` take datagram sockets only; that is checked
/// (`WSAEINVAL`) before the flags.
const TABLE: [(MsgFlags, [[bool; 2]; 4]); 5] = [
    //                   Receive        ReceiveMsg      Send           SendMsg
    (
        MsgFlags::PEEK,
        [[true, true], [false, true], [false, false], [false, false]],
    ),
    (
        MsgFlags::OOB,
        [[true, false], [false, false], [true, false], [false, false]],
    ),
    (
        MsgFlags::WAITALL,
        [
            [true, false],
            [false, false],
            [false, false],
            [false, false],
        ],
    ),
    (
        MsgFlags::DONTROUTE,
        [[true, true], [false, false], [true, true], [false, true]],
    ),
    (
        MsgFlags::PARTIAL,
        [
            [false, false],
            [false, false],
            [false, false],
            [false, false],
        ],
    ),
];

impl MsgFlags {
    /// Checks input flags against the flag table for `call` on a stream
    /// (`stream`) or datagram socket, run in `mode`; returns the Linux
    /// `MSG_*` bits, or `WSAEOPNOTSUPP` for a flag the call cannot honour.
    pub(crate) fn for_call(
        self,
        call: FlagCall,
        stream: bool,
        mode: FlagMode,
    ) -> Result<i32, crate::model::error::WsaError> {
        if self.is_empty() {
            // No flags: allowed in every call (the usual case: no table walk).
            return Ok(0);
        }
        let refuse = Err(crate::model::error::WsaError::WSAEOPNOTSUPP);
        let mut allowed = MsgFlags::empty();
        for (flag, cells) in TABLE {
            if cells[call as usize][usize::from(!stream)] {
                allowed |= flag;
            }
        }
        if !allowed.contains(self) {
            return refuse;
        }
        if self.contains(MsgFlags::WAITALL)
            && (self.intersects(MsgFlags::OOB | MsgFlags::PEEK) || mode == FlagMode::NonBlocking)
        {
            return refuse;
        }
        Ok(self.to_linux())
    }

    /// The Linux `MSG_*` bits of the input flags (`PEEK`, `OOB`,
    /// `DONTROUTE`, `WAITALL`); check them with [`MsgFlags::for_call`] first.
    fn to_linux(self) -> i32 {
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
        out
    }

    /// The flags Winsock reports beside a completed receive's byte count
    /// (`lpFlags` on immediate completion, a completion routine's `dwFlags`,
    /// `WSAGetOverlappedResult`'s `lpdwFlags`), from the message's own output
    /// flags (`WSAMSG.dwFlags`). Only `MSG_PARTIAL` is reported there, which
    /// TCP and UDP never set: for them it is always empty, and a truncation
    /// shows in the error (`WSAEMSGSIZE`) and in the message's flags (facts
    /// 32, 81).
    pub(crate) fn completion_flags(self) -> MsgFlags {
        self & MsgFlags::PARTIAL
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
    use crate::model::error::WsaError;
    use FlagCall::*;
    use FlagMode::*;

    const NO: Result<i32, WsaError> = Err(WsaError::WSAEOPNOTSUPP);

    #[test]
    fn translation() {
        let f = |flags: MsgFlags| flags.for_call(Receive, true, Overlapped);
        assert_eq!(f(MsgFlags::PEEK), Ok(libc::MSG_PEEK));
        assert_eq!(f(MsgFlags::OOB), Ok(libc::MSG_OOB));
        assert_eq!(f(MsgFlags::WAITALL), Ok(libc::MSG_WAITALL));
        assert_eq!(MsgFlags::from_linux(libc::MSG_TRUNC), MsgFlags::TRUNC);
        assert_eq!(MsgFlags::PEEK.bits(), 2);
        assert_eq!(MsgFlags::WAITALL.bits(), 8);
    }

    #[test]
    fn the_table() {
        // Fact 59: urgent data needs a stream.
        assert_eq!(MsgFlags::OOB.for_call(Receive, false, Overlapped), NO);
        assert_eq!(MsgFlags::OOB.for_call(Send, false, Blocking), NO);
        assert_eq!(MsgFlags::OOB.for_call(SendMsg, false, Overlapped), NO);
        // Fact 61: WAITALL not with PEEK/OOB, not on datagrams, not non-blocking sync.
        let wp = MsgFlags::WAITALL | MsgFlags::PEEK;
        let wo = MsgFlags::WAITALL | MsgFlags::OOB;
        for mode in [Overlapped, Blocking, NonBlocking] {
            assert_eq!(wp.for_call(Receive, true, mode), NO);
            assert_eq!(wo.for_call(Receive, true, mode), NO);
            assert_eq!(MsgFlags::WAITALL.for_call(Receive, false, mode), NO);
        }
        assert_eq!(MsgFlags::WAITALL.for_call(Receive, true, NonBlocking), NO);
        assert!(MsgFlags::WAITALL.for_call(Receive, true, Blocking).is_ok());
        // Fact 60: no MSG_PARTIAL anywhere on TCP/UDP.
        for call in [Receive, ReceiveMsg, Send, SendMsg] {
            for stream in [true, false] {
                assert_eq!(MsgFlags::PARTIAL.for_call(call, stream, Overlapped), NO);
                assert_eq!(MsgFlags::TRUNC.for_call(call, stream, Overlapped), NO);
                assert_eq!(
                    MsgFlags::from_bits_retain(0x10_0000).for_call(call, stream, Overlapped),
                    NO
                );
                assert_eq!(MsgFlags::empty().for_call(call, stream, Overlapped), Ok(0));
            }
        }
        // Fact 79: WSARecvMsg takes MSG_PEEK only; fact 83: WSASendMsg MSG_DONTROUTE.
        assert!(MsgFlags::PEEK
            .for_call(ReceiveMsg, false, Overlapped)
            .is_ok());
        assert_eq!(
            MsgFlags::DONTROUTE.for_call(ReceiveMsg, false, Overlapped),
            NO
        );
        assert!(MsgFlags::DONTROUTE
            .for_call(SendMsg, false, Overlapped)
            .is_ok());
        // Receive-only flags on a send.
        assert_eq!(MsgFlags::PEEK.for_call(Send, true, Overlapped), NO);
        assert_eq!(MsgFlags::WAITALL.for_call(Send, true, Overlapped), NO);
    }
}
