//! `setsockopt` and `getsockopt` with Windows' levels, names and value
//! formats (`BOOL`/`DWORD` values, `DWORD` milliseconds for timeouts,
//! `u_short` linger), mapped to Linux's.

use std::os::fd::AsRawFd;

use overlapped::{Socket, WsaError};

use crate::handles;
use crate::last_error::{self, fail};

const SOL_SOCKET: i32 = 0xffff;
const SO_UPDATE_ACCEPT_CONTEXT: i32 = 0x700B;
const SO_CONNECT_TIME: i32 = 0x700C;
const SO_UPDATE_CONNECT_CONTEXT: i32 = 0x7010;
const SO_LINGER: i32 = 0x80;
const SO_DONTLINGER: i32 = !0x80;
const SO_EXCLUSIVEADDRUSE: i32 = !0x4;
const SO_RCVTIMEO: i32 = 0x1006;
const SO_SNDTIMEO: i32 = 0x1005;
const SO_ERROR: i32 = 0x1007;

/// Linux's (level, name) for an integer-valued Windows option.
fn map(level: i32, name: i32) -> Option<(i32, i32)> {
    let l = match level {
        SOL_SOCKET => libc::SOL_SOCKET,
        0 => libc::IPPROTO_IP,
        6 => libc::IPPROTO_TCP,
        17 => libc::IPPROTO_UDP,
        41 => libc::IPPROTO_IPV6,
        _ => return None,
    };
    let n = match (level, name) {
        (SOL_SOCKET, 0x0001) => libc::SO_DEBUG,
        (SOL_SOCKET, 0x0002) => libc::SO_ACCEPTCONN,
        (SOL_SOCKET, 0x0004) => libc::SO_REUSEADDR,
        (SOL_SOCKET, 0x0008) => libc::SO_KEEPALIVE,
        (SOL_SOCKET, 0x0010) => libc::SO_DONTROUTE,
        (SOL_SOCKET, 0x0020) => libc::SO_BROADCAST,
        (SOL_SOCKET, 0x0100) => libc::SO_OOBINLINE,
        (SOL_SOCKET, 0x1001) => libc::SO_SNDBUF,
        (SOL_SOCKET, 0x1002) => libc::SO_RCVBUF,
        (SOL_SOCKET, 0x1003) => libc::SO_SNDLOWAT,
        (SOL_SOCKET, 0x1004) => libc::SO_RCVLOWAT,
        (SOL_SOCKET, 0x1008) => libc::SO_TYPE,
        (6, 0x0001) => libc::TCP_NODELAY,
        (0, 4) => libc::IP_TTL,
        (0, 9) => libc::IP_MULTICAST_IF,
        (0, 10) => libc::IP_MULTICAST_TTL,
        (0, 11) => libc::IP_MULTICAST_LOOP,
        (0, 12) => libc::IP_ADD_MEMBERSHIP,
        (0, 13) => libc::IP_DROP_MEMBERSHIP,
        (0, 19) => libc::IP_PKTINFO,
        (41, 4) => libc::IPV6_UNICAST_HOPS,
        (41, 9) => libc::IPV6_MULTICAST_IF,
        (41, 10) => libc::IPV6_MULTICAST_HOPS,
        (41, 11) => libc::IPV6_MULTICAST_LOOP,
        (41, 12) => libc::IPV6_ADD_MEMBERSHIP,
        (41, 13) => libc::IPV6_DROP_MEMBERSHIP,
        (41, 19) => libc::IPV6_RECVPKTINFO,
        (41, 27) => libc::IPV6_V6ONLY,
        _ => return None,
    };
    Some((l, n))
}

fn os_err() -> WsaError {
    WsaError::from_io(&std::io::Error::last_os_error())
}

/// # Safety
/// `len` readable bytes at `p`.
unsafe fn read_int(p: *const u8, len: i32) -> Result<i32, WsaError> {
    if p.is_null() || len < 1 {
        return Err(WsaError::WSAEFAULT);
    }
    let mut b = [0u8; 4];
    let n = (len as usize).min(4);
    // SAFETY: `n <= len` readable bytes (caller).
    unsafe { std::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), n) };
    Ok(i32::from_ne_bytes(b))
}

