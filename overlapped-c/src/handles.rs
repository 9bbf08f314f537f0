//! The handle table: a `SOCKET` or `HANDLE` is a number the table hands
//! out (multiples of 4 from 0x100, never reused), never a raw descriptor a
//! C program could confuse with one of its own files.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use overlapped::{CompletionPort, Event, Socket, WsaError};

use crate::threads::ThreadObject;

/// What a handle names.
#[derive(Clone)]
pub enum Object {
    /// A socket (`SOCKET`).
    Socket(Socket),
    /// An event (`WSAEVENT`, `CreateEvent`).
    Event(Event),
    /// A thread (`CreateThread`, `_beginthreadex`).
    Thread(Arc<ThreadObject>),
    /// An I/O completion port.
    Port(CompletionPort),
    /// A file (`CreateFile`), for `TransmitFile` and `TransmitPackets`.
    File(Arc<std::fs::File>),
    /// A `WSAProviderConfigChange` notification handle.
    Provider(Arc<overlapped::ProviderChange>),
    /// A `WSALookupServiceBegin` query.
    Lookup(Arc<crate::nsp::Lookup>),
}

fn table() -> &'static Mutex<HashMap<usize, Object>> {
    static TABLE: OnceLock<Mutex<HashMap<usize, Object>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<usize, Object>> {
    table().lock().unwrap_or_else(|e| e.into_inner())
}

static NEXT: AtomicUsize = AtomicUsize::new(0x100);

/// Bumped whenever a handle leaves the table: a list of handle values that
/// was valid at generation `g` is still valid (each value naming the same
/// object) while the generation is `g`, since values are never reused.
static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// The table's generation (see [`GENERATION`]).
pub fn generation() -> usize {
    GENERATION.load(Ordering::SeqCst)
}

/// Puts `object` in the table and returns its new handle value.
pub fn insert(object: Object) -> usize {
    let h = NEXT.fetch_add(4, Ordering::Relaxed);
    lock().insert(h, object);
    h
}

/// The object behind `handle`, if any.
pub fn get(handle: usize) -> Option<Object> {
    lock().get(&handle).cloned()
}

/// Removes `handle` from the table and returns what it named.
pub fn remove(handle: usize) -> Option<Object> {
    let mut t = lock();
    let gone = t.remove(&handle);
    if gone.is_some() {
        GENERATION.fetch_add(1, Ordering::SeqCst);
    }
    gone
}

/// The socket behind `s`, or `WSAENOTSOCK`.
pub fn socket(s: usize) -> Result<Socket, WsaError> {
    match get(s) {
        Some(Object::Socket(sock)) => Ok(sock),
        _ => Err(WsaError::WSAENOTSOCK),
    }
}

/// The event behind `h`, or `WSA_INVALID_HANDLE`.
pub fn event(h: usize) -> Result<Event, WsaError> {
    match get(h) {
        Some(Object::Event(e)) => Ok(e),
        _ => Err(WsaError::WSA_INVALID_HANDLE),
    }
}

/// The event a wait on `h` waits for: an event itself, a socket's own
/// event, or a thread's exit.
pub fn waitable(h: usize) -> Result<Event, WsaError> {
    match get(h) {
        Some(Object::Event(e)) => Ok(e),
        Some(Object::Socket(s)) => Ok(s.event().clone()),
        Some(Object::Thread(t)) => Ok(t.exited.clone()),
        _ => Err(WsaError::WSA_INVALID_HANDLE),
    }
}
