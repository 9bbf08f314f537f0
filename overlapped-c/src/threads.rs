//! Threads and what runs on them: `CreateThread`, `_beginthreadex`,
//! `ExitThread`, `GetExitCodeThread`, `ResumeThread`, `QueueUserAPC`,
//! `GetCurrentThread(Id)`, and `CRITICAL_SECTION`.
//!
//! Threads are started with `pthread_create` and a C-ABI trampoline, so
//! that `ExitThread` (`pthread_exit`) unwinds only frames without
//! destructors; the thread's handle is signalled when it ends.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use overlapped::{queue_user_apc, Event, ThreadHandle, WsaError};

use crate::handles::{self, Object};
use crate::last_error::{self, fail_false};

const STILL_ACTIVE: u32 = 259;
const CREATE_SUSPENDED: u32 = 4;
/// `GetCurrentThread()`'s pseudo-handle, as Windows returns it.
const CURRENT_THREAD: usize = usize::MAX - 1;

/// A thread started by this library.
pub struct ThreadObject {
    /// Signalled (manual reset) when the thread has ended.
    pub exited: Event,
    code: AtomicU32,
    /// The thread's APC queue once it runs; started (not suspended); its id.
    state: Mutex<(Option<ThreadHandle>, bool, u32)>,
    changed: Condvar,
}

thread_local! {
    static CURRENT: Cell<*const ThreadObject> = const { Cell::new(std::ptr::null()) };
}

type Start = unsafe extern "C" fn(*mut libc::c_void) -> u32;