fn raw_set<T>(sock: &Socket, level: i32, name: i32, v: &T) -> Result<(), WsaError> {
    // SAFETY: `v` is a valid T for the option's size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(os_err())
    } else {
        Ok(())
    }
}

fn raw_get<T: Default>(sock: &Socket, level: i32, name: i32) -> Result<T, WsaError> {
    let mut v = T::default();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` has room for `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&mut v as *mut T).cast(),
            &mut len,
        )
    };
    if r < 0 {
        Err(os_err())
    } else {
        Ok(v)
    }
}

fn millis(ms: i32) -> libc::timeval {
    let ms = i64::from(ms.max(0));
    libc::timeval {
        tv_sec: ms / 1000,
        tv_usec: (ms % 1000) * 1000,
    }
}

/// # Safety
/// Windows' contract of setsockopt.
unsafe fn set(
    sock: &Socket,
    level: i32,
    name: i32,
    val: *const u8,
    len: i32,
) -> Result<(), WsaError> {
    match (level, name) {
        (SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT) => {
            if val.is_null() || (len as usize) < std::mem::size_of::<usize>() {
                return Err(WsaError::WSAEFAULT);
            }
            // SAFETY: a SOCKET value at `val` (Windows' contract); may be unaligned.
            let listener = unsafe { (val as *const usize).read_unaligned() };
            sock.update_accept_context(&handles::socket(listener)?)
        }
        (SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT) => sock.update_connect_context(),
        (SOL_SOCKET, SO_EXCLUSIVEADDRUSE) => Ok(()), // Linux binds exclusively unless SO_REUSEADDR.
        (SOL_SOCKET, SO_LINGER) => {
            if val.is_null() || len < 4 {
                return Err(WsaError::WSAEFAULT);
            }
            // SAFETY: a `struct linger` (two u_short) at `val`.
            let (on, secs) = unsafe {
                let p = val as *const u16;
                (p.read_unaligned(), p.add(1).read_unaligned())
            };
            let l = libc::linger {
                l_onoff: i32::from(on),
                l_linger: i32::from(secs),
            };
            raw_set(sock, libc::SOL_SOCKET, libc::SO_LINGER, &l)
        }
        (SOL_SOCKET, SO_DONTLINGER) => {
            // SAFETY: `len` bytes at `val` (caller).
            let v = unsafe { read_int(val, len)? };
            let l = libc::linger {
                l_onoff: i32::from(v == 0),
                l_linger: 0,
            };
            raw_set(sock, libc::SOL_SOCKET, libc::SO_LINGER, &l)
        }
        (SOL_SOCKET, SO_RCVTIMEO) | (SOL_SOCKET, SO_SNDTIMEO) => {
            // SAFETY: `len` bytes at `val` (caller).
            let ms = unsafe { read_int(val, len)? };
            let n = if name == SO_RCVTIMEO {
                libc::SO_RCVTIMEO
            } else {
                libc::SO_SNDTIMEO
            };
            raw_set(sock, libc::SOL_SOCKET, n, &millis(ms))
        }
        _ => {
            let (l, n) = map(level, name).ok_or(WsaError::WSAENOPROTOOPT)?;
            if matches!(n, libc::IP_ADD_MEMBERSHIP | libc::IP_DROP_MEMBERSHIP)
                && l == libc::IPPROTO_IP
                || l == libc::IPPROTO_IPV6
                    && matches!(n, libc::IPV6_ADD_MEMBERSHIP | libc::IPV6_DROP_MEMBERSHIP)
            {
                // Same layouts (ip_mreq, ipv6_mreq) on both systems: pass through.
                // SAFETY: `len` bytes at `val` (caller).
                let r = unsafe {
                    libc::setsockopt(sock.as_raw_fd(), l, n, val.cast(), len as libc::socklen_t)
                };
                return if r < 0 { Err(os_err()) } else { Ok(()) };
            }
            // SAFETY: `len` bytes at `val` (caller).
            let v = unsafe { read_int(val, len)? };
            raw_set(sock, l, n, &v)
        }
    }
}

