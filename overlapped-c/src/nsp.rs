//! Host-name queries of the name-service interface on the library's
//! [`LookupService`]: `WSALookupServiceBeginA` / `WSALookupServiceNextA` /
//! `WSALookupServiceEnd`, and `WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE)` telling
//! when the query's answer may have changed (the resolver's files changed),
//! with the `WSACOMPLETION` types `NSP_NOTIFY_IMMEDIATELY` (a poll),
//! `NSP_NOTIFY_EVENT` (a record) and `NSP_NOTIFY_APC` (a completion
//! routine). `NSP_NOTIFY_PORT` and `NSP_NOTIFY_HWND` → `WSAEOPNOTSUPP`.
//!
//! Each `WSALookupServiceNextA` returns one address of the answer in a
//! `WSAQUERYSETA` (one `CSADDR_INFO`, its `RemoteAddr` the address) laid out
//! in the caller's buffer; `WSAEFAULT` with the size needed when it is too
//! small (the address is kept for the next call), `WSA_E_NO_MORE` at the end.
//!
//! `OVERLAPPED_RESOLVER_FILES` (paths separated by `:`), when set at
//! `WSALookupServiceBeginA`, replaces the watched resolver files: a test aid.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use overlapped::{Completion, LookupService, WsaError};

use crate::handles::{self, Object};
use crate::last_error::{self, fail};
use crate::records::{self, CRecord};
use crate::wsa_io::CompletionRoutine;

/// A query: the library's, and an address taken from it but not yet
/// delivered (the caller's buffer was too small).
pub struct Lookup {
    service: Mutex<(LookupService, Option<IpAddr>)>,
}

/// `sizeof(WSAQUERYSETA)` on x64.
const QUERYSET_LEN: usize = 120;
/// `sizeof(CSADDR_INFO)` on x64.
const CSADDR_LEN: usize = 40;
/// `SIO_NSP_NOTIFY_CHANGE`.
const SIO_NSP_NOTIFY_CHANGE: u32 = 0x8800_0019;
/// `WSA_E_NO_MORE`.
const WSA_E_NO_MORE: i32 = 10110;
/// `NS_DNS`.
const NS_DNS: u32 = 12;

/// `WSACOMPLETION` (32 bytes on x64).
#[repr(C)]
pub struct WsaCompletion {
    /// `Type`: `NSP_NOTIFY_IMMEDIATELY` (0), `_HWND` (1), `_EVENT` (2),
    /// `_PORT` (3), `_APC` (4).
    pub kind: u32,
    /// `Parameters.*.lpOverlapped` (the first field of every member but
    /// `WindowMessage`).
    pub overlapped: *mut CRecord,
    /// `Parameters.Apc.lpfnCompletionProc` / `Parameters.Port.hPort`.
    pub second: usize,
    /// `Parameters.Port.Key`.
    pub third: usize,
}

fn lookup(h: usize) -> Result<Arc<Lookup>, WsaError> {
    match handles::get(h) {
        Some(Object::Lookup(l)) => Ok(l),
        _ => Err(WsaError::WSA_INVALID_HANDLE),
    }
}

fn report(r: Result<(), WsaError>) -> i32 {
    match r {
        Ok(()) => {
            last_error::set(0);
            0
        }
        Err(e) => fail(e),
    }
}

