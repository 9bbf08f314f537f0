//! Datagram and message operations: `WSARecvFrom`, `WSASendTo`, `WSARecvMsg`
//! and `WSASendMsg`, each in the three modes (event record, completion
//! routine, synchronous).
//!
//! The source address and the control data live in the operation's memory
//! while it is in flight and are copied out at completion ([fact 71](crate::semantics#fact-71)): into the
//! [`Overlapped`] record ([`Overlapped::source_addr`], [`Overlapped::control`])
//! or the routine's [`Completion`] (`from`, `control`).

use std::mem::size_of;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use crate::model::cmsg::ReceiveControl;
use crate::model::flags::{FlagCall, FlagMode};
use crate::model::lane::Direction;
use crate::model::op::{OpKind, SendSpec};
use crate::sys::cmsg as raw;
use crate::{BufList, Completion, Control, MsgFlags, Overlapped, Socket, WsaError, WsaResult};

mod sync;
pub use sync::MsgInfo;

/// The largest UDP payload over IPv4 (65,535 − 20 − 8).
pub const MAX_DATAGRAM_V4: usize = 65_507;
/// The largest UDP payload over IPv6 without jumbograms (65,535 − 8).
pub const MAX_DATAGRAM_V6: usize = 65_527;

const NAME_MAX: usize = size_of::<libc::sockaddr_storage>();

/// The space a `recv_msg` reserves besides the data buffers (`WSAMSG.namelen`
/// and `WSAMSG.Control.len`).
#[doc(alias = "WSAMSG")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgSpace {
    /// Bytes for the source address (`namelen`): 0 asks for none; from 1 to
    /// less than the socket's address size is `WSAEFAULT` ([fact 73](crate::semantics#fact-73)).
    pub name_len: usize,
    /// Bytes for control data (`Control.len`), counted the Windows way: a
    /// message takes `WSA_CMSG_SPACE` of its Windows data size, so 24 bytes
    /// hold an `IN_PKTINFO` as on Windows, although Linux's `in_pktinfo` is
    /// larger (the kernel is given the room it needs, [fact 80](crate::semantics#fact-80)).
    /// [`Control::space`] (the Linux size) is always enough. Too
    /// few, and the receive ends with `WSAEMSGSIZE` and `MsgFlags::CTRUNC` ([fact 81](crate::semantics#fact-81)).
    pub control_len: usize,
}

impl MsgSpace {
    /// A full-size address and `control_len` bytes of control data.
    #[doc(alias = "WSAMSG")]
    pub fn control(control_len: usize) -> MsgSpace {
        MsgSpace {
            name_len: NAME_MAX,
            control_len,
        }
    }
}

impl Default for MsgSpace {
    /// A full-size address, no control data.
    fn default() -> MsgSpace {
        MsgSpace::control(0)
    }
}