#[export_name = "ovl_setsockopt"]
unsafe extern "C" fn setsockopt(s: usize, level: i32, name: i32, val: *const u8, len: i32) -> i32 {
    // SAFETY: Windows' contract of setsockopt.
    match handles::socket(s).and_then(|sock| unsafe { set(&sock, level, name, val, len) }) {
        Ok(()) => {
            last_error::set(0);
            0
        }
        Err(e) => fail(e),
    }
}

fn get(sock: &Socket, level: i32, name: i32) -> Result<i32, WsaError> {
    match (level, name) {
        (SOL_SOCKET, SO_CONNECT_TIME) => sock.connect_time().map(|t| t as i32),
        (SOL_SOCKET, SO_ERROR) => {
            let e: i32 = raw_get(sock, libc::SOL_SOCKET, libc::SO_ERROR)?;
            Ok(WsaError::from_errno(e).0)
        }
        (SOL_SOCKET, SO_RCVTIMEO) | (SOL_SOCKET, SO_SNDTIMEO) => {
            let n = if name == SO_RCVTIMEO {
                libc::SO_RCVTIMEO
            } else {
                libc::SO_SNDTIMEO
            };
            let t: libc::timeval = raw_get(sock, libc::SOL_SOCKET, n)?;
            Ok((t.tv_sec * 1000 + t.tv_usec / 1000) as i32)
        }
        (SOL_SOCKET, 0x1008) => {
            let t: i32 = raw_get(sock, libc::SOL_SOCKET, libc::SO_TYPE)?;
            Ok(match t {
                libc::SOCK_STREAM => 1,
                libc::SOCK_DGRAM => 2,
                libc::SOCK_RAW => 3,
                other => other,
            })
        }
        (SOL_SOCKET, 0x1001) | (SOL_SOCKET, 0x1002) => {
            let (l, n) = map(level, name).ok_or(WsaError::WSAENOPROTOOPT)?;
            // Linux reports twice the size set (its bookkeeping); Windows the size set.
            raw_get::<i32>(sock, l, n).map(|v| v / 2)
        }
        _ => {
            let (l, n) = map(level, name).ok_or(WsaError::WSAENOPROTOOPT)?;
            raw_get(sock, l, n)
        }
    }
}

#[export_name = "ovl_getsockopt"]
unsafe extern "C" fn getsockopt(
    s: usize,
    level: i32,
    name: i32,
    val: *mut u8,
    len: *mut i32,
) -> i32 {
    if val.is_null() || len.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    let sock = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail(e),
    };
    if (level, name) == (SOL_SOCKET, SO_LINGER) {
        let l: libc::linger = match raw_get(&sock, libc::SOL_SOCKET, libc::SO_LINGER) {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
        // SAFETY: valid `len` (Windows' contract).
        if unsafe { *len } < 4 {
            return fail(WsaError::WSAEFAULT);
        }
        // SAFETY: 4 writable bytes at `val`; `len` valid.
        unsafe {
            let p = val as *mut u16;
            p.write_unaligned(l.l_onoff as u16);
            p.add(1).write_unaligned(l.l_linger as u16);
            *len = 4;
        }
        return 0;
    }
    match get(&sock, level, name) {
        Ok(v) => {
            // SAFETY: valid `len` (Windows' contract).
            let room = unsafe { *len };
            if room < 1 {
                return fail(WsaError::WSAEFAULT);
            }
            let n = (room as usize).min(4);
            // SAFETY: `n <= *len` writable bytes at `val`.
            unsafe {
                std::ptr::copy_nonoverlapping(v.to_ne_bytes().as_ptr(), val, n);
                *len = n as i32;
            }
            last_error::set(0);
            0
        }
        Err(e) => fail(e),
    }
}
