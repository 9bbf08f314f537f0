//! Progress that never depends on which thread enters the library (issue
//! 18): the next operation of a socket lane, the cancellation and release of
//! a closed socket, and the signalling of an event all happen while the
//! issuing thread is away (asleep outside the library), and no waiter ever
//! becomes the owner of another thread's operation.
//!
//! "Away" is `std::thread::sleep` or a plain channel wait: never a call of
//! the library. Every wait is bounded; the races run many rounds.

mod common;

use common::*;
use overlapped::*;
use std::io::{Read, Write};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(5);

/// Reads from `s` with plain `read` (never the library) until `n` bytes came
/// or the read times out (`BOUND`); returns what came.
fn plain_read(s: &Socket, n: usize) -> Vec<u8> {
    let sock = s.as_socket2();
    sock.set_read_timeout(Some(BOUND)).unwrap();
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; 256 * 1024];
    while out.len() < n {
        match (&*sock).read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => out.extend_from_slice(&buf[..k]),
        }
    }
    out
}

/// Input 1: the wait starts before the operation exists; the issuing thread
/// then sleeps outside the library while the data arrives.
fn wait_started_before_the_operation(timeout: Option<Duration>) {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let (tx, rx) = mpsc::channel();
    let ev = event.clone();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(ev.wait(timeout));
    });
    std::thread::sleep(Duration::from_millis(30)); // the waiter is waiting
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()));
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        send_all(&client, b"hello");
        client
    });
    // This thread is away: a channel wait, not the library.
    let woke = rx.recv_timeout(BOUND);
    if woke.is_err() {
        event.set(); // unblock the waiter before failing
    }
    waiter.join().unwrap();
    let _client = sender.join().unwrap();
    assert_eq!(
        woke,
        Ok(Ok(WaitResult::Signaled(0))),
        "the waiter missed it"
    );
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Ok((5, MsgFlags::empty()))
    );
}

#[test]
fn a_wait_started_before_the_operation_sees_its_completion() {
    wait_started_before_the_operation(Some(Duration::from_secs(8)));
}

#[test]
fn an_infinite_wait_started_before_the_operation_sees_its_completion() {
    wait_started_before_the_operation(WSA_INFINITE);
}

