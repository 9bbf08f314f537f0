//! The C program's `WSAOVERLAPPED` records.
//!
//! Each overlapped call makes a Rust [`Overlapped`] record for the C record
//! it was given (keyed by the C record's address) and copies the results
//! into the C program's memory when the operation is *settled*: the bytes
//! received into its `WSABUF`s, the status into `Internal` (an NTSTATUS,
//! `STATUS_PENDING` while pending) and the byte count into `InternalHigh`.
//! A C program can only learn of a completion through this library (a wait,
//! `WSAGetOverlappedResult`, `GetQueuedCompletionStatus`, a completion
//! routine, `HasOverlappedIoCompleted`), and each of those settles the
//! records it reports before it returns: the program never sees a signalled
//! event whose buffers are not filled yet.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use overlapped::{
    get_overlapped_result, notification_result, BufList, MsgFlags, Overlapped, Socket, WsaError,
};

/// `STATUS_PENDING`.
pub const STATUS_PENDING: u32 = 0x103;

/// The `OVERLAPPED` of Windows x64 (32 bytes).
#[repr(C)]
pub struct CRecord {
    /// Status (NTSTATUS).
    pub internal: usize,
    /// Bytes transferred.
    pub internal_high: usize,
    /// `Offset`.
    pub offset: u32,
    /// `OffsetHigh`.
    pub offset_high: u32,
    /// `hEvent`.
    pub h_event: usize,
}

/// Where an operation's results go in the C program's memory.
pub enum Out {
    /// Nothing to copy (sends, connects, disconnects).
    Nothing,
    /// Received bytes go to these `(pointer, length)` buffers in order.
    Buffers(Vec<(usize, usize)>),
    /// Received bytes as `Buffers`, and the source address to `lpFrom`/`lpFromlen`.
    BuffersFrom(Vec<(usize, usize)>, usize, usize),
    /// The whole output buffer (`AcceptEx`: data, then the address areas).
    Whole(usize, usize),
    /// Received bytes as `Buffers`, then the source address, control data
    /// and flags into the program's `WSAMSG` at this address (`WSARecvMsg`).
    Msg(Vec<(usize, usize)>, usize),
}

/// The result of a settled operation.
#[derive(Clone, Copy, Debug)]
pub struct Done {
    /// The Winsock error (`NO_ERROR` on success).
    pub error: WsaError,
    /// Bytes transferred.
    pub bytes: u32,
    /// `lpdwFlags`.
    pub flags: u32,
}

/// One C record's current operation.
pub struct Entry {
    /// The Rust record of the operation.
    pub ov: Mutex<Overlapped>,
    /// Its identity ([`Overlapped::id`]), for completion packets.
    id: usize,
    /// The socket it was started on (none for a notification handle's
    /// `WSAProviderConfigChange`).
    pub socket: Option<Socket>,
    /// The handle a wait names to learn of it: `hEvent`, else the socket.
    pub wait_key: usize,
    /// The `SOCKET` handle the operation was started on.
    pub wait_socket: usize,
    out: Out,
    done: Mutex<Option<Done>>,
    /// Set once the operation was handed to the library (a fresh record
    /// reads as complete before that).
    started: AtomicBool,
}

