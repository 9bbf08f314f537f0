//! Names and addresses: `inet_addr`, `inet_ntoa`, `inet_pton`, `inet_ntop`,
//! `getaddrinfo`/`freeaddrinfo` (Windows' `addrinfo` layout and `AI_*`
//! values), `getnameinfo`, `gai_strerror`, `gethostbyname`, `gethostname`.
//! The lookups themselves are glibc's (the system resolver).

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::net::SocketAddr;

use overlapped::WsaError;

use crate::addr::{self, AF_INET, AF_INET6, AF_UNSPEC};
use crate::last_error;

// glibc's own converters (the libc crate does not declare them).
extern "C" {
    #[link_name = "inet_addr"]
    fn glibc_inet_addr(cp: *const libc::c_char) -> u32;
    #[link_name = "inet_pton"]
    fn glibc_inet_pton(af: i32, src: *const libc::c_char, dst: *mut libc::c_void) -> i32;
    #[link_name = "inet_ntop"]
    fn glibc_inet_ntop(
        af: i32,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
}

fn family_to_linux(af: i32) -> Option<i32> {
    match af {
        AF_UNSPEC => Some(libc::AF_UNSPEC),
        AF_INET => Some(libc::AF_INET),
        AF_INET6 => Some(libc::AF_INET6),
        _ => None,
    }
}

#[export_name = "ovl_inet_addr"]
unsafe extern "C" fn inet_addr(cp: *const libc::c_char) -> u32 {
    if cp.is_null() {
        return u32::MAX;
    }
    // SAFETY: a NUL-terminated string (Windows' contract).
    unsafe { glibc_inet_addr(cp) }
}

thread_local! {
    static NTOA: RefCell<[u8; 16]> = const { RefCell::new([0; 16]) };
}

#[export_name = "ovl_inet_ntoa"]
extern "C" fn inet_ntoa(addr: u32) -> *const libc::c_char {
    let text = std::net::Ipv4Addr::from(addr.to_ne_bytes()).to_string();
    NTOA.with(|b| {
        let mut b = b.borrow_mut();
        b.fill(0);
        b[..text.len()].copy_from_slice(text.as_bytes());
        b.as_ptr().cast()
    })
}

#[export_name = "ovl_inet_pton"]
unsafe extern "C" fn inet_pton(af: i32, src: *const libc::c_char, dst: *mut u8) -> i32 {
    let Some(f) = family_to_linux(af).filter(|&f| f != libc::AF_UNSPEC) else {
        last_error::set(WsaError::WSAEAFNOSUPPORT.0 as u32);
        return -1;
    };
    if src.is_null() || dst.is_null() {
        last_error::set(WsaError::WSAEFAULT.0 as u32);
        return -1;
    }
    // SAFETY: a string and room for the address (Windows' contract).
    unsafe { glibc_inet_pton(f, src, dst.cast()) }
}

#[export_name = "ovl_inet_ntop"]
unsafe extern "C" fn inet_ntop(
    af: i32,
    src: *const u8,
    dst: *mut libc::c_char,
    size: usize,
) -> *const libc::c_char {
    let Some(f) = family_to_linux(af).filter(|&f| f != libc::AF_UNSPEC) else {
        last_error::set(WsaError::WSAEAFNOSUPPORT.0 as u32);
        return std::ptr::null();
    };
    // SAFETY: an address and `size` bytes at `dst` (Windows' contract).
    let r = unsafe { glibc_inet_ntop(f, src.cast(), dst, size as libc::socklen_t) };
    if r.is_null() {
        last_error::set(WsaError::WSAEINVAL.0 as u32);
    }
    r
}

/// Windows' `ADDRINFOA` (48 bytes on x64).
#[repr(C)]
pub struct AddrInfo {
    /// `ai_flags`.
    pub flags: i32,
    /// `ai_family`.
    pub family: i32,
    /// `ai_socktype`.
    pub socktype: i32,
    /// `ai_protocol`.
    pub protocol: i32,
    /// `ai_addrlen`.
    pub addrlen: usize,
    /// `ai_canonname`.
    pub canonname: *mut libc::c_char,
    /// `ai_addr`.
    pub addr: *mut u8,
    /// `ai_next`.
    pub next: *mut AddrInfo,
}

const FLAG_MAP: [(i32, i32); 7] = [
    (0x1, libc::AI_PASSIVE),
    (0x2, libc::AI_CANONNAME),
    (0x4, libc::AI_NUMERICHOST),
    (0x8, libc::AI_NUMERICSERV),
    (0x400, libc::AI_ADDRCONFIG),
    (0x800, libc::AI_V4MAPPED),
    (0x100, libc::AI_ALL),
];

fn eai_to_wsa(e: i32) -> WsaError {
    match e {
        libc::EAI_AGAIN => WsaError::WSATRY_AGAIN,
        libc::EAI_BADFLAGS => WsaError::WSAEINVAL,
        libc::EAI_FAIL => WsaError::WSANO_RECOVERY,
        libc::EAI_FAMILY => WsaError::WSAEAFNOSUPPORT,
        libc::EAI_MEMORY => WsaError(8),
        libc::EAI_SERVICE => WsaError(10109),
        libc::EAI_SOCKTYPE => WsaError::WSAESOCKTNOSUPPORT,
        libc::EAI_NODATA => WsaError::WSANO_DATA,
        _ => WsaError::WSAHOST_NOT_FOUND,
    }
}

/// # Safety
/// `n` bytes to copy from `src`.
unsafe fn malloc_copy(src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: a fresh allocation of `n` bytes, filled from `src` (caller).
    unsafe {
        let p = libc::malloc(n.max(1)) as *mut u8;
        if !p.is_null() {
            std::ptr::copy_nonoverlapping(src, p, n);
        }
        p
    }
}

#[export_name = "ovl_getaddrinfo"]
unsafe extern "C" fn getaddrinfo(
    node: *const libc::c_char,
    service: *const libc::c_char,
    hints: *const AddrInfo,
    result: *mut *mut AddrInfo,
) -> i32 {
    if result.is_null() {
        return WsaError::WSAEFAULT.0;
    }
    // SAFETY: zeroed addrinfo is a valid "no hints" value.
    let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
    if !hints.is_null() {
        // SAFETY: a valid ADDRINFOA (Windows' contract).
        let w = unsafe { &*hints };
        let Some(f) = family_to_linux(w.family) else {
            last_error::set(WsaError::WSAEAFNOSUPPORT.0 as u32);
            return WsaError::WSAEAFNOSUPPORT.0;
        };
        h.ai_family = f;
        h.ai_socktype = w.socktype;
        h.ai_protocol = w.protocol;
        h.ai_flags = FLAG_MAP
            .iter()
            .filter(|(win, _)| w.flags & win != 0)
            .fold(0, |acc, (_, lx)| acc | lx);
    }
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: strings (or null) per Windows' contract; `list` receives glibc's list.
    let r = unsafe { libc::getaddrinfo(node, service, &h, &mut list) };
    if r != 0 {
        let e = eai_to_wsa(r);
        last_error::set(e.0 as u32);
        return e.0;
    }
    let mut head: *mut AddrInfo = std::ptr::null_mut();
    let mut tail: *mut *mut AddrInfo = &mut head;
    let mut at = list;
    while !at.is_null() {
        // SAFETY: a node of glibc's list.
        let n = unsafe { &*at };
        at = n.ai_next;
        // SAFETY: glibc's sockaddr of `ai_addrlen` bytes, in Linux's layout.
        let sa = unsafe { sockaddr_from_linux(n.ai_addr, n.ai_addrlen) };
        let Some(sa) = sa else { continue };
        let bytes = addr::to_bytes(&sa);
        let canon = if n.ai_canonname.is_null() {
            std::ptr::null_mut()
        } else {
            // SAFETY: glibc's NUL-terminated name.
            unsafe { libc::strdup(n.ai_canonname) }
        };
        // SAFETY: fresh allocations, owned by the list until freeaddrinfo.
        let node = unsafe {
            let node = libc::malloc(std::mem::size_of::<AddrInfo>()) as *mut AddrInfo;
            if node.is_null() {
                break;
            }
            node.write(AddrInfo {
                flags: 0,
                family: if sa.is_ipv4() { AF_INET } else { AF_INET6 },
                socktype: n.ai_socktype,
                protocol: n.ai_protocol,
                addrlen: bytes.len(),
                canonname: canon,
                addr: malloc_copy(bytes.as_ptr(), bytes.len()),
                next: std::ptr::null_mut(),
            });
            node
        };
        // SAFETY: `tail` points at the last `next` field (or `head`).
        unsafe {
            *tail = node;
            tail = &mut (*node).next;
        }
    }
    // SAFETY: glibc's list, freed once.
    unsafe {
        libc::freeaddrinfo(list);
        *result = head;
    }
    0
}

/// # Safety
/// `sa` points to `len` bytes of a Linux sockaddr.
unsafe fn sockaddr_from_linux(
    sa: *const libc::sockaddr,
    len: libc::socklen_t,
) -> Option<SocketAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: caller.
    let family = i32::from(unsafe { (*sa).sa_family });
    match family {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: an AF_INET sockaddr of sufficient length.
            let a = unsafe { &*(sa as *const libc::sockaddr_in) };
            Some(SocketAddr::from((
                a.sin_addr.s_addr.to_ne_bytes(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: an AF_INET6 sockaddr of sufficient length.
            let a = unsafe { &*(sa as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[export_name = "ovl_freeaddrinfo"]
unsafe extern "C" fn freeaddrinfo(mut list: *mut AddrInfo) {
    while !list.is_null() {
        // SAFETY: a node allocated by our getaddrinfo, freed once.
        unsafe {
            let next = (*list).next;
            libc::free((*list).addr.cast());
            libc::free((*list).canonname.cast());
            libc::free(list.cast());
            list = next;
        }
    }
}

#[export_name = "ovl_getnameinfo"]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn getnameinfo(
    sa: *const u8,
    salen: i32,
    host: *mut libc::c_char,
    hostlen: u32,
    serv: *mut libc::c_char,
    servlen: u32,
    flags: i32,
) -> i32 {
    // SAFETY: `salen` bytes at `sa` (Windows' contract).
    let a = match unsafe { addr::read(sa, salen) } {
        Ok(a) => a,
        Err(e) => {
            last_error::set(e.0 as u32);
            return e.0;
        }
    };
    let lflags = [
        (0x01, libc::NI_NOFQDN),
        (0x02, libc::NI_NUMERICHOST),
        (0x04, libc::NI_NAMEREQD),
        (0x08, libc::NI_NUMERICSERV),
        (0x10, libc::NI_DGRAM),
    ]
    .iter()
    .filter(|(w, _)| flags & w != 0)
    .fold(0, |acc, (_, l)| acc | l);
    let (storage, len) = linux_sockaddr(&a);
    // SAFETY: a Linux sockaddr of `len` bytes; buffers per Windows' contract.
    let r = unsafe {
        libc::getnameinfo(
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
            host,
            hostlen,
            serv,
            servlen,
            lflags,
        )
    };
    if r != 0 {
        let e = eai_to_wsa(r);
        last_error::set(e.0 as u32);
        return e.0;
    }
    0
}

fn linux_sockaddr(a: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: zeroed storage is valid; the family's struct is written into it.
    let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe {
                (&mut st as *mut libc::sockaddr_storage as *mut libc::sockaddr_in).write(sin)
            };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: as above for sockaddr_in6.
            unsafe {
                (&mut st as *mut libc::sockaddr_storage as *mut libc::sockaddr_in6).write(sin6)
            };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (st, len as libc::socklen_t)
}

thread_local! {
    static GAI_TEXT: RefCell<CString> = RefCell::new(CString::default());
}

#[export_name = "gai_strerrorA"]
extern "C" fn gai_strerror(code: i32) -> *const libc::c_char {
    let text = WsaError(code).message().unwrap_or("Unknown error");
    GAI_TEXT.with(|t| {
        *t.borrow_mut() = CString::new(text).unwrap_or_default();
        t.borrow().as_ptr()
    })
}

/// Windows' `hostent` (32 bytes on x64), and the storage it points into.
#[repr(C)]
struct HostEnt {
    name: *mut libc::c_char,
    aliases: *mut *mut libc::c_char,
    addrtype: i16,
    length: i16,
    addr_list: *mut *mut u8,
}

struct HostStore {
    ent: HostEnt,
    _name: CString,
    _aliases: Vec<*mut libc::c_char>,
    _addrs: Vec<[u8; 4]>,
    _list: Vec<*mut u8>,
}

thread_local! {
    static HOST: RefCell<Option<Box<HostStore>>> = const { RefCell::new(None) };
}

#[export_name = "ovl_gethostbyname"]
unsafe extern "C" fn gethostbyname(name: *const libc::c_char) -> *const u8 {
    if name.is_null() {
        last_error::set(WsaError::WSAEFAULT.0 as u32);
        return std::ptr::null();
    }
    // SAFETY: a NUL-terminated name (Windows' contract).
    let cname = unsafe { CStr::from_ptr(name) }.to_owned();
    let host = cname.to_string_lossy().into_owned();
    let addrs: Vec<[u8; 4]> = match std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 0)) {
        Ok(it) => it
            .filter_map(|a| match a {
                SocketAddr::V4(v4) => Some(v4.ip().octets()),
                SocketAddr::V6(_) => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    if addrs.is_empty() {
        last_error::set(WsaError::WSAHOST_NOT_FOUND.0 as u32);
        return std::ptr::null();
    }
    let mut store = Box::new(HostStore {
        ent: HostEnt {
            name: std::ptr::null_mut(),
            aliases: std::ptr::null_mut(),
            addrtype: AF_INET as i16,
            length: 4,
            addr_list: std::ptr::null_mut(),
        },
        _name: cname,
        _aliases: vec![std::ptr::null_mut()],
        _addrs: addrs,
        _list: Vec::new(),
    });
    let s = &mut *store;
    s._list = s._addrs.iter_mut().map(|a| a.as_mut_ptr()).collect();
    s._list.push(std::ptr::null_mut());
    s.ent.name = s._name.as_ptr() as *mut libc::c_char;
    s.ent.aliases = s._aliases.as_mut_ptr();
    s.ent.addr_list = s._list.as_mut_ptr();
    let p = &s.ent as *const HostEnt as *const u8;
    HOST.with(|h| *h.borrow_mut() = Some(store));
    p
}

#[export_name = "ovl_gethostname"]
unsafe extern "C" fn gethostname(name: *mut libc::c_char, len: i32) -> i32 {
    if name.is_null() || len <= 0 {
        return last_error::fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `len` writable bytes at `name` (Windows' contract).
    if unsafe { libc::gethostname(name, len as usize) } != 0 {
        return last_error::fail(WsaError::WSAEFAULT);
    }
    0
}
