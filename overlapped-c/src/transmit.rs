//! `TransmitFile` and `TransmitPackets`, handed out by
//! `WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)` (`WSAID_TRANSMITFILE`,
//! `WSAID_TRANSMITPACKETS`) and exported by name (`mswsock.h` declares
//! both), on the library's `transmit_file` / `transmit_packets`. Files are
//! [`crate::files`] handles. With a record, the file range of `TransmitFile`
//! starts at the record's `Offset`/`OffsetHigh`; without one (synchronous),
//! at the file's current position, which advances.

use std::os::fd::AsFd;
use std::sync::Arc;

use overlapped::{TransmitFileBuffers, TransmitFlags, TransmitPacketsElement, WsaError};

use crate::handles;
use crate::last_error::{self, fail_false};
use crate::records::{CRecord, Out};
use crate::wsa_io::start_recorded;

/// `TRANSMIT_FILE_BUFFERS` (32 bytes on x64).
#[repr(C)]
pub struct TransmitBuffers {
    /// `Head`.
    pub head: *const u8,
    /// `HeadLength`.
    pub head_len: u32,
    /// `Tail`.
    pub tail: *const u8,
    /// `TailLength`.
    pub tail_len: u32,
}

/// `TRANSMIT_PACKETS_ELEMENT` (24 bytes on x64): for a file element the
/// union holds `nFileOffset` then `hFile`; for memory, `pBuffer`.
#[repr(C)]
pub struct PacketsElement {
    /// `dwElFlags` (`TP_ELEMENT_MEMORY`, `TP_ELEMENT_FILE`, `TP_ELEMENT_EOP`).
    pub flags: u32,
    /// `cLength`.
    pub len: u32,
    /// `nFileOffset` (file) or `pBuffer` (memory).
    pub offset_or_buffer: i64,
    /// `hFile` (file).
    pub file: usize,
}

/// # Safety
/// `len` readable bytes at `p` (or `p` null).
unsafe fn copy(p: *const u8, len: u32) -> Vec<u8> {
    if p.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(p, len as usize) }.to_vec()
}

fn report(r: Result<u32, WsaError>) -> i32 {
    match r {
        Ok(_) => {
            last_error::set(0);
            crate::TRUE
        }
        Err(e) => fail_false(e),
    }
}

/// `TransmitFile`.
///
/// # Safety
/// Windows' contract: the record and the head/tail buffers valid until the
/// completion is reported (the head and tail are copied at the call here).
#[export_name = "TransmitFile"]
pub unsafe extern "C" fn transmit_file(
    s: usize,
    h_file: usize,
    bytes_to_write: u32,
    bytes_per_send: u32,
    c: *mut CRecord,
    buffers: *const TransmitBuffers,
    flags: u32,
) -> i32 {
    let socket = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail_false(e),
    };
    let file = if h_file == 0 {
        None
    } else {
        match crate::files::file(h_file) {
            Some(f) => Some(f),
            None => return fail_false(WsaError::WSA_INVALID_HANDLE),
        }
    };
    let tb = if buffers.is_null() {
        None
    } else {
        // SAFETY: a valid TRANSMIT_FILE_BUFFERS and its buffers (Windows' contract).
        unsafe {
            let b = &*buffers;
            Some(TransmitFileBuffers {
                head: copy(b.head, b.head_len),
                tail: copy(b.tail, b.tail_len),
            })
        }
    };
    let flags = TransmitFlags::from_bits_retain(flags);
    let fd = file.as_ref().map(|f| f.as_fd());
    let r = if c.is_null() {
        socket.transmit_file_sync(fd, bytes_to_write, bytes_per_send, tb, flags)
    } else {
        // SAFETY: a valid record (Windows' contract).
        let offset = unsafe { u64::from((*c).offset) | (u64::from((*c).offset_high) << 32) };
        // SAFETY: `c` valid until the completion is reported.
        unsafe {
            start_recorded(
                s,
                &socket,
                c,
                Out::Nothing,
                std::ptr::null_mut(),
                |sock, ov| {
                    ov.set_offset(offset);
                    sock.transmit_file(ov, fd, bytes_to_write, bytes_per_send, tb, flags)
                },
            )
        }
    };
    report(r)
}

/// `TransmitPackets`.
///
/// # Safety
/// Windows' contract: `count` elements at `elements`, each memory element's
/// buffer readable for `cLength` bytes (copied at the call here).
#[export_name = "TransmitPackets"]
pub unsafe extern "C" fn transmit_packets(
    s: usize,
    elements: *const PacketsElement,
    count: u32,
    send_size: u32,
    c: *mut CRecord,
    flags: u32,
) -> i32 {
    let socket = match handles::socket(s) {
        Ok(sock) => sock,
        Err(e) => return fail_false(e),
    };
    if elements.is_null() && count > 0 {
        return fail_false(WsaError::WSAEFAULT);
    }
    let list: &[PacketsElement] = if count == 0 {
        &[]
    } else {
        // SAFETY: `count` elements (Windows' contract).
        unsafe { std::slice::from_raw_parts(elements, count as usize) }
    };
    // The files stay open for the call (the library takes what it needs).
    let mut files: Vec<Option<Arc<std::fs::File>>> = Vec::with_capacity(list.len());
    for e in list {
        if e.flags & overlapped::TP_ELEMENT_FILE != 0 {
            match crate::files::file(e.file) {
                Some(f) => files.push(Some(f)),
                None => return fail_false(WsaError::WSA_INVALID_HANDLE),
            }
        } else {
            files.push(None);
        }
    }
    let mut els = Vec::with_capacity(list.len());
    for (e, f) in list.iter().zip(&files) {
        let el = match f {
            Some(f) => {
                let offset = (e.offset_or_buffer >= 0).then_some(e.offset_or_buffer as u64);
                TransmitPacketsElement::file(f.as_fd(), offset, e.len)
            }
            None if e.flags & overlapped::TP_ELEMENT_MEMORY != 0 => {
                // SAFETY: `cLength` readable bytes at `pBuffer` (Windows' contract).
                TransmitPacketsElement::memory(unsafe {
                    copy(e.offset_or_buffer as usize as *const u8, e.len)
                })
            }
            None => return fail_false(WsaError::WSAEINVAL),
        };
        els.push(if e.flags & overlapped::TP_ELEMENT_EOP != 0 {
            el.eop()
        } else {
            el
        });
    }
    let flags = TransmitFlags::from_bits_retain(flags);
    let r = if c.is_null() {
        socket.transmit_packets_sync(els, send_size, flags)
    } else {
        // SAFETY: `c` valid until the completion is reported.
        unsafe {
            start_recorded(
                s,
                &socket,
                c,
                Out::Nothing,
                std::ptr::null_mut(),
                |sock, ov| sock.transmit_packets(ov, els, send_size, flags),
            )
        }
    };
    report(r)
}