/// Input 2: a record waited for on another thread (`fWait = TRUE`) while its
/// event is already signalled by another record that shares it; the owner
/// reaps its completions in a `sleep_ex` loop.
#[test]
fn a_record_wait_wakes_when_its_shared_event_was_already_signalled() {
    let (c1, s1) = tcp_pair();
    let (c2, s2) = tcp_pair();
    let (s1, s2) = (Arc::new(s1), Arc::new(s2));
    for round in 0..100 {
        let event = Event::new();
        let (ovs_tx, ovs_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (a, b, ev) = (s1.clone(), s2.clone(), event.clone());
        let owner = std::thread::spawn(move || {
            let mut ov1 = Overlapped::new(&ev);
            let mut ov2 = Overlapped::new(&ev);
            pending(a.recv(&mut ov1, BufList::zeroed(1), MsgFlags::empty()));
            pending(b.recv(&mut ov2, BufList::zeroed(1), MsgFlags::empty()));
            ovs_tx.send((ov1, Arc::new(ov2))).unwrap();
            while stop_rx.try_recv().is_err() {
                let _ = sleep_ex(Some(Duration::from_millis(2)), true);
            }
        });
        let (ov1, ov2) = ovs_rx.recv_timeout(BOUND).unwrap();
        send_all(&c1, b"1");
        let deadline = Instant::now() + BOUND;
        while !event.is_set() {
            assert!(Instant::now() < deadline, "round {round}: first record");
            std::thread::sleep(Duration::from_millis(1));
        }
        let (res_tx, res_rx) = mpsc::channel();
        let (b, ov) = (s2.clone(), ov2.clone());
        let waiter = std::thread::spawn(move || {
            let _ = res_tx.send(get_overlapped_result(&b, &ov, true));
        });
        std::thread::sleep(Duration::from_millis(5)); // the waiter is parked
        send_all(&c2, b"2");
        let got = res_rx.recv_timeout(BOUND);
        stop_tx.send(()).unwrap();
        owner.join().unwrap();
        if got.is_err() {
            // Unblock the waiter: its record completes once someone looks.
            let _ = ov2.is_completed();
            event.set();
        }
        waiter.join().unwrap();
        assert_eq!(got, Ok(Ok((1, MsgFlags::empty()))), "round {round}");
        assert!(ov1.is_completed());
    }
}

/// Input 3: a send queued behind another leaves while the issuer sleeps
/// outside the library; the peer reads with plain `recv`.
#[test]
fn a_routine_send_queued_behind_another_leaves_while_the_issuer_is_away() {
    let (client, server) = tcp_pair();
    let big = 16 * 1024 * 1024;
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let issuer = std::thread::spawn(move || {
        let results = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let (r1, r2) = (results.clone(), results.clone());
        pending(
            server.send_with(BufList::from(vec![7u8; big]), MsgFlags::empty(), move |c| {
                r1.borrow_mut().push((c.error, c.bytes))
            }),
        );
        pending(
            server.send_with(BufList::from(vec![8u8; 100]), MsgFlags::empty(), move |c| {
                r2.borrow_mut().push((c.error, c.bytes))
            }),
        );
        started_tx.send(()).unwrap();
        // Away: not in the library until the reader is done.
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
        let deadline = Instant::now() + BOUND;
        while results.borrow().len() < 2 && Instant::now() < deadline {
            let _ = sleep_ex(Some(Duration::from_millis(50)), true);
        }
        let r = results.borrow().clone();
        (r, server)
    });
    // The reader starts once both sends are pending (the first one, with
    // nobody reading, cannot finish inside its call: the second is queued
    // behind it).
    if started_rx.recv_timeout(Duration::from_secs(20)).is_err() {
        let _ = issuer.join().unwrap(); // its panic, if it had one
        panic!("the sends were not started within 20 s");
    }
    let got = plain_read(&client, big + 100);
    done_tx.send(()).unwrap();
    let (routines, _server) = issuer.join().unwrap();
    assert_eq!(got.len(), big + 100, "the queued send never left");
    assert!(got[big..].iter().all(|b| *b == 8));
    assert_eq!(
        routines,
        vec![
            (WsaError::NO_ERROR, big as u32),
            (WsaError::NO_ERROR, 100u32)
        ]
    );
}

#[test]
fn an_event_send_queued_behind_another_leaves_with_nobody_waiting() {
    let (client, server) = tcp_pair();
    let big = 16 * 1024 * 1024;
    let event = Event::new();
    let mut ov1 = Overlapped::new(&event);
    let mut ov2 = Overlapped::new(&event);
    pending(server.send(&mut ov1, BufList::from(vec![7u8; big]), MsgFlags::empty()));
    pending(server.send(&mut ov2, BufList::from(vec![8u8; 100]), MsgFlags::empty()));
    // This thread reads with plain `read`: nobody is in the library.
    let got = plain_read(&client, big + 100);
    assert_eq!(got.len(), big + 100, "the queued send never left");
    assert!(got[big..].iter().all(|b| *b == 8));
    assert_eq!(
        get_overlapped_result(&server, &ov2, true),
        Ok((100, MsgFlags::empty()))
    );
    assert_eq!(
        get_overlapped_result(&server, &ov1, true),
        Ok((big as u32, MsgFlags::empty()))
    );
}

/// Input 4: thread exit cancels the routine receive at the head of the lane
/// and keeps the event receive queued behind it (fact 133).
#[test]
fn thread_exit_keeps_an_event_receive_queued_behind_a_routine_receive() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let ev = event.clone();
    let (ov, server) = std::thread::spawn(move || {
        let mut ov = Overlapped::new(&ev);
        pending(
            server.recv_with(BufList::zeroed(8), MsgFlags::empty(), |_| {
                panic!("a routine of an exited thread never runs")
            }),
        );
        pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
        (ov, server)
    })
    .join()
    .unwrap();
    send_all(&client, b"payload!");
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    let mut ov = ov;
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Ok((8, MsgFlags::empty()))
    );
    assert_eq!(ov.take_buffers().unwrap().gather(8), b"payload!");
}

