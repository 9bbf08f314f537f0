//! Event objects and waits: `WSACreateEvent` ... `WSAWaitForMultipleEvents`,
//! `CreateEvent`/`SetEvent`/`ResetEvent`, `WaitForSingleObject(Ex)`,
//! `WaitForMultipleObjects(Ex)` on events, sockets and threads, `Sleep`,
//! `SleepEx`, `CloseHandle`.
//!
//! A wait that reports handles settles the C records whose operations
//! signal them ([`crate::records`]) before it returns.

use std::cell::RefCell;

use overlapped::{sleep_ex, Event, EventSet, WaitResult, WsaError};

use crate::handles::{self, Object};
use crate::last_error::{self, fail_false};
use crate::{records, timeout_ms, FALSE, TRUE};

const WAIT_FAILED: u32 = 0xFFFF_FFFF;

#[export_name = "WSACreateEvent"]
extern "C" fn wsa_create_event() -> usize {
    handles::insert(Object::Event(Event::new()))
}

#[export_name = "CreateEventA"]
extern "C" fn create_event(_attrs: *const u8, manual: i32, initial: i32, name: *const u8) -> usize {
    if !name.is_null() {
        // Named events are shared between processes on Windows: not provided.
        last_error::set(WsaError::ERROR_NOT_SUPPORTED.0 as u32);
        return 0;
    }
    handles::insert(Object::Event(Event::with_reset(manual != 0, initial != 0)))
}

fn on_event(h: usize, f: impl FnOnce(&Event)) -> i32 {
    match handles::event(h) {
        Ok(e) => {
            f(&e);
            TRUE
        }
        Err(e) => fail_false(e),
    }
}

#[export_name = "WSASetEvent"]
extern "C" fn wsa_set_event(h: usize) -> i32 {
    on_event(h, Event::set)
}

#[export_name = "SetEvent"]
extern "C" fn set_event(h: usize) -> i32 {
    on_event(h, Event::set)
}

#[export_name = "WSAResetEvent"]
extern "C" fn wsa_reset_event(h: usize) -> i32 {
    on_event(h, Event::reset)
}

#[export_name = "ResetEvent"]
extern "C" fn reset_event(h: usize) -> i32 {
    on_event(h, Event::reset)
}

#[export_name = "WSACloseEvent"]
extern "C" fn wsa_close_event(h: usize) -> i32 {
    match handles::get(h) {
        Some(Object::Event(_)) => {
            handles::remove(h);
            TRUE
        }
        _ => fail_false(WsaError::WSA_INVALID_HANDLE),
    }
}

#[export_name = "CloseHandle"]
extern "C" fn close_handle(h: usize) -> i32 {
    match handles::remove(h) {
        Some(Object::Port(p)) => {
            p.close();
            TRUE
        }
        Some(Object::Socket(s)) => {
            crate::network_events::forget(h);
            let _ = s.close();
            TRUE
        }
        Some(_) => TRUE,
        None => fail_false(WsaError::WSA_INVALID_HANDLE),
    }
}

/// The handle list a thread waited on last, as an [`EventSet`] (registered
/// with its events once), with the handle table's generation it was built
/// at. The book's servers wait on the same array again and again: while
/// the list and the generation are unchanged, a wait reuses the set instead
/// of looking up every handle and registering with every event.
struct LastWait {
    handles: Vec<usize>,
    generation: usize,
    set: EventSet,
}

thread_local! {
    static LAST_WAIT: RefCell<Option<LastWait>> = const { RefCell::new(None) };
}

/// The set for `hs`: the thread's cached one if it still matches, else a
/// new one (`Err`: a handle that names nothing waitable).
fn set_for(hs: &[usize]) -> Result<LastWait, WsaError> {
    let generation = handles::generation();
    // Taken out of the cell while in use: a completion routine that runs
    // inside this (alertable) wait may wait itself.
    if let Some(last) = LAST_WAIT.with(|c| c.borrow_mut().take()) {
        if last.generation == generation && last.handles == hs {
            return Ok(last);
        }
    }
    let mut set = EventSet::new();
    for &h in hs {
        set.push(handles::waitable(h)?);
    }
    Ok(LastWait {
        handles: hs.to_vec(),
        generation,
        set,
    })
}

/// The most handles `WSAWaitForMultipleEvents` takes: Windows' limit of 64
/// (`WSA_MAXIMUM_WAIT_EVENTS`) is lifted as far as every answer stays
/// unambiguous — `WSA_WAIT_EVENT_0 + 191` is the last index below
/// `WSA_WAIT_IO_COMPLETION` (0xC0); index 192 would read as it, 258 as
/// `WSA_WAIT_TIMEOUT`. More fails with `WSA_INVALID_PARAMETER`.
pub const MAX_WSA_WAIT_EVENTS: u32 = 0xC0;
/// The most handles `WaitForMultipleObjects(Ex)` takes: its codes
/// `WAIT_ABANDONED_0 + n` start at 0x80, so 128 (indices 0..127). More
/// fails with `ERROR_INVALID_PARAMETER`.
pub const MAX_WAIT_OBJECTS: u32 = 0x80;