#[derive(Default)]
struct Registry {
    pending: HashMap<usize, Arc<Entry>>,
    done: HashMap<usize, Arc<Entry>>,
    /// Rust record identity → C record address, for the entries above.
    by_id: HashMap<usize, usize>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The NTSTATUS Windows leaves in `Internal` for a Winsock result, sign
/// extended as `(ULONG_PTR)(NTSTATUS)` is (so `ov.Internal == STATUS_CANCELLED` holds).
pub fn ntstatus(e: WsaError) -> usize {
    let s: u32 = match e {
        WsaError::NO_ERROR => 0,
        WsaError::WSA_OPERATION_ABORTED => 0xC000_0120,
        WsaError::WSAECONNRESET | WsaError::WSAENETRESET => 0xC000_020D,
        WsaError::WSAEDISCON => 0xC000_013C,
        WsaError::WSAECONNABORTED => 0xC000_0241,
        WsaError::WSAECONNREFUSED => 0xC000_0236,
        WsaError::WSAEMSGSIZE => 0x8000_0005,
        WsaError::WSAETIMEDOUT => 0xC000_00B5,
        WsaError::WSAENOTSOCK | WsaError::WSA_INVALID_HANDLE => 0xC000_0008,
        WsaError::WSAEINVAL => 0xC000_000D,
        _ => 0xC000_0001,
    };
    s as i32 as isize as usize
}

/// Marks the C record pending (`Internal = STATUS_PENDING`, `InternalHigh = 0`).
///
/// # Safety
/// `c` points to a valid, writable `OVERLAPPED`.
pub unsafe fn mark_pending(c: *mut CRecord) {
    // SAFETY: valid record (caller).
    unsafe {
        (*c).internal = STATUS_PENDING as usize;
        (*c).internal_high = 0;
    }
}

/// Writes a result into the C record.
///
/// # Safety
/// `c` points to a valid, writable `OVERLAPPED`.
pub unsafe fn write_result(c: *mut CRecord, error: WsaError, bytes: u32) {
    // SAFETY: valid record (caller).
    unsafe {
        (*c).internal_high = bytes as usize;
        (*c).internal = ntstatus(error);
    }
}

/// Copies the first `n` bytes of `bufs` to the C buffers of `out`, in order.
///
/// # Safety
/// Every `(pointer, length)` of `out` is writable memory of the C program.
pub unsafe fn copy_out(out: &[(usize, usize)], bufs: &BufList, n: usize) {
    let data = bufs.gather(n);
    let mut at = 0;
    for &(ptr, len) in out {
        if at == data.len() {
            break;
        }
        let take = len.min(data.len() - at);
        // SAFETY: the C buffer has `len >= take` writable bytes (caller).
        unsafe { std::ptr::copy_nonoverlapping(data[at..].as_ptr(), ptr as *mut u8, take) };
        at += take;
    }
}

/// Writes a datagram's source address to `lpFrom`/`lpFromlen`.
///
/// # Safety
/// `from` and `fromlen` are null or valid as `WSARecvFrom` requires.
pub unsafe fn write_from(from: usize, fromlen: usize, addr: Option<SocketAddr>) {
    if let Some(a) = addr {
        // SAFETY: as the caller guarantees; a too-small buffer is left alone.
        let _ = unsafe { crate::addr::write(&a, from as *mut u8, fromlen as *mut i32) };
    }
}

/// Registers the operation just started on C record `c`.
pub fn register(
    c: *mut CRecord,
    ov: Overlapped,
    (socket, handle): (Option<Socket>, usize),
    wait_key: usize,
    out: Out,
) {
    let id = ov.id();
    let entry = Arc::new(Entry {
        id,
        ov: Mutex::new(ov),
        socket,
        wait_key,
        wait_socket: handle,
        out,
        done: Mutex::new(None),
        started: AtomicBool::new(false),
    });
    STARTED_HERE.with(|l| {
        let (list, prune_at) = &mut *l.borrow_mut();
        if list.len() >= *prune_at {
            // Drop what was settled or forgotten since; the next pruning
            // comes after as many pushes again as are left (amortised O(1)).
            list.retain(|(_, w)| w.upgrade().is_some_and(|e| lock(&e.done).is_none()));
            *prune_at = (list.len() * 2).max(64);
        }
        list.push((c as usize, Arc::downgrade(&entry)));
    });
    let mut r = registry();
    let old = [
        r.done.remove(&(c as usize)),
        r.pending.insert(c as usize, entry),
    ];
    for e in old.into_iter().flatten() {
        r.by_id.remove(&e.id);
    }
    r.by_id.insert(id, c as usize);
}

/// A thread's started, not yet settled records (C record address, entry),
/// and the length at which [`register`] prunes the list next.
type StartedHere = (Vec<(usize, Weak<Entry>)>, usize);

thread_local! {
    /// The C records this thread started operations on that were not
    /// settled yet when last looked at (for [`settle_started_here`]).
    static STARTED_HERE: RefCell<StartedHere> = const { RefCell::new((Vec::new(), 64)) };
}

/// Settles the finished operations the calling thread started (`Sleep`,
/// `SleepEx`, `SwitchToThread`): a program that polls `ov.Internal` with
/// `Sleep` between the looks sees it change, as the kernel's write shows it
/// on Windows (fact 55). Costs one look per record still unsettled.
pub fn settle_started_here() {
    let mut list = STARTED_HERE.with(|l| std::mem::take(&mut l.borrow_mut().0));
    if list.is_empty() {
        return;
    }
    list.retain(|(c, w)| match w.upgrade() {
        Some(e) => settle_this(*c, &e).is_none(),
        None => false,
    });
    STARTED_HERE.with(|l| {
        let mut l = l.borrow_mut();
        list.append(&mut l.0);
        l.0 = list;
    });
}

/// Settles `entry` (C record at `c`) if its operation has completed:
/// copies the results out; returns the result once settled.
fn settle_entry(c: usize, entry: &Entry) -> Option<Done> {
    if let Some(d) = *lock(&entry.done) {
        return Some(d);
    }
    let mut ov = lock(&entry.ov);
    if !entry.started.load(Ordering::SeqCst) || !ov.is_completed() {
        return None;
    }
    let result = match &entry.socket {
        // The record's own status, as Windows leaves it in `Internal`: on a
        // socket closed since, the operation's result (WSAECONNABORTED for a
        // connected stream's receive, WSA_OPERATION_ABORTED otherwise:
        // facts 125, 127), not the closed handle's WSAENOTSOCK (fact 48 is
        // what WSAGetOverlappedResult answers about the handle).
        Some(socket) => match get_overlapped_result(socket, &ov, false) {
            Err(WsaError::WSAENOTSOCK) => ov.status().map(|b| (b, MsgFlags::empty())),
            r => r,
        },
        // A change notification: no bytes, no flags.
        None => notification_result(&ov).map(|()| (0, MsgFlags::empty())),
    };
    let (error, bytes, flags) = match result {
        Ok((b, f)) => (WsaError::NO_ERROR, b, f.bits()),
        Err(e) => (e, ov.bytes_transferred(), 0),
    };
    let from = ov.source_addr();
    let bufs = ov.take_buffers();
    // SAFETY: the C program keeps the buffers and the record valid until it
    // has learnt of the completion, which it can only do after this.
    unsafe {
        if let Some(bufs) = &bufs {
            match &entry.out {
                Out::Nothing => {}
                Out::Buffers(out) => copy_out(out, bufs, bytes as usize),
                Out::Whole(ptr, len) => copy_out(&[(*ptr, *len)], bufs, *len),
                Out::BuffersFrom(out, f, fl) => {
                    copy_out(out, bufs, bytes as usize);
                    write_from(*f, *fl, from);
                }
                Out::Msg(out, msg) => {
                    copy_out(out, bufs, bytes as usize);
                    crate::messages::write_msg(*msg, from, &ov.control(), ov.msg_flags());
                }
            }
        }
        write_result(c as *mut CRecord, error, bytes);
    }
    let d = Done {
        error,
        bytes,
        flags,
    };
    *lock(&entry.done) = Some(d);
    Some(d)
}

/// Settles the record at `c` if it is known and complete.
pub fn settle(c: usize) -> Option<Done> {
    let entry = {
        let r = registry();
        match r.pending.get(&c) {
            Some(e) => e.clone(),
            None => return r.done.get(&c).and_then(|e| *lock(&e.done)),
        }
    };
    settle_this(c, &entry)
}

/// Settles `entry`, the operation started on C record `c` (which may have
/// been reused for a newer operation since).
pub fn settle_this(c: usize, entry: &Arc<Entry>) -> Option<Done> {
    let d = settle_entry(c, entry)?;
    let mut r = registry();
    if r.pending.get(&c).is_some_and(|e| Arc::ptr_eq(e, entry)) {
        if let Some(e) = r.pending.remove(&c) {
            r.done.insert(c, e);
        }
    }
    Some(d)
}

/// Records that `entry`'s operation failed to start with `error`.
pub fn start_failed(c: usize, entry: &Arc<Entry>, error: WsaError) {
    *lock(&entry.done) = Some(Done {
        error,
        bytes: 0,
        flags: 0,
    });
    let mut r = registry();
    if r.pending.get(&c).is_some_and(|e| Arc::ptr_eq(e, entry)) {
        if let Some(e) = r.pending.remove(&c) {
            r.done.insert(c, e);
        }
    }
}

/// Marks `entry`'s operation as handed to the library (call with its
/// record locked, right after the start).
pub fn mark_started(entry: &Entry) {
    entry.started.store(true, Ordering::SeqCst);
}

/// Settles every completed operation whose wait names one of `keys`
/// (after a wait returned for those handles).
pub fn settle_waits(keys: &[usize]) {
    let candidates: Vec<usize> = registry()
        .pending
        .iter()
        .filter(|(_, e)| keys.contains(&e.wait_key))
        .map(|(c, _)| *c)
        .collect();
    for c in candidates {
        settle(c);
    }
}

/// The entry of C record `c` (pending or settled).
pub fn entry(c: usize) -> Option<Arc<Entry>> {
    let r = registry();
    r.pending.get(&c).or_else(|| r.done.get(&c)).cloned()
}

/// The C record whose Rust record is `ov` (for a completion packet), and
/// the entry of that operation.
pub fn find(ov: &Overlapped) -> Option<(usize, Arc<Entry>)> {
    let r = registry();
    let c = *r.by_id.get(&ov.id())?;
    let e = r.pending.get(&c).or_else(|| r.done.get(&c))?;
    (e.id == ov.id()).then(|| (c, e.clone()))
}

/// Forgets the settled records of a socket that is being closed (their
/// results were reported; the program may free them). Pending ones stay:
/// their cancellation is still to be reported, with their record.
pub fn forget_settled(socket: &Socket) {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let mut r = registry();
    // A socket of a completion port may still have packets queued that
    // name its records: those stay until the program reuses the record.
    let gone: Vec<usize> = r
        .done
        .iter()
        .filter(|(_, e)| {
            e.socket.as_ref().is_some_and(|s| s.as_raw_fd() == fd)
                && !crate::ports::is_associated(e.wait_socket)
        })
        .map(|(c, _)| *c)
        .collect();
    for c in gone {
        if let Some(e) = r.done.remove(&c) {
            r.by_id.remove(&e.id);
        }
    }
}

/// Waits (not alertably) until the operation of C record `c` completes, and
/// settles it. The wait is on the record's event, in bounded steps, so no
/// lock is held while blocked.
pub fn wait_and_settle(c: usize) -> Option<Done> {
    loop {
        if let Some(d) = settle(c) {
            return Some(d);
        }
        let e = entry(c)?;
        let event = lock(&e.ov)
            .event()
            .cloned()
            .or_else(|| e.socket.as_ref().map(|s| s.event().clone()));
        let started = std::time::Instant::now();
        if let Some(event) = event {
            let _ = event.wait(Some(std::time::Duration::from_millis(50)));
        }
        if started.elapsed() < std::time::Duration::from_millis(1) {
            // The event was already set (by another operation sharing it):
            // do not spin while this one is still in flight.
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// Starts a change notification of handle `h` (no socket:
/// `WSAProviderConfigChange`) for C record `c`, as [`crate::wsa_io::start_recorded`]
/// starts a socket's operation: `Err(WSA_IO_PENDING)` once started, the
/// record then settled by the waits like any other.
///
/// # Safety
/// `c` is a valid record, valid until the completion is reported.
pub unsafe fn start_notification(
    c: *mut CRecord,
    h: usize,
    start: impl FnOnce(&mut Overlapped) -> Result<(), WsaError>,
) -> Result<(), WsaError> {
    // SAFETY: valid record (caller).
    let h_event = unsafe { (*c).h_event };
    let (ov, key) = crate::wsa_io::record_for(h_event);
    let wait_key = if key == 0 { h } else { key };
    // SAFETY: valid record (caller).
    unsafe { mark_pending(c) };
    register(c, ov, (None, h), wait_key, Out::Nothing);
    let entry = entry(c as usize).ok_or(WsaError::WSAEFAULT)?;
    let r = {
        let mut ov = lock(&entry.ov);
        let r = start(&mut ov);
        mark_started(&entry);
        r
    };
    match r {
        Ok(()) => {
            settle_this(c as usize, &entry);
            Ok(())
        }
        Err(WsaError::WSA_IO_PENDING) => Err(WsaError::WSA_IO_PENDING),
        Err(e) => {
            start_failed(c as usize, &entry, e);
            // SAFETY: valid record (caller).
            unsafe { write_result(c, e, 0) };
            Err(e)
        }
    }
}
