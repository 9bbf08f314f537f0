//! WSAWaitForMultipleEvents and event objects (facts 23-30), and completion
//! across threads.

mod common;

use common::*;
use overlapped::*;
use std::time::{Duration, Instant};

fn events(n: usize) -> Vec<Event> {
    (0..n).map(|_| Event::new()).collect()
}

#[test]
fn new_event_is_manual_reset_and_not_signalled() {
    let e = Event::new();
    assert!(!e.is_set());
    assert!(e.is_manual_reset());
    e.set();
    // A manual-reset event stays signalled through waits (fact 24).
    for _ in 0..3 {
        assert_eq!(e.wait(Some(Duration::ZERO)), Ok(WaitResult::Signaled(0)));
    }
    e.reset();
    assert_eq!(e.wait(Some(Duration::ZERO)), Ok(WaitResult::Timeout));
}

#[test]
fn auto_reset_event_is_consumed_by_the_wait() {
    let e = Event::new_auto();
    e.set();
    assert_eq!(e.wait(Some(Duration::ZERO)), Ok(WaitResult::Signaled(0)));
    assert!(!e.is_set());
    assert_eq!(e.wait(Some(Duration::ZERO)), Ok(WaitResult::Timeout));
}

#[test]
fn wait_any_returns_the_lowest_signalled_index() {
    let ev = events(5);
    ev[3].set();
    ev[1].set();
    let r = wait_for_multiple_events(&ev, false, Some(Duration::ZERO), false);
    assert_eq!(r, Ok(WaitResult::Signaled(1)), "fact 26");
}

#[test]
fn wait_all_needs_every_event_and_leaves_states_alone_until_then() {
    let ev = vec![Event::new(), Event::new_auto()];
    ev[1].set();
    let r = wait_for_multiple_events(&ev, true, Some(Duration::from_millis(30)), false);
    assert_eq!(r, Ok(WaitResult::Timeout));
    assert!(
        ev[1].is_set(),
        "fact 27: states are not modified until all are signalled"
    );
    let setter = {
        let e0 = ev[0].clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            e0.set();
        })
    };
    let r = wait_for_multiple_events(&ev, true, LONG, false);
    setter.join().unwrap();
    assert_eq!(r, Ok(WaitResult::Signaled(0)));
    assert!(ev[0].is_set(), "manual-reset stays signalled");
    assert!(!ev[1].is_set(), "auto-reset was consumed");
}

#[test]
fn timeouts_zero_finite_and_infinite() {
    let e = Event::new();
    let t = Instant::now();
    assert_eq!(e.wait(Some(Duration::ZERO)), Ok(WaitResult::Timeout));
    assert!(t.elapsed() < Duration::from_millis(500));
    let t = Instant::now();
    assert_eq!(
        e.wait(Some(Duration::from_millis(60))),
        Ok(WaitResult::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(60));
    let e2 = e.clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        e2.set();
    });
    assert_eq!(e.wait(WSA_INFINITE), Ok(WaitResult::Signaled(0)));
    setter.join().unwrap();
}

#[test]
fn invalid_input_is_an_error_not_a_panic() {
    assert_eq!(
        wait_for_multiple_events(&[], false, Some(Duration::ZERO), false),
        Err(WsaError::WSA_INVALID_PARAMETER),
        "fact 25: no events"
    );
    let e = Event::new();
    assert_eq!(
        wait_for_multiple_events(&[e.clone(), e.clone()], true, Some(Duration::ZERO), false),
        Err(WsaError::WSA_INVALID_PARAMETER),
        "fact 27: no duplicates in a wait-all"
    );
    assert_eq!(
        EventSet::new().wait(false, Some(Duration::ZERO), false),
        Err(WsaError::WSA_INVALID_PARAMETER)
    );
}

#[test]
fn more_than_64_events_work_in_one_wait() {
    let ev = events(1_500);
    ev[1_234].set();
    assert_eq!(
        wait_for_multiple_events(&ev, false, Some(Duration::ZERO), false),
        Ok(WaitResult::Signaled(1_234))
    );
    let e = ev[1_499].clone();
    ev[1_234].reset();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        e.set();
    });
    assert_eq!(
        wait_for_multiple_events(&ev, false, LONG, false),
        Ok(WaitResult::Signaled(1_499))
    );
    setter.join().unwrap();
}

#[test]
fn event_set_of_ten_thousand_events_wakes_on_any() {
    let ev = events(10_000);
    let mut set = EventSet::new();
    for e in &ev {
        set.push(e.clone());
    }
    for target in [9_999usize, 0, 5_000, 64, 4_095, 4_096] {
        let e = ev[target].clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            e.set();
        });
        assert_eq!(
            set.wait(false, LONG, false),
            Ok(WaitResult::Signaled(target))
        );
        setter.join().unwrap();
        ev[target].reset();
    }
    ev[7].set();
    ev[9_000].set();
    assert_eq!(set.next_signaled(8), Some(9_000));
    assert_eq!(set.next_signaled(0), Some(7));
    // swap_remove moves the last event into the hole.
    let last = ev[9_999].clone();
    set.swap_remove(7);
    assert!(set.get(7).unwrap().same(&last));
    last.set();
    assert_eq!(set.next_signaled(0), Some(7));
}

#[test]
fn operation_issued_on_one_thread_completes_while_another_waits() {
    // Thread A starts the receive, then blocks outside the library until the
    // main thread has seen the completion. If completing depended on A, the
    // main thread's wait would time out.
    let (client, server) = tcp_pair();
    let event = Event::new();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<()>();
    let ev = event.clone();
    let a = std::thread::spawn(move || {
        let mut ov = Overlapped::new(&ev);
        pending(server.recv(&mut ov, BufList::zeroed(32), MsgFlags::empty()));
        started_tx.send(()).unwrap();
        seen_rx.recv().unwrap();
        let (n, _) = get_overlapped_result(&server, &ov, false).unwrap();
        (n, ov.take_buffers().unwrap().gather(n as usize))
    });
    started_rx.recv().unwrap();
    send_all(&client, b"across threads");
    let r = event.wait(LONG);
    seen_tx.send(()).unwrap();
    assert_eq!(r, Ok(WaitResult::Signaled(0)));
    let (n, data) = a.join().unwrap();
    assert_eq!(n, 14);
    assert_eq!(data, b"across threads");
}

#[test]
fn set_from_another_thread_wakes_a_waiter() {
    let ev = events(3);
    let e = ev[2].clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        e.set();
    });
    assert_eq!(
        wait_for_multiple_events(&ev, false, LONG, false),
        Ok(WaitResult::Signaled(2))
    );
    setter.join().unwrap();
}
