//! The thread's state stays sound at the edges: any timeout a caller can
//! express, routines and APCs that panic, waits that leave nothing behind.

mod common;

use common::*;
use overlapped::*;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

/// The tests here count the process's descriptors: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn duration_max_is_infinite_in_every_wait() {
    let _s = serial();
    let never = Some(Duration::MAX);
    let e = Event::new();
    e.set();
    assert_eq!(e.wait(never), Ok(WaitResult::Signaled(0)));
    assert_eq!(
        wait_for_single_object_ex(&e, never, true),
        Ok(WaitResult::Signaled(0))
    );
    let list = [Event::new(), e.clone()];
    assert_eq!(
        wait_for_multiple_events(&list, false, never, false),
        Ok(WaitResult::Signaled(1))
    );
    let mut set = EventSet::new();
    set.push(list[0].clone());
    set.push(e.clone());
    assert_eq!(set.wait(false, never, true), Ok(WaitResult::Signaled(1)));
    // Huge but not MAX: also beyond any instant.
    let huge = Some(Duration::from_secs(u64::MAX / 2));
    assert_eq!(e.wait(huge), Ok(WaitResult::Signaled(0)));
    // GetQueuedCompletionStatus(Ex) on a port with a packet queued.
    let port = CompletionPort::new(0).unwrap();
    port.post_queued_completion_status(3, 9, None).unwrap();
    let entry = port.get_queued_completion_status(never).unwrap();
    assert_eq!((entry.bytes, entry.key), (3, 9));
    // An alertable sleep "for ever" returns once an APC has run.
    let me = ThreadHandle::current().unwrap();
    assert!(queue_user_apc(&me, || {}));
    assert_eq!(sleep_ex(never, true), Ok(WaitResult::IoCompletion));
    // And an event set from another thread ends a MAX wait on it.
    let late = Event::new();
    let setter = late.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        setter.set();
    });
    assert_eq!(late.wait(never), Ok(WaitResult::Signaled(0)));
    t.join().unwrap();
}

/// Runs alertable waits until `done`, catching the panics they propagate.
fn run_until(done: impl Fn() -> bool) -> usize {
    let mut panics = 0;
    for _ in 0..100 {
        if done() {
            break;
        }
        match catch_unwind(AssertUnwindSafe(|| {
            sleep_ex(Some(Duration::from_secs(10)), true)
        })) {
            Ok(r) => assert_eq!(r, Ok(WaitResult::IoCompletion)),
            Err(_) => panics += 1,
        }
    }
    panics
}

#[test]
fn a_panicking_routine_leaves_the_thread_as_usable_as_before() {
    let _s = serial();
    let (a, b) = tcp_pair();
    // Two routines: the first panics, the second must still run.
    let ran = Rc::new(Cell::new(0));
    let r1 = ran.clone();
    let r2 = ran.clone();
    pending(
        a.recv_with(BufList::zeroed(8), MsgFlags::empty(), move |_| {
            r1.set(r1.get() + 1);
            panic!("routine panics");
        }),
    );
    pending(
        a.recv_with(BufList::zeroed(8), MsgFlags::empty(), move |c| {
            assert_eq!(c.bytes, 3);
            r2.set(r2.get() + 1);
        }),
    );
    // One message per receive: the second is sent once the first was taken
    // (a readiness backend reads when the thread waits, and would find both).
    send_all(&b, b"abc");
    let mut panics = run_until(|| ran.get() == 1);
    send_all(&b, b"def");
    panics += run_until(|| ran.get() == 2);
    assert_eq!(panics, 1);
    assert_eq!(ran.get(), 2);
    // Now the last routine a wait runs panics: nothing runs after it.
    let r3 = ran.clone();
    pending(
        a.recv_with(BufList::zeroed(8), MsgFlags::empty(), move |_| {
            r3.set(r3.get() + 1);
            panic!("routine panics");
        }),
    );
    send_all(&b, b"ghi");
    assert_eq!(run_until(|| ran.get() == 3), 1);
    // The thread is exactly as before: data already there completes at once.
    send_all(&b, b"xyz");
    std::thread::sleep(Duration::from_millis(50));
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(
        a.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Ok(3)
    );
    let got = Rc::new(Cell::new(0));
    let g = got.clone();
    send_all(&b, b"123");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        a.recv_with(BufList::zeroed(8), MsgFlags::empty(), move |c| g
            .set(c.bytes)),
        Ok(3)
    );
    assert_eq!(
        sleep_ex(Some(Duration::ZERO), true),
        Ok(WaitResult::IoCompletion)
    );
    assert_eq!(got.get(), 3);
}

#[test]
fn a_panicking_apc_leaves_the_thread_as_usable_as_before() {
    let _s = serial();
    let me = ThreadHandle::current().unwrap();
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = ran.clone();
    assert!(queue_user_apc(&me, || panic!("APC panics")));
    assert!(queue_user_apc(&me, move || {
        r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        panic!("the last APC panics too");
    }));
    let panics = run_until(|| ran.load(std::sync::atomic::Ordering::SeqCst) == 1);
    assert_eq!(panics, 2);
    let (a, b) = tcp_pair();
    send_all(&b, b"abc");
    std::thread::sleep(Duration::from_millis(50));
    let mut ov = Overlapped::new(&Event::new());
    assert_eq!(
        a.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Ok(3)
    );
}

/// Makes the calling thread's ring. On a machine under heavy load (other
/// processes holding many rings) the kernel may refuse one for a moment:
/// try again for a while rather than blame the wait.
fn ring_up() {
    let mut last = None;
    for _ in 0..100 {
        match startup() {
            Ok(()) => return,
            Err(e) => last = Some(e.to_string()),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no ring for this thread: {last:?}");
}

#[test]
fn an_event_set_holds_nothing_of_a_thread_after_its_wait() {
    let _s = serial();
    let e = Event::new();
    e.set();
    let mut set = EventSet::new();
    set.push(e.clone());
    // Warm up what the process keeps for good (this thread's ring, ...).
    assert_eq!(
        set.wait(false, Some(Duration::ZERO), false),
        Ok(WaitResult::Signaled(0))
    );
    let before = open_descriptors();
    let set = std::sync::Arc::new(set);
    for _ in 0..300 {
        let set = set.clone();
        let r = std::thread::spawn(move || {
            ring_up();
            set.wait(false, Some(Duration::from_secs(10)), true)
        })
        .join()
        .unwrap();
        assert_eq!(r, Ok(WaitResult::Signaled(0)));
    }
    let after = open_descriptors();
    assert!(
        after <= before + 4,
        "descriptors went from {before} to {after} with the set still alive"
    );
    // The same for threads that waited on a single event.
    for _ in 0..100 {
        let e = e.clone();
        let r = std::thread::spawn(move || {
            ring_up();
            e.wait(Some(Duration::from_secs(10)))
        })
        .join()
        .unwrap();
        assert_eq!(r, Ok(WaitResult::Signaled(0)));
    }
    let after = open_descriptors();
    assert!(
        after <= before + 4,
        "{before} -> {after} after single waits"
    );
}
