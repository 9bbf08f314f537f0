//! `WSAIoctl`'s control codes other than the extension lookup, in its
//! three modes (synchronous, event or port record, completion routine), on
//! the library's `ioctl_sync` / `ioctl` / `ioctl_with`: `FIONBIO`,
//! `FIONREAD`, `SIOCATMARK`, `SIO_KEEPALIVE_VALS`, `SIO_BASE_HANDLE`,
//! `SIO_ADDRESS_LIST_QUERY`, `SIO_ADDRESS_LIST_CHANGE`,
//! `SIO_ROUTING_INTERFACE_QUERY`, `SIO_ROUTING_INTERFACE_CHANGE`,
//! `SIO_GET_INTERFACE_LIST`; any other code is `WSAEOPNOTSUPP` as the
//! library answers it (semantics fact 115). Outputs are written in
//! Windows' layout: a `SOCKET_ADDRESS_LIST` whose `lpSockaddr` pointers
//! point into the same output buffer, `INTERFACE_INFO`s, a `SOCKADDR`.

use std::net::SocketAddr;

use overlapped::{Completion, Ioctl, IoctlOutput, KeepaliveVals, WsaError};

use crate::handles;
use crate::last_error::{self, fail};
use crate::records::{self, CRecord, Out};
use crate::wsa_io::{start_recorded, CompletionRoutine};

/// `SIO_BASE_HANDLE`.
const SIO_BASE_HANDLE: u32 = 0x4800_0022;

/// The library's request for `code` with the program's input.
///
/// # Safety
/// `in_len` readable bytes at `input` (or `input` null).
unsafe fn request(s: usize, code: u32, input: *const u8, in_len: u32) -> Result<Ioctl, WsaError> {
    let read_u32 = |i: usize| -> Result<u32, WsaError> {
        if input.is_null() || (in_len as usize) < 4 * (i + 1) {
            return Err(WsaError::WSAEFAULT);
        }
        // SAFETY: checked length (caller's buffer), possibly unaligned.
        Ok(unsafe { (input as *const u32).add(i).read_unaligned() })
    };
    // SAFETY: `in_len` bytes at `input` (caller).
    let addr = || unsafe { crate::addr::read(input, in_len as i32) };
    Ok(match code {
        overlapped::FIONBIO => {
            let on = read_u32(0)? != 0;
            if !on && crate::network_events::selected(s) {
                // Blocking again while WSAEventSelect is active (fact 118).
                return Err(WsaError::WSAEINVAL);
            }
            Ioctl::FionBio(on)
        }
        overlapped::FIONREAD => Ioctl::FionRead,
        overlapped::SIOCATMARK => Ioctl::SiocAtMark,
        overlapped::SIO_KEEPALIVE_VALS => Ioctl::KeepaliveVals(KeepaliveVals {
            on: read_u32(0)? != 0,
            time_ms: read_u32(1)?,
            interval_ms: read_u32(2)?,
        }),
        SIO_BASE_HANDLE => Ioctl::BaseHandle,
        overlapped::SIO_ADDRESS_LIST_QUERY => Ioctl::AddressListQuery,
        overlapped::SIO_ADDRESS_LIST_CHANGE => Ioctl::AddressListChange,
        overlapped::SIO_ROUTING_INTERFACE_QUERY => Ioctl::RoutingInterfaceQuery(addr()?),
        overlapped::SIO_ROUTING_INTERFACE_CHANGE => Ioctl::RoutingInterfaceChange(addr()?),
        overlapped::SIO_GET_INTERFACE_LIST => Ioctl::GetInterfaceList,
        other => Ioctl::Unsupported(other),
    })
}

/// A `SOCKET_ADDRESS_LIST` at address `base`: the count (padded to 8),
/// one `SOCKET_ADDRESS` (pointer, length, padded to 16) per address, then
/// the addresses; each pointer points at its address in the same buffer.
fn address_list(addrs: &[SocketAddr], base: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(addrs.len() as i32).to_ne_bytes());
    out.extend_from_slice(&[0; 4]);
    let encoded: Vec<Vec<u8>> = addrs.iter().map(crate::addr::to_bytes).collect();
    let mut at = 8 + 16 * addrs.len();
    for e in &encoded {
        out.extend_from_slice(&((base + at) as u64).to_ne_bytes());
        out.extend_from_slice(&(e.len() as i32).to_ne_bytes());
        out.extend_from_slice(&[0; 4]);
        at += e.len();
    }
    for e in &encoded {
        out.extend_from_slice(e);
    }
    out
}

