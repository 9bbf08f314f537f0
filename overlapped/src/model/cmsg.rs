//! Control data of `WSARecvMsg` / `WSASendMsg` (`WSACMSGHDR`), read and built
//! through types: a received [`Control`] is walked with [`Control::iter`],
//! one to send is made with [`Control::builder`]. No pointer walking in user
//! code; the byte layout lives in `sys::cmsg`.
//!
//! ```
//! use overlapped::{Control, ControlMessage};
//! use std::net::Ipv4Addr;
//! let control = Control::builder()
//!     .push(ControlMessage::PktInfoV4 { addr: Ipv4Addr::LOCALHOST, ifindex: 0 })
//!     .push(ControlMessage::Ttl(9))
//!     .build();
//! let read: Vec<_> = control.iter().collect();
//! assert_eq!(read[1], ControlMessage::Ttl(9));
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::sys::cmsg as raw;

/// One control message (`WSACMSGHDR` and its data), typed.
///
/// On receive, the packet-info variants carry the address the datagram was
/// sent *to* (the local address it arrived on) and the interface; on send,
/// the source address to send *from* and the interface to send on
/// (`0`: any).
#[doc(alias = "WSACMSGHDR")]
#[doc(alias = "cmsghdr")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlMessage {
    /// `IP_PKTINFO` (`IN_PKTINFO`): IPv4 destination (receive) or source (send) address.
    #[doc(alias = "IP_PKTINFO")]
    #[doc(alias = "IN_PKTINFO")]
    PktInfoV4 {
        /// `ipi_addr`.
        addr: Ipv4Addr,
        /// `ipi_ifindex`.
        ifindex: u32,
    },
    /// `IPV6_PKTINFO` (`IN6_PKTINFO`): IPv6 destination (receive) or source (send) address.
    #[doc(alias = "IPV6_PKTINFO")]
    #[doc(alias = "IN6_PKTINFO")]
    PktInfoV6 {
        /// `ipi6_addr`.
        addr: Ipv6Addr,
        /// `ipi6_ifindex`.
        ifindex: u32,
    },
    /// `IP_TTL`: the IPv4 time-to-live.
    #[doc(alias = "IP_TTL")]
    Ttl(u8),
    /// `IP_TOS`: the IPv4 type of service.
    #[doc(alias = "IP_TOS")]
    Tos(u8),
    /// `IPV6_HOPLIMIT`: the IPv6 hop limit.
    #[doc(alias = "IPV6_HOPLIMIT")]
    HopLimit(u8),
    /// `IPV6_TCLASS`: the IPv6 traffic class.
    #[doc(alias = "IPV6_TCLASS")]
    TrafficClass(u8),
    /// Any other message, as the kernel wrote it.
    Other {
        /// `cmsg_level`.
        level: i32,
        /// `cmsg_type`.
        kind: i32,
        /// The data after the header.
        data: Vec<u8>,
    },
}

impl ControlMessage {
    fn decode(level: i32, kind: i32, data: &[u8]) -> ControlMessage {
        let typed = match (level, kind) {
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => raw::read_in_pktinfo(data)
                .map(|(ifindex, addr)| ControlMessage::PktInfoV4 { addr, ifindex }),
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => raw::read_in6_pktinfo(data)
                .map(|(ifindex, addr)| ControlMessage::PktInfoV6 { addr, ifindex }),
            (libc::IPPROTO_IP, libc::IP_TTL) => raw::read_small_int(data).map(ControlMessage::Ttl),
            (libc::IPPROTO_IP, libc::IP_TOS) => raw::read_small_int(data).map(ControlMessage::Tos),
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                raw::read_small_int(data).map(ControlMessage::HopLimit)
            }
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => {
                raw::read_small_int(data).map(ControlMessage::TrafficClass)
            }
            _ => None,
        };
        typed.unwrap_or_else(|| ControlMessage::Other {
            level,
            kind,
            data: data.to_vec(),
        })
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        let int = |v: u8| i32::from(v).to_ne_bytes();
        match self {
            ControlMessage::PktInfoV4 { addr, ifindex } => raw::push(
                buf,
                libc::IPPROTO_IP,
                libc::IP_PKTINFO,
                // Linux takes the source address from `ipi_spec_dst`.
                &raw::in_pktinfo(*ifindex, *addr, *addr),
            ),
            ControlMessage::PktInfoV6 { addr, ifindex } => raw::push(
                buf,
                libc::IPPROTO_IPV6,
                libc::IPV6_PKTINFO,
                &raw::in6_pktinfo(*ifindex, *addr),
            ),
            ControlMessage::Ttl(v) => raw::push(buf, libc::IPPROTO_IP, libc::IP_TTL, &int(*v)),
            ControlMessage::Tos(v) => raw::push(buf, libc::IPPROTO_IP, libc::IP_TOS, &int(*v)),
            ControlMessage::HopLimit(v) => {
                raw::push(buf, libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, &int(*v))
            }
            ControlMessage::TrafficClass(v) => {
                raw::push(buf, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, &int(*v))
            }
            ControlMessage::Other { level, kind, data } => raw::push(buf, *level, *kind, data),
        }
    }
}

