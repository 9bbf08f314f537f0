//! The C layout of control messages (`cmsghdr`, `CMSG_*`), socket addresses
//! (`sockaddr_in`/`sockaddr_in6` in a `sockaddr_storage`), and the socket
//! options that ask for control data. Everything here works on byte slices
//! and plain structs; the typed surface above builds on these.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// `sizeof(struct cmsghdr)`: `cmsg_len` (a `size_t` in the kernel's layout),
/// `cmsg_level`, `cmsg_type`.
const HDR: usize = size_of::<libc::cmsghdr>();
const WORD: usize = size_of::<usize>();
const _: () = assert!(HDR == WORD + 8, "cmsghdr is size_t + two ints");

/// `CMSG_ALIGN`.
const fn align(n: usize) -> usize {
    (n + WORD - 1) & !(WORD - 1)
}

/// `CMSG_SPACE(len)`: the bytes one message with `len` data bytes takes.
pub(crate) const fn space(len: usize) -> usize {
    HDR + align(len)
}

/// `CMSG_LEN(len)`: the `cmsg_len` of a message with `len` data bytes.
const fn msg_len(len: usize) -> usize {
    HDR + len
}

/// The data length of a message in Windows' layout. `WSACMSGHDR` has the
/// kernel's size and alignment (`SIZE_T` + two `INT`s); the data differs for
/// `IP_PKTINFO` (`IN_PKTINFO` is 8 bytes, Linux's `in_pktinfo` 12) and
/// `IP_TOS` (an `INT` on Windows, one byte on Linux).
fn windows_data_len(level: i32, ty: i32, linux_len: usize) -> usize {
    match (level, ty) {
        (libc::IPPROTO_IP, libc::IP_PKTINFO) => 8,
        (libc::IPPROTO_IP, libc::IP_TOS) => 4,
        _ => linux_len,
    }
}

/// The kernel's control buffer for a request of `windows_len` bytes: room
/// for every message that would fit in `windows_len` bytes laid out the
/// Windows way (no Linux message is more than 4/3 of its Windows size).
pub(crate) fn kernel_len(windows_len: usize) -> usize {
    if windows_len == 0 {
        0
    } else {
        windows_len.saturating_mul(2).saturating_add(HDR)
    }
}

/// How many bytes at the start of `buf` (messages in the kernel's layout)
/// hold whole messages that fit in `windows_len` bytes laid out the Windows
/// way (`WSA_CMSG_SPACE` for each, `WSA_CMSG_LEN` for the last, as the
/// kernel counts). The messages past that are what Windows would cut
/// (`MSG_CTRUNC`, [fact 81](crate::semantics#fact-81)).
pub(crate) fn fit_windows(buf: &[u8], windows_len: usize) -> usize {
    let mut walk = Walk::new(buf);
    let (mut used, mut keep) = (0, 0);
    while let Some((level, ty, data)) = walk.next() {
        let len = windows_data_len(level, ty, data.len());
        if used + msg_len(len) > windows_len {
            break;
        }
        used += space(len);
        keep = buf.len() - walk.rest.len();
    }
    keep
}

/// Appends one message (header, data, padding) to a control buffer.
pub(crate) fn push(buf: &mut Vec<u8>, level: i32, ty: i32, data: &[u8]) {
    let start = buf.len();
    buf.extend_from_slice(&msg_len(data.len()).to_ne_bytes());
    buf.extend_from_slice(&level.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(start + space(data.len()), 0);
}

/// Walks a control buffer as the kernel filled it (`CMSG_FIRSTHDR` /
/// `CMSG_NXTHDR`): yields (level, type, data). A malformed or cut-off
/// message ends the walk.
pub(crate) struct Walk<'a> {
    rest: &'a [u8],
}

impl<'a> Walk<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Walk<'a> {
        Walk { rest: buf }
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = (i32, i32, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < HDR {
            return None;
        }
        let len = usize::from_ne_bytes(self.rest[..WORD].try_into().ok()?);
        let level = i32::from_ne_bytes(self.rest[WORD..WORD + 4].try_into().ok()?);
        let ty = i32::from_ne_bytes(self.rest[WORD + 4..HDR].try_into().ok()?);
        if len < HDR || len > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let data = &self.rest[HDR..len];
        self.rest = &self.rest[align(len).min(self.rest.len())..];
        Some((level, ty, data))
    }
}

