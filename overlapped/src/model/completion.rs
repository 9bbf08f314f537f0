//! The value a completion routine receives (`Completion`): an operation's
//! outcome as the caller sees it.

use crate::model::cmsg::Control;
use crate::model::error::WsaError;
use crate::model::flags::MsgFlags;
use crate::model::op::Outcome;
use crate::sys::buf::BufList;

/// What a completion routine receives (`dwError`, `cbTransferred`,
/// `dwFlags`), plus the operation's buffers back.
#[doc(alias = "LPWSAOVERLAPPED_COMPLETION_ROUTINE")]
#[derive(Debug)]
pub struct Completion {
    /// The Winsock error, `WsaError::NO_ERROR` on success.
    pub error: WsaError,
    /// Bytes transferred (also on a truncation error).
    pub bytes: u32,
    /// The routine's `dwFlags`: always empty on TCP and UDP, as on Windows,
    /// which passes 0 even for a truncated datagram or control buffer
    /// (facts [32](crate::semantics#fact-32), [81](crate::semantics#fact-81); the only flag Winsock reports here is `MSG_PARTIAL`,
    /// which neither supports). The truncation is in `error`
    /// (`WSAEMSGSIZE`) and in [`Completion::msg_flags`].
    pub flags: MsgFlags,
    /// The message's own output flags (`WSAMSG.dwFlags` of `WSARecvMsg`):
    /// `TRUNC` (the datagram was cut to the buffers), `CTRUNC` (the control
    /// data was cut); empty for sends and stream receives.
    #[doc(alias = "WSAMSG")]
    pub msg_flags: MsgFlags,
    /// The buffers the operation was given.
    pub buffers: BufList,
    /// The datagram's source address (`lpFrom`), for `recv_from_with` and
    /// `recv_msg_with` on a datagram socket; `None` otherwise ([fact 72](crate::semantics#fact-72)).
    pub from: Option<std::net::SocketAddr>,
    /// The control data received (`WSAMSG.Control`), for `recv_msg_with`.
    pub control: Control,
}

impl From<Outcome> for Completion {
    fn from(o: Outcome) -> Completion {
        let dgram = o.dgram.map(|d| *d).unwrap_or_default();
        Completion {
            error: o.error,
            bytes: o.bytes,
            flags: o.flags.completion_flags(),
            msg_flags: o.flags,
            buffers: o.bufs,
            from: dgram.from,
            control: dgram.control,
        }
    }
}
