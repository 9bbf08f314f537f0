//! The rest of Win32 that socket programs call: `GetSystemInfo`,
//! `GetTickCount`, `QueryPerformanceCounter`, heaps (`HeapAlloc`...,
//! `LocalFree`), `FormatMessage` for Winsock and Win32 codes,
//! `MessageBox` (to stderr: these are console programs),
//! `OutputDebugString`, and `SetConsoleCtrlHandler` (SIGINT, SIGTERM, SIGHUP).

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use overlapped::WsaError;

use crate::last_error;
use crate::{FALSE, TRUE};

/// `SYSTEM_INFO` of Windows x64 (48 bytes).
#[repr(C)]
pub struct SystemInfo {
    /// `wProcessorArchitecture`.
    pub arch: u16,
    /// `wReserved`.
    pub reserved: u16,
    /// `dwPageSize`.
    pub page_size: u32,
    /// `lpMinimumApplicationAddress`.
    pub min_addr: usize,
    /// `lpMaximumApplicationAddress`.
    pub max_addr: usize,
    /// `dwActiveProcessorMask`.
    pub mask: usize,
    /// `dwNumberOfProcessors`.
    pub processors: u32,
    /// `dwProcessorType`.
    pub processor_type: u32,
    /// `dwAllocationGranularity`.
    pub granularity: u32,
    /// `wProcessorLevel`.
    pub level: u16,
    /// `wProcessorRevision`.
    pub revision: u16,
}

#[export_name = "GetSystemInfo"]
unsafe extern "C" fn get_system_info(info: *mut SystemInfo) {
    if info.is_null() {
        return;
    }
    let n = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
    let arch = if cfg!(target_arch = "aarch64") { 12 } else { 9 };
    // SAFETY: a valid SYSTEM_INFO (Windows' contract).
    unsafe {
        info.write(SystemInfo {
            arch,
            reserved: 0,
            page_size: page,
            min_addr: 0x10000,
            max_addr: 0x7FFF_FFFE_FFFF,
            mask: if n >= 64 {
                usize::MAX
            } else {
                (1usize << n) - 1
            },
            processors: n,
            processor_type: 8664,
            granularity: 65536,
            level: 6,
            revision: 0,
        })
    };
}

fn start() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

#[export_name = "GetTickCount"]
extern "C" fn get_tick_count() -> u32 {
    monotonic_ms() as u32
}

#[export_name = "GetTickCount64"]
extern "C" fn get_tick_count64() -> u64 {
    monotonic_ms()
}

#[export_name = "QueryPerformanceCounter"]
unsafe extern "C" fn query_performance_counter(out: *mut i64) -> i32 {
    if out.is_null() {
        return FALSE;
    }
    // SAFETY: valid out-parameter (Windows' contract).
    unsafe { *out = start().elapsed().as_nanos() as i64 };
    TRUE
}

#[export_name = "QueryPerformanceFrequency"]
unsafe extern "C" fn query_performance_frequency(out: *mut i64) -> i32 {
    if out.is_null() {
        return FALSE;
    }
    // SAFETY: valid out-parameter (Windows' contract).
    unsafe { *out = 1_000_000_000 };
    TRUE
}

const HEAP: usize = 0x7E40;
const HEAP_ZERO_MEMORY: u32 = 0x8;
const LMEM_ZEROINIT: u32 = 0x40;

fn alloc(n: usize, zero: bool) -> *mut libc::c_void {
    // SAFETY: plain allocations; freed by the matching Free calls.
    unsafe {
        if zero {
            libc::calloc(1, n.max(1))
        } else {
            libc::malloc(n.max(1))
        }
    }
}

#[export_name = "GetProcessHeap"]
extern "C" fn get_process_heap() -> usize {
    HEAP
}

#[export_name = "HeapAlloc"]
extern "C" fn heap_alloc(_heap: usize, flags: u32, n: usize) -> *mut libc::c_void {
    alloc(n, flags & HEAP_ZERO_MEMORY != 0)
}

#[export_name = "HeapReAlloc"]
unsafe extern "C" fn heap_realloc(
    _heap: usize,
    flags: u32,
    p: *mut libc::c_void,
    n: usize,
) -> *mut libc::c_void {
    // SAFETY: `p` came from HeapAlloc (Windows' contract).
    let old = unsafe { libc::malloc_usable_size(p) };
    // SAFETY: as above.
    let q = unsafe { libc::realloc(p, n.max(1)) };
    if !q.is_null() && flags & HEAP_ZERO_MEMORY != 0 && n > old {
        // SAFETY: the grown tail of the new block.
        unsafe { std::ptr::write_bytes((q as *mut u8).add(old), 0, n - old) };
    }
    q
}

#[export_name = "HeapFree"]
unsafe extern "C" fn heap_free(_heap: usize, _flags: u32, p: *mut libc::c_void) -> i32 {
    // SAFETY: `p` came from HeapAlloc or is null (Windows' contract).
    unsafe { libc::free(p) };
    TRUE
}

