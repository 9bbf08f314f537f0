//! `WSAIoctl` (`SIO_GET_EXTENSION_FUNCTION_POINTER`, `FIONBIO`,
//! `FIONREAD`) and the extension functions it hands out: `AcceptEx`,
//! `GetAcceptExSockaddrs`, `ConnectEx`, `DisconnectEx` (here), `WSARecvMsg`,
//! `WSASendMsg` ([`crate::messages`]), `TransmitFile`, `TransmitPackets`
//! ([`crate::transmit`]).

use overlapped::guid::{
    Guid, WSAID_ACCEPTEX, WSAID_CONNECTEX, WSAID_DISCONNECTEX, WSAID_GETACCEPTEXSOCKADDRS,
    WSAID_TRANSMITFILE, WSAID_TRANSMITPACKETS, WSAID_WSARECVMSG, WSAID_WSASENDMSG,
};
use overlapped::{Socket, TransmitFlags, WsaError, SIO_GET_EXTENSION_FUNCTION_POINTER};

use crate::handles;
use crate::last_error::{self, fail, fail_false};
use crate::records::{CRecord, Out};
use crate::wsa_io::start_recorded;
use crate::TRUE;

/// Reports an overlapped extension call as Windows does: TRUE when it
/// completed during the call, FALSE with `ERROR_IO_PENDING` or the error.
fn report(r: Result<u32, WsaError>) -> i32 {
    match r {
        Ok(_) => {
            last_error::set(0);
            TRUE
        }
        Err(e) => fail_false(e),
    }
}

#[export_name = "AcceptEx"]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn accept_ex(
    listen: usize,
    accept: usize,
    out: *mut u8,
    receive_len: u32,
    local_len: u32,
    remote_len: u32,
    lp_bytes: *mut u32,
    c: *mut CRecord,
) -> i32 {
    if c.is_null() || out.is_null() {
        return fail_false(WsaError::WSAEFAULT);
    }
    let (listener, target) = match (handles::socket(listen), handles::socket(accept)) {
        (Ok(l), Ok(a)) => (l, a),
        _ => return fail_false(WsaError::WSAENOTSOCK),
    };
    crate::network_events::reenable(listen, crate::network_events::FD_ACCEPT);
    let total = receive_len as usize + local_len as usize + remote_len as usize;
    let output = vec![0u8; total];
    // SAFETY: `out` has `total` writable bytes and `c` is valid until the
    // completion is reported (Windows' contract of AcceptEx).
    let r = unsafe {
        start_recorded(
            listen,
            &listener,
            c,
            Out::Whole(out as usize, total),
            lp_bytes,
            |l, ov| l.accept_ex(&target, ov, output, receive_len, local_len, remote_len),
        )
    };
    report(r)
}

#[export_name = "GetAcceptExSockaddrs"]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn get_accept_ex_sockaddrs(
    out: *mut u8,
    receive_len: u32,
    local_len: u32,
    remote_len: u32,
    local: *mut *mut u8,
    local_size: *mut i32,
    remote: *mut *mut u8,
    remote_size: *mut i32,
) {
    if out.is_null() {
        return;
    }
    // Each area is the address's length (4 bytes) then the address, in
    // Windows' layout: hand out pointers to the addresses themselves.
    let area = |start: usize, len: u32| -> (*mut u8, i32) {
        if len < 8 {
            return (std::ptr::null_mut(), 0);
        }
        // SAFETY: the area lies within the AcceptEx output buffer (caller).
        let n = unsafe { (out.add(start) as *const u32).read_unaligned() };
        if n == 0 || n + 4 > len {
            return (std::ptr::null_mut(), 0);
        }
        // SAFETY: as above.
        (unsafe { out.add(start + 4) }, n as i32)
    };
    let (l, ln) = area(receive_len as usize, local_len);
    let (r, rn) = area(receive_len as usize + local_len as usize, remote_len);
    // SAFETY: the out-parameters are valid (Windows' contract); null ones are skipped.
    unsafe {
        if !local.is_null() {
            *local = l;
        }
        if !local_size.is_null() {
            *local_size = ln;
        }
        if !remote.is_null() {
            *remote = r;
        }
        if !remote_size.is_null() {
            *remote_size = rn;
        }
    }
}

