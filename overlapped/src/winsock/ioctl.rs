//! `WSAIoctl` in its three modes: synchronous, overlapped with an event
//! record, and with a completion routine (semantics facts [113](crate::semantics#fact-113)–[122](crate::semantics#fact-122)).
//!
//! The control codes are a typed enum, [`Ioctl`], each variant with its
//! typed input; the answers are an [`IoctlOutput`]. The numeric codes keep
//! Windows' values ([`Ioctl::code`], the `SIO_*` constants) for the C
//! interface. `out_len` is the size of the caller's output buffer
//! (`cbOutBuffer`) in Windows' layout, so the buffer-too-small rules hold
//! as on Windows; pass `u32::MAX` when any size will do.

mod change;
pub mod codes;
pub mod extension;
mod netinfo;

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use crate::winsock::notify::{self, Mode};
use crate::{BufList, Completion, Guid, Overlapped, Socket, WsaError, WsaResult};
use extension::ExtensionFunction;

pub use netinfo::{InterfaceFlags, InterfaceInfo, INTERFACE_INFO_LEN};

/// `struct tcp_keepalive` (`SIO_KEEPALIVE_VALS`): times in milliseconds.
#[doc(alias = "tcp_keepalive")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepaliveVals {
    /// `onoff`: keep-alive on or off.
    pub on: bool,
    /// `keepalivetime`: idle time before the first probe, in ms (Linux
    /// counts whole seconds: rounded up, at least 1 s).
    pub time_ms: u32,
    /// `keepaliveinterval`: time between probes, in ms (rounded up to whole seconds).
    pub interval_ms: u32,
}

/// A `WSAIoctl` control code with its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(alias = "WSAIoctl")]
pub enum Ioctl {
    /// `FIONREAD`: bytes that can be read now → [`IoctlOutput::Readable`] (4 bytes).
    #[doc(alias = "FIONREAD")]
    FionRead,
    /// `SIOCATMARK`: whether no out-of-band data waits → [`IoctlOutput::AtMark`] (4 bytes).
    #[doc(alias = "SIOCATMARK")]
    SiocAtMark,
    /// `FIONBIO`: non-blocking mode for synchronous calls (no output).
    #[doc(alias = "FIONBIO")]
    FionBio(bool),
    /// `SIO_KEEPALIVE_VALS`: TCP keep-alive times (no output).
    #[doc(alias = "SIO_KEEPALIVE_VALS")]
    KeepaliveVals(KeepaliveVals),
    /// `SIO_GET_EXTENSION_FUNCTION_POINTER`: the function a `WSAID_*` names →
    /// [`IoctlOutput::ExtensionFunction`] (8 bytes, a pointer's size).
    #[doc(alias = "SIO_GET_EXTENSION_FUNCTION_POINTER")]
    GetExtensionFunctionPointer(Guid),
    /// `SIO_BASE_HANDLE`: the base provider's socket → [`IoctlOutput::BaseHandle`] (8 bytes).
    #[doc(alias = "SIO_BASE_HANDLE")]
    BaseHandle,
    /// `SIO_ADDRESS_LIST_QUERY`: the local addresses of the socket's family →
    /// [`IoctlOutput::AddressList`] (a `SOCKET_ADDRESS_LIST`).
    #[doc(alias = "SIO_ADDRESS_LIST_QUERY")]
    AddressListQuery,
    /// `SIO_ADDRESS_LIST_CHANGE`: completes when the local addresses of the
    /// socket's family change (no output).
    #[doc(alias = "SIO_ADDRESS_LIST_CHANGE")]
    AddressListChange,
    /// `SIO_ROUTING_INTERFACE_QUERY`: the local address used to reach the
    /// destination → [`IoctlOutput::RoutingInterface`] (a `SOCKADDR`).
    #[doc(alias = "SIO_ROUTING_INTERFACE_QUERY")]
    RoutingInterfaceQuery(SocketAddr),
    /// `SIO_ROUTING_INTERFACE_CHANGE`: completes when the route to the
    /// destination changes; the wildcard address (`0.0.0.0`, `::`) means
    /// any route of that family (no output).
    #[doc(alias = "SIO_ROUTING_INTERFACE_CHANGE")]
    RoutingInterfaceChange(SocketAddr),
    /// `SIO_GET_INTERFACE_LIST`: the IPv4 interfaces →
    /// [`IoctlOutput::InterfaceList`] (76-byte `INTERFACE_INFO`s).
    #[doc(alias = "SIO_GET_INTERFACE_LIST")]
    GetInterfaceList,
    /// Any other code (`FIOASYNC`, `SIO_FLUSH`, ...): not supported ([fact 115](crate::semantics#fact-115)).
    Unsupported(u32),
}