impl Socket {
    /// Starts an overlapped datagram receive (`WSARecvFrom` with
    /// `lpOverlapped`). The source address is in [`Overlapped::source_addr`]
    /// once it completes ([fact 71](crate::semantics#fact-71)). A datagram larger than the buffers
    /// completes with `WSAEMSGSIZE`, the bytes that fit stored and counted,
    /// the rest dropped (facts [32](crate::semantics#fact-32), [46](crate::semantics#fact-46), [78](crate::semantics#fact-78)); a zero-length datagram completes
    /// with 0 bytes. On a stream socket this is [`Socket::recv`] and no
    /// address is written ([fact 72](crate::semantics#fact-72)). An unbound datagram socket is
    /// `WSAEINVAL` ([fact 75](crate::semantics#fact-75)).
    ///
    /// ```
    /// use overlapped::{get_overlapped_result, BufList, Event, MsgFlags, Overlapped, Socket};
    /// let any = "127.0.0.1:0".parse().unwrap();
    /// let (a, b) = (Socket::udp_for(&any)?, Socket::udp_for(&any)?);
    /// a.bind(&any)?;
    /// let event = Event::new();
    /// let mut rx = Overlapped::new(&event);
    /// let _ = a.recv_from(&mut rx, BufList::zeroed(1500), MsgFlags::empty());  // WSARecvFrom
    /// let mut tx = Overlapped::new(&Event::new());
    /// let _ = b.send_to(&mut tx, b"ping".to_vec(), &a.local_addr()?, MsgFlags::empty()); // WSASendTo
    /// let (n, _) = get_overlapped_result(&a, &rx, true)?;
    /// assert_eq!(n, 4);
    /// assert_eq!(rx.source_addr().unwrap().port(), b.local_addr()?.port()); // fact 71
    /// assert_eq!(rx.take_buffers().unwrap().gather(4), b"ping");
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "WSARecvFrom")]
    #[doc(alias = "recvfrom")]
    pub fn recv_from(
        &self,
        overlapped: &mut Overlapped,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
    ) -> WsaResult<u32> {
        if self.is_stream() {
            return self.recv(overlapped, buffers, flags);
        }
        let bufs = buffers.into();
        let kind = self.recv_msg_kind(&bufs, MsgSpace::default(), flags, false)?;
        self.start_overlapped(overlapped, kind, bufs)
    }

    /// Starts a datagram receive whose routine gets the source address in
    /// [`Completion::from`] (`WSARecvFrom` with `lpCompletionRoutine`).
    #[doc(alias = "WSARecvFrom")]
    pub fn recv_from_with<F>(
        &self,
        buffers: impl Into<BufList>,
        flags: MsgFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        if self.is_stream() {
            return self.recv_with(buffers, flags, routine);
        }
        let bufs = buffers.into();
        let kind = self.recv_msg_kind(&bufs, MsgSpace::default(), flags, false)?;
        self.start_routine(kind, bufs, routine)
    }

    /// Starts an overlapped datagram send to `to` (`WSASendTo` with
    /// `lpOverlapped`). Binds an unbound socket ([fact 74](crate::semantics#fact-74)). Over 65,507 bytes
    /// (65,527 over IPv6) is `WSAEMSGSIZE`; an address of the other family is
    /// `WSAEAFNOSUPPORT`. On a stream socket the address is ignored ([fact 72](crate::semantics#fact-72)).
    #[doc(alias = "WSASendTo")]
    #[doc(alias = "sendto")]
    pub fn send_to(
        &self,
        overlapped: &mut Overlapped,
        buffers: impl Into<BufList>,
        to: &SocketAddr,
        flags: MsgFlags,
    ) -> WsaResult<u32> {
        if self.is_stream() {
            return self.send(overlapped, buffers, flags);
        }
        let bufs = buffers.into();
        let kind = self.send_msg_kind(&bufs, Some(to), Control::new(), flags, FlagCall::Send)?;
        self.start_overlapped(overlapped, kind, bufs)
    }

    /// Starts a datagram send to `to` whose completion runs `routine`
    /// (`WSASendTo` with `lpCompletionRoutine`).
    #[doc(alias = "WSASendTo")]
    pub fn send_to_with<F>(
        &self,
        buffers: impl Into<BufList>,
        to: &SocketAddr,
        flags: MsgFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        if self.is_stream() {
            return self.send_with(buffers, flags, routine);
        }
        let bufs = buffers.into();
        let kind = self.send_msg_kind(&bufs, Some(to), Control::new(), flags, FlagCall::Send)?;
        self.start_routine(kind, bufs, routine)
    }

    /// Starts an overlapped `WSARecvMsg`: data, source address and control
    /// data (`space`). Datagram sockets only (`WSAEINVAL` otherwise); input
    /// flags may only hold `PEEK` ([fact 79](crate::semantics#fact-79)). A control buffer too small sets
    /// `MsgFlags::CTRUNC` and completes with `WSAEMSGSIZE`, the data still
    /// delivered and counted ([fact 81](crate::semantics#fact-81)). Read the results with
    /// [`Overlapped::source_addr`], [`Overlapped::control`] and
    /// [`Overlapped::msg_flags`].
    #[doc(alias = "WSARecvMsg")]
    #[doc(alias = "LPFN_WSARECVMSG")]
    #[doc(alias = "recvmsg")]
    pub fn recv_msg(
        &self,
        overlapped: &mut Overlapped,
        buffers: impl Into<BufList>,
        space: MsgSpace,
        flags: MsgFlags,
    ) -> WsaResult<u32> {
        let bufs = buffers.into();
        let kind = self.recv_msg_kind(&bufs, space, flags, true)?;
        self.start_overlapped(overlapped, kind, bufs)
    }

    /// Starts a `WSARecvMsg` whose routine gets the address and control data
    /// in [`Completion::from`] and [`Completion::control`].
    #[doc(alias = "WSARecvMsg")]
    pub fn recv_msg_with<F>(
        &self,
        buffers: impl Into<BufList>,
        space: MsgSpace,
        flags: MsgFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let bufs = buffers.into();
        let kind = self.recv_msg_kind(&bufs, space, flags, true)?;
        self.start_routine(kind, bufs, routine)
    }

    /// Starts an overlapped `WSASendMsg`: one datagram to `to` (or the
    /// connected peer when `None`) with `control` (e.g. a packet-info message
    /// choosing the source address, [fact 83](crate::semantics#fact-83)). Datagram sockets only
    /// (`WSAEINVAL`); binds an unbound socket ([fact 74](crate::semantics#fact-74)).
    #[doc(alias = "WSASendMsg")]
    #[doc(alias = "sendmsg")]
    pub fn send_msg(
        &self,
        overlapped: &mut Overlapped,
        buffers: impl Into<BufList>,
        to: Option<&SocketAddr>,
        control: Control,
        flags: MsgFlags,
    ) -> WsaResult<u32> {
        let bufs = buffers.into();
        let kind = self.send_msg_kind(&bufs, to, control, flags, FlagCall::SendMsg)?;
        self.start_overlapped(overlapped, kind, bufs)
    }

    /// Starts a `WSASendMsg` whose completion runs `routine`.
    #[doc(alias = "WSASendMsg")]
    pub fn send_msg_with<F>(
        &self,
        buffers: impl Into<BufList>,
        to: Option<&SocketAddr>,
        control: Control,
        flags: MsgFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let bufs = buffers.into();
        let kind = self.send_msg_kind(&bufs, to, control, flags, FlagCall::SendMsg)?;
        self.start_routine(kind, bufs, routine)
    }

    /// Asks the socket to report `what` with each datagram received by
    /// `recv_msg` (`setsockopt` `IP_PKTINFO`, `IPV6_PKTINFO`, `IP_RECVTTL`,
    /// `IPV6_HOPLIMIT`, `IP_RECVTOS`, `IPV6_RECVTCLASS`). On a dual-stack
    /// IPv6 socket, IPv4 datagrams then report the IPv6 form (v4-mapped).
    #[doc(alias = "IP_PKTINFO")]
    #[doc(alias = "IPV6_PKTINFO")]
    pub fn set_receive_control(&self, what: ReceiveControl, on: bool) -> WsaResult<()> {
        let v6 = self.is_v6()?;
        let (level, name) = what.option(v6);
        raw::set_int_option(self.inner.fd(), level, name, i32::from(on))
            .map_err(|e| WsaError::from_io(&e))
    }

    fn is_v6(&self) -> WsaResult<bool> {
        let learned = &self.inner.dgram;
        match learned.family.load(Relaxed) {
            4 => Ok(false),
            6 => Ok(true),
            _ => {
                let v6 =
                    self.as_socket2().domain().map_err(WsaError::from)? == socket2::Domain::IPV6;
                learned.family.store(if v6 { 6 } else { 4 }, Relaxed);
                Ok(v6)
            }
        }
    }

    /// The checks of a datagram receive, done before anything starts.
    fn check_dgram_recv(
        &self,
        count: usize,
        space: MsgSpace,
        flags: MsgFlags,
        msg: bool,
        mode: FlagMode,
    ) -> WsaResult<i32> {
        // Closed: WSAENOTSOCK; shut down for receiving: WSAESHUTDOWN (fact 69).
        self.inner.usable(Direction::Receive)?;
        if msg && self.is_stream() {
            return Err(WsaError::WSAEINVAL);
        }
        if count == 0 {
            return Err(WsaError::WSAEINVAL);
        }
        // The flag table (`flags.rs`): WSARecvMsg takes only MSG_PEEK (fact
        // 79); datagram receives have no urgent data (fact 59) and no
        // MSG_WAITALL (fact 61).
        let call = if msg {
            FlagCall::ReceiveMsg
        } else {
            FlagCall::Receive
        };
        let linux = flags.for_call(call, false, mode)?;
        if space.name_len > 0 {
            let need = if self.is_v6()? {
                size_of::<libc::sockaddr_in6>()
            } else {
                size_of::<libc::sockaddr_in>()
            };
            if space.name_len < need {
                return Err(WsaError::WSAEFAULT); // fact 73
            }
        }
        self.require_bound()?;
        Ok(linux)
    }

    /// [Fact 75](crate::semantics#fact-75): a datagram socket must be bound to receive (`WSAEINVAL`).
    pub(crate) fn require_bound(&self) -> WsaResult<()> {
        if self.is_stream() || self.inner.dgram.bound.load(Relaxed) {
            return Ok(());
        }
        match self.local_addr() {
            Ok(a) if a.port() != 0 => {
                self.inner.dgram.bound.store(true, Relaxed);
                Ok(())
            }
            _ => Err(WsaError::WSAEINVAL),
        }
    }

    pub(crate) fn recv_msg_kind(
        &self,
        bufs: &BufList,
        space: MsgSpace,
        flags: MsgFlags,
        msg: bool,
    ) -> WsaResult<OpKind> {
        let flags = self.check_dgram_recv(bufs.count(), space, flags, msg, FlagMode::Overlapped)?;
        Ok(OpKind::RecvMsg {
            flags,
            name_len: space.name_len.min(NAME_MAX) as u32,
            control_len: u32::try_from(space.control_len).map_err(|_| WsaError::WSAEINVAL)?,
            msg,
        })
    }

    /// The checks of a datagram send, done before anything starts.
    fn check_dgram_send(
        &self,
        count: usize,
        total: usize,
        to: Option<&SocketAddr>,
        flags: MsgFlags,
        call: FlagCall,
    ) -> WsaResult<i32> {
        self.inner.usable(Direction::Send)?;
        if self.is_stream() {
            return Err(WsaError::WSAEINVAL); // fact 83
        }
        if count == 0 {
            return Err(WsaError::WSAEINVAL);
        }
        // The flag table: only MSG_DONTROUTE (fact 83; MSG_OOB needs a
        // stream, MSG_PARTIAL is not supported).
        let linux = flags.for_call(call, false, FlagMode::Overlapped)?;
        let v6 = self.is_v6()?;
        let max = match to {
            Some(SocketAddr::V4(_)) if v6 => return Err(WsaError::WSAEAFNOSUPPORT),
            Some(SocketAddr::V6(_)) if !v6 => return Err(WsaError::WSAEAFNOSUPPORT),
            Some(SocketAddr::V6(a)) if a.ip().to_ipv4_mapped().is_none() => MAX_DATAGRAM_V6,
            None if self.require_connected().is_err() => return Err(WsaError::WSAENOTCONN),
            None if v6 => MAX_DATAGRAM_V6,
            _ => MAX_DATAGRAM_V4,
        };
        if total > max {
            return Err(WsaError::WSAEMSGSIZE);
        }
        Ok(linux)
    }

    pub(crate) fn send_msg_kind(
        &self,
        bufs: &BufList,
        to: Option<&SocketAddr>,
        control: Control,
        flags: MsgFlags,
        call: FlagCall,
    ) -> WsaResult<OpKind> {
        let flags = self.check_dgram_send(bufs.count(), bufs.total_len(), to, flags, call)?;
        Ok(OpKind::SendMsg {
            flags,
            spec: Box::new(SendSpec {
                to: to.copied(),
                control,
            }),
        })
    }
}
