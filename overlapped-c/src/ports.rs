//! I/O completion ports (`CreateIoCompletionPort`,
//! `GetQueuedCompletionStatus(Ex)`, `PostQueuedCompletionStatus`,
//! `SetFileCompletionNotificationModes`) and `CancelIo`/`CancelIoEx`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use overlapped::{
    cancel_io, cancel_io_ex, CompletionEntry, CompletionPort, NotificationModes, Overlapped,
    WsaError,
};

use crate::handles::{self, Object};
use crate::last_error::{self, fail_false};
use crate::records::{self, CRecord};
use crate::{timeout_ms, TRUE};

const INVALID_HANDLE_VALUE: usize = usize::MAX;

fn port(h: usize) -> Result<CompletionPort, WsaError> {
    match handles::get(h) {
        Some(Object::Port(p)) => Ok(p),
        _ => Err(WsaError::WSA_INVALID_HANDLE),
    }
}

/// Records named only by `PostQueuedCompletionStatus` (no operation).
fn posted() -> std::sync::MutexGuard<'static, HashMap<usize, Overlapped>> {
    static P: OnceLock<Mutex<HashMap<usize, Overlapped>>> = OnceLock::new();
    P.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn associated() -> std::sync::MutexGuard<'static, std::collections::HashSet<usize>> {
    static A: OnceLock<Mutex<std::collections::HashSet<usize>>> = OnceLock::new();
    A.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Whether the `SOCKET` handle `s` was ever associated with a port.
pub fn is_associated(s: usize) -> bool {
    associated().contains(&s)
}

#[export_name = "CreateIoCompletionPort"]
extern "C" fn create_io_completion_port(
    file: usize,
    existing: usize,
    key: usize,
    threads: u32,
) -> usize {
    let result = (|| {
        let (p, h) = if existing == 0 {
            let p = CompletionPort::new(threads)?;
            let h = handles::insert(Object::Port(p.clone()));
            (p, h)
        } else {
            (port(existing)?, existing)
        };
        if file != INVALID_HANDLE_VALUE {
            let sock = handles::socket(file).map_err(|_| WsaError::WSA_INVALID_HANDLE)?;
            if let Err(e) = p.associate(&sock, key) {
                if existing == 0 {
                    handles::remove(h);
                    p.close();
                }
                return Err(e);
            }
            associated().insert(file);
        }
        Ok(h)
    })();
    match result {
        Ok(h) => h,
        Err(e) => {
            last_error::set(e.0 as u32);
            0
        }
    }
}

/// The C record of a packet, settled (results copied out) if it is an operation's.
fn c_record(entry: &CompletionEntry) -> usize {
    let Some(ov) = &entry.overlapped else {
        return 0;
    };
    if let Some((&c, _)) = posted().iter().find(|(_, o)| o.same(ov)) {
        return c;
    }
    match records::find(ov) {
        Some((c, entry)) => {
            records::settle_this(c, &entry);
            c
        }
        None => 0,
    }
}

#[export_name = "GetQueuedCompletionStatus"]
unsafe extern "C" fn get_queued_completion_status(
    h: usize,
    bytes: *mut u32,
    key: *mut usize,
    ov: *mut *mut CRecord,
    ms: u32,
) -> i32 {
    if bytes.is_null() || key.is_null() || ov.is_null() {
        return fail_false(WsaError::WSA_INVALID_PARAMETER);
    }
    let r = port(h).and_then(|p| p.get_queued_completion_status(timeout_ms(ms)));
    match r {
        Ok(entry) => {
            let c = c_record(&entry);
            // SAFETY: non-null out-parameters (Windows' contract).
            unsafe {
                *bytes = entry.bytes;
                *key = entry.key;
                *ov = c as *mut CRecord;
            }
            if entry.error.is_ok() {
                // Success leaves the last error as it was (fact 138).
                TRUE
            } else {
                fail_false(entry.win32_error())
            }
        }
        Err(e) => {
            // SAFETY: non-null (Windows' contract).
            unsafe { *ov = std::ptr::null_mut() };
            fail_false(e)
        }
    }
}