unsafe extern "C" fn connect_ex(
    s: usize,
    name: *const u8,
    namelen: i32,
    send: *const u8,
    send_len: u32,
    lp_bytes: *mut u32,
    c: *mut CRecord,
) -> i32 {
    if c.is_null() {
        return fail_false(WsaError::WSAEFAULT);
    }
    // SAFETY: `namelen` bytes at `name` (Windows' contract).
    let addr = match unsafe { crate::addr::read(name, namelen) } {
        Ok(a) => a,
        Err(e) => return fail_false(e),
    };
    let sock = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail_false(e),
    };
    let data = if send.is_null() || send_len == 0 {
        Vec::new()
    } else {
        // SAFETY: `send_len` readable bytes at `send` (Windows' contract).
        unsafe { std::slice::from_raw_parts(send, send_len as usize) }.to_vec()
    };
    // SAFETY: `c` valid until the completion is reported (Windows' contract).
    let r = unsafe {
        start_recorded(s, &sock, c, Out::Nothing, lp_bytes, |sock, ov| {
            sock.connect_ex(&addr, ov, data)
        })
    };
    report(r)
}

unsafe extern "C" fn disconnect_ex(s: usize, c: *mut CRecord, flags: u32, _reserved: u32) -> i32 {
    let sock = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail_false(e),
    };
    let flags = TransmitFlags::from_bits_retain(flags);
    if c.is_null() {
        return match sock.disconnect_ex_sync(flags) {
            Ok(()) => TRUE,
            Err(e) => fail_false(e),
        };
    }
    // SAFETY: `c` valid until the completion is reported (Windows' contract).
    let r = unsafe {
        start_recorded(
            s,
            &sock,
            c,
            Out::Nothing,
            std::ptr::null_mut(),
            |sock: &Socket, ov| sock.disconnect_ex(ov, flags),
        )
    };
    report(r)
}

/// The C `GUID` (16 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
struct CGuid {
    data1: u32,
    data2: u16,
    data3: u16,
    data4: [u8; 8],
}

fn same(a: &CGuid, b: &Guid) -> bool {
    a.data1 == b.data1 && a.data2 == b.data2 && a.data3 == b.data3 && a.data4 == b.data4
}

/// The function pointer for an extension GUID.
fn extension(g: &CGuid) -> Option<usize> {
    if same(g, &WSAID_ACCEPTEX) {
        Some(accept_ex as *const () as usize)
    } else if same(g, &WSAID_GETACCEPTEXSOCKADDRS) {
        Some(get_accept_ex_sockaddrs as *const () as usize)
    } else if same(g, &WSAID_CONNECTEX) {
        Some(connect_ex as *const () as usize)
    } else if same(g, &WSAID_DISCONNECTEX) {
        Some(disconnect_ex as *const () as usize)
    } else if same(g, &WSAID_WSARECVMSG) {
        Some(crate::messages::wsa_recv_msg as *const () as usize)
    } else if same(g, &WSAID_WSASENDMSG) {
        Some(crate::messages::wsa_send_msg as *const () as usize)
    } else if same(g, &WSAID_TRANSMITFILE) {
        Some(crate::transmit::transmit_file as *const () as usize)
    } else if same(g, &WSAID_TRANSMITPACKETS) {
        Some(crate::transmit::transmit_packets as *const () as usize)
    } else {
        None
    }
}

#[export_name = "WSAIoctl"]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn wsa_ioctl(
    s: usize,
    code: u32,
    input: *const u8,
    in_len: u32,
    output: *mut u8,
    out_len: u32,
    returned: *mut u32,
    c: *mut CRecord,
    routine: crate::wsa_io::CompletionRoutine,
) -> i32 {
    if let Err(e) = handles::socket(s) {
        return fail(e);
    }
    match code {
        SIO_GET_EXTENSION_FUNCTION_POINTER => {
            if input.is_null() || (in_len as usize) < std::mem::size_of::<CGuid>() {
                return fail(WsaError::WSAEFAULT);
            }
            if output.is_null() || (out_len as usize) < std::mem::size_of::<usize>() {
                return fail(WsaError::WSAEFAULT);
            }
            // SAFETY: a GUID at `input` (checked length; may be unaligned).
            let g = unsafe { (input as *const CGuid).read_unaligned() };
            let Some(f) = extension(&g) else {
                return fail(WsaError::WSAEINVAL);
            };
            // SAFETY: room for a pointer at `output` (checked); `returned` null or valid.
            unsafe {
                (output as *mut usize).write_unaligned(f);
                if !returned.is_null() {
                    *returned = std::mem::size_of::<usize>() as u32;
                }
            }
            if !c.is_null() {
                // Completed at once; an overlapped caller reads the record.
                // SAFETY: valid record (Windows' contract).
                unsafe { crate::records::write_result(c, WsaError::NO_ERROR, 8) };
            }
            0
        }
        // SAFETY: Windows' contract of WSAIoctl.
        _ => unsafe {
            crate::ioctls::wsa_ioctl(
                s, code, input, in_len, output, out_len, returned, c, routine,
            )
        },
    }
}
