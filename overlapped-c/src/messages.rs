//! `WSARecvMsg` (handed out by `WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)`
//! with `WSAID_WSARECVMSG`) and `WSASendMsg` (exported, and handed out for
//! `WSAID_WSASENDMSG`) in their three modes, on the library's `recv_msg` /
//! `send_msg`.
//!
//! The program's control data is in Windows' layout (`WSACMSGHDR`:
//! `SIZE_T cmsg_len; INT cmsg_level; INT cmsg_type;`, 8-byte alignment, as
//! the `WSA_CMSG_*` macros walk it) with Windows' levels, types and data:
//! `IP_PKTINFO` (0/19) carries `IN_PKTINFO { ipi_addr; ipi_ifindex; }` (8
//! bytes; Linux's `in_pktinfo` is 12, in another order), `IPV6_PKTINFO`
//! (41/19) `IN6_PKTINFO`, `IP_TTL` (0/4), `IP_TOS` (0/3), `IPV6_HOPLIMIT`
//! (41/21), `IPV6_TCLASS` (41/39) an `INT`. The library's typed
//! [`ControlMessage`]s are converted both ways here.

use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use overlapped::{Completion, Control, ControlMessage, MsgFlags, MsgInfo, MsgSpace, WsaError};

use crate::handles;
use crate::last_error::{self, fail};
use crate::records::{self, CRecord, Out};
use crate::wsa_io::{c_buffers, owned, start_recorded, CompletionRoutine, WsaBuf};

/// `WSAMSG` of Windows x64 (56 bytes).
#[repr(C)]
pub struct WsaMsg {
    /// `name`: the source (receive) or destination (send) address, or null.
    pub name: *mut u8,
    /// `namelen`.
    pub namelen: i32,
    /// `lpBuffers`.
    pub buffers: *mut WsaBuf,
    /// `dwBufferCount`.
    pub count: u32,
    /// `Control`.
    pub control: WsaBuf,
    /// `dwFlags`: input flags of a receive; output flags (`MSG_TRUNC`,
    /// `MSG_CTRUNC`, `MSG_BCAST`, `MSG_MCAST`) after it.
    pub flags: u32,
}

const HDR: usize = 16;

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Windows' (level, type, data) for a library control message.
fn to_windows(m: &ControlMessage) -> (i32, i32, Vec<u8>) {
    let int = |v: u8| i32::from(v).to_ne_bytes().to_vec();
    match m {
        ControlMessage::PktInfoV4 { addr, ifindex } => {
            let mut d = addr.octets().to_vec();
            d.extend_from_slice(&ifindex.to_ne_bytes());
            (0, 19, d)
        }
        ControlMessage::PktInfoV6 { addr, ifindex } => {
            let mut d = addr.octets().to_vec();
            d.extend_from_slice(&ifindex.to_ne_bytes());
            (41, 19, d)
        }
        ControlMessage::Ttl(v) => (0, 4, int(*v)),
        ControlMessage::Tos(v) => (0, 3, int(*v)),
        ControlMessage::HopLimit(v) => (41, 21, int(*v)),
        ControlMessage::TrafficClass(v) => (41, 39, int(*v)),
        ControlMessage::Other { level, kind, data } => {
            let level = if *level == libc::SOL_SOCKET {
                0xffff
            } else {
                *level
            };
            (level, *kind, data.clone())
        }
    }
}

