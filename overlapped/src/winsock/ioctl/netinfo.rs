//! What the query ioctls return: the local address list
//! (`SIO_ADDRESS_LIST_QUERY`), the interface list (`SIO_GET_INTERFACE_LIST`)
//! and the local address the kernel would use for a destination
//! (`SIO_ROUTING_INTERFACE_QUERY`), with the sizes of their Windows layouts.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags as LinuxFlags;
use socket2::{Domain, SockAddr, Type};

use crate::{WsaError, WsaResult};

/// `sizeof(SOCKADDR_IN)`.
pub(crate) const SOCKADDR_IN_LEN: u32 = 16;
/// `sizeof(SOCKADDR_IN6)`.
pub(crate) const SOCKADDR_IN6_LEN: u32 = 28;
/// `sizeof(INTERFACE_INFO)`: flags, then three 24-byte `sockaddr_gen`s.
pub const INTERFACE_INFO_LEN: u32 = 76;

/// The size of a socket address in Windows' layout.
pub(crate) fn sockaddr_len(addr: &SocketAddr) -> u32 {
    match addr {
        SocketAddr::V4(_) => SOCKADDR_IN_LEN,
        SocketAddr::V6(_) => SOCKADDR_IN6_LEN,
    }
}

/// The size of a `SOCKET_ADDRESS_LIST` holding `addrs` (64-bit Windows:
/// the count padded to 8, a 16-byte `SOCKET_ADDRESS` per address, then the
/// addresses themselves).
pub(crate) fn address_list_len(addrs: &[SocketAddr]) -> u32 {
    8 + addrs.iter().map(|a| 16 + sockaddr_len(a)).sum::<u32>()
}

/// The local addresses of one family (`AF_INET` or `AF_INET6`), every
/// interface's, loopback included, in a stable order (ports 0; IPv6
/// link-local addresses carry their interface as scope).
pub(crate) fn local_addresses(ipv6: bool) -> WsaResult<Vec<SocketAddr>> {
    Ok(local_address_set(ipv6)?.into_iter().collect())
}

/// [`local_addresses`] as a set, for comparing snapshots.
pub(crate) fn local_address_set(ipv6: bool) -> WsaResult<BTreeSet<SocketAddr>> {
    let mut out = BTreeSet::new();
    for ifa in getifaddrs().map_err(|e| WsaError::from_errno(e as i32))? {
        let Some(addr) = ifa.address else { continue };
        if let (false, Some(v4)) = (ipv6, addr.as_sockaddr_in()) {
            out.insert(SocketAddr::V4(SocketAddrV4::new(v4.ip(), 0)));
        }
        if let (true, Some(v6)) = (ipv6, addr.as_sockaddr_in6()) {
            let ip = v6.ip();
            let scope = if is_link_local(&ip) { v6.scope_id() } else { 0 };
            out.insert(SocketAddr::V6(SocketAddrV6::new(ip, 0, 0, scope)));
        }
    }
    Ok(out)
}

fn is_link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

bitflags::bitflags! {
    /// `INTERFACE_INFO.iiFlags`, with Windows' values.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[doc(alias = "IFF_UP")]
    #[doc(alias = "IFF_BROADCAST")]
    #[doc(alias = "IFF_LOOPBACK")]
    #[doc(alias = "IFF_POINTTOPOINT")]
    #[doc(alias = "IFF_MULTICAST")]
    pub struct InterfaceFlags: u32 {
        /// `IFF_UP`: the interface is up.
        const UP = 0x1;
        /// `IFF_BROADCAST`: broadcast is supported.
        const BROADCAST = 0x2;
        /// `IFF_LOOPBACK`: a loopback interface.
        const LOOPBACK = 0x4;
        /// `IFF_POINTTOPOINT`: a point-to-point link.
        const POINTTOPOINT = 0x8;
        /// `IFF_MULTICAST`: multicast is supported.
        const MULTICAST = 0x10;
    }
}

/// One `INTERFACE_INFO` (`SIO_GET_INTERFACE_LIST`): an IPv4 address of an
/// interface, with its broadcast address and netmask.
#[doc(alias = "INTERFACE_INFO")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// `iiFlags`.
    pub flags: InterfaceFlags,
    /// `iiAddress`.
    pub address: Ipv4Addr,
    /// `iiBroadcastAddress` (Windows reports 255.255.255.255 when the
    /// interface has no broadcast address; so do we).
    pub broadcast: Ipv4Addr,
    /// `iiNetmask`.
    pub netmask: Ipv4Addr,
}

