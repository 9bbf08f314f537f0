//! The system resolver (`getaddrinfo`): `/etc/hosts`, DNS as
//! `/etc/resolv.conf` says, whatever `/etc/nsswitch.conf` lists.

use std::ffi::CString;
use std::net::{IpAddr, SocketAddr};

/// Why a name did not resolve: the `EAI_*` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// `EAI_NONAME`: no such name.
    NoName,
    /// `EAI_NODATA`: the name exists, with no address.
    NoData,
    /// `EAI_AGAIN`: try again later (no answer from the name servers).
    Again,
    /// Anything else (`EAI_FAIL`, `EAI_SYSTEM`, memory, a NUL in the name).
    Fail,
}

/// The addresses `name` resolves to (IPv4 and IPv6, stream entries only so
/// each address comes once), in the resolver's order.
pub(crate) fn resolve(name: &str) -> Result<Vec<IpAddr>, ResolveError> {
    let host = CString::new(name).map_err(|_| ResolveError::Fail)?;
    // SAFETY: addrinfo is a plain C struct; all-zero is a valid "no hints".
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: `host` is a NUL-terminated string, `hints` a valid addrinfo,
    // `list` receives a list we free below with freeaddrinfo.
    let rc = unsafe { libc::getaddrinfo(host.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc != 0 {
        return Err(match rc {
            libc::EAI_NONAME => ResolveError::NoName,
            libc::EAI_NODATA => ResolveError::NoData,
            libc::EAI_AGAIN => ResolveError::Again,
            _ => ResolveError::Fail,
        });
    }
    let mut out = Vec::new();
    let mut at = list;
    while !at.is_null() {
        // SAFETY: `at` is a node of the list getaddrinfo returned, not yet freed.
        let ai = unsafe { &*at };
        if !ai.ai_addr.is_null() {
            let len = ai.ai_addrlen as usize;
            // SAFETY: ai_addr points to ai_addrlen bytes of a socket address;
            // we copy at most sizeof(sockaddr_storage) of them.
            let storage = unsafe {
                let mut s: libc::sockaddr_storage = std::mem::zeroed();
                std::ptr::copy_nonoverlapping(
                    ai.ai_addr.cast::<u8>(),
                    (&mut s as *mut libc::sockaddr_storage).cast::<u8>(),
                    len.min(std::mem::size_of::<libc::sockaddr_storage>()),
                );
                s
            };
            if let Some(addr) = super::cmsg::read_addr(&storage, len as u32) {
                let ip: IpAddr = SocketAddr::ip(&addr);
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
        at = ai.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(out)
}
