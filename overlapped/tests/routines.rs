//! Overlapped (2): completion routines, the APC queue and alertable waits
//! (facts 29, 31-38).

mod common;

use common::*;
use overlapped::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn recv_logged(s: &Socket, log: &Log, name: &'static str) -> WsaResult<u32> {
    let log = log.clone();
    let me = std::thread::current().id();
    s.recv_with(BufList::zeroed(64), MsgFlags::empty(), move |c| {
        assert_eq!(
            std::thread::current().id(),
            me,
            "routine on the issuing thread"
        );
        let data = String::from_utf8(c.buffers.gather(c.bytes as usize)).unwrap();
        log.borrow_mut()
            .push(format!("{name}:{}:{data}", c.error.code()));
    })
}

#[test]
fn routine_runs_only_in_an_alertable_wait_of_the_issuing_thread() {
    let (client, server) = tcp_pair();
    let log = log();
    pending(recv_logged(&server, &log, "r"));
    send_all(&client, b"hi");
    // Non-alertable waits run nothing (fact 29), however long.
    assert_eq!(
        sleep_ex(Some(Duration::from_millis(100)), false),
        Ok(WaitResult::Timeout)
    );
    let e = Event::new();
    assert_eq!(
        wait_for_multiple_events(
            std::slice::from_ref(&e),
            false,
            Some(Duration::from_millis(20)),
            false
        ),
        Ok(WaitResult::Timeout)
    );
    assert!(log.borrow().is_empty());
    // The alertable wait runs it and returns WAIT_IO_COMPLETION (fact 34).
    assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    assert_eq!(*log.borrow(), ["r:0:hi"]);
}

#[test]
fn a_wait_that_times_out_ran_no_routine() {
    let (_client, server) = tcp_pair();
    let log = log();
    pending(recv_logged(&server, &log, "r"));
    assert_eq!(
        sleep_ex(Some(Duration::from_millis(30)), true),
        Ok(WaitResult::Timeout)
    );
    assert!(log.borrow().is_empty(), "fact 28");
}

#[test]
fn one_alertable_wait_drains_the_whole_queue() {
    let pairs: Vec<(Socket, Socket)> = (0..3).map(|_| tcp_pair()).collect();
    let log = log();
    for (i, (_, s)) in pairs.iter().enumerate() {
        pending(recv_logged(s, &log, ["a", "b", "c"][i]));
    }
    for (c, _) in &pairs {
        send_all(c, b"x");
    }
    // Let all three complete (non-alertably: nothing runs yet).
    let _ = sleep_ex(Some(Duration::from_millis(50)), false);
    assert!(log.borrow().is_empty());
    assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    let mut got = log.borrow().clone();
    got.sort();
    assert_eq!(got, ["a:0:x", "b:0:x", "c:0:x"]);
}

#[test]
fn immediate_completion_still_queues_the_routine() {
    let (client, server) = tcp_pair();
    send_all(&client, b"now");
    let _ = sleep_ex(Some(Duration::from_millis(20)), false);
    let log = log();
    assert_eq!(recv_logged(&server, &log, "r"), Ok(3), "completed at once");
    assert!(
        log.borrow().is_empty(),
        "fact 38: queued, not run inside the call"
    );
    assert_eq!(
        sleep_ex(Some(Duration::ZERO), true),
        Ok(WaitResult::IoCompletion)
    );
    assert_eq!(*log.borrow(), ["r:0:now"]);
}

#[test]
fn routine_may_start_operations_whose_routines_run_later_never_nested() {
    let (client, server) = tcp_pair();
    let server = Rc::new(server);
    let log = log();
    let (s2, log2) = (server.clone(), log.clone());
    server
        .recv_with(BufList::zeroed(1), MsgFlags::empty(), move |c| {
            log2.borrow_mut().push(format!("first:{}", c.bytes));
            // Data for this one is already queued, and it is given time to
            // complete: it still must not run inside this routine (fact 36).
            let l3 = log2.clone();
            let r = s2.recv_with(BufList::zeroed(1), MsgFlags::empty(), move |c| {
                l3.borrow_mut().push(format!("second:{}", c.bytes));
            });
            assert!(matches!(r, Ok(1) | Err(WsaError::WSA_IO_PENDING)));
            std::thread::sleep(Duration::from_millis(20));
            log2.borrow_mut().push("first done".into());
        })
        .unwrap_err();
    send_all(&client, b"ab");
    assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    assert_eq!(log.borrow()[..2], ["first:1", "first done"]);
    // It runs after the first returned: in this same wait (a wait runs
    // every APC queued before it returns, those queued by the routines it
    // ran included, as Windows does when the second completes in time)
    // or in the next one.
    if log.borrow().len() == 2 {
        assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    }
    assert_eq!(*log.borrow(), ["first:1", "first done", "second:1"]);
    // Each ran once: nothing is left queued.
    assert_eq!(
        sleep_ex(Some(Duration::from_millis(20)), true),
        Ok(WaitResult::Timeout)
    );
}

#[test]
fn user_apcs_share_the_queue_with_io_routines_in_order() {
    let (client, server) = tcp_pair();
    send_all(&client, b"io");
    let _ = sleep_ex(Some(Duration::from_millis(20)), false);
    let me = ThreadHandle::current().unwrap();
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let s1 = shared.clone();
    assert!(queue_user_apc(&me, move || s1
        .lock()
        .unwrap()
        .push("apc1".into())));
    let s2 = shared.clone();
    server
        .recv_with(BufList::zeroed(8), MsgFlags::empty(), move |c| {
            s2.lock().unwrap().push(format!("io:{}", c.bytes))
        })
        .unwrap();
    let s3 = shared.clone();
    assert!(queue_user_apc(&me, move || s3
        .lock()
        .unwrap()
        .push("apc2".into())));
    assert_eq!(
        sleep_ex(Some(Duration::ZERO), true),
        Ok(WaitResult::IoCompletion)
    );
    assert_eq!(*shared.lock().unwrap(), ["apc1", "io:2", "apc2"], "fact 37");
}

