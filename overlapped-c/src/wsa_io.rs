//! `WSARecv`, `WSASend`, `WSARecvFrom`, `WSASendTo` in their three modes
//! (event record, completion routine, synchronous), `WSAGetOverlappedResult`
//! and `HasOverlappedIoCompleted`.

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;

use overlapped::{BufList, Completion, MsgFlags, Overlapped, Socket, WsaError};

use crate::handles::{self, Object};
use crate::last_error::{self, fail, fail_false};
use crate::network_events;
use crate::records::{self, CRecord, Out};

/// `WSABUF` (16 bytes on x64).
#[repr(C)]
pub struct WsaBuf {
    /// `len`.
    pub len: u32,
    /// `buf`.
    pub buf: *mut u8,
}

/// `LPWSAOVERLAPPED_COMPLETION_ROUTINE`.
pub type CompletionRoutine = Option<unsafe extern "C" fn(u32, u32, *mut CRecord, u32)>;

#[derive(Clone, Copy)]
enum Kind {
    Recv,
    Send,
    RecvFrom(usize, usize),
    SendTo(SocketAddr),
}

impl Kind {
    fn receives(self) -> bool {
        matches!(self, Kind::Recv | Kind::RecvFrom(..))
    }
}

/// The `(pointer, length)` pairs of a `WSABUF` array.
///
/// # Safety
/// `bufs` is null or points to `count` `WSABUF`s.
pub(crate) unsafe fn c_buffers(
    bufs: *const WsaBuf,
    count: u32,
) -> Result<Vec<(usize, usize)>, WsaError> {
    if bufs.is_null() && count > 0 {
        return Err(WsaError::WSAEFAULT);
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: `count` WSABUFs at `bufs` (caller).
    let list = unsafe { std::slice::from_raw_parts(bufs, count as usize) };
    let mut v = Vec::with_capacity(list.len());
    for b in list {
        if b.buf.is_null() && b.len > 0 {
            return Err(WsaError::WSAEFAULT);
        }
        v.push((b.buf as usize, b.len as usize));
    }
    Ok(v)
}

/// The buffers an operation takes: zeroed ones of the same lengths for a
/// receive, copies of the program's bytes for a send.
///
/// # Safety
/// The pairs describe readable memory.
pub(crate) unsafe fn owned(c: &[(usize, usize)], receive: bool) -> BufList {
    let mut list = BufList::new();
    for &(ptr, len) in c {
        if receive || len == 0 {
            list.push(vec![0u8; len]);
        } else {
            // SAFETY: readable `len` bytes at `ptr` (caller).
            list.push(unsafe { std::slice::from_raw_parts(ptr as *const u8, len) }.to_vec());
        }
    }
    list
}

/// The Rust record for the C record's `hEvent`: that event, the event with
/// "no completion packet" (low bit set), or none (the socket's own event).
pub fn record_for(h_event: usize) -> (Overlapped, usize) {
    let no_packet = h_event & 1 == 1;
    let h = h_event & !1;
    match handles::get(h) {
        Some(Object::Event(e)) if no_packet => (Overlapped::new_event_only(&e), h),
        Some(Object::Event(e)) => (Overlapped::new(&e), h),
        _ => (Overlapped::without_event(), 0),
    }
}

/// Starts an overlapped operation for C record `c` and reports it as
/// Winsock does: 0 (completed now, results already in place) or
/// `SOCKET_ERROR` with `WSA_IO_PENDING` or the error.
///
/// # Safety
/// `c` is a valid record; `lp_bytes` null or valid.
pub unsafe fn start_recorded(
    s: usize,
    socket: &Socket,
    c: *mut CRecord,
    out: Out,
    lp_bytes: *mut u32,
    start: impl FnOnce(&Socket, &mut Overlapped) -> Result<u32, WsaError>,
) -> Result<u32, WsaError> {
    // SAFETY: valid record (caller).
    let h_event = unsafe { (*c).h_event };
    let (ov, key) = record_for(h_event);
    let wait_key = if key == 0 { s } else { key };
    // SAFETY: valid record (caller).
    unsafe { records::mark_pending(c) };
    records::register(c, ov, (Some(socket.clone()), s), wait_key, out);
    let entry = records::entry(c as usize).ok_or(WsaError::WSAEFAULT)?;
    let r = {
        let mut ov = entry.ov.lock().unwrap_or_else(|e| e.into_inner());
        let r = start(socket, &mut ov);
        records::mark_started(&entry);
        r
    };
    match r {
        Ok(n) => {
            records::settle_this(c as usize, &entry);
            if !lp_bytes.is_null() {
                // SAFETY: non-null and valid (caller).
                unsafe { *lp_bytes = n };
            }
            Ok(n)
        }
        Err(WsaError::WSA_IO_PENDING) => Err(WsaError::WSA_IO_PENDING),
        Err(e) => {
            // Failed to start: the record did not go pending.
            records::start_failed(c as usize, &entry, e);
            // SAFETY: valid record (caller).
            unsafe { records::write_result(c, e, 0) };
            Err(e)
        }
    }
}

/// A completion routine's Rust side: results into the C memory, then the C routine.
fn c_routine(
    out: Vec<(usize, usize)>,
    from: Option<(usize, usize)>,
    c: usize,
    routine: unsafe extern "C" fn(u32, u32, *mut CRecord, u32),
) -> impl FnOnce(Completion) + 'static {
    move |done: Completion| {
        // SAFETY: the program keeps its buffers and record valid until the
        // routine has run (Windows' contract for WSARecv with a routine).
        unsafe {
            records::copy_out(&out, &done.buffers, done.bytes as usize);
            if let Some((f, fl)) = from {
                records::write_from(f, fl, done.from);
            }
            records::write_result(c as *mut CRecord, done.error, done.bytes);
            routine(
                done.error.0 as u32,
                done.bytes,
                c as *mut CRecord,
                done.flags.bits(),
            );
        }
    }
}