/// A control buffer (`WSAMSG.Control`): received by `Socket::recv_msg`
/// and friends, or built with [`Control::builder`] for `Socket::send_msg`.
/// Always well-formed: it can only be made by the kernel or by the builder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[doc(alias = "WSAMSG")]
#[doc(alias = "WSACMSGHDR")]
pub struct Control {
    bytes: Vec<u8>,
}

impl Control {
    /// No control data.
    pub fn new() -> Control {
        Control::default()
    }

    /// A builder for control data to send.
    pub fn builder() -> ControlBuilder {
        ControlBuilder::default()
    }

    /// The messages, in order (`WSA_CMSG_FIRSTHDR` / `WSA_CMSG_NXTHDR`).
    #[doc(alias = "WSA_CMSG_FIRSTHDR")]
    #[doc(alias = "WSA_CMSG_NXTHDR")]
    pub fn iter(&self) -> ControlIter<'_> {
        ControlIter {
            walk: raw::Walk::new(&self.bytes),
        }
    }

    /// The used length in bytes (`Control.len` after a receive).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when there is no control data.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The raw bytes, in the kernel's `cmsghdr` layout.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The space one message with `data_len` data bytes takes in a buffer
    /// (`WSA_CMSG_SPACE`): size receive control buffers with it.
    #[doc(alias = "WSA_CMSG_SPACE")]
    #[doc(alias = "CMSG_SPACE")]
    pub const fn space(data_len: usize) -> usize {
        raw::space(data_len)
    }

    pub(crate) fn from_kernel(bytes: Vec<u8>) -> Control {
        Control { bytes }
    }
}

impl<'a> IntoIterator for &'a Control {
    type Item = ControlMessage;
    type IntoIter = ControlIter<'a>;
    fn into_iter(self) -> ControlIter<'a> {
        self.iter()
    }
}

/// The messages of a [`Control`] buffer, in order.
#[doc(alias = "WSA_CMSG_FIRSTHDR")]
#[doc(alias = "WSA_CMSG_NXTHDR")]
pub struct ControlIter<'a> {
    walk: raw::Walk<'a>,
}

impl Iterator for ControlIter<'_> {
    type Item = ControlMessage;
    fn next(&mut self) -> Option<ControlMessage> {
        self.walk
            .next()
            .map(|(level, kind, data)| ControlMessage::decode(level, kind, data))
    }
}

/// Builds control data to send ([`Control::builder`]).
#[derive(Clone, Debug, Default)]
#[doc(alias = "WSACMSGHDR")]
#[doc(alias = "WSA_CMSG_SPACE")]
pub struct ControlBuilder {
    bytes: Vec<u8>,
}

impl ControlBuilder {
    /// Appends a message.
    pub fn push(mut self, msg: ControlMessage) -> ControlBuilder {
        msg.encode(&mut self.bytes);
        self
    }

    /// The finished buffer.
    pub fn build(self) -> Control {
        Control { bytes: self.bytes }
    }
}

/// Control data a socket can be asked to report with each datagram
/// (`Socket::set_receive_control`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(alias = "IP_PKTINFO")]
#[doc(alias = "IPV6_PKTINFO")]
pub enum ReceiveControl {
    /// The destination address and interface: `IP_PKTINFO` on IPv4,
    /// `IPV6_PKTINFO` (Linux `IPV6_RECVPKTINFO`) on IPv6.
    #[doc(alias = "IP_PKTINFO")]
    #[doc(alias = "IPV6_PKTINFO")]
    PktInfo,
    /// The TTL (`IP_RECVTTL`) or hop limit (`IPV6_RECVHOPLIMIT`).
    #[doc(alias = "IP_RECVTTL")]
    #[doc(alias = "IPV6_HOPLIMIT")]
    TtlOrHopLimit,
    /// The TOS (`IP_RECVTOS`) or traffic class (`IPV6_RECVTCLASS`).
    #[doc(alias = "IP_RECVTOS")]
    #[doc(alias = "IPV6_RECVTCLASS")]
    TosOrTrafficClass,
}

impl ReceiveControl {
    /// The (level, option) pair for a socket of family `v6`.
    pub(crate) fn option(self, v6: bool) -> (i32, i32) {
        match (self, v6) {
            (ReceiveControl::PktInfo, false) => (libc::IPPROTO_IP, libc::IP_PKTINFO),
            (ReceiveControl::PktInfo, true) => (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
            (ReceiveControl::TtlOrHopLimit, false) => (libc::IPPROTO_IP, libc::IP_RECVTTL),
            (ReceiveControl::TtlOrHopLimit, true) => (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT),
            (ReceiveControl::TosOrTrafficClass, false) => (libc::IPPROTO_IP, libc::IP_RECVTOS),
            (ReceiveControl::TosOrTrafficClass, true) => {
                (libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS)
            }
        }
    }
}