#[export_name = "HeapSize"]
unsafe extern "C" fn heap_size(_heap: usize, _flags: u32, p: *const libc::c_void) -> usize {
    // SAFETY: `p` came from HeapAlloc (Windows' contract). At least the size asked for.
    unsafe { libc::malloc_usable_size(p as *mut libc::c_void) }
}

#[export_name = "LocalAlloc"]
extern "C" fn local_alloc(flags: u32, n: usize) -> *mut libc::c_void {
    alloc(n, flags & LMEM_ZEROINIT != 0)
}

#[export_name = "LocalFree"]
unsafe extern "C" fn local_free(p: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `p` came from LocalAlloc / FormatMessage or is null.
    unsafe { libc::free(p) };
    std::ptr::null_mut()
}

#[export_name = "GlobalAlloc"]
extern "C" fn global_alloc(flags: u32, n: usize) -> *mut libc::c_void {
    alloc(n, flags & LMEM_ZEROINIT != 0)
}

#[export_name = "GlobalFree"]
unsafe extern "C" fn global_free(p: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `p` came from GlobalAlloc or is null.
    unsafe { libc::free(p) };
    std::ptr::null_mut()
}

const FORMAT_MESSAGE_ALLOCATE_BUFFER: u32 = 0x100;
const FORMAT_MESSAGE_FROM_SYSTEM: u32 = 0x1000;
const ERROR_MR_MID_NOT_FOUND: u32 = 317;

/// The system text of a Winsock or Win32 code, as Windows ends it (CR LF).
pub fn message_text(code: u32) -> Option<String> {
    let text = match code {
        0 => "The operation completed successfully.",
        8 => "Not enough memory resources are available to process this command.",
        10093 => "Either the application has not called WSAStartup, or WSAStartup failed.",
        10092 => "The Windows Sockets version requested is not supported.",
        10109 => "The specified class was not found.",
        _ => WsaError(code as i32).message()?,
    };
    Some(format!("{text}\r\n"))
}

#[export_name = "FormatMessageA"]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn format_message(
    flags: u32,
    _source: *const u8,
    id: u32,
    _lang: u32,
    buffer: *mut u8,
    size: u32,
    _args: *mut u8,
) -> u32 {
    if flags & FORMAT_MESSAGE_FROM_SYSTEM == 0 {
        last_error::set(WsaError::ERROR_NOT_SUPPORTED.0 as u32);
        return 0;
    }
    if buffer.is_null() {
        last_error::set(WsaError::WSA_INVALID_PARAMETER.0 as u32);
        return 0;
    }
    let Some(text) = message_text(id) else {
        last_error::set(ERROR_MR_MID_NOT_FOUND);
        return 0;
    };
    let n = text.len();
    if flags & FORMAT_MESSAGE_ALLOCATE_BUFFER != 0 {
        let p = alloc(n.max(size as usize) + 1, true) as *mut u8;
        if p.is_null() {
            last_error::set(8);
            return 0;
        }
        // SAFETY: `p` has n + 1 bytes; `buffer` is really a `char **` here
        // (Windows' contract of FORMAT_MESSAGE_ALLOCATE_BUFFER).
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), p, n);
            (buffer as *mut *mut u8).write_unaligned(p);
        }
    } else {
        if (size as usize) < n + 1 {
            last_error::set(WsaError::ERROR_INSUFFICIENT_BUFFER.0 as u32);
            return 0;
        }
        // SAFETY: `size >= n + 1` writable bytes at `buffer` (Windows' contract).
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buffer, n);
            *buffer.add(n) = 0;
        }
    }
    n as u32
}

/// # Safety
/// `s` is null or NUL-terminated.
unsafe fn text(s: *const libc::c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: caller.
    unsafe { std::ffi::CStr::from_ptr(s) }
        .to_string_lossy()
        .into_owned()
}

#[export_name = "MessageBoxA"]
unsafe extern "C" fn message_box(
    _wnd: usize,
    msg: *const libc::c_char,
    caption: *const libc::c_char,
    _ty: u32,
) -> i32 {
    // SAFETY: strings or null (Windows' contract).
    let (m, c) = unsafe { (text(msg), text(caption)) };
    eprintln!("{c}: {m}");
    1 // IDOK
}

#[export_name = "OutputDebugStringA"]
unsafe extern "C" fn output_debug_string(msg: *const libc::c_char) {
    // SAFETY: a string or null (Windows' contract).
    eprint!("{}", unsafe { text(msg) });
}

#[export_name = "DebugBreak"]
extern "C" fn debug_break() {
    // SAFETY: raises SIGTRAP in this process, as a breakpoint does.
    unsafe { libc::raise(libc::SIGTRAP) };
}

type Handler = unsafe extern "C" fn(u32) -> i32;

struct CtrlState {
    handlers: Vec<Handler>,
    ignore: bool,
    installed: bool,
}