/// Received control data in Windows' layout, at most `room` bytes of whole
/// messages (the last one without its trailing padding, as `Control.len`
/// counts it on Windows).
pub fn windows_control(control: &Control, room: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for m in control.iter() {
        let (level, ty, data) = to_windows(&m);
        let len = HDR + data.len();
        let start = align8(out.len());
        if start + len > room {
            break;
        }
        out.resize(start, 0);
        out.extend_from_slice(&(len as u64).to_ne_bytes());
        out.extend_from_slice(&level.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// The library's control data from the program's Windows-layout bytes.
/// `WSAEINVAL` for a malformed header or a message the library cannot send.
pub fn parse_control(bytes: &[u8]) -> Result<Control, WsaError> {
    let mut b = Control::builder();
    let mut at = 0;
    while at + HDR <= bytes.len() {
        let len = u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        let level = i32::from_ne_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        let ty = i32::from_ne_bytes(bytes[at + 12..at + 16].try_into().unwrap());
        if len < HDR || at + len > bytes.len() {
            return Err(WsaError::WSAEINVAL);
        }
        let data = &bytes[at + HDR..at + len];
        let int = || -> Result<u8, WsaError> {
            let v = i32::from_ne_bytes(
                data.get(..4)
                    .ok_or(WsaError::WSAEINVAL)?
                    .try_into()
                    .unwrap(),
            );
            u8::try_from(v).map_err(|_| WsaError::WSAEINVAL)
        };
        let index = |at: usize| u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
        let m = match (level, ty) {
            (0, 19) if data.len() >= 8 => ControlMessage::PktInfoV4 {
                addr: Ipv4Addr::from(<[u8; 4]>::try_from(&data[..4]).unwrap()),
                ifindex: index(4),
            },
            (41, 19) if data.len() >= 20 => ControlMessage::PktInfoV6 {
                addr: Ipv6Addr::from(<[u8; 16]>::try_from(&data[..16]).unwrap()),
                ifindex: index(16),
            },
            (0, 4) => ControlMessage::Ttl(int()?),
            (0, 3) => ControlMessage::Tos(int()?),
            (41, 21) => ControlMessage::HopLimit(int()?),
            (41, 39) => ControlMessage::TrafficClass(int()?),
            _ => return Err(WsaError::WSAEINVAL),
        };
        b = b.push(m);
        at += align8(len);
    }
    Ok(b.build())
}

/// Writes a receive's results into the program's `WSAMSG`: the source
/// address (`name`/`namelen`), the control data (`Control.len` set to what
/// was written) and the output flags.
///
/// # Safety
/// `msg` is the program's valid `WSAMSG`, its `name` and `Control.buf`
/// valid for `namelen` and `Control.len` bytes.
pub unsafe fn write_msg(msg: usize, from: Option<SocketAddr>, control: &Control, flags: MsgFlags) {
    let m = msg as *mut WsaMsg;
    // SAFETY: the caller's contract.
    unsafe {
        if !(*m).name.is_null() {
            if let Some(a) = from {
                let _ = crate::addr::write(&a, (*m).name, std::ptr::addr_of_mut!((*m).namelen));
            }
        }
        let room = if (*m).control.buf.is_null() {
            0
        } else {
            (*m).control.len as usize
        };
        let bytes = windows_control(control, room);
        if !bytes.is_empty() {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), (*m).control.buf, bytes.len());
        }
        (*m).control.len = bytes.len() as u32;
        (*m).flags = flags.bits();
    }
}

/// `WSARecvMsg` (an `LPFN_WSARECVMSG`).
///
/// # Safety
/// Windows' contract of `WSARecvMsg`: `msg` and everything it points to stay
/// valid until the completion is reported.
pub unsafe extern "C" fn wsa_recv_msg(
    s: usize,
    msg: *mut WsaMsg,
    lp_bytes: *mut u32,
    c: *mut CRecord,
    routine: CompletionRoutine,
) -> i32 {
    if msg.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    let socket = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail(e),
    };
    // SAFETY: the program's WSAMSG (Windows' contract).
    let m = unsafe { &*msg };
    // SAFETY: `count` WSABUFs at `buffers` (Windows' contract).
    let cbufs = match unsafe { c_buffers(m.buffers, m.count) } {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let space = MsgSpace {
        name_len: if m.name.is_null() {
            0
        } else {
            m.namelen.max(0) as usize
        },
        control_len: if m.control.buf.is_null() {
            0
        } else {
            m.control.len as usize
        },
    };
    let flags = MsgFlags::from_bits_retain(m.flags);
    let r = if c.is_null() {
        let mut slices: Vec<IoSliceMut<'_>> = cbufs
            .iter()
            // SAFETY: the program's writable buffers, for the call.
            .map(|&(p, l)| {
                IoSliceMut::new(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, l) })
            })
            .collect();
        let mut info = MsgInfo::default();
        let r = socket.recv_msg_sync(&mut slices, space, flags, &mut info);
        if matches!(r, Ok(_) | Err(WsaError::WSAEMSGSIZE)) {
            // SAFETY: as above.
            unsafe { write_msg(msg as usize, info.from, &info.control, info.flags) };
            if !lp_bytes.is_null() {
                // SAFETY: valid (Windows' contract).
                unsafe { *lp_bytes = info.bytes as u32 };
            }
        }
        r.map(|n| n as u32)
    } else if let Some(routine) = routine {
        // SAFETY: the program's buffers (receive: zeroed copies of their lengths).
        let list = unsafe { owned(&cbufs, true) };
        // SAFETY: valid record (Windows' contract).
        unsafe { records::mark_pending(c) };
        let (cm, cc) = (msg as usize, c as usize);
        let r = socket.recv_msg_with(list, space, flags, move |done: Completion| {
            // SAFETY: the program keeps its WSAMSG, buffers and record valid
            // until the routine has run (Windows' contract).
            unsafe {
                records::copy_out(&cbufs, &done.buffers, done.bytes as usize);
                write_msg(cm, done.from, &done.control, done.msg_flags);
                records::write_result(cc as *mut CRecord, done.error, done.bytes);
                routine(
                    done.error.0 as u32,
                    done.bytes,
                    cc as *mut CRecord,
                    done.msg_flags.bits(),
                );
            }
        });
        if let (Ok(n), false) = (&r, lp_bytes.is_null()) {
            // SAFETY: valid (Windows' contract).
            unsafe { *lp_bytes = *n };
        }
        r
    } else {
        // SAFETY: the program's buffers.
        let list = unsafe { owned(&cbufs, true) };
        // SAFETY: `c` valid, `lp_bytes` null or valid (Windows' contract).
        unsafe {
            start_recorded(
                s,
                &socket,
                c,
                Out::Msg(cbufs, msg as usize),
                lp_bytes,
                |sock, ov| sock.recv_msg(ov, list, space, flags),
            )
        }
    };
    crate::network_events::reenable(
        s,
        crate::network_events::FD_READ | crate::network_events::FD_OOB,
    );
    report(r)
}