/// Waits on `handles` as `WaitForMultipleObjectsEx` does and returns its
/// code; more than `max` handles fail with `ERROR_INVALID_PARAMETER` (87,
/// also `WSA_INVALID_PARAMETER`), so an index can never be mistaken for
/// another answer.
///
/// # Safety
/// `list` points to `count` handles.
unsafe fn wait_handles(
    count: u32,
    list: *const usize,
    all: i32,
    ms: u32,
    alertable: i32,
    max: u32,
) -> u32 {
    if count == 0 || count > max || list.is_null() {
        last_error::set(WsaError::WSA_INVALID_PARAMETER.0 as u32);
        return WAIT_FAILED;
    }
    // SAFETY: `count` handles at `list` (Windows' contract).
    let hs = unsafe { std::slice::from_raw_parts(list, count as usize) };
    let r = if let [h] = hs {
        // One handle (`WaitForSingleObject`, a poll of one event of the
        // array): the library's single-event wait, and the thread's cached
        // set stays. A non-alertable poll of an event that is not set
        // times out at once (the WSAEventSelect servers probe every event
        // of their array this way after each wait).
        match handles::waitable(*h) {
            Ok(e) if ms == 0 && alertable == 0 && !e.is_set() => Ok(WaitResult::Timeout),
            Ok(e) => overlapped::wait_for_single_object_ex(&e, timeout_ms(ms), alertable != 0),
            Err(e) => Err(e),
        }
    } else {
        match set_for(hs) {
            Ok(last) => {
                let r = last.set.wait(all != 0, timeout_ms(ms), alertable != 0);
                LAST_WAIT.with(|c| *c.borrow_mut() = Some(last));
                r
            }
            Err(e) => Err(e),
        }
    };
    match r {
        Ok(r) => {
            match r {
                WaitResult::Signaled(i) if all == 0 => records::settle_waits(&[hs[i]]),
                WaitResult::Signaled(_) => records::settle_waits(hs),
                _ => {}
            }
            r.code()
        }
        Err(e) => {
            last_error::set(e.0 as u32);
            WAIT_FAILED
        }
    }
}

#[export_name = "WSAWaitForMultipleEvents"]
unsafe extern "C" fn wsa_wait_for_multiple_events(
    count: u32,
    list: *const usize,
    all: i32,
    ms: u32,
    alertable: i32,
) -> u32 {
    // SAFETY: Windows' contract.
    unsafe { wait_handles(count, list, all, ms, alertable, MAX_WSA_WAIT_EVENTS) }
}

#[export_name = "WaitForMultipleObjectsEx"]
unsafe extern "C" fn wait_for_multiple_objects_ex(
    count: u32,
    list: *const usize,
    all: i32,
    ms: u32,
    alertable: i32,
) -> u32 {
    // SAFETY: Windows' contract.
    unsafe { wait_handles(count, list, all, ms, alertable, MAX_WAIT_OBJECTS) }
}

#[export_name = "WaitForMultipleObjects"]
unsafe extern "C" fn wait_for_multiple_objects(
    count: u32,
    list: *const usize,
    all: i32,
    ms: u32,
) -> u32 {
    // SAFETY: Windows' contract.
    unsafe { wait_handles(count, list, all, ms, FALSE, MAX_WAIT_OBJECTS) }
}

#[export_name = "WaitForSingleObjectEx"]
extern "C" fn wait_for_single_object_ex(h: usize, ms: u32, alertable: i32) -> u32 {
    // SAFETY: one handle on the stack.
    unsafe { wait_handles(1, &h, FALSE, ms, alertable, 1) }
}

#[export_name = "WaitForSingleObject"]
extern "C" fn wait_for_single_object(h: usize, ms: u32) -> u32 {
    wait_for_single_object_ex(h, ms, FALSE)
}

#[export_name = "SleepEx"]
extern "C" fn sleep_ex_c(ms: u32, alertable: i32) -> u32 {
    let r = sleep_ex(timeout_ms(ms), alertable != 0);
    records::settle_started_here();
    match r {
        Ok(WaitResult::IoCompletion) => 0xC0,
        _ => 0,
    }
}

#[export_name = "Sleep"]
extern "C" fn sleep(ms: u32) {
    let _ = sleep_ex(timeout_ms(ms), false);
    records::settle_started_here();
}

/// `SwitchToThread`: yields the processor, then settles the calling
/// thread's finished records as `Sleep` does. Returns TRUE (Linux does not
/// say whether another thread ran).
#[export_name = "SwitchToThread"]
extern "C" fn switch_to_thread() -> i32 {
    std::thread::yield_now();
    records::settle_started_here();
    TRUE
}