/// `OVERLAPPED_ENTRY` (32 bytes on x64).
#[repr(C)]
pub struct OverlappedEntry {
    /// `lpCompletionKey`.
    pub key: usize,
    /// `lpOverlapped`.
    pub overlapped: *mut CRecord,
    /// `Internal`.
    pub internal: usize,
    /// `dwNumberOfBytesTransferred`.
    pub bytes: u32,
}

#[export_name = "GetQueuedCompletionStatusEx"]
unsafe extern "C" fn get_queued_completion_status_ex(
    h: usize,
    out: *mut OverlappedEntry,
    count: u32,
    removed: *mut u32,
    ms: u32,
    alertable: i32,
) -> i32 {
    if out.is_null() || removed.is_null() || count == 0 {
        return fail_false(WsaError::WSA_INVALID_PARAMETER);
    }
    let mut entries = Vec::new();
    let r = port(h).and_then(|p| {
        p.get_queued_completion_status_ex(
            &mut entries,
            count as usize,
            timeout_ms(ms),
            alertable != 0,
        )
    });
    match r {
        Ok(n) => {
            for (i, e) in entries.iter().enumerate().take(n) {
                let c = c_record(e);
                // SAFETY: `count >= n` entries at `out` (Windows' contract).
                unsafe {
                    *out.add(i) = OverlappedEntry {
                        key: e.key,
                        overlapped: c as *mut CRecord,
                        internal: records::ntstatus(e.error),
                        bytes: e.bytes,
                    };
                }
            }
            // SAFETY: non-null (Windows' contract).
            unsafe { *removed = n as u32 };
            TRUE
        }
        Err(e) => {
            // SAFETY: non-null (Windows' contract).
            unsafe { *removed = 0 };
            fail_false(e)
        }
    }
}

#[export_name = "PostQueuedCompletionStatus"]
extern "C" fn post_queued_completion_status(
    h: usize,
    bytes: u32,
    key: usize,
    c: *mut CRecord,
) -> i32 {
    let p = match port(h) {
        Ok(p) => p,
        Err(e) => return fail_false(e),
    };
    let r = if c.is_null() {
        p.post_queued_completion_status(bytes, key, None)
    } else {
        let mut map = posted();
        let ov = map.entry(c as usize).or_default();
        p.post_queued_completion_status(bytes, key, Some(ov))
    };
    match r {
        Ok(()) => TRUE,
        Err(e) => fail_false(e),
    }
}

#[export_name = "SetFileCompletionNotificationModes"]
extern "C" fn set_file_completion_notification_modes(h: usize, flags: u8) -> i32 {
    let r = handles::socket(h).and_then(|s| {
        s.set_file_completion_notification_modes(NotificationModes::from_bits_retain(flags))
    });
    match r {
        Ok(()) => TRUE,
        Err(e) => fail_false(e),
    }
}

#[export_name = "CancelIo"]
extern "C" fn cancel_io_c(h: usize) -> i32 {
    match handles::socket(h).and_then(|s| cancel_io(&s)) {
        Ok(()) => TRUE,
        Err(e) => fail_false(e),
    }
}

#[export_name = "CancelIoEx"]
extern "C" fn cancel_io_ex_c(h: usize, c: *mut CRecord) -> i32 {
    let sock = match handles::socket(h) {
        Ok(s) => s,
        Err(e) => return fail_false(e),
    };
    let r = if c.is_null() {
        cancel_io_ex(&sock, None)
    } else {
        match records::entry(c as usize) {
            Some(e) => {
                let ov = e.ov.lock().unwrap_or_else(|e| e.into_inner());
                cancel_io_ex(&sock, Some(&ov))
            }
            None => Err(WsaError::ERROR_NOT_FOUND),
        }
    };
    match r {
        Ok(()) => TRUE,
        Err(e) => fail_false(e),
    }
}