#[test]
fn apc_from_another_thread_wakes_an_alertable_wait() {
    let me = ThreadHandle::current().unwrap();
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ran.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        queue_user_apc(&me, move || {
            r.store(true, std::sync::atomic::Ordering::SeqCst)
        })
    });
    let e = Event::new();
    assert_eq!(
        wait_for_multiple_events(&[e], false, LONG, true),
        Ok(WaitResult::IoCompletion)
    );
    assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
    assert!(t.join().unwrap());
}

#[test]
fn alertable_wait_runs_routines_before_reporting_a_signalled_event() {
    let (client, server) = tcp_pair();
    let log = log();
    send_all(&client, b"z");
    let _ = sleep_ex(Some(Duration::from_millis(20)), false);
    recv_logged(&server, &log, "r").unwrap();
    let e = Event::new();
    e.set();
    assert_eq!(
        wait_for_multiple_events(std::slice::from_ref(&e), false, LONG, true),
        Ok(WaitResult::IoCompletion),
        "fact 29: the routines run and the event is not reported"
    );
    assert_eq!(
        wait_for_multiple_events(&[e], false, LONG, true),
        Ok(WaitResult::Signaled(0))
    );
}

#[test]
fn send_routine_reports_every_byte() {
    let (client, server) = tcp_pair();
    client.as_socket2().set_send_buffer_size(4096).unwrap();
    let data: Vec<u8> = (0..(256 * 1024)).map(|i| (i % 253) as u8).collect();
    let done = Rc::new(RefCell::new(None));
    let d = done.clone();
    let r = client.send_with(data.clone(), MsgFlags::empty(), move |c| {
        *d.borrow_mut() = Some((c.error, c.bytes))
    });
    assert!(matches!(r, Err(WsaError::WSA_IO_PENDING)));
    let reader = std::thread::spawn(move || recv_exact(&server, 256 * 1024));
    while done.borrow().is_none() {
        sleep_ex(LONG, true).unwrap();
    }
    assert_eq!(*done.borrow(), Some((WsaError::NO_ERROR, 256 * 1024)));
    assert_eq!(reader.join().unwrap(), data);
}

#[test]
fn routine_reports_the_error_of_a_reset_connection() {
    let (client, server) = tcp_pair();
    let log = log();
    pending(recv_logged(&server, &log, "r"));
    client
        .as_socket2()
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client);
    assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    assert_eq!(
        *log.borrow(),
        ["r:10054:"],
        "WSAECONNRESET through the routine"
    );
}

#[test]
fn thread_exit_with_routines_pending_loses_nothing() {
    // The routines of an exited thread can never run: their operations are
    // cancelled, so they consume no data, and their buffers are freed once
    // the kernel lets go (documented in DESIGN.md).
    let (client, server) = tcp_pair();
    let server = std::sync::Arc::new(server);
    for _ in 0..20 {
        let s = server.clone();
        std::thread::spawn(move || {
            // Several at once: one reaches the kernel, the others queue behind it.
            for _ in 0..3 {
                let r = s.recv_with(BufList::zeroed(4096), MsgFlags::empty(), |_| {
                    panic!("a routine of an exited thread must never run")
                });
                assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
            }
        })
        .join()
        .unwrap();
    }
    send_all(&client, b"kept");
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    match server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => panic!("{e}"),
    }
    let (n, _) = get_overlapped_result(&server, &ov, true).unwrap();
    assert_eq!(ov.take_buffers().unwrap().gather(n as usize), b"kept");
}

/// Posts a receive whose routine logs the bytes and posts the next one,
/// until the stream ends or fails.
fn receive_chain(s: &Socket, got: Rc<RefCell<Vec<u32>>>) {
    let next = s.clone();
    let r = s.recv_with(BufList::zeroed(64), MsgFlags::empty(), move |c| {
        got.borrow_mut().push(c.bytes);
        if c.bytes > 0 && c.error == WsaError::NO_ERROR {
            receive_chain(&next, got);
        }
    });
    assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
}

#[test]
fn a_receive_a_routine_posts_after_a_short_read_sees_the_end_that_came_with_the_data() {
    // The data and the peer's end arrive together while a receive waits:
    // the receive takes the data (fewer bytes than it asked for); the one
    // its routine posts must end with 0 bytes. (Issue 15: the epoll backend
    // took the short read for "nothing more to come" and waited for an
    // edge that the end had already made.)
    for round in 0..10 {
        let (client, server) = tcp_pair();
        let got = Rc::new(RefCell::new(Vec::new()));
        receive_chain(&server, got.clone());
        send_all(&client, b"hello");
        client.shutdown(std::net::Shutdown::Write).unwrap();
        // Away for a moment: both arrive before anyone looks.
        std::thread::sleep(Duration::from_millis(30));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !got.borrow().contains(&0) {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: the end never came ({:?})",
                got.borrow()
            );
            let _ = sleep_ex(Some(Duration::from_millis(100)), true);
        }
        assert_eq!(*got.borrow(), [5, 0], "round {round}");
    }
}