/// The common body of the four calls, then `WSAEventSelect`'s re-enabling
/// rules: a receive re-enables `FD_READ`/`FD_OOB`, a send that failed with
/// `WSAEWOULDBLOCK` re-enables `FD_WRITE`.
///
/// # Safety
/// Windows' contract of `WSARecv`/`WSASend`/`WSARecvFrom`/`WSASendTo`.
#[allow(clippy::too_many_arguments)]
unsafe fn wsa_io(
    s: usize,
    bufs: *const WsaBuf,
    count: u32,
    lp_bytes: *mut u32,
    flags: u32,
    c: *mut CRecord,
    routine: CompletionRoutine,
    kind: Kind,
) -> i32 {
    // SAFETY: the caller's contract, passed on.
    let r = unsafe { wsa_io_now(s, bufs, count, lp_bytes, flags, c, routine, kind) };
    if kind.receives() {
        network_events::reenable(s, network_events::FD_READ | network_events::FD_OOB);
    } else if r != 0 && last_error::get() == WsaError::WSAEWOULDBLOCK.0 as u32 {
        network_events::reenable(s, network_events::FD_WRITE);
    }
    r
}

/// # Safety
/// As [`wsa_io`].
#[allow(clippy::too_many_arguments)]
unsafe fn wsa_io_now(
    s: usize,
    bufs: *const WsaBuf,
    count: u32,
    lp_bytes: *mut u32,
    flags: u32,
    c: *mut CRecord,
    routine: CompletionRoutine,
    kind: Kind,
) -> i32 {
    let socket = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail(e),
    };
    // SAFETY: contract of the call (caller).
    let cbufs = match unsafe { c_buffers(bufs, count) } {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mflags = MsgFlags::from_bits_retain(flags);
    if c.is_null() {
        // SAFETY: the caller's buffers, used only during the call.
        return unsafe { sync_io(&socket, &cbufs, lp_bytes, mflags, kind) };
    }
    // SAFETY: the caller's buffers (readable for a send).
    let list = unsafe { owned(&cbufs, kind.receives()) };
    if let Some(routine) = routine {
        let from = match kind {
            Kind::RecvFrom(f, fl) => Some((f, fl)),
            _ => None,
        };
        // SAFETY: `c` is a valid record (caller).
        unsafe { records::mark_pending(c) };
        let r = c_routine(cbufs, from, c as usize, routine);
        let started = match kind {
            Kind::Recv => socket.recv_with(list, mflags, r),
            Kind::Send => socket.send_with(list, mflags, r),
            Kind::RecvFrom(..) => socket.recv_from_with(list, mflags, r),
            Kind::SendTo(to) => socket.send_to_with(list, &to, mflags, r),
        };
        return match started {
            Ok(n) => {
                if !lp_bytes.is_null() {
                    // SAFETY: valid (caller).
                    unsafe { *lp_bytes = n };
                }
                0
            }
            Err(e) => fail(e),
        };
    }
    let out = match kind {
        Kind::Recv => Out::Buffers(cbufs),
        Kind::RecvFrom(f, fl) => Out::BuffersFrom(cbufs, f, fl),
        _ => Out::Nothing,
    };
    // SAFETY: `c` valid, `lp_bytes` null or valid (caller).
    let r = unsafe {
        start_recorded(s, &socket, c, out, lp_bytes, |sock, ov| match kind {
            Kind::Recv => sock.recv(ov, list, mflags),
            Kind::Send => sock.send(ov, list, mflags),
            Kind::RecvFrom(..) => sock.recv_from(ov, list, mflags),
            Kind::SendTo(to) => sock.send_to(ov, list, &to, mflags),
        })
    };
    match r {
        Ok(_) => 0,
        Err(e) => fail(e),
    }
}