#[test]
fn thread_exit_keeps_an_event_send_queued_behind_a_routine_send() {
    let (client, server) = tcp_pair();
    server.as_socket2().set_send_buffer_size(16 * 1024).unwrap();
    client.as_socket2().set_recv_buffer_size(16 * 1024).unwrap();
    let event = Event::new();
    let ev = event.clone();
    let big = 4 * 1024 * 1024;
    let (ov, server) = std::thread::spawn(move || {
        let mut ov = Overlapped::new(&ev);
        // Too big to go at once: it is pending when the thread exits.
        pending(
            server.send_with(BufList::from(vec![7u8; big]), MsgFlags::empty(), |_| {
                panic!("a routine of an exited thread never runs")
            }),
        );
        pending(server.send(
            &mut ov,
            BufList::from(b"payload!".to_vec()),
            MsgFlags::empty(),
        ));
        (ov, server)
    })
    .join()
    .unwrap();
    // The routine send was cancelled part way; the event send follows it.
    let mut got = Vec::new();
    let deadline = Instant::now() + BOUND;
    while !got.ends_with(b"payload!") && Instant::now() < deadline {
        let more = plain_read(&client, 1);
        if more.is_empty() {
            break;
        }
        got.extend_from_slice(&more);
    }
    assert!(
        got.ends_with(b"payload!"),
        "{} bytes, no payload",
        got.len()
    );
    assert!(got.len() < big + 8, "the routine send was not cancelled");
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Ok((8, MsgFlags::empty()))
    );
}