fn report(r: Result<u32, WsaError>) -> i32 {
    match r {
        Ok(_) => {
            last_error::set(0);
            0
        }
        Err(e) => fail(e),
    }
}

/// `WSASendMsg`.
///
/// # Safety
/// Windows' contract of `WSASendMsg`.
#[export_name = "WSASendMsg"]
pub unsafe extern "C" fn wsa_send_msg(
    s: usize,
    msg: *mut WsaMsg,
    flags: u32,
    lp_bytes: *mut u32,
    c: *mut CRecord,
    routine: CompletionRoutine,
) -> i32 {
    if msg.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    let socket = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail(e),
    };
    // SAFETY: the program's WSAMSG (Windows' contract).
    let m = unsafe { &*msg };
    let to = if m.name.is_null() {
        None
    } else {
        // SAFETY: `namelen` bytes at `name` (Windows' contract).
        match unsafe { crate::addr::read(m.name, m.namelen) } {
            Ok(a) => Some(a),
            Err(e) => return fail(e),
        }
    };
    let control = if m.control.buf.is_null() || m.control.len == 0 {
        Control::new()
    } else {
        // SAFETY: `Control.len` readable bytes (Windows' contract).
        let bytes = unsafe { std::slice::from_raw_parts(m.control.buf, m.control.len as usize) };
        match parse_control(bytes) {
            Ok(c) => c,
            Err(e) => return fail(e),
        }
    };
    // SAFETY: `count` WSABUFs at `buffers` (Windows' contract).
    let cbufs = match unsafe { c_buffers(m.buffers, m.count) } {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mflags = MsgFlags::from_bits_retain(flags);
    let r = if c.is_null() {
        let slices: Vec<IoSlice<'_>> = cbufs
            .iter()
            // SAFETY: the program's readable buffers, for the call.
            .map(|&(p, l)| IoSlice::new(unsafe { std::slice::from_raw_parts(p as *const u8, l) }))
            .collect();
        let r = socket.send_msg_sync(&slices, to.as_ref(), &control, mflags);
        if let (Ok(n), false) = (&r, lp_bytes.is_null()) {
            // SAFETY: valid (Windows' contract).
            unsafe { *lp_bytes = *n as u32 };
        }
        r.map(|n| n as u32)
    } else if let Some(routine) = routine {
        // SAFETY: the program's readable buffers, copied.
        let list = unsafe { owned(&cbufs, false) };
        // SAFETY: valid record (Windows' contract).
        unsafe { records::mark_pending(c) };
        let cc = c as usize;
        let r = socket.send_msg_with(
            list,
            to.as_ref(),
            control,
            mflags,
            move |done: Completion| {
                // SAFETY: the record stays valid until the routine ran (Windows' contract).
                unsafe {
                    records::write_result(cc as *mut CRecord, done.error, done.bytes);
                    routine(done.error.0 as u32, done.bytes, cc as *mut CRecord, 0);
                }
            },
        );
        if let (Ok(n), false) = (&r, lp_bytes.is_null()) {
            // SAFETY: valid (Windows' contract).
            unsafe { *lp_bytes = *n };
        }
        r
    } else {
        // SAFETY: the program's readable buffers, copied.
        let list = unsafe { owned(&cbufs, false) };
        // SAFETY: `c` valid, `lp_bytes` null or valid (Windows' contract).
        unsafe {
            start_recorded(s, &socket, c, Out::Nothing, lp_bytes, |sock, ov| {
                sock.send_msg(ov, list, to.as_ref(), control, mflags)
            })
        }
    };
    if matches!(r, Err(WsaError::WSAEWOULDBLOCK)) {
        crate::network_events::reenable(s, crate::network_events::FD_WRITE);
    }
    report(r)
}
