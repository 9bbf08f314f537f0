//! File handles for `TransmitFile` and `TransmitPackets`: `CreateFileA`
//! (and `CreateFileW`), `GetFileSize`, `GetFileSizeEx`, `SetFilePointerEx`,
//! `CloseHandle` (in [`crate::events`]). A file handle is a table handle
//! like any other, never the descriptor itself.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use crate::handles::{self, Object};
use crate::last_error;

/// `INVALID_HANDLE_VALUE`.
pub const INVALID_HANDLE_VALUE: usize = usize::MAX;
const GENERIC_READ: u32 = 0x8000_0000;
const GENERIC_WRITE: u32 = 0x4000_0000;
const GENERIC_ALL: u32 = 0x1000_0000;
const ERROR_FILE_NOT_FOUND: u32 = 2;
const ERROR_PATH_NOT_FOUND: u32 = 3;
const ERROR_ACCESS_DENIED: u32 = 5;
const ERROR_INVALID_HANDLE: u32 = 6;
const ERROR_INVALID_PARAMETER: u32 = 87;
const ERROR_FILE_EXISTS: u32 = 80;
const ERROR_ALREADY_EXISTS: u32 = 183;

/// Windows' error code for a failed open.
fn open_error(e: &std::io::Error) -> u32 {
    match e.raw_os_error() {
        Some(libc::ENOENT) => ERROR_FILE_NOT_FOUND,
        Some(libc::ENOTDIR) => ERROR_PATH_NOT_FOUND,
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EISDIR) => ERROR_ACCESS_DENIED,
        Some(libc::EEXIST) => ERROR_FILE_EXISTS,
        _ => ERROR_INVALID_PARAMETER,
    }
}

/// Opens `path` as `CreateFile` does; the new handle or `INVALID_HANDLE_VALUE`.
pub fn create_file(path: &str, access: u32, disposition: u32) -> usize {
    let mut o = OpenOptions::new();
    let all = access & GENERIC_ALL != 0;
    o.read(access & GENERIC_READ != 0 || all || access & GENERIC_WRITE == 0)
        .write(access & GENERIC_WRITE != 0 || all)
        .custom_flags(libc::O_CLOEXEC);
    let existed = std::path::Path::new(path).exists();
    match disposition {
        1 => o.create_new(true),            // CREATE_NEW
        2 => o.create(true).truncate(true), // CREATE_ALWAYS
        3 => &mut o,                        // OPEN_EXISTING
        4 => o.create(true),                // OPEN_ALWAYS
        5 => o.truncate(true),              // TRUNCATE_EXISTING
        _ => {
            last_error::set(ERROR_INVALID_PARAMETER);
            return INVALID_HANDLE_VALUE;
        }
    };
    if matches!(disposition, 2 | 4) && access & (GENERIC_WRITE | GENERIC_ALL) == 0 {
        o.write(true);
    }
    match o.open(path) {
        Ok(f) => {
            // CREATE_ALWAYS / OPEN_ALWAYS on an existing file succeed with
            // ERROR_ALREADY_EXISTS; otherwise the last error is cleared.
            let code = if existed && matches!(disposition, 2 | 4) {
                ERROR_ALREADY_EXISTS
            } else {
                0
            };
            last_error::set(code);
            handles::insert(Object::File(Arc::new(f)))
        }
        Err(e) => {
            last_error::set(open_error(&e));
            INVALID_HANDLE_VALUE
        }
    }
}

/// The file behind `h`, or `ERROR_INVALID_HANDLE` as the last error.
pub fn file(h: usize) -> Option<Arc<File>> {
    match handles::get(h) {
        Some(Object::File(f)) => Some(f),
        _ => {
            last_error::set(ERROR_INVALID_HANDLE);
            None
        }
    }
}

#[export_name = "CreateFileA"]
unsafe extern "C" fn create_file_a(
    name: *const libc::c_char,
    access: u32,
    _share: u32,
    _security: *const u8,
    disposition: u32,
    _flags: u32,
    _template: usize,
) -> usize {
    if name.is_null() {
        last_error::set(ERROR_PATH_NOT_FOUND);
        return INVALID_HANDLE_VALUE;
    }
    // SAFETY: a NUL-terminated string (Windows' contract).
    let path = unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy();
    create_file(&path, access, disposition)
}

fn size_of(h: usize) -> Option<u64> {
    let f = file(h)?;
    match f.metadata() {
        Ok(m) => Some(m.len()),
        Err(_) => {
            last_error::set(ERROR_INVALID_HANDLE);
            None
        }
    }
}

/// `INVALID_FILE_SIZE`.
const INVALID_FILE_SIZE: u32 = 0xFFFF_FFFF;

#[export_name = "GetFileSize"]
unsafe extern "C" fn get_file_size(h: usize, high: *mut u32) -> u32 {
    match size_of(h) {
        Some(n) => {
            if !high.is_null() {
                // SAFETY: valid (Windows' contract).
                unsafe { *high = (n >> 32) as u32 };
            }
            last_error::set(0);
            n as u32
        }
        None => INVALID_FILE_SIZE,
    }
}

#[export_name = "GetFileSizeEx"]
unsafe extern "C" fn get_file_size_ex(h: usize, size: *mut i64) -> i32 {
    if size.is_null() {
        last_error::set(ERROR_INVALID_PARAMETER);
        return crate::FALSE;
    }
    match size_of(h) {
        Some(n) => {
            // SAFETY: a valid LARGE_INTEGER (Windows' contract).
            unsafe { *size = n as i64 };
            crate::TRUE
        }
        None => crate::FALSE,
    }
}

#[export_name = "SetFilePointerEx"]
unsafe extern "C" fn set_file_pointer_ex(
    h: usize,
    distance: i64,
    new: *mut i64,
    method: u32,
) -> i32 {
    let Some(f) = file(h) else {
        return crate::FALSE;
    };
    let pos = match method {
        0 if distance >= 0 => SeekFrom::Start(distance as u64), // FILE_BEGIN
        1 => SeekFrom::Current(distance),                       // FILE_CURRENT
        2 => SeekFrom::End(distance),                           // FILE_END
        _ => {
            last_error::set(ERROR_INVALID_PARAMETER);
            return crate::FALSE;
        }
    };
    match (&*f).seek(pos) {
        Ok(p) => {
            if !new.is_null() {
                // SAFETY: a valid LARGE_INTEGER (Windows' contract).
                unsafe { *new = p as i64 };
            }
            crate::TRUE
        }
        Err(_) => {
            last_error::set(ERROR_INVALID_PARAMETER);
            crate::FALSE
        }
    }
}
