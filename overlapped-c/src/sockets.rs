//! `WSAStartup`/`WSACleanup` and the BSD-style calls on `SOCKET` handles:
//! socket, bind, listen, accept, connect, closesocket, shutdown,
//! setsockopt/getsockopt, getsockname/getpeername, ioctlsocket, send/recv,
//! sendto/recvfrom, select.

use std::io::{IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use overlapped::{Domain, MsgFlags, Protocol, Socket, Type, WsaError};

use crate::addr;
use crate::handles::{self, Object};
use crate::last_error::{self, fail};
use crate::network_events;

static STARTED: AtomicUsize = AtomicUsize::new(0);

/// `WSADATA` of Windows x64 (408 bytes).
#[repr(C)]
pub struct WsaData {
    /// `wVersion`.
    pub version: u16,
    /// `wHighVersion`.
    pub high_version: u16,
    /// `iMaxSockets`.
    pub max_sockets: u16,
    /// `iMaxUdpDg`.
    pub max_udp_dg: u16,
    /// `lpVendorInfo`.
    pub vendor_info: *mut u8,
    /// `szDescription`.
    pub description: [u8; 257],
    /// `szSystemStatus`.
    pub system_status: [u8; 129],
}

fn copy_str(dst: &mut [u8], s: &str) {
    let n = s.len().min(dst.len() - 1);
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
    dst[n] = 0;
}

#[export_name = "WSAStartup"]
unsafe extern "C" fn wsa_startup(requested: u16, data: *mut WsaData) -> i32 {
    let (major, minor) = ((requested & 0xff) as u8, (requested >> 8) as u8);
    if major < 1 {
        return WsaError(10092).0; // WSAVERNOTSUPPORTED
    }
    if data.is_null() {
        return WsaError::WSAEFAULT.0;
    }
    // SAFETY: non-null WSADATA (Windows' contract): the caller's writable
    // structure, filled on failure too so a program can print why.
    let d = unsafe { &mut *data };
    if let Err(e) = overlapped::startup() {
        copy_str(
            &mut d.description,
            "overlapped: Winsock 2.2, no backend could start",
        );
        copy_str(&mut d.system_status, &e.to_string());
        return WsaError::WSASYSNOTREADY.0;
    }
    let version = if (major, minor) > (2, 2) {
        0x0202
    } else {
        requested
    };
    d.version = version;
    d.high_version = 0x0202;
    d.max_sockets = 0;
    d.max_udp_dg = 0;
    d.vendor_info = std::ptr::null_mut();
    // Which backend runs and why (`overlapped::backend()`), e.g.
    // "overlapped: Winsock 2.2 on epoll (io_uring_setup: EPERM ...)".
    let description = match overlapped::backend() {
        Ok(b) => format!("overlapped: Winsock 2.2 on {b}"),
        Err(_) => "overlapped: Winsock 2.2".to_string(),
    };
    copy_str(&mut d.description, &description);
    copy_str(&mut d.system_status, "Running");
    STARTED.fetch_add(1, Ordering::SeqCst);
    0
}

#[export_name = "WSACleanup"]
extern "C" fn wsa_cleanup() -> i32 {
    let r = STARTED.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    match r {
        Ok(_) => 0,
        Err(_) => fail(WsaError(10093)), // WSANOTINITIALISED
    }
}

/// A new socket handle from Windows' family, type and protocol numbers.
pub fn new_socket(af: i32, ty: i32, protocol: i32) -> Result<usize, WsaError> {
    if STARTED.load(Ordering::SeqCst) == 0 {
        return Err(WsaError(10093)); // WSANOTINITIALISED
    }
    let domain = match af {
        addr::AF_INET => Domain::IPV4,
        addr::AF_INET6 => Domain::IPV6,
        _ => return Err(WsaError::WSAEAFNOSUPPORT),
    };
    let ty = match ty {
        1 => Type::STREAM,
        2 => Type::DGRAM,
        3 => Type::RAW,
        5 => Type::SEQPACKET,
        _ => return Err(WsaError::WSAESOCKTNOSUPPORT),
    };
    let protocol = (protocol != 0).then(|| Protocol::from(protocol));
    let s = Socket::new(domain, ty, protocol)?;
    Ok(handles::insert(Object::Socket(s)))
}

#[export_name = "ovl_socket"]
extern "C" fn socket(af: i32, ty: i32, protocol: i32) -> usize {
    match new_socket(af, ty, protocol) {
        Ok(h) => h,
        Err(e) => {
            fail(e);
            crate::INVALID_SOCKET
        }
    }
}

#[export_name = "WSASocketA"]
extern "C" fn wsa_socket(
    af: i32,
    ty: i32,
    protocol: i32,
    _info: *mut u8,
    _group: u32,
    _flags: u32,
) -> usize {
    // Every socket can do overlapped I/O (WSA_FLAG_OVERLAPPED or not).
    socket(af, ty, protocol)
}

#[export_name = "closesocket"]
extern "C" fn closesocket(s: usize) -> i32 {
    match handles::get(s) {
        Some(Object::Socket(sock)) => {
            crate::network_events::forget(s);
            handles::remove(s);
            crate::records::forget_settled(&sock);
            match sock.close() {
                Ok(()) => 0,
                Err(e) => fail(e),
            }
        }
        _ => fail(WsaError::WSAENOTSOCK),
    }
}

/// Runs `f` on the socket behind `s`; 0 or `SOCKET_ERROR` with the error.
fn with_socket(s: usize, f: impl FnOnce(&Socket) -> Result<(), WsaError>) -> i32 {
    match handles::socket(s).and_then(|sock| f(&sock)) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

#[export_name = "ovl_bind"]
unsafe extern "C" fn bind(s: usize, name: *const u8, len: i32) -> i32 {
    // SAFETY: `len` bytes at `name` (Windows' contract).
    let a = unsafe { addr::read(name, len) };
    with_socket(s, |sock| sock.bind(&a?))
}

#[export_name = "ovl_listen"]
extern "C" fn listen(s: usize, backlog: i32) -> i32 {
    // SOMAXCONN (0x7fffffff) and SOMAXCONN_HINT(n) (-n) as Windows reads them.
    let backlog = if backlog < 0 {
        backlog.saturating_neg().clamp(200, 65535)
    } else {
        backlog.min(4096)
    };
    let r = with_socket(s, |sock| sock.listen(backlog));
    network_events::reclassify(s);
    r
}

#[export_name = "ovl_accept"]
unsafe extern "C" fn accept(s: usize, out: *mut u8, len: *mut i32) -> usize {
    let r = handles::socket(s).and_then(|l| l.accept());
    network_events::reenable(s, network_events::FD_ACCEPT);
    match r {
        Ok((sock, peer)) => {
            // SAFETY: `out`/`len` null or valid (Windows' contract).
            if let Err(e) = unsafe { addr::write(&peer, out, len) } {
                let _ = sock.close();
                fail(e);
                return crate::INVALID_SOCKET;
            }
            let h = handles::insert(Object::Socket(sock.clone()));
            network_events::accepted(s, h, &sock);
            h
        }
        Err(e) => {
            fail(e);
            crate::INVALID_SOCKET
        }
    }
}

#[export_name = "WSAAccept"]
unsafe extern "C" fn wsa_accept(
    s: usize,
    out: *mut u8,
    len: *mut i32,
    condition: *const u8,
    _data: usize,
) -> usize {
    if !condition.is_null() {
        // Conditional acceptance (CF_DEFER, CF_REJECT) needs the SYN before
        // the accept, which Linux completes in the kernel: not provided.
        fail(WsaError::WSAEOPNOTSUPP);
        return crate::INVALID_SOCKET;
    }
    // SAFETY: as accept.
    unsafe { accept(s, out, len) }
}

#[export_name = "ovl_connect"]
unsafe extern "C" fn connect(s: usize, name: *const u8, len: i32) -> i32 {
    // SAFETY: `len` bytes at `name` (Windows' contract).
    let a = unsafe { addr::read(name, len) };
    let r = with_socket(s, |sock| sock.connect(&a?));
    network_events::connect_called(s, r);
    r
}

#[export_name = "ovl_shutdown"]
extern "C" fn shutdown(s: usize, how: i32) -> i32 {
    let how = match how {
        0 => Shutdown::Read,
        1 => Shutdown::Write,
        2 => Shutdown::Both,
        _ => return fail(WsaError::WSAEINVAL),
    };
    with_socket(s, |sock| sock.shutdown(how))
}

#[export_name = "ovl_getsockname"]
unsafe extern "C" fn getsockname(s: usize, out: *mut u8, len: *mut i32) -> i32 {
    if out.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `out`/`len` valid (Windows' contract).
    with_socket(s, |sock| unsafe {
        addr::write(&sock.local_addr()?, out, len)
    })
}

#[export_name = "ovl_getpeername"]
unsafe extern "C" fn getpeername(s: usize, out: *mut u8, len: *mut i32) -> i32 {
    if out.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `out`/`len` valid (Windows' contract).
    with_socket(s, |sock| unsafe {
        addr::write(&sock.peer_addr()?, out, len)
    })
}

#[export_name = "ioctlsocket"]
unsafe extern "C" fn ioctlsocket(s: usize, cmd: i32, argp: *mut u32) -> i32 {
    if argp.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    with_socket(s, |sock| match cmd as u32 {
        0x8004_667E => {
            // SAFETY: non-null u_long (Windows' contract).
            let on = unsafe { *argp } != 0;
            if !on && network_events::selected(s) {
                // Blocking again while WSAEventSelect is active (fact 118).
                return Err(WsaError::WSAEINVAL);
            }
            sock.set_nonblocking(on)
        }
        0x4004_667F | 0x4004_7307 => {
            let req = if cmd as u32 == 0x4004_667F {
                libc::FIONREAD
            } else {
                0x8905 // SIOCATMARK
            };
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD/SIOCATMARK write one int to `n`.
            let r = unsafe { libc::ioctl(sock.as_raw_fd(), req, &mut n) };
            if r < 0 {
                return Err(WsaError::from_io(&std::io::Error::last_os_error()));
            }
            // SAFETY: non-null u_long (Windows' contract).
            unsafe { *argp = n as u32 };
            Ok(())
        }
        _ => Err(WsaError::WSAEINVAL),
    })
}

fn count(r: Result<usize, WsaError>) -> i32 {
    match r {
        Ok(n) => {
            last_error::set(0);
            n as i32
        }
        Err(e) => fail(e),
    }
}

#[export_name = "ovl_send"]
unsafe extern "C" fn send(s: usize, buf: *const u8, len: i32, flags: i32) -> i32 {
    if len < 0 || (buf.is_null() && len > 0) {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `len` readable bytes at `buf` (Windows' contract).
    let data = unsafe { slice(buf, len) };
    let flags = MsgFlags::from_bits_retain(flags as u32);
    let r = handles::socket(s).and_then(|sock| sock.send_sync(&[IoSlice::new(data)], flags));
    network_events::after_send(s, &r);
    count(r)
}

#[export_name = "ovl_recv"]
unsafe extern "C" fn recv(s: usize, buf: *mut u8, len: i32, flags: i32) -> i32 {
    if len < 0 || (buf.is_null() && len > 0) {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `len` writable bytes at `buf` (Windows' contract).
    let data = unsafe { slice_mut(buf, len) };
    let flags = MsgFlags::from_bits_retain(flags as u32);
    let r = handles::socket(s).and_then(|sock| sock.recv_sync(&mut [IoSliceMut::new(data)], flags));
    network_events::reenable(s, network_events::FD_READ | network_events::FD_OOB);
    count(r)
}

#[export_name = "ovl_sendto"]
unsafe extern "C" fn sendto(
    s: usize,
    buf: *const u8,
    len: i32,
    flags: i32,
    to: *const u8,
    tolen: i32,
) -> i32 {
    if to.is_null() {
        // SAFETY: as send.
        return unsafe { send(s, buf, len, flags) };
    }
    if len < 0 || (buf.is_null() && len > 0) {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `tolen` bytes at `to`, `len` at `buf` (Windows' contract).
    let (to, data) = unsafe { (addr::read(to, tolen), slice(buf, len)) };
    let flags = MsgFlags::from_bits_retain(flags as u32);
    let r =
        handles::socket(s).and_then(|sock| sock.send_to_sync(&[IoSlice::new(data)], &to?, flags));
    network_events::after_send(s, &r);
    count(r)
}

#[export_name = "ovl_recvfrom"]
unsafe extern "C" fn recvfrom(
    s: usize,
    buf: *mut u8,
    len: i32,
    flags: i32,
    from: *mut u8,
    fromlen: *mut i32,
) -> i32 {
    if len < 0 || (buf.is_null() && len > 0) {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `len` writable bytes at `buf` (Windows' contract).
    let data = unsafe { slice_mut(buf, len) };
    let flags = MsgFlags::from_bits_retain(flags as u32);
    let mut src = None;
    let r = handles::socket(s)
        .and_then(|sock| sock.recv_from_sync(&mut [IoSliceMut::new(data)], flags, &mut src));
    network_events::reenable(s, network_events::FD_READ | network_events::FD_OOB);
    if let (Ok(_), Some(a)) = (&r, src) {
        // SAFETY: `from`/`fromlen` null or valid (Windows' contract).
        if let Err(e) = unsafe { addr::write(&a, from, fromlen) } {
            return fail(e);
        }
    }
    count(r)
}

/// # Safety
/// `len` readable bytes at `p` (or `len == 0`).
unsafe fn slice<'a>(p: *const u8, len: i32) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: caller.
    unsafe { std::slice::from_raw_parts(p, len as usize) }
}

/// # Safety
/// `len` writable bytes at `p` (or `len == 0`).
unsafe fn slice_mut<'a>(p: *mut u8, len: i32) -> &'a mut [u8] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: caller.
    unsafe { std::slice::from_raw_parts_mut(p, len as usize) }
}

/// Windows' `fd_set` (`fd_count`, then up to 64 `SOCKET`s).
#[repr(C)]
pub struct FdSet {
    /// `fd_count`.
    pub count: u32,
    /// `fd_array`.
    pub array: [usize; 64],
}

#[export_name = "__WSAFDIsSet"]
unsafe extern "C" fn wsa_fd_is_set(s: usize, set: *const FdSet) -> i32 {
    if set.is_null() {
        return 0;
    }
    // SAFETY: a valid fd_set (macro's contract).
    let set = unsafe { &*set };
    let n = (set.count as usize).min(64);
    i32::from(set.array[..n].contains(&s))
}

#[export_name = "ovl_select"]
unsafe extern "C" fn select(
    _nfds: i32,
    read: *mut FdSet,
    write: *mut FdSet,
    except: *mut FdSet,
    timeout: *const libc::timeval,
) -> i32 {
    let sets = [read, write, except];
    let mut polls: Vec<libc::pollfd> = Vec::new();
    let mut owners: Vec<(usize, usize)> = Vec::new(); // (set index, SOCKET)
    for (i, set) in sets.iter().enumerate() {
        if set.is_null() {
            continue;
        }
        // SAFETY: non-null fd_set (Windows' contract).
        let set = unsafe { &**set };
        for &s in &set.array[..(set.count as usize).min(64)] {
            let sock = match handles::socket(s) {
                Ok(sock) => sock,
                Err(e) => return fail(e),
            };
            let events = [libc::POLLIN, libc::POLLOUT, libc::POLLPRI][i];
            polls.push(libc::pollfd {
                fd: sock.as_raw_fd(),
                events,
                revents: 0,
            });
            owners.push((i, s));
        }
    }
    if polls.is_empty() {
        return fail(WsaError::WSAEINVAL);
    }
    let ms = if timeout.is_null() {
        -1
    } else {
        // SAFETY: non-null timeval (Windows' contract).
        let t = unsafe { &*timeout };
        (t.tv_sec.max(0) * 1000 + t.tv_usec.max(0) / 1000).min(i32::MAX as i64) as i32
    };
    // SAFETY: `polls` is a valid array of its length.
    let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, ms) };
    if n < 0 {
        return fail(WsaError::from_io(&std::io::Error::last_os_error()));
    }
    let mut ready = [Vec::new(), Vec::new(), Vec::new()];
    for (p, &(i, s)) in polls.iter().zip(&owners) {
        let r = p.revents;
        let hit = match i {
            0 => r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
            1 => r & (libc::POLLOUT | libc::POLLERR) != 0,
            _ => r & (libc::POLLPRI | libc::POLLERR) != 0,
        };
        if hit {
            ready[i].push(s);
        }
    }
    let mut total = 0;
    for (i, set) in sets.iter().enumerate() {
        if set.is_null() {
            continue;
        }
        // SAFETY: non-null, writable fd_set (Windows' contract).
        let set = unsafe { &mut **set };
        set.count = ready[i].len() as u32;
        set.array[..ready[i].len()].copy_from_slice(&ready[i]);
        total += ready[i].len();
    }
    last_error::set(0);
    total as i32
}