/// What a `WSAIoctl` returns in its output buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(alias = "WSAIoctl")]
#[doc(alias = "lpvOutBuffer")]
pub enum IoctlOutput {
    /// The code has no output.
    None,
    /// `FIONREAD`: bytes readable.
    Readable(u32),
    /// `SIOCATMARK`: true when no out-of-band data waits.
    AtMark(bool),
    /// `SIO_GET_EXTENSION_FUNCTION_POINTER`: the function the GUID names.
    ExtensionFunction(ExtensionFunction),
    /// `SIO_BASE_HANDLE`: the socket itself (there are no layered providers).
    BaseHandle(RawFd),
    /// `SIO_ADDRESS_LIST_QUERY`: the local addresses (port 0).
    AddressList(Vec<SocketAddr>),
    /// `SIO_ROUTING_INTERFACE_QUERY`: the local address (port 0).
    RoutingInterface(SocketAddr),
    /// `SIO_GET_INTERFACE_LIST`: the interfaces.
    InterfaceList(Vec<InterfaceInfo>),
}

impl Ioctl {
    /// The numeric code, with Windows' value.
    #[doc(alias = "dwIoControlCode")]
    pub fn code(&self) -> u32 {
        use codes::*;
        match self {
            Ioctl::FionRead => FIONREAD,
            Ioctl::SiocAtMark => SIOCATMARK,
            Ioctl::FionBio(_) => FIONBIO,
            Ioctl::KeepaliveVals(_) => SIO_KEEPALIVE_VALS,
            Ioctl::GetExtensionFunctionPointer(_) => SIO_GET_EXTENSION_FUNCTION_POINTER,
            Ioctl::BaseHandle => SIO_BASE_HANDLE,
            Ioctl::AddressListQuery => SIO_ADDRESS_LIST_QUERY,
            Ioctl::AddressListChange => SIO_ADDRESS_LIST_CHANGE,
            Ioctl::RoutingInterfaceQuery(_) => SIO_ROUTING_INTERFACE_QUERY,
            Ioctl::RoutingInterfaceChange(_) => SIO_ROUTING_INTERFACE_CHANGE,
            Ioctl::GetInterfaceList => SIO_GET_INTERFACE_LIST,
            Ioctl::Unsupported(code) => *code,
        }
    }

    fn is_change(&self) -> bool {
        matches!(
            self,
            Ioctl::AddressListChange | Ioctl::RoutingInterfaceChange(_)
        )
    }
}

impl IoctlOutput {
    /// The size of the output in Windows' layout (what `lpcbBytesReturned`
    /// reports, and what `cbOutBuffer` must at least be).
    pub fn wire_len(&self) -> u32 {
        match self {
            IoctlOutput::None => 0,
            IoctlOutput::Readable(_) | IoctlOutput::AtMark(_) => 4,
            IoctlOutput::ExtensionFunction(_) | IoctlOutput::BaseHandle(_) => 8,
            IoctlOutput::AddressList(a) => netinfo::address_list_len(a),
            IoctlOutput::RoutingInterface(a) => netinfo::sockaddr_len(a),
            IoctlOutput::InterfaceList(l) => l.len() as u32 * INTERFACE_INFO_LEN,
        }
    }
}