/// `struct in_pktinfo` as bytes: (`ipi_ifindex`, `ipi_spec_dst`, `ipi_addr`).
pub(crate) fn in_pktinfo(ifindex: u32, spec_dst: Ipv4Addr, addr: Ipv4Addr) -> Vec<u8> {
    let mut v = Vec::with_capacity(size_of::<libc::in_pktinfo>());
    v.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    v.extend_from_slice(&spec_dst.octets());
    v.extend_from_slice(&addr.octets());
    v
}

/// Reads `struct in_pktinfo`: (`ipi_ifindex`, `ipi_addr`), the address the
/// datagram was sent to.
pub(crate) fn read_in_pktinfo(data: &[u8]) -> Option<(u32, Ipv4Addr)> {
    if data.len() < size_of::<libc::in_pktinfo>() {
        return None;
    }
    let ifindex = i32::from_ne_bytes(data[0..4].try_into().ok()?) as u32;
    let addr: [u8; 4] = data[8..12].try_into().ok()?;
    Some((ifindex, Ipv4Addr::from(addr)))
}

/// `struct in6_pktinfo` as bytes: (`ipi6_addr`, `ipi6_ifindex`).
pub(crate) fn in6_pktinfo(ifindex: u32, addr: Ipv6Addr) -> Vec<u8> {
    let mut v = Vec::with_capacity(20);
    v.extend_from_slice(&addr.octets());
    v.extend_from_slice(&ifindex.to_ne_bytes());
    v
}

/// Reads `struct in6_pktinfo`: (`ipi6_ifindex`, `ipi6_addr`).
pub(crate) fn read_in6_pktinfo(data: &[u8]) -> Option<(u32, Ipv6Addr)> {
    if data.len() < 20 {
        return None;
    }
    let addr: [u8; 16] = data[0..16].try_into().ok()?;
    let ifindex = u32::from_ne_bytes(data[16..20].try_into().ok()?);
    Some((ifindex, Ipv6Addr::from(addr)))
}

/// Reads a small integer payload: an `int`, or a single byte (Linux sends
/// `IP_TOS` as one byte).
pub(crate) fn read_small_int(data: &[u8]) -> Option<u8> {
    match data.len() {
        1 => Some(data[0]),
        n if n >= 4 => Some(i32::from_ne_bytes(data[0..4].try_into().ok()?) as u8),
        _ => None,
    }
}