#[export_name = "WSALookupServiceBeginA"]
unsafe extern "C" fn wsa_lookup_service_begin_a(qs: *const u8, _flags: u32, h: *mut usize) -> i32 {
    if qs.is_null() || h.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: a WSAQUERYSETA (Windows' contract): lpszServiceInstanceName at 8.
    let name = unsafe { (qs.add(8) as *const *const libc::c_char).read_unaligned() };
    if name.is_null() {
        return fail(WsaError::WSAEINVAL);
    }
    // SAFETY: a NUL-terminated name (Windows' contract).
    let name = unsafe { std::ffi::CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    let service = match std::env::var("OVERLAPPED_RESOLVER_FILES") {
        Ok(v) if !v.is_empty() => {
            let files: Vec<&str> = v.split(':').collect();
            LookupService::begin_watching(&name, &files)
        }
        _ => LookupService::begin(&name),
    };
    match service {
        Ok(s) => {
            let l = Lookup {
                service: Mutex::new((s, None)),
            };
            // SAFETY: a valid LPHANDLE (Windows' contract).
            unsafe { *h = handles::insert(Object::Lookup(Arc::new(l))) };
            report(Ok(()))
        }
        Err(e) => fail(e),
    }
}

/// Lays out the answer `ip` for `name` as a `WSAQUERYSETA` at `base`: the
/// set, one `CSADDR_INFO`, the address, the name.
fn queryset(base: usize, name: &str, ip: IpAddr) -> Vec<u8> {
    let addr = crate::addr::to_bytes(&SocketAddr::new(ip, 0));
    let cs_at = QUERYSET_LEN;
    let addr_at = cs_at + CSADDR_LEN;
    let name_at = addr_at + addr.len();
    let mut b = vec![0u8; name_at + name.len() + 1];
    let put = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    put(&mut b, 0, &(QUERYSET_LEN as u32).to_ne_bytes());
    put(&mut b, 8, &((base + name_at) as u64).to_ne_bytes());
    put(&mut b, 40, &NS_DNS.to_ne_bytes());
    put(&mut b, 88, &1u32.to_ne_bytes());
    put(&mut b, 96, &((base + cs_at) as u64).to_ne_bytes());
    // CSADDR_INFO: LocalAddr (none), RemoteAddr, iSocketType, iProtocol.
    put(&mut b, cs_at + 16, &((base + addr_at) as u64).to_ne_bytes());
    put(&mut b, cs_at + 24, &(addr.len() as i32).to_ne_bytes());
    put(&mut b, cs_at + 32, &1i32.to_ne_bytes()); // SOCK_STREAM
    put(&mut b, cs_at + 36, &6i32.to_ne_bytes()); // IPPROTO_TCP
    put(&mut b, addr_at, &addr);
    put(&mut b, name_at, name.as_bytes());
    b
}

#[export_name = "WSALookupServiceNextA"]
unsafe extern "C" fn wsa_lookup_service_next_a(
    h: usize,
    _flags: u32,
    len: *mut u32,
    out: *mut u8,
) -> i32 {
    let l = match lookup(h) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    if len.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    let mut guard = l.service.lock().unwrap_or_else(|e| e.into_inner());
    let (service, kept) = &mut *guard;
    let ip = match kept.take() {
        Some(ip) => ip,
        None => match service.next() {
            Ok(ip) => ip,
            Err(e) if e.0 == WSA_E_NO_MORE => return fail(e),
            Err(e) => return fail(e),
        },
    };
    let bytes = queryset(out as usize, service.name(), ip);
    // SAFETY: a valid length (Windows' contract).
    let room = unsafe { *len } as usize;
    if out.is_null() || room < bytes.len() {
        *kept = Some(ip);
        // SAFETY: as above.
        unsafe { *len = bytes.len() as u32 };
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: `room >= bytes.len()` writable bytes at `out` (Windows' contract).
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
    report(Ok(()))
}

#[export_name = "WSALookupServiceEnd"]
extern "C" fn wsa_lookup_service_end(h: usize) -> i32 {
    match handles::get(h) {
        Some(Object::Lookup(_)) => {
            // Dropping the query aborts a pending notification.
            handles::remove(h);
            report(Ok(()))
        }
        _ => fail(WsaError::WSA_INVALID_HANDLE),
    }
}

#[export_name = "WSANSPIoctl"]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn wsa_nsp_ioctl(
    h: usize,
    code: u32,
    _input: *const u8,
    _in_len: u32,
    _output: *mut u8,
    _out_len: u32,
    returned: *mut u32,
    completion: *const WsaCompletion,
) -> i32 {
    let l = match lookup(h) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    if code != SIO_NSP_NOTIFY_CHANGE {
        return fail(WsaError::WSAEOPNOTSUPP);
    }
    if !returned.is_null() {
        // SAFETY: valid (Windows' contract); the notification has no output.
        unsafe { *returned = 0 };
    }
    let guard = l.service.lock().unwrap_or_else(|e| e.into_inner());
    let service = &guard.0;
    // SAFETY: null or a valid WSACOMPLETION (Windows' contract).
    let kind = if completion.is_null() {
        0
    } else {
        unsafe { (*completion).kind }
    };
    match kind {
        0 => report(service.notify_change_poll()),
        2 => {
            // SAFETY: as above.
            let c = unsafe { (*completion).overlapped };
            if c.is_null() {
                return fail(WsaError::WSAEINVAL);
            }
            // SAFETY: the record stays valid until the completion is reported.
            report(unsafe { records::start_notification(c, h, |ov| service.notify_change(ov)) })
        }
        4 => {
            // SAFETY: as above.
            let (c, proc_) = unsafe { ((*completion).overlapped, (*completion).second) };
            if proc_ == 0 {
                return fail(WsaError::WSAEINVAL);
            }
            // SAFETY: a completion routine's address (Windows' contract).
            let routine: CompletionRoutine =
                unsafe { std::mem::transmute::<usize, CompletionRoutine>(proc_) };
            let Some(routine) = routine else {
                return fail(WsaError::WSAEINVAL);
            };
            if !c.is_null() {
                // SAFETY: a valid record (Windows' contract).
                unsafe { records::mark_pending(c) };
            }
            let cc = c as usize;
            let r = service.notify_change_with(move |done: Completion| {
                // SAFETY: the record stays valid until the routine ran (Windows' contract).
                unsafe {
                    if cc != 0 {
                        records::write_result(cc as *mut CRecord, done.error, 0);
                    }
                    routine(done.error.0 as u32, 0, cc as *mut CRecord, 0);
                }
            });
            report(r)
        }
        _ => fail(WsaError::WSAEOPNOTSUPP),
    }
}