impl Socket {
    /// A synchronous `WSAIoctl` (neither a record nor a routine).
    ///
    /// `out_len` is the caller's output buffer size in Windows' layout;
    /// `bytes_returned` is `lpcbBytesReturned`. Returns the output, or:
    /// * `WSAEFAULT` if `out_len` is too small: for `FIONREAD`/`SIOCATMARK`
    ///   (< 4) and the extension lookup (< 8) the count is left as it was;
    ///   for the address list and the routing query it is set to the size
    ///   needed ([fact 121](crate::semantics#fact-121)); for the interface list to 0 ([fact 122](crate::semantics#fact-122));
    /// * `WSAEINVAL` for an unknown GUID ([fact 116](crate::semantics#fact-116));
    /// * `WSAEOPNOTSUPP` for an unsupported code, count 0 ([fact 115](crate::semantics#fact-115));
    /// * `WSAEWOULDBLOCK` for a change request on a non-blocking socket; on a
    ///   blocking socket a change request waits, alertably, for the change
    ///   ([fact 119](crate::semantics#fact-119)): APCs and routines run meanwhile;
    /// * `WSAENETUNREACH` (or the kernel's other routing error) when no route
    ///   leads to a queried destination ([fact 121](crate::semantics#fact-121));
    /// * `WSAENOTSOCK` on a closed socket.
    ///
    /// ```
    /// use overlapped::{Ioctl, IoctlOutput, Socket};
    /// let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// let mut n = 0;
    /// let out = s.ioctl_sync(&Ioctl::RoutingInterfaceQuery("127.0.0.1:53".parse().unwrap()), u32::MAX, &mut n)?;
    /// assert_eq!(out, IoctlOutput::RoutingInterface("127.0.0.1:0".parse().unwrap()));
    /// assert_eq!(n, 16);                                   // sizeof(SOCKADDR_IN)
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "WSAIoctl")]
    #[doc(alias = "ioctlsocket")]
    pub fn ioctl_sync(
        &self,
        ioctl: &Ioctl,
        out_len: u32,
        bytes_returned: &mut u32,
    ) -> WsaResult<IoctlOutput> {
        self.check_open()?;
        match ioctl {
            Ioctl::Unsupported(_) => {
                *bytes_returned = 0;
                Err(WsaError::WSAEOPNOTSUPP)
            }
            Ioctl::AddressListChange | Ioctl::RoutingInterfaceChange(_) => {
                if self.is_nonblocking() {
                    return Err(WsaError::WSAEWOULDBLOCK);
                }
                // Err(()): it changed while the request was being set up.
                if let Ok(change) = self.change_request(ioctl)? {
                    notify::wait(change, &|s| self.attach(s), Some(self))?;
                }
                *bytes_returned = 0;
                Ok(IoctlOutput::None)
            }
            Ioctl::GetInterfaceList => {
                let out = self.query(ioctl)?;
                if out.wire_len() > out_len {
                    *bytes_returned = 0;
                    return Err(WsaError::WSAEFAULT);
                }
                *bytes_returned = out.wire_len();
                Ok(out)
            }
            _ => {
                let out = self.query_sized(ioctl, out_len, bytes_returned)?;
                *bytes_returned = out.wire_len();
                Ok(out)
            }
        }
    }

    /// An overlapped `WSAIoctl` with an event record.
    ///
    /// Queries that can answer at once return `Ok(output)` and still signal
    /// the record (its result: `bytes_transferred` = the output size), as a
    /// Winsock call that completes at once does. Errors found at the call
    /// (a too-small `out_len`, an unknown GUID) are returned and nothing is
    /// signalled. `Err(WSA_IO_PENDING)`, completion to come, for:
    /// * the change requests (facts [119](crate::semantics#fact-119), [120](crate::semantics#fact-120)): the record completes, 0 bytes,
    ///   when the change happens; `WSA_OPERATION_ABORTED` if the socket is
    ///   closed first, or the request cancelled (`CancelIoEx` with the record);
    /// * `SIO_GET_INTERFACE_LIST`, always ([fact 122](crate::semantics#fact-122)): the record's buffers
    ///   hold the `INTERFACE_INFO`s ([`InterfaceInfo::decode_list`]);
    ///   `WSAEFAULT`, 0 bytes, if `out_len` is too small;
    /// * unsupported codes and `SIO_BASE_HANDLE` ([fact 115](crate::semantics#fact-115)): completion
    ///   `WSAEOPNOTSUPP`, 0 bytes; `bytes_returned` untouched.
    ///
    /// ```
    /// use overlapped::{get_overlapped_result, Event, Ioctl, Overlapped, Socket, WsaError};
    /// let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// let mut ov = Overlapped::new(&Event::new());
    /// let mut n = 0;
    /// // Fact 122: always asynchronous when overlapped.
    /// assert_eq!(s.ioctl(&mut ov, &Ioctl::GetInterfaceList, u32::MAX, &mut n), Err(WsaError::WSA_IO_PENDING));
    /// let (bytes, _) = get_overlapped_result(&s, &ov, true)?;
    /// assert_eq!(bytes % overlapped::INTERFACE_INFO_LEN, 0);
    /// # Ok::<(), WsaError>(())
    /// ```
    #[doc(alias = "WSAIoctl")]
    pub fn ioctl(
        &self,
        overlapped: &mut Overlapped,
        ioctl: &Ioctl,
        out_len: u32,
        bytes_returned: &mut u32,
    ) -> WsaResult<IoctlOutput> {
        self.check_open()?;
        let mode = Mode::Record {
            ov: overlapped,
            signal: Some(self),
        };
        self.ioctl_overlapped(ioctl, out_len, bytes_returned, mode)
    }

    /// An overlapped `WSAIoctl` whose completion runs `routine` in this
    /// thread's next alertable wait. Returns as [`Socket::ioctl`] does; the
    /// routine's [`Completion`] carries the error, the output size
    /// (`bytes`), and, for `SIO_GET_INTERFACE_LIST`, the `INTERFACE_INFO`s in
    /// its buffers. A too-small interface list completes with `WSAEFAULT`
    /// ([fact 122](crate::semantics#fact-122)).
    #[doc(alias = "WSAIoctl")]
    pub fn ioctl_with<F>(
        &self,
        ioctl: &Ioctl,
        out_len: u32,
        bytes_returned: &mut u32,
        routine: F,
    ) -> WsaResult<IoctlOutput>
    where
        F: FnOnce(Completion) + 'static,
    {
        self.check_open()?;
        // A socket bound to a completion port takes no routines
        // ([fact 39](crate::semantics#fact-39)).
        if self.inner.port().is_some() {
            return Err(WsaError::WSAEINVAL);
        }
        let mode = Mode::Routine(Box::new(routine));
        self.ioctl_overlapped(ioctl, out_len, bytes_returned, mode)
    }

    fn ioctl_overlapped(
        &self,
        ioctl: &Ioctl,
        out_len: u32,
        bytes_returned: &mut u32,
        mode: Mode<'_>,
    ) -> WsaResult<IoctlOutput> {
        let pending = match ioctl {
            Ioctl::Unsupported(_) | Ioctl::BaseHandle => notify::complete_now(
                mode,
                notify::outcome(WsaError::WSAEOPNOTSUPP, BufList::new()),
            ),
            Ioctl::GetInterfaceList => {
                let out = self.query(ioctl)?;
                let IoctlOutput::InterfaceList(list) = &out else {
                    unreachable!("the interface list query answers with a list")
                };
                if out.wire_len() > out_len {
                    notify::complete_now(mode, notify::outcome(WsaError::WSAEFAULT, BufList::new()))
                } else {
                    let bytes: Vec<u8> = list.iter().flat_map(|i| i.to_bytes()).collect();
                    let mut bufs = BufList::new();
                    bufs.push(bytes);
                    notify::complete_now(mode, notify::outcome(WsaError::NO_ERROR, bufs))
                }
            }
            _ if ioctl.is_change() => match self.change_request(ioctl)? {
                Ok(change) => notify::start(change, mode, &|s| self.attach(s)),
                Err(()) => {
                    notify::complete_now(mode, notify::outcome(WsaError::NO_ERROR, BufList::new()))
                }
            },
            _ => {
                let out = self.query_sized(ioctl, out_len, bytes_returned)?;
                *bytes_returned = out.wire_len();
                // Completed at once: notified all the same (fact 19).
                let mut outcome = notify::outcome(WsaError::NO_ERROR, BufList::new());
                outcome.bytes = out.wire_len();
                notify::succeed_now(mode, outcome)?;
                return Ok(out);
            }
        };
        pending.map(|_| IoctlOutput::None)
    }

    fn check_open(&self) -> WsaResult<()> {
        if self.is_closed() {
            Err(WsaError::WSAENOTSOCK)
        } else {
            Ok(())
        }
    }

    fn is_ipv6(&self) -> WsaResult<bool> {
        Ok(self.local_addr()?.is_ipv6())
    }

    pub(crate) fn change_request(&self, ioctl: &Ioctl) -> WsaResult<Result<notify::Change, ()>> {
        match ioctl {
            Ioctl::AddressListChange => change::address_list_change(self.is_ipv6()?),
            Ioctl::RoutingInterfaceChange(dest) => change::routing_interface_change(dest),
            _ => Err(WsaError::WSAEINVAL),
        }
    }

    /// A query whose output must fit `out_len`; the too-small rules of
    /// facts [117](crate::semantics#fact-117) and [121](crate::semantics#fact-121) (count unchanged, or set to the size needed).
    pub(crate) fn query_sized(
        &self,
        ioctl: &Ioctl,
        out_len: u32,
        bytes_returned: &mut u32,
    ) -> WsaResult<IoctlOutput> {
        let fixed = match ioctl {
            Ioctl::FionRead | Ioctl::SiocAtMark => 4,
            Ioctl::GetExtensionFunctionPointer(_) | Ioctl::BaseHandle => 8,
            _ => 0,
        };
        if out_len < fixed {
            return Err(WsaError::WSAEFAULT);
        }
        let out = self.query(ioctl)?;
        if out.wire_len() > out_len {
            *bytes_returned = out.wire_len();
            return Err(WsaError::WSAEFAULT);
        }
        Ok(out)
    }

    /// Answers a query (or sets an option) now.
    pub(crate) fn query(&self, ioctl: &Ioctl) -> WsaResult<IoctlOutput> {
        let fd = self.as_raw_fd();
        let io = |e: std::io::Error| WsaError::from_io(&e);
        Ok(match ioctl {
            Ioctl::FionRead => {
                let kernel = crate::sys::ioctl::bytes_readable(fd).map_err(io)?;
                // With the bytes a dropped receive future gave back (`unread.rs`).
                let unread = u32::try_from(self.inner.unread.len()).unwrap_or(u32::MAX);
                IoctlOutput::Readable(kernel.saturating_add(unread))
            }
            Ioctl::SiocAtMark => IoctlOutput::AtMark(self.at_mark()?),
            Ioctl::FionBio(on) => {
                self.set_nonblocking(*on)?;
                IoctlOutput::None
            }
            Ioctl::KeepaliveVals(k) => {
                self.set_keepalive_vals(k)?;
                IoctlOutput::None
            }
            Ioctl::GetExtensionFunctionPointer(guid) => IoctlOutput::ExtensionFunction(
                ExtensionFunction::from_guid(guid).ok_or(WsaError::WSAEINVAL)?,
            ),
            Ioctl::BaseHandle => IoctlOutput::BaseHandle(fd),
            Ioctl::AddressListQuery => {
                IoctlOutput::AddressList(netinfo::local_addresses(self.is_ipv6()?)?)
            }
            Ioctl::RoutingInterfaceQuery(dest) => {
                IoctlOutput::RoutingInterface(netinfo::routing_interface(dest)?)
            }
            Ioctl::GetInterfaceList => IoctlOutput::InterfaceList(netinfo::interface_list()?),
            Ioctl::AddressListChange | Ioctl::RoutingInterfaceChange(_) | Ioctl::Unsupported(_) => {
                return Err(WsaError::WSAEOPNOTSUPP)
            }
        })
    }

    /// Windows' `SIOCATMARK`: true unless out-of-band data waits to be
    /// read (a datagram socket has none). See DESIGN.md for `SO_OOBINLINE`.
    fn at_mark(&self) -> WsaResult<bool> {
        if !self.is_stream() {
            return Ok(true);
        }
        Ok(!crate::sys::ioctl::urgent_pending(self.as_raw_fd()))
    }

    fn set_keepalive_vals(&self, k: &KeepaliveVals) -> WsaResult<()> {
        let io = |e: std::io::Error| WsaError::from_io(&e);
        let s = self.as_socket2();
        if !k.on {
            return s.set_keepalive(false).map_err(io);
        }
        let secs = |ms: u32| Duration::from_secs(u64::from(ms.div_ceil(1000).max(1)));
        let ka = socket2::TcpKeepalive::new()
            .with_time(secs(k.time_ms))
            .with_interval(secs(k.interval_ms));
        s.set_tcp_keepalive(&ka).map_err(io)?;
        s.set_keepalive(true).map_err(io)
    }
}