/// Input 5: a thread that only waited on another thread's event never
/// becomes the owner of that thread's next queued receive.
#[test]
fn a_waiter_that_exits_never_takes_another_threads_queued_receive() {
    let (client, server) = tcp_pair();
    let server = Arc::new(server);
    for round in 0..20 {
        let (e1, e2) = (Event::new(), Event::new());
        let (ovs_tx, ovs_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (s, a, b) = (server.clone(), e1.clone(), e2.clone());
        let owner = std::thread::spawn(move || {
            let mut ov1 = Overlapped::new(&a);
            let mut ov2 = Overlapped::new(&b);
            pending(s.recv(&mut ov1, BufList::zeroed(8), MsgFlags::empty()));
            pending(s.recv(&mut ov2, BufList::zeroed(8), MsgFlags::empty()));
            ovs_tx.send((ov1, ov2)).unwrap();
            // Away until the round ends.
            let _ = stop_rx.recv_timeout(Duration::from_secs(20));
        });
        let (ov1, mut ov2) = ovs_rx.recv_timeout(BOUND).unwrap();
        let w = e1.clone();
        let waiter = std::thread::spawn(move || w.wait(LONG));
        std::thread::sleep(Duration::from_millis(5));
        send_all(&client, b"first!!!");
        assert_eq!(waiter.join().unwrap(), Ok(WaitResult::Signaled(0)));
        // The waiter has exited; the second receive must still be live.
        std::thread::sleep(Duration::from_millis(20));
        send_all(&client, b"second!!");
        let r = e2.wait(LONG);
        stop_tx.send(()).unwrap();
        owner.join().unwrap();
        assert_eq!(r, Ok(WaitResult::Signaled(0)), "round {round}");
        assert_eq!(
            get_overlapped_result(&server, &ov2, false),
            Ok((8, MsgFlags::empty())),
            "round {round}"
        );
        assert_eq!(ov2.take_buffers().unwrap().gather(8), b"second!!");
        assert!(ov1.is_completed());
    }
}

/// Input 6: closing frees the port at once (same thread), and at once after
/// the cancel lands when another thread closes while the issuer is away.
#[test]
fn closing_a_udp_socket_with_a_receive_pending_frees_its_port_at_once() {
    for _ in 0..20 {
        let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
        s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = s.local_addr().unwrap();
        let event = Event::new();
        let mut ov = Overlapped::new(&event);
        pending(s.recv_from(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
        s.close().unwrap();
        let again = Socket::udp_for(&addr).unwrap();
        assert_eq!(again.bind(&addr), Ok(()), "the port is still taken");
        assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
        assert!(ov.is_completed());
    }
}

fn bind_within(addr: &std::net::SocketAddr, bound: Duration) -> WsaResult<Socket> {
    let deadline = Instant::now() + bound;
    loop {
        let again = Socket::udp_for(addr).unwrap();
        match again.bind(addr) {
            Ok(()) => return Ok(again),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

#[test]
fn closing_from_another_thread_frees_the_port_while_the_issuer_is_away() {
    for round in 0..10 {
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let owner = std::thread::spawn(move || {
            let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
            s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
            let event = Event::new();
            let mut ov = Overlapped::new(&event);
            pending(s.recv_from(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
            tx.send((s, ov, event)).unwrap();
            let _ = stop_rx.recv_timeout(Duration::from_secs(20)); // away
        });
        let (s, ov, event) = rx.recv_timeout(BOUND).unwrap();
        let addr = s.local_addr().unwrap();
        drop(s);
        // Not instantaneous (the cancel lands on the issuer's ring), but
        // never waiting for the issuer to come back.
        let bound = bind_within(&addr, Duration::from_secs(2));
        let signalled = event.wait(LONG);
        stop_tx.send(()).unwrap();
        owner.join().unwrap();
        assert!(bound.is_ok(), "round {round}: {bound:?}");
        assert_eq!(signalled, Ok(WaitResult::Signaled(0)));
        assert!(ov.is_completed());
    }
}

/// Fact 131: an abortive close sends the reset at `closesocket`, with no
/// library thread waiting afterwards.
fn abortive_close_resets(from_another_thread: bool) {
    let (client, server) = tcp_pair();
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let owner = std::thread::spawn(move || {
        let event = Event::new();
        let mut ov = Overlapped::new(&event);
        pending(server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
        server
            .as_socket2()
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        // The pending record outlives the close, untouched.
        let mut keep = None;
        if from_another_thread {
            tx.send(Some(server)).unwrap();
        } else {
            drop(server);
            tx.send(None).unwrap();
        }
        keep.replace(ov);
        let _ = stop_rx.recv_timeout(Duration::from_secs(20)); // away
        drop(keep);
    });
    let handed = rx.recv_timeout(BOUND).unwrap();
    drop(handed);
    let sock = client.as_socket2();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 16];
    let r = (&*sock).read(&mut buf);
    stop_tx.send(()).unwrap();
    owner.join().unwrap();
    match r {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        Ok(n) => panic!("no reset: read returned {n}"),
    }
}

#[test]
fn an_abortive_close_resets_the_peer_at_once() {
    abortive_close_resets(false);
}

#[test]
fn an_abortive_close_from_another_thread_resets_the_peer_while_the_issuer_is_away() {
    abortive_close_resets(true);
}

/// A thread that was busy in the library (its ring left with notifications
/// off between its calls) and then goes away: its event receive still
/// completes while it is away, round after round, each round starting from
/// a busy spell (the service's look at an owner that stopped coming back).
#[test]
fn an_event_receive_completes_while_its_issuer_is_away_after_a_busy_spell() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let theirs = event.clone();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    const ROUNDS: usize = 30;
    let issuer = std::thread::spawn(move || {
        let mut got = Vec::new();
        for _ in 0..ROUNDS {
            // Busy: many short calls, each taking and leaving the ring.
            for _ in 0..50 {
                let _ = sleep_ex(Some(Duration::ZERO), true);
            }
            let mut ov = Overlapped::new(&theirs);
            pending(server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()));
            ready_tx.send(()).unwrap();
            // Away until the other thread saw the event.
            go_rx.recv_timeout(Duration::from_secs(20)).unwrap();
            got.push(get_overlapped_result(&server, &ov, false).map(|(n, _)| n));
        }
        got
    });
    let mut late = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        ready_rx.recv_timeout(Duration::from_secs(20)).unwrap();
        let sent = Instant::now();
        client.as_socket2().write_all(&[round as u8]).unwrap();
        let woke =
            wait_for_multiple_events(std::slice::from_ref(&event), false, Some(BOUND), false);
        late.push(sent.elapsed());
        assert_eq!(
            woke,
            Ok(WaitResult::Signaled(0)),
            "round {round}: never completed"
        );
        event.reset();
        go_tx.send(()).unwrap();
    }
    assert_eq!(issuer.join().unwrap(), vec![Ok(1); ROUNDS]);
    // The figure, not an assertion (timings on a shared machine): how late
    // the completion reached this thread while its issuer was away.
    late.sort();
    eprintln!(
        "completion while the issuer is away, {ROUNDS} rounds: median {:?}, max {:?}",
        late[ROUNDS / 2],
        late[ROUNDS - 1]
    );
}