fn ctrl() -> std::sync::MutexGuard<'static, CtrlState> {
    static S: OnceLock<Mutex<CtrlState>> = OnceLock::new();
    S.get_or_init(|| {
        Mutex::new(CtrlState {
            handlers: Vec::new(),
            ignore: false,
            installed: false,
        })
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

fn install() -> bool {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return false;
    };
    std::thread::Builder::new()
        .name("console-ctrl".into())
        .spawn(move || {
            for sig in signals.forever() {
                let event = if sig == SIGINT { 0 } else { 2 }; // CTRL_C_EVENT, CTRL_CLOSE_EVENT
                let (list, ignore) = {
                    let s = ctrl();
                    (s.handlers.clone(), s.ignore)
                };
                if event == 0 && ignore {
                    continue;
                }
                // Last registered first; the first that returns TRUE ends the dispatch.
                // SAFETY: the program's handlers, called with Windows' control codes.
                let handled = list.iter().rev().any(|h| unsafe { h(event) } != 0);
                if !handled {
                    std::process::exit(128 + sig);
                }
                if event != 0 {
                    // CTRL_CLOSE_EVENT: Windows ends the process soon after the
                    // handler; here the program gets 5 s to finish on its own.
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    std::process::exit(128 + sig);
                }
            }
        })
        .is_ok()
}

#[export_name = "SetConsoleCtrlHandler"]
extern "C" fn set_console_ctrl_handler(handler: Option<Handler>, add: i32) -> i32 {
    let mut s = ctrl();
    match (handler, add != 0) {
        (None, on) => s.ignore = on,
        (Some(h), true) => s.handlers.push(h),
        (Some(h), false) => {
            let Some(i) = s.handlers.iter().rposition(|&x| x as usize == h as usize) else {
                drop(s);
                last_error::set(WsaError::WSA_INVALID_PARAMETER.0 as u32);
                return FALSE;
            };
            s.handlers.remove(i);
        }
    }
    if !s.installed {
        s.installed = true;
        drop(s);
        if !install() {
            ctrl().installed = false;
            last_error::set(WsaError::ERROR_NOT_SUPPORTED.0 as u32);
            return FALSE;
        }
    }
    TRUE
}

#[export_name = "GenerateConsoleCtrlEvent"]
extern "C" fn generate_console_ctrl_event(event: u32, _group: u32) -> i32 {
    let sig = if event == 0 || event == 1 {
        libc::SIGINT
    } else {
        libc::SIGTERM
    };
    // SAFETY: signals this process.
    unsafe { libc::kill(libc::getpid(), sig) };
    TRUE
}

/// `GetStdHandle`'s handles: the values Windows uses for the three streams'
/// pseudo-handles are kept as they are (`(HANDLE)-10`, -11, -12).
const STD_INPUT: usize = (-10i64) as usize;
const STD_OUTPUT: usize = (-11i64) as usize;
const STD_ERROR: usize = (-12i64) as usize;

#[export_name = "GetStdHandle"]
extern "C" fn get_std_handle(which: u32) -> usize {
    match which as i32 {
        -10 => STD_INPUT,
        -11 => STD_OUTPUT,
        -12 => STD_ERROR,
        _ => {
            last_error::set(6); // ERROR_INVALID_HANDLE
            usize::MAX
        }
    }
}

/// Writes to the standard output or error of a `GetStdHandle` handle.
///
/// # Safety
/// `buf` has `len` readable bytes; `written` is null or valid.
unsafe fn write_std(h: usize, buf: *const u8, len: u32, written: *mut u32) -> i32 {
    let fd = match h {
        STD_OUTPUT => 1,
        STD_ERROR => 2,
        _ => {
            last_error::set(6);
            return FALSE;
        }
    };
    if len > 0 && buf.is_null() {
        last_error::set(WsaError::WSA_INVALID_PARAMETER.0 as u32);
        return FALSE;
    }
    // C's stdio may hold earlier output: keep the order the program wrote in.
    // SAFETY: flushing every C stream is always allowed.
    unsafe { libc::fflush(std::ptr::null_mut()) };
    let mut done = 0usize;
    while done < len as usize {
        // SAFETY: the rest of the caller's buffer.
        let n = unsafe { libc::write(fd, buf.add(done).cast(), len as usize - done) };
        if n < 0 {
            last_error::set(WsaError::from_io(&std::io::Error::last_os_error()).0 as u32);
            return FALSE;
        }
        done += n as usize;
    }
    if !written.is_null() {
        // SAFETY: valid (caller).
        unsafe { *written = done as u32 };
    }
    TRUE
}

#[export_name = "WriteConsoleA"]
unsafe extern "C" fn write_console(
    h: usize,
    buf: *const u8,
    len: u32,
    written: *mut u32,
    _reserved: usize,
) -> i32 {
    // SAFETY: Windows' contract of WriteConsoleA.
    unsafe { write_std(h, buf, len, written) }
}

#[export_name = "WriteFile"]
unsafe extern "C" fn write_file(
    h: usize,
    buf: *const u8,
    len: u32,
    written: *mut u32,
    ov: usize,
) -> i32 {
    if ov != 0 {
        // Overlapped file I/O is not part of this interface.
        last_error::set(WsaError::ERROR_NOT_SUPPORTED.0 as u32);
        return FALSE;
    }
    // SAFETY: Windows' contract of WriteFile (console handles only).
    unsafe { write_std(h, buf, len, written) }
}