/// The synchronous mode: no record, no routine; the kernel uses the
/// program's own buffers.
///
/// # Safety
/// The pairs describe valid memory for the duration of the call.
unsafe fn sync_io(
    socket: &Socket,
    cbufs: &[(usize, usize)],
    lp_bytes: *mut u32,
    flags: MsgFlags,
    kind: Kind,
) -> i32 {
    let r = if kind.receives() {
        let mut slices: Vec<IoSliceMut<'_>> = cbufs
            .iter()
            // SAFETY: writable memory of the program for the call.
            .map(|&(p, l)| {
                IoSliceMut::new(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, l) })
            })
            .collect();
        match kind {
            Kind::RecvFrom(f, fl) => {
                let mut from = None;
                let r = socket.recv_from_sync(&mut slices, flags, &mut from);
                // SAFETY: lpFrom/lpFromlen as the caller passed them.
                unsafe { records::write_from(f, fl, from) };
                r
            }
            _ => socket.recv_sync(&mut slices, flags),
        }
    } else {
        let slices: Vec<IoSlice<'_>> = cbufs
            .iter()
            // SAFETY: readable memory of the program for the call.
            .map(|&(p, l)| IoSlice::new(unsafe { std::slice::from_raw_parts(p as *const u8, l) }))
            .collect();
        match kind {
            Kind::SendTo(to) => socket.send_to_sync(&slices, &to, flags),
            _ => socket.send_sync(&slices, flags),
        }
    };
    match r {
        Ok(n) => {
            if !lp_bytes.is_null() {
                // SAFETY: valid (caller).
                unsafe { *lp_bytes = n as u32 };
            }
            last_error::set(0);
            0
        }
        Err(e) => fail(e),
    }
}

