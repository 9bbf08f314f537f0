//! `WSAAddressToStringA` and `WSAStringToAddressA`: socket addresses as
//! text the way Windows writes and reads them (`127.0.0.1:80`, `127.0.0.1`
//! when the port is 0, `[::1%3]:80`, `::1`).

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use overlapped::WsaError;

use crate::addr;
use crate::last_error::{self, fail};

/// Windows' text for `a`: the port only when it is not 0, an IPv6 address
/// then in brackets; the scope as `%n` when it is not 0.
pub fn address_text(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) if v4.port() == 0 => v4.ip().to_string(),
        SocketAddr::V4(v4) => v4.to_string(),
        SocketAddr::V6(v6) => {
            let ip = if v6.scope_id() != 0 {
                format!("{}%{}", v6.ip(), v6.scope_id())
            } else {
                v6.ip().to_string()
            };
            if v6.port() == 0 {
                ip
            } else {
                format!("[{ip}]:{}", v6.port())
            }
        }
    }
}

/// Reads Windows' text forms for family `af` (`AF_INET` or `AF_INET6`).
pub fn parse_address(text: &str, af: i32) -> Option<SocketAddr> {
    let text = text.trim();
    let a = text
        .parse::<SocketAddr>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0)))
        .or_else(|| {
            // An IPv6 address with a scope and no port: `fe80::1%2`.
            let (ip, scope) = text.split_once('%')?;
            let v6 = SocketAddrV6::new(ip.parse().ok()?, 0, 0, scope.parse().ok()?);
            Some(SocketAddr::V6(v6))
        })?;
    let family_ok = match a {
        SocketAddr::V4(_) => af == addr::AF_INET,
        SocketAddr::V6(_) => af == addr::AF_INET6,
    };
    family_ok.then_some(a)
}

#[export_name = "WSAAddressToStringA"]
unsafe extern "C" fn wsa_address_to_string_a(
    sa: *const u8,
    sa_len: u32,
    _info: *const u8,
    out: *mut libc::c_char,
    out_len: *mut u32,
) -> i32 {
    if sa.is_null() || out_len.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `sa_len` bytes at `sa` (Windows' contract).
    let a = match unsafe { addr::read(sa, sa_len as i32) } {
        Ok(a) => a,
        Err(WsaError::WSAEFAULT) => return fail(WsaError::WSAEFAULT),
        Err(_) => return fail(WsaError::WSAEINVAL),
    };
    let text = address_text(&a);
    let need = text.len() as u32 + 1;
    // SAFETY: valid (Windows' contract).
    let room = unsafe { *out_len };
    if out.is_null() || room < need {
        // SAFETY: as above.
        unsafe { *out_len = need };
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `room >= need` writable chars at `out` (Windows' contract).
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), out as *mut u8, text.len());
        *out.add(text.len()) = 0;
        *out_len = need;
    }
    last_error::set(0);
    0
}

#[export_name = "WSAStringToAddressA"]
unsafe extern "C" fn wsa_string_to_address_a(
    text: *const libc::c_char,
    af: i32,
    _info: *const u8,
    out: *mut u8,
    out_len: *mut i32,
) -> i32 {
    if text.is_null() || out_len.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: a NUL-terminated string (Windows' contract).
    let s = unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy();
    let Some(a) = parse_address(&s, af) else {
        return fail(WsaError::WSAEINVAL);
    };
    let bytes = addr::to_bytes(&a);
    // SAFETY: valid (Windows' contract).
    let room = unsafe { *out_len };
    if out.is_null() || room < bytes.len() as i32 {
        // SAFETY: as above.
        unsafe { *out_len = bytes.len() as i32 };
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `room` writable bytes at `out`; the sockaddr is zeroed first.
    unsafe {
        std::ptr::write_bytes(out, 0, bytes.len());
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len());
        *out_len = bytes.len() as i32;
    }
    last_error::set(0);
    0
}