struct Launch {
    start: Start,
    param: usize,
    object: Arc<ThreadObject>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Marks the thread ended with `code` and releases its reference.
///
/// # Safety
/// `object` came from `Arc::into_raw` and is released once.
unsafe fn finish(object: *const ThreadObject, code: u32) {
    // SAFETY: one reference owned by the thread (caller).
    let object = unsafe { Arc::from_raw(object) };
    object.code.store(code, Ordering::SeqCst);
    CURRENT.with(|c| c.set(std::ptr::null()));
    object.exited.set();
}

/// Prepares the new thread and returns (start, param, object) as plain values.
fn prepare(arg: *mut libc::c_void) -> (Start, usize, *const ThreadObject) {
    // SAFETY: `arg` is the Box<Launch> leaked by `spawn`, taken once here.
    let launch = unsafe { Box::from_raw(arg as *mut Launch) };
    let Launch {
        start,
        param,
        object,
    } = *launch;
    {
        let mut st = lock(&object.state);
        st.0 = ThreadHandle::current().ok();
        // SAFETY: gettid has no preconditions.
        st.2 = unsafe { libc::gettid() } as u32;
        object.changed.notify_all();
        while !st.1 {
            st = object.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
    let raw = Arc::into_raw(object);
    CURRENT.with(|c| c.set(raw));
    (start, param, raw)
}

extern "C-unwind" fn trampoline(arg: *mut libc::c_void) -> *mut libc::c_void {
    let (start, param, raw) = prepare(arg);
    // No value with a destructor is alive here: ExitThread may unwind this frame.
    // SAFETY: the program's thread function, called with its parameter.
    let code = unsafe { start(param as *mut libc::c_void) };
    // SAFETY: the reference taken in `prepare`, released once.
    unsafe { finish(raw, code) };
    std::ptr::null_mut()
}

/// Starts a thread running `start(param)`; returns its handle and id.
fn spawn(
    start: Start,
    param: usize,
    stack: usize,
    suspended: bool,
) -> Result<(usize, u32), WsaError> {
    let object = Arc::new(ThreadObject {
        exited: Event::with_reset(true, false),
        code: AtomicU32::new(STILL_ACTIVE),
        state: Mutex::new((None, !suspended, 0)),
        changed: Condvar::new(),
    });
    let launch = Box::into_raw(Box::new(Launch {
        start,
        param,
        object: object.clone(),
    }));
    // SAFETY: plain pthread calls on local, initialised values; the
    // trampoline takes ownership of `launch` only if the thread starts.
    let r = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        if stack >= libc::PTHREAD_STACK_MIN {
            libc::pthread_attr_setstacksize(&mut attr, stack);
        }
        let mut tid: libc::pthread_t = 0;
        let r = libc::pthread_create(&mut tid, &attr, trampoline_c, launch.cast());
        libc::pthread_attr_destroy(&mut attr);
        if r == 0 {
            libc::pthread_detach(tid);
        }
        r
    };
    if r != 0 {
        // SAFETY: the thread did not start: the launch is still ours.
        drop(unsafe { Box::from_raw(launch) });
        return Err(WsaError::from_errno(r));
    }
    // The id (GetCurrentThreadId on that thread) is known once it runs.
    let tid = {
        let mut st = lock(&object.state);
        while st.2 == 0 {
            st = object.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.2
    };
    let h = handles::insert(Object::Thread(object));
    Ok((h, tid))
}

/// The trampoline as the `extern "C"` type pthread_create takes (same ABI).
extern "C" fn trampoline_c(arg: *mut libc::c_void) -> *mut libc::c_void {
    trampoline(arg)
}

#[export_name = "CreateThread"]
unsafe extern "C" fn create_thread(
    _attrs: *const u8,
    stack: usize,
    start: Option<Start>,
    param: *mut libc::c_void,
    flags: u32,
    id: *mut u32,
) -> usize {
    let Some(start) = start else {
        last_error::set(WsaError::WSA_INVALID_PARAMETER.0 as u32);
        return 0;
    };
    match spawn(start, param as usize, stack, flags & CREATE_SUSPENDED != 0) {
        Ok((h, tid)) => {
            if !id.is_null() {
                // SAFETY: non-null (Windows' contract).
                unsafe { *id = tid };
            }
            h
        }
        Err(e) => {
            last_error::set(e.0 as u32);
            0
        }
    }
}

#[export_name = "_beginthreadex"]
unsafe extern "C" fn begin_thread_ex(
    _security: *const u8,
    stack: u32,
    start: Option<Start>,
    param: *mut libc::c_void,
    flags: u32,
    id: *mut u32,
) -> usize {
    // SAFETY: the same contract as CreateThread.
    unsafe { create_thread(std::ptr::null(), stack as usize, start, param, flags, id) }
}

type Start0 = unsafe extern "C" fn(*mut libc::c_void);

unsafe extern "C" fn void_adapter(param: *mut libc::c_void) -> u32 {
    // SAFETY: `param` points to the (function, parameter) pair leaked by _beginthread.
    let pair = unsafe { Box::from_raw(param as *mut (Start0, usize)) };
    let (f, p) = *pair;
    // SAFETY: the program's thread function.
    unsafe { f(p as *mut libc::c_void) };
    0
}

#[export_name = "_beginthread"]
unsafe extern "C" fn begin_thread(
    start: Option<Start0>,
    stack: u32,
    param: *mut libc::c_void,
) -> usize {
    let Some(start) = start else {
        return usize::MAX;
    };
    let pair = Box::into_raw(Box::new((start, param as usize)));
    match spawn(void_adapter, pair as usize, stack as usize, false) {
        Ok((h, _)) => h,
        Err(e) => {
            // SAFETY: not started: the pair is still ours.
            drop(unsafe { Box::from_raw(pair) });
            last_error::set(e.0 as u32);
            usize::MAX
        }
    }
}

#[export_name = "ExitThread"]
extern "C-unwind" fn exit_thread(code: u32) -> ! {
    let raw = CURRENT.with(|c| c.replace(std::ptr::null()));
    if !raw.is_null() {
        // SAFETY: the thread's own reference, released once (CURRENT cleared).
        unsafe { finish(raw, code) };
    }
    // SAFETY: ends the calling thread; the frames above are the program's
    // and the trampoline, which holds no value with a destructor.
    unsafe { libc::pthread_exit(std::ptr::null_mut()) }
}

#[export_name = "_endthreadex"]
extern "C-unwind" fn end_thread_ex(code: u32) -> ! {
    exit_thread(code)
}

#[export_name = "_endthread"]
extern "C-unwind" fn end_thread() -> ! {
    exit_thread(0)
}

fn thread_object(h: usize) -> Option<Arc<ThreadObject>> {
    match handles::get(h) {
        Some(Object::Thread(t)) => Some(t),
        _ => None,
    }
}

#[export_name = "GetExitCodeThread"]
unsafe extern "C" fn get_exit_code_thread(h: usize, code: *mut u32) -> i32 {
    match (thread_object(h), code.is_null()) {
        (Some(t), false) => {
            // SAFETY: non-null (Windows' contract).
            unsafe { *code = t.code.load(Ordering::SeqCst) };
            crate::TRUE
        }
        _ => fail_false(WsaError::WSA_INVALID_HANDLE),
    }
}

#[export_name = "ResumeThread"]
extern "C" fn resume_thread(h: usize) -> u32 {
    match thread_object(h) {
        Some(t) => {
            let mut st = lock(&t.state);
            let was = u32::from(!st.1);
            st.1 = true;
            t.changed.notify_all();
            was
        }
        None => {
            last_error::set(WsaError::WSA_INVALID_HANDLE.0 as u32);
            u32::MAX
        }
    }
}

#[export_name = "GetCurrentThread"]
extern "C" fn get_current_thread() -> usize {
    CURRENT_THREAD
}

#[export_name = "GetCurrentThreadId"]
extern "C" fn get_current_thread_id() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

#[export_name = "GetCurrentProcessId"]
extern "C" fn get_current_process_id() -> u32 {
    std::process::id()
}

#[export_name = "ExitProcess"]
extern "C" fn exit_process(code: u32) -> ! {
    std::process::exit(code as i32)
}

type Apc = unsafe extern "C" fn(usize);

#[export_name = "QueueUserAPC"]
extern "C" fn queue_user_apc_c(apc: Option<Apc>, h: usize, data: usize) -> u32 {
    let Some(apc) = apc else {
        last_error::set(WsaError::WSA_INVALID_PARAMETER.0 as u32);
        return 0;
    };
    let target = if h == CURRENT_THREAD {
        ThreadHandle::current().ok()
    } else if let Some(t) = thread_object(h) {
        let mut st = lock(&t.state);
        while st.0.is_none() && !t.exited.is_set() {
            st = t.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.0.clone()
    } else {
        None
    };
    let Some(target) = target else {
        last_error::set(WsaError::WSA_INVALID_HANDLE.0 as u32);
        return 0;
    };
    // SAFETY: the program's APC, run on the target thread with its data.
    let queued = queue_user_apc(&target, move || unsafe { apc(data) });
    u32::from(queued)
}

/// The lock behind a `CRITICAL_SECTION` (kept in its `DebugInfo` field).
///
/// # Safety
/// `cs` points to a `CRITICAL_SECTION` (40 bytes).
unsafe fn mutex_of(cs: *mut u8) -> *mut libc::pthread_mutex_t {
    // SAFETY: the first field is a pointer (caller).
    unsafe { *(cs as *mut *mut libc::pthread_mutex_t) }
}

#[export_name = "InitializeCriticalSection"]
unsafe extern "C" fn initialize_critical_section(cs: *mut u8) {
    // SAFETY: a fresh recursive mutex, boxed so it never moves; stored in `cs`.
    unsafe {
        let m = Box::into_raw(Box::new(std::mem::zeroed::<libc::pthread_mutex_t>()));
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        libc::pthread_mutexattr_settype(&mut attr, libc::PTHREAD_MUTEX_RECURSIVE);
        libc::pthread_mutex_init(m, &attr);
        libc::pthread_mutexattr_destroy(&mut attr);
        std::ptr::write_bytes(cs, 0, 40);
        *(cs as *mut *mut libc::pthread_mutex_t) = m;
    }
}

#[export_name = "InitializeCriticalSectionAndSpinCount"]
unsafe extern "C" fn initialize_critical_section_and_spin_count(cs: *mut u8, _spin: u32) -> i32 {
    // SAFETY: as InitializeCriticalSection.
    unsafe { initialize_critical_section(cs) };
    crate::TRUE
}

#[export_name = "EnterCriticalSection"]
unsafe extern "C" fn enter_critical_section(cs: *mut u8) {
    // SAFETY: an initialised CRITICAL_SECTION (Windows' contract).
    unsafe { libc::pthread_mutex_lock(mutex_of(cs)) };
}

#[export_name = "TryEnterCriticalSection"]
unsafe extern "C" fn try_enter_critical_section(cs: *mut u8) -> i32 {
    // SAFETY: an initialised CRITICAL_SECTION (Windows' contract).
    i32::from(unsafe { libc::pthread_mutex_trylock(mutex_of(cs)) } == 0)
}

#[export_name = "LeaveCriticalSection"]
unsafe extern "C" fn leave_critical_section(cs: *mut u8) {
    // SAFETY: an initialised CRITICAL_SECTION held by this thread.
    unsafe { libc::pthread_mutex_unlock(mutex_of(cs)) };
}

#[export_name = "DeleteCriticalSection"]
unsafe extern "C" fn delete_critical_section(cs: *mut u8) {
    // SAFETY: an initialised, unheld CRITICAL_SECTION; its box freed once.
    unsafe {
        let m = mutex_of(cs);
        if !m.is_null() {
            libc::pthread_mutex_destroy(m);
            drop(Box::from_raw(m));
            *(cs as *mut *mut libc::pthread_mutex_t) = std::ptr::null_mut();
        }
    }
}
