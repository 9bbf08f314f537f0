//! The calling thread's last error: `WSAGetLastError` and `GetLastError`
//! read the same value, as on Windows.

use std::cell::Cell;

use overlapped::WsaError;

thread_local! {
    static LAST: Cell<u32> = const { Cell::new(0) };
}

/// Sets the calling thread's last error.
pub fn set(code: u32) {
    LAST.with(|c| c.set(code));
}

/// The calling thread's last error.
pub fn get() -> u32 {
    LAST.with(Cell::get)
}

/// Sets the last error to `e` and returns `SOCKET_ERROR` (-1).
pub fn fail(e: WsaError) -> i32 {
    set(e.0 as u32);
    crate::SOCKET_ERROR
}

/// Sets the last error to `e` and returns `FALSE` (0).
pub fn fail_false(e: WsaError) -> i32 {
    set(e.0 as u32);
    crate::FALSE
}

#[export_name = "WSAGetLastError"]
extern "C" fn wsa_get_last_error() -> i32 {
    get() as i32
}

#[export_name = "WSASetLastError"]
extern "C" fn wsa_set_last_error(code: i32) {
    set(code as u32);
}

#[export_name = "GetLastError"]
extern "C" fn get_last_error() -> u32 {
    get()
}

#[export_name = "SetLastError"]
extern "C" fn set_last_error(code: u32) {
    set(code);
}