impl InterfaceInfo {
    /// The record in Windows' 76-byte layout (as it lands in
    /// `lpvOutBuffer`).
    pub fn to_bytes(&self) -> [u8; INTERFACE_INFO_LEN as usize] {
        let mut b = [0u8; INTERFACE_INFO_LEN as usize];
        b[0..4].copy_from_slice(&self.flags.bits().to_le_bytes());
        for (i, ip) in [self.address, self.broadcast, self.netmask]
            .into_iter()
            .enumerate()
        {
            let at = 4 + 24 * i;
            b[at..at + 2].copy_from_slice(&(libc::AF_INET as u16).to_le_bytes());
            b[at + 4..at + 8].copy_from_slice(&ip.octets());
        }
        b
    }

    /// Decodes the records of an overlapped `SIO_GET_INTERFACE_LIST` (the
    /// buffers of its completion): one per 76 bytes.
    pub fn decode_list(bytes: &[u8]) -> Vec<InterfaceInfo> {
        let ip = |c: &[u8], at: usize| Ipv4Addr::new(c[at], c[at + 1], c[at + 2], c[at + 3]);
        bytes
            .chunks_exact(INTERFACE_INFO_LEN as usize)
            .map(|c| InterfaceInfo {
                flags: InterfaceFlags::from_bits_retain(u32::from_le_bytes([
                    c[0], c[1], c[2], c[3],
                ])),
                address: ip(c, 8),
                broadcast: ip(c, 32),
                netmask: ip(c, 56),
            })
            .collect()
    }
}

/// The IPv4 interface list, as `SIO_GET_INTERFACE_LIST` reports it.
pub(crate) fn interface_list() -> WsaResult<Vec<InterfaceInfo>> {
    let mut out = Vec::new();
    for ifa in getifaddrs().map_err(|e| WsaError::from_errno(e as i32))? {
        let Some(addr) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) else {
            continue;
        };
        let v4 = |a: &Option<nix::sys::socket::SockaddrStorage>| {
            a.as_ref()
                .and_then(|a| a.as_sockaddr_in())
                .map_or(Ipv4Addr::BROADCAST, |a| a.ip())
        };
        let (netmask, broadcast) = (v4(&ifa.netmask), v4(&ifa.broadcast));
        let f = ifa.flags;
        let mut flags = InterfaceFlags::empty();
        for (linux, windows) in [
            (LinuxFlags::IFF_UP, InterfaceFlags::UP),
            (LinuxFlags::IFF_BROADCAST, InterfaceFlags::BROADCAST),
            (LinuxFlags::IFF_LOOPBACK, InterfaceFlags::LOOPBACK),
            (LinuxFlags::IFF_POINTOPOINT, InterfaceFlags::POINTTOPOINT),
            (LinuxFlags::IFF_MULTICAST, InterfaceFlags::MULTICAST),
        ] {
            if f.contains(linux) {
                flags |= windows;
            }
        }
        out.push(InterfaceInfo {
            flags,
            address: addr.ip(),
            broadcast,
            netmask,
        });
    }
    Ok(out)
}

/// The local address the kernel would send from to reach `dest` (a routing
/// lookup: connect a UDP socket, read its name). Port 0. No route:
/// `WSAENETUNREACH` (or `WSAEHOSTUNREACH`, `WSAENETDOWN`, as the kernel says).
pub(crate) fn routing_interface(dest: &SocketAddr) -> WsaResult<SocketAddr> {
    let probe = socket2::Socket::new(Domain::for_address(*dest), Type::DGRAM, None)
        .map_err(|e| WsaError::from_io(&e))?;
    let mut to = *dest;
    if to.port() == 0 {
        // Only the route matters; some kernels refuse port 0.
        to.set_port(9);
    }
    probe
        .connect(&SockAddr::from(to))
        .map_err(|e| WsaError::from_io(&e))?;
    let mut local = probe
        .local_addr()
        .map_err(|e| WsaError::from_io(&e))?
        .as_socket()
        .ok_or(WsaError::WSAEAFNOSUPPORT)?;
    local.set_port(0);
    if let SocketAddr::V6(v6) = &mut local {
        v6.set_flowinfo(0);
    }
    Ok(local)
}

/// Whether `ip` is the wildcard address (`SIO_ROUTING_INTERFACE_CHANGE`'s
/// "any route").
pub(crate) fn is_wildcard(ip: &IpAddr) -> bool {
    ip.is_unspecified()
}