/// Writes `addr` into `out` as a `sockaddr_in` or `sockaddr_in6`; returns its length.
pub(crate) fn write_addr(addr: &SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sockaddr_storage` is larger than and aligned for every
            // `sockaddr_*` type; we write a whole, initialised `sockaddr_in`.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for `sockaddr_in6`.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Reads the address the kernel wrote into `st` (`len` bytes); `None` for
/// no address or a family other than IPv4/IPv6.
pub(crate) fn read_addr(st: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(st.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a `sockaddr_in`, and
            // the storage is large enough and aligned for it.
            let sin: libc::sockaddr_in =
                unsafe { std::ptr::read((st as *const libc::sockaddr_storage).cast()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for `sockaddr_in6`.
            let sin6: libc::sockaddr_in6 =
                unsafe { std::ptr::read((st as *const libc::sockaddr_storage).cast()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// An all-zero `sockaddr_storage`.
pub(crate) fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: a plain C struct for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// `setsockopt(fd, level, name, &value, sizeof(int))`.
pub(crate) fn set_int_option(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: passes a pointer to a live `c_int` and its exact size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What a blocking `recvmsg` with name and control returned.
pub(crate) struct RawRecv {
    pub(crate) bytes: usize,
    pub(crate) flags: i32,
    pub(crate) name_len: libc::socklen_t,
    pub(crate) control_len: usize,
}

/// A blocking `recvmsg` into `bufs`, the source address into `name` (at most
/// `name_cap` bytes) and control data into `control`.
pub(crate) fn recv_msg(
    fd: RawFd,
    bufs: &mut [io::IoSliceMut<'_>],
    name: &mut libc::sockaddr_storage,
    name_cap: libc::socklen_t,
    control: &mut [u8],
    flags: i32,
) -> io::Result<RawRecv> {
    let mut msg = zeroed_msghdr();
    // IoSliceMut is guaranteed ABI-compatible with iovec on Unix.
    msg.msg_iov = bufs.as_mut_ptr().cast();
    msg.msg_iovlen = bufs.len();
    if name_cap > 0 {
        msg.msg_name = (name as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = name_cap.min(size_of::<libc::sockaddr_storage>() as libc::socklen_t);
    }
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len();
    }
    // SAFETY: every pointer in `msg` refers to memory borrowed mutably for
    // the whole call, with the lengths given.
    let n = unsafe { libc::recvmsg(fd, &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(RawRecv {
        bytes: n as usize,
        flags: msg.msg_flags,
        name_len: if name_cap > 0 { msg.msg_namelen } else { 0 },
        control_len: if control.is_empty() {
            0
        } else {
            msg.msg_controllen.min(control.len())
        },
    })
}

/// A blocking `sendmsg` of `bufs` to `to` (or the connected peer) with control data.
pub(crate) fn send_msg(
    fd: RawFd,
    bufs: &[io::IoSlice<'_>],
    to: Option<&SocketAddr>,
    control: &[u8],
    flags: i32,
) -> io::Result<usize> {
    let mut name = zeroed_storage();
    let mut msg = zeroed_msghdr();
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len();
    if let Some(to) = to {
        msg.msg_namelen = write_addr(to, &mut name);
        msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    }
    if !control.is_empty() {
        msg.msg_control = control.as_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len();
    }
    // SAFETY: every pointer in `msg` refers to memory live for the whole
    // call; the kernel only reads it.
    let n = unsafe { libc::sendmsg(fd, &msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

fn zeroed_msghdr() -> libc::msghdr {
    // SAFETY: a plain C struct for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_c_macros() {
        for n in [0usize, 1, 4, 12, 20] {
            // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic.
            let (s, l) = unsafe { (libc::CMSG_SPACE(n as u32), libc::CMSG_LEN(n as u32)) };
            assert_eq!(space(n), s as usize);
            assert_eq!(msg_len(n), l as usize);
        }
        let mut buf = Vec::new();
        push(&mut buf, 1, 2, &[9]);
        push(&mut buf, 3, 4, &[7; 12]);
        let all: Vec<_> = Walk::new(&buf).collect();
        assert_eq!(all, [(1, 2, &[9u8][..]), (3, 4, &[7u8; 12][..])]);
        // A cut-off buffer ends the walk without reading past it.
        assert_eq!(Walk::new(&buf[..buf.len() - 5]).count(), 1);
        // Missing only the final padding is still whole.
        assert_eq!(Walk::new(&buf[..buf.len() - 1]).count(), 2);
    }

    #[test]
    fn windows_sizes() {
        let mut buf = Vec::new();
        push(&mut buf, libc::IPPROTO_IP, libc::IP_PKTINFO, &[0; 12]);
        push(&mut buf, libc::IPPROTO_IP, libc::IP_TTL, &[0; 4]);
        assert_eq!(buf.len(), 32 + 24);
        // IN_PKTINFO: WSA_CMSG_SPACE(8) = 24; then an INT: WSA_CMSG_LEN(4) = 20.
        assert_eq!(fit_windows(&buf, 44), buf.len());
        assert_eq!(fit_windows(&buf, 43), 32);
        assert_eq!(fit_windows(&buf, 24), 32);
        assert_eq!(fit_windows(&buf, 23), 0);
        assert!(kernel_len(24) >= 28 && kernel_len(44) >= 52);
    }

    #[test]
    fn addresses_round_trip() {
        for a in ["127.0.0.1:5150", "[::1]:80", "[::ffff:127.0.0.1]:9"] {
            let addr: SocketAddr = a.parse().unwrap();
            let mut st = zeroed_storage();
            let len = write_addr(&addr, &mut st);
            assert_eq!(read_addr(&st, len), Some(addr));
            assert_eq!(read_addr(&st, len - 1), None);
        }
    }
}