#[export_name = "WSARecv"]
unsafe extern "C" fn wsa_recv(
    s: usize,
    bufs: *const WsaBuf,
    count: u32,
    lp_bytes: *mut u32,
    lp_flags: *mut u32,
    c: *mut CRecord,
    routine: CompletionRoutine,
) -> i32 {
    if lp_flags.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: non-null, valid (Windows' contract).
    let flags = unsafe { *lp_flags };
    // SAFETY: Windows' contract of WSARecv.
    unsafe { wsa_io(s, bufs, count, lp_bytes, flags, c, routine, Kind::Recv) }
}

#[export_name = "WSASend"]
unsafe extern "C" fn wsa_send(
    s: usize,
    bufs: *const WsaBuf,
    count: u32,
    lp_bytes: *mut u32,
    flags: u32,
    c: *mut CRecord,
    routine: CompletionRoutine,
) -> i32 {
    // SAFETY: Windows' contract of WSASend.
    unsafe { wsa_io(s, bufs, count, lp_bytes, flags, c, routine, Kind::Send) }
}

#[export_name = "WSARecvFrom"]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn wsa_recv_from(
    s: usize,
    bufs: *const WsaBuf,
    count: u32,
    lp_bytes: *mut u32,
    lp_flags: *mut u32,
    from: *mut u8,
    fromlen: *mut i32,
    c: *mut CRecord,
    routine: CompletionRoutine,
) -> i32 {
    if lp_flags.is_null() || (!from.is_null() && fromlen.is_null()) {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: non-null, valid (Windows' contract).
    let flags = unsafe { *lp_flags };
    let kind = Kind::RecvFrom(from as usize, fromlen as usize);
    // SAFETY: Windows' contract of WSARecvFrom.
    unsafe { wsa_io(s, bufs, count, lp_bytes, flags, c, routine, kind) }
}

#[export_name = "WSASendTo"]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn wsa_send_to(
    s: usize,
    bufs: *const WsaBuf,
    count: u32,
    lp_bytes: *mut u32,
    flags: u32,
    to: *const u8,
    tolen: i32,
    c: *mut CRecord,
    routine: CompletionRoutine,
) -> i32 {
    // SAFETY: `tolen` bytes at `to` (Windows' contract).
    let to = match unsafe { crate::addr::read(to, tolen) } {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    // SAFETY: Windows' contract of WSASendTo.
    unsafe {
        wsa_io(
            s,
            bufs,
            count,
            lp_bytes,
            flags,
            c,
            routine,
            Kind::SendTo(to),
        )
    }
}

#[export_name = "WSAGetOverlappedResult"]
unsafe extern "C" fn wsa_get_overlapped_result(
    s: usize,
    c: *mut CRecord,
    lp_bytes: *mut u32,
    wait: i32,
    lp_flags: *mut u32,
) -> i32 {
    if c.is_null() || lp_bytes.is_null() || lp_flags.is_null() {
        return fail_false(WsaError::WSAEFAULT);
    }
    // A socket, the handle of a change notification (WSAProviderConfigChange),
    // or the handle the record's operation was started on (closed since).
    let known = matches!(
        handles::get(s),
        Some(Object::Socket(_)) | Some(Object::Provider(_)) | Some(Object::Lookup(_))
    ) || records::entry(c as usize)
        .is_some_and(|e| e.socket.is_none() && e.wait_socket == s);
    if !known {
        return fail_false(WsaError::WSAENOTSOCK);
    }
    let done = if wait != 0 {
        records::wait_and_settle(c as usize)
    } else {
        records::settle(c as usize)
    };
    let done = match done {
        Some(d) => d,
        None if records::entry(c as usize).is_some() => {
            return fail_false(WsaError::WSA_IO_INCOMPLETE)
        }
        None => return fail_false(WsaError::WSAEINVAL),
    };
    // SAFETY: non-null, valid (Windows' contract).
    unsafe {
        *lp_bytes = done.bytes;
        *lp_flags = done.flags;
    }
    if done.error.is_ok() {
        last_error::set(0);
        crate::TRUE
    } else {
        fail_false(done.error)
    }
}

#[export_name = "GetOverlappedResult"]
unsafe extern "C" fn get_overlapped_result(
    h: usize,
    c: *mut CRecord,
    lp_bytes: *mut u32,
    wait: i32,
) -> i32 {
    if c.is_null() || lp_bytes.is_null() || records::entry(c as usize).is_none() {
        let mut flags = 0u32;
        // SAFETY: as WSAGetOverlappedResult, with our own flags word.
        return unsafe { wsa_get_overlapped_result(h, c, lp_bytes, wait, &mut flags) };
    }
    // kernel32's GetOverlappedResult reads the record (`Internal`,
    // `InternalHigh`): the handle need not be open any more (a socket
    // closed under a pending receive), and a failure is reported in its
    // Win32 form (WSAECONNABORTED → ERROR_CONNECTION_ABORTED, as
    // GetQueuedCompletionStatus does, fact 138).
    let done = if wait != 0 {
        records::wait_and_settle(c as usize)
    } else {
        records::settle(c as usize)
    };
    let Some(done) = done else {
        return fail_false(WsaError::WSA_IO_INCOMPLETE);
    };
    // SAFETY: non-null (checked), valid (Windows' contract).
    unsafe { *lp_bytes = done.bytes };
    if done.error.is_ok() {
        crate::TRUE
    } else {
        let packet = overlapped::CompletionEntry {
            key: 0,
            overlapped: None,
            bytes: done.bytes,
            error: done.error,
        };
        fail_false(packet.win32_error())
    }
}

#[export_name = "ovl_has_overlapped_io_completed"]
unsafe extern "C" fn has_overlapped_io_completed(c: *mut CRecord) -> i32 {
    if c.is_null() {
        return crate::FALSE;
    }
    records::settle(c as usize);
    // SAFETY: a valid record (the macro's contract).
    let internal = unsafe { (*c).internal };
    i32::from(internal != records::STATUS_PENDING as usize)
}
