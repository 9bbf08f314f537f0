//! `sockaddr` in Windows' layout (`AF_INET` = 2, `AF_INET6` = 23; the same
//! bytes as Linux's otherwise) to and from `SocketAddr`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use overlapped::WsaError;

/// Windows' `AF_INET`.
pub const AF_INET: i32 = 2;
/// Windows' `AF_INET6`.
pub const AF_INET6: i32 = 23;
/// Windows' `AF_UNSPEC`.
pub const AF_UNSPEC: i32 = 0;
/// `sizeof(SOCKADDR_IN)`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// `sizeof(SOCKADDR_IN6)`.
pub const SOCKADDR_IN6_LEN: usize = 28;

/// Reads a Windows `sockaddr` of `len` bytes at `ptr`: `WSAEFAULT` if null
/// or too short, `WSAEAFNOSUPPORT` for another family.
///
/// # Safety
/// `ptr` is null or valid for `len` bytes.
pub unsafe fn read(ptr: *const u8, len: i32) -> Result<SocketAddr, WsaError> {
    if ptr.is_null() || len < 2 {
        return Err(WsaError::WSAEFAULT);
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`; len >= 2.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
    from_bytes(bytes)
}

/// Decodes a Windows `sockaddr` from bytes.
pub fn from_bytes(b: &[u8]) -> Result<SocketAddr, WsaError> {
    if b.len() < 2 {
        return Err(WsaError::WSAEFAULT);
    }
    let family = i32::from(u16::from_ne_bytes([b[0], b[1]]));
    match family {
        AF_INET if b.len() >= SOCKADDR_IN_LEN => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        AF_INET6 if b.len() >= SOCKADDR_IN6_LEN => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let flow = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&b[8..24]);
            let scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        AF_INET | AF_INET6 => Err(WsaError::WSAEFAULT),
        _ => Err(WsaError::WSAEAFNOSUPPORT),
    }
}

/// Encodes `addr` as a Windows `sockaddr` (16 or 28 bytes).
pub fn to_bytes(addr: &SocketAddr) -> Vec<u8> {
    match addr {
        SocketAddr::V4(a) => {
            let mut b = vec![0u8; SOCKADDR_IN_LEN];
            b[0..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.ip().octets());
            b
        }
        SocketAddr::V6(a) => {
            let mut b = vec![0u8; SOCKADDR_IN6_LEN];
            b[0..2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.flowinfo().to_ne_bytes());
            b[8..24].copy_from_slice(&a.ip().octets());
            b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            b
        }
    }
}

/// Writes `addr` to `ptr`/`*len` as `getsockname` does: `WSAEFAULT` if
/// `*len` is too small (nothing written then). Null `ptr` writes nothing.
///
/// # Safety
/// `ptr` is null or valid for `*len` bytes; `len` is null or valid.
pub unsafe fn write(addr: &SocketAddr, ptr: *mut u8, len: *mut i32) -> Result<(), WsaError> {
    if ptr.is_null() {
        return Ok(());
    }
    if len.is_null() {
        return Err(WsaError::WSAEFAULT);
    }
    let b = to_bytes(addr);
    // SAFETY: `len` is non-null and valid (caller).
    let room = unsafe { *len };
    if room < 0 || (room as usize) < b.len() {
        return Err(WsaError::WSAEFAULT);
    }
    // SAFETY: `ptr` has `room >= b.len()` writable bytes (caller); `len` is valid.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr(), ptr, b.len());
        *len = b.len() as i32;
    }
    Ok(())
}
