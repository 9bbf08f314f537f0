//! The address areas of an `AcceptEx` output buffer, as the accept writes
//! them: each area holds the address's length (4 bytes, little-endian)
//! followed by the address in Winsock's `SOCKADDR_IN` / `SOCKADDR_IN6`
//! layout (family `AF_INET` = 2 or `AF_INET6` = 23, little-endian; port in
//! network order; ...). `GetAcceptExSockaddrs` (the surface's
//! `accept_addrs.rs`) reads them back.

use std::net::SocketAddr;

use crate::model::socket::SocketInner;

/// `sizeof(SOCKADDR_IN)`.
pub const SOCKADDR_IN_LEN: u32 = 16;
/// `sizeof(SOCKADDR_IN6)`.
pub const SOCKADDR_IN6_LEN: u32 = 28;
pub(crate) const WS_AF_INET: u16 = 2;
pub(crate) const WS_AF_INET6: u16 = 23;

/// One address in its area's layout.
pub(crate) fn encode(addr: &SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    match addr {
        SocketAddr::V4(a) => {
            out.extend_from_slice(&SOCKADDR_IN_LEN.to_le_bytes());
            out.extend_from_slice(&WS_AF_INET.to_le_bytes());
            out.extend_from_slice(&a.port().to_be_bytes());
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&[0; 8]);
        }
        SocketAddr::V6(a) => {
            out.extend_from_slice(&SOCKADDR_IN6_LEN.to_le_bytes());
            out.extend_from_slice(&WS_AF_INET6.to_le_bytes());
            out.extend_from_slice(&a.port().to_be_bytes());
            out.extend_from_slice(&a.flowinfo().to_be_bytes());
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.scope_id().to_le_bytes());
        }
    }
    out
}

/// At accept: writes the accepted connection's local and remote addresses
/// into their areas of `out` (a local area of length 0 is left alone, [fact 87](crate::semantics#fact-87)).
pub(crate) fn write_areas(
    out: &mut [u8],
    accepted: &SocketInner,
    receive_len: u32,
    local_len: u32,
    remote_len: u32,
) {
    let sock = accepted.sock();
    let local = sock.local_addr().ok().and_then(|a| a.as_socket());
    let remote = sock.peer_addr().ok().and_then(|a| a.as_socket());
    let start = receive_len as usize;
    for (addr, at, len) in [
        (local, start, local_len as usize),
        (remote, start + local_len as usize, remote_len as usize),
    ] {
        let (Some(addr), true) = (addr, len > 0) else {
            continue;
        };
        let bytes = encode(&addr);
        if let Some(area) = out.get_mut(at..at + len.min(bytes.len())) {
            if area.len() == bytes.len() {
                area.copy_from_slice(&bytes);
            }
        }
    }
}
