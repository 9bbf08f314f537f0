//! The address areas of an `AcceptEx` output buffer, and
//! `GetAcceptExSockaddrs`, which reads them back (facts [87](crate::semantics#fact-87), [91](crate::semantics#fact-91)).
//!
//! The output buffer is `[receive data | local area | remote area]`, the
//! three lengths given to [`crate::Socket::accept_ex`]. Each area holds the
//! address's length (4 bytes, little-endian) followed by the address in
//! Winsock's `SOCKADDR_IN` / `SOCKADDR_IN6` layout (family `AF_INET` = 2 or
//! `AF_INET6` = 23, little-endian; port in network order; ...). That is why
//! an area needs the address size plus 16 bytes, as on Windows (where the
//! layout is private too: only `GetAcceptExSockaddrs` reads it).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

pub use crate::model::accept_areas::{SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN};
use crate::model::accept_areas::{WS_AF_INET, WS_AF_INET6};

/// An address area that fits either family: `sizeof(SOCKADDR_IN6) + 16` (44).
/// Pass it as both `local_len` and `remote_len` to [`crate::Socket::accept_ex`].
pub const ACCEPT_EX_ADDRESS_LEN: u32 = SOCKADDR_IN6_LEN + 16;

/// The area an address of `addr`'s family needs (its size plus 16 bytes).
pub(crate) fn area_len(v6: bool) -> u32 {
    if v6 {
        SOCKADDR_IN6_LEN + 16
    } else {
        SOCKADDR_IN_LEN + 16
    }
}

fn decode(area: &[u8]) -> Option<SocketAddr> {
    let len = u32::from_le_bytes(area.get(..4)?.try_into().ok()?) as usize;
    let sa = area.get(4..4 + len)?;
    let family = u16::from_le_bytes([*sa.first()?, *sa.get(1)?]);
    let port = u16::from_be_bytes([*sa.get(2)?, *sa.get(3)?]);
    match (family, len) {
        (WS_AF_INET, 16) => {
            let ip: [u8; 4] = sa[4..8].try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        (WS_AF_INET6, 28) => {
            let flow = u32::from_be_bytes(sa[4..8].try_into().ok()?);
            let ip: [u8; 16] = sa[8..24].try_into().ok()?;
            let scope = u32::from_le_bytes(sa[24..28].try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        _ => None,
    }
}

/// The addresses `GetAcceptExSockaddrs` finds in an `AcceptEx` output buffer.
#[doc(alias = "GetAcceptExSockaddrs")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptExSockaddrs {
    /// The local address of the accepted connection (`LocalSockaddr`): the
    /// listener's address and port. `None` when `local_len` was 0.
    pub local: Option<SocketAddr>,
    /// The client's address and port (`RemoteSockaddr`).
    pub remote: Option<SocketAddr>,
}

/// Parses the output buffer of a completed [`crate::Socket::accept_ex`]
/// (`GetAcceptExSockaddrs`, [fact 91](crate::semantics#fact-91)): pass the buffer and the same three
/// lengths. The received data is `output[..bytes]` (bytes from the
/// completion); the addresses follow at `receive_len` and
/// `receive_len + local_len`. An area that was not written (a local length
/// of 0, a buffer from another call) reads as `None`.
///
/// ```
/// use overlapped::{get_accept_ex_sockaddrs, get_overlapped_result, Event, Overlapped, Socket,
///                  WsaError, ACCEPT_EX_ADDRESS_LEN};
/// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 8)?;
/// let accept = Socket::tcp_for(&listener.local_addr()?)?;
/// let mut ov = Overlapped::new(&Event::new());
/// let n = ACCEPT_EX_ADDRESS_LEN;
/// match listener.accept_ex(&accept, &mut ov, vec![0; 2 * n as usize], 0, n, n) {
///     Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
///     Err(e) => return Err(e),
/// }
/// let client = std::net::TcpStream::connect(listener.local_addr()?).unwrap();
/// get_overlapped_result(&listener, &ov, true)?;              // completes on the listener
/// let out = ov.take_buffers().unwrap().into_inner().remove(0);
/// let addrs = get_accept_ex_sockaddrs(&out, 0, n, n);
/// assert_eq!(addrs.remote, Some(client.local_addr().unwrap()));
/// assert_eq!(addrs.local, Some(listener.local_addr()?));
/// # Ok::<(), WsaError>(())
/// ```
#[doc(alias = "GetAcceptExSockaddrs")]
#[doc(alias = "LPFN_GETACCEPTEXSOCKADDRS")]
#[doc(alias = "WSAID_GETACCEPTEXSOCKADDRS")]
pub fn get_accept_ex_sockaddrs(
    output: &[u8],
    receive_len: u32,
    local_len: u32,
    remote_len: u32,
) -> AcceptExSockaddrs {
    let start = receive_len as usize;
    let local_end = start.saturating_add(local_len as usize);
    let area = |from: usize, to: usize| output.get(from..to.min(output.len())).and_then(decode);
    AcceptExSockaddrs {
        local: (local_len > 0).then(|| area(start, local_end)).flatten(),
        remote: area(local_end, local_end.saturating_add(remote_len as usize)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::accept_areas::encode;

    #[test]
    fn areas_round_trip_both_families() {
        for addr in [
            "192.0.2.7:5150".parse::<SocketAddr>().unwrap(),
            "[2001:db8::1]:443".parse().unwrap(),
        ] {
            let bytes = encode(&addr);
            assert!(bytes.len() as u32 <= area_len(addr.is_ipv6()));
            assert_eq!(decode(&bytes), Some(addr));
        }
    }

    #[test]
    fn winsock_layout_of_an_ipv4_address() {
        let bytes = encode(&"10.1.2.3:258".parse().unwrap());
        assert_eq!(&bytes[..4], &16u32.to_le_bytes());
        assert_eq!(&bytes[4..8], &[2, 0, 1, 2]); // AF_INET = 2, port 258 in network order
        assert_eq!(&bytes[8..12], &[10, 1, 2, 3]);
    }

    #[test]
    fn unwritten_areas_read_as_none() {
        let out = vec![0u8; 100];
        let a = get_accept_ex_sockaddrs(&out, 10, 44, 44);
        assert_eq!(
            a,
            AcceptExSockaddrs {
                local: None,
                remote: None
            }
        );
        assert_eq!(get_accept_ex_sockaddrs(&[], 0, 44, 44).remote, None);
    }
}