/// The output's bytes in Windows' layout, for an output buffer at `base`.
fn bytes(out: &IoctlOutput, s: usize, base: usize) -> Vec<u8> {
    match out {
        IoctlOutput::None | IoctlOutput::ExtensionFunction(_) => Vec::new(),
        IoctlOutput::Readable(v) => v.to_ne_bytes().to_vec(),
        IoctlOutput::AtMark(b) => u32::from(*b).to_ne_bytes().to_vec(),
        // The base provider's socket is the socket itself here.
        IoctlOutput::BaseHandle(_) => (s as u64).to_ne_bytes().to_vec(),
        IoctlOutput::AddressList(a) => address_list(a, base),
        IoctlOutput::RoutingInterface(a) => crate::addr::to_bytes(a),
        IoctlOutput::InterfaceList(l) => l.iter().flat_map(|i| i.to_bytes()).collect(),
    }
}

/// Writes `out` into the program's output buffer.
///
/// # Safety
/// `out_len` writable bytes at `output` (or `output` null).
unsafe fn write_output(
    out: &IoctlOutput,
    s: usize,
    output: *mut u8,
    out_len: u32,
) -> Result<u32, WsaError> {
    let b = bytes(out, s, output as usize);
    if b.is_empty() {
        return Ok(0);
    }
    if output.is_null() || (out_len as usize) < b.len() {
        return Err(WsaError::WSAEFAULT);
    }
    // SAFETY: `out_len >= b.len()` writable bytes (caller).
    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), output, b.len()) };
    Ok(b.len() as u32)
}

/// `WSAIoctl` for every code but `SIO_GET_EXTENSION_FUNCTION_POINTER`.
///
/// # Safety
/// Windows' contract of `WSAIoctl`: the buffers and the record stay valid
/// until the completion is reported.
#[allow(clippy::too_many_arguments)]
pub unsafe fn wsa_ioctl(
    s: usize,
    code: u32,
    input: *const u8,
    in_len: u32,
    output: *mut u8,
    out_len: u32,
    returned: *mut u32,
    c: *mut CRecord,
    routine: CompletionRoutine,
) -> i32 {
    let sock = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail(e),
    };
    // SAFETY: the caller's input buffer.
    let ioctl = match unsafe { request(s, code, input, in_len) } {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let mut n = 0u32;
    let r = if c.is_null() && routine.is_none() {
        let r = sock.ioctl_sync(&ioctl, out_len, &mut n);
        // SAFETY: the caller's output buffer.
        r.and_then(|out| unsafe { write_output(&out, s, output, out_len) })
    } else if let Some(routine) = routine {
        let (o, ol, cc) = (output as usize, out_len as usize, c as usize);
        let r = sock.ioctl_with(&ioctl, out_len, &mut n, move |done: Completion| {
            // SAFETY: the program keeps its output buffer and record valid
            // until the routine has run (Windows' contract).
            unsafe {
                if o != 0 {
                    records::copy_out(&[(o, ol)], &done.buffers, done.bytes as usize);
                }
                if cc != 0 {
                    records::write_result(cc as *mut CRecord, done.error, done.bytes);
                }
                routine(done.error.0 as u32, done.bytes, cc as *mut CRecord, 0);
            }
        });
        // SAFETY: the caller's output buffer.
        r.and_then(|out| unsafe { write_output(&out, s, output, out_len) })
    } else {
        let out = if output.is_null() {
            Out::Nothing
        } else {
            Out::Whole(output as usize, out_len as usize)
        };
        let n = &mut n;
        let start = |sock: &overlapped::Socket, ov: &mut overlapped::Overlapped| {
            let out = sock.ioctl(ov, &ioctl, out_len, n)?;
            // SAFETY: the caller's output buffer.
            unsafe { write_output(&out, s, output, out_len) }
        };
        // SAFETY: `c` valid until the completion is reported (caller).
        unsafe { start_recorded(s, &sock, c, out, std::ptr::null_mut(), start) }
    };
    if !returned.is_null() {
        // SAFETY: valid (Windows' contract). On success the output's size;
        // on a too-small buffer what the library says is needed.
        unsafe {
            match r {
                Ok(len) => *returned = len,
                Err(WsaError::WSAEFAULT) | Err(WsaError::WSAEOPNOTSUPP) => *returned = n,
                Err(_) => {}
            }
        }
    }
    match r {
        Ok(_) => {
            last_error::set(0);
            0
        }
        Err(e) => fail(e),
    }
}
