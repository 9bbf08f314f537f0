//! The thread rules of completion ports (semantics fact 139): packets FIFO,
//! waiters released LIFO, the concurrency limit, a thread that blocks in
//! another wait not counting; and where packets come from: any thread's
//! ring, with the issuing thread away or gone (fact 133).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{pending, send_all, tcp_pair, LONG, SHORT};
use overlapped::{
    wait_for_single_object_ex, BufList, CompletionPort, Event, MsgFlags, Overlapped, PortStats,
    WaitResult, WsaError,
};

/// Polls `f` until it holds; panics after 20 s (never hangs).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

const STOP: usize = usize::MAX;

#[test]
fn waiting_threads_are_released_most_recent_first() {
    let port = CompletionPort::new(8).unwrap();
    let got: Arc<Mutex<Vec<(usize, u32)>>> = Arc::default();
    let mut threads = Vec::new();
    for i in 0..8 {
        let (p, got) = (port.clone(), got.clone());
        threads.push(std::thread::spawn(move || {
            let e = p.get_queued_completion_status(LONG).unwrap();
            got.lock().unwrap().push((i, e.bytes));
        }));
        // Thread i waits before thread i + 1 arrives.
        eventually("the thread to wait", || port.stats().waiting == i + 1);
    }
    for n in 0..8 {
        port.post_queued_completion_status(n, 0, None).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    let mut got = got.lock().unwrap().clone();
    got.sort();
    // Packets FIFO, waiters LIFO: the last thread to wait got the first packet.
    let expected: Vec<(usize, u32)> = (0..8).map(|i| (i, 7 - i as u32)).collect();
    assert_eq!(got, expected);
}

/// What the worker threads of the limit test share with the test.
#[derive(Default)]
struct Floor {
    /// Threads holding a packet now (between taking it and coming back).
    holding: usize,
    /// Most threads seen holding at once while none was blocked elsewhere.
    max_holding: usize,
    /// One holder should block in a wait of the library.
    block_one: bool,
    /// Holders stop holding.
    free: bool,
    done: usize,
}

fn concurrency_limit(limit: usize) {
    let port = CompletionPort::new(limit as u32).unwrap();
    let floor = Arc::new((Mutex::new(Floor::default()), Condvar::new()));
    let gate = Event::new();
    let blocked = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for _ in 0..8 {
        let (port, floor, gate, blocked) =
            (port.clone(), floor.clone(), gate.clone(), blocked.clone());
        threads.push(std::thread::spawn(move || loop {
            let e = port.get_queued_completion_status(LONG).unwrap();
            if e.key == STOP {
                return;
            }
            let (lock, cv) = &*floor;
            let mut f = lock.lock().unwrap();
            f.holding += 1;
            if blocked.load(SeqCst) == 0 {
                f.max_holding = f.max_holding.max(f.holding);
            }
            cv.notify_all();
            // Hold the packet (this thread runs: it waits outside the library).
            let deadline = Instant::now() + Duration::from_secs(20);
            while !f.free && !f.block_one {
                assert!(Instant::now() < deadline, "holder never released");
                f = cv.wait_timeout(f, Duration::from_millis(50)).unwrap().0;
            }
            if f.block_one && !f.free {
                f.block_one = false;
                drop(f);
                // Block in a wait of the library: this thread stops counting.
                blocked.fetch_add(1, SeqCst);
                let r = wait_for_single_object_ex(&gate, LONG, false).unwrap();
                assert_eq!(r, WaitResult::Signaled(0));
                f = lock.lock().unwrap();
                while !f.free {
                    f = cv.wait_timeout(f, Duration::from_millis(50)).unwrap().0;
                }
            }
            f.holding -= 1;
            f.done += 1;
            cv.notify_all();
        }));
    }
    eventually("8 waiters", || port.stats().waiting == 8);
    for n in 0..8 {
        port.post_queued_completion_status(n, 0, None).unwrap();
    }
    // The release happens as the packets are queued: exactly `limit` run.
    assert_eq!(
        port.stats(),
        PortStats {
            queued: 8 - limit,
            waiting: 8 - limit,
            running: limit,
            concurrency: limit,
        }
    );
    let (lock, cv) = &*floor;
    eventually("the released threads to hold", || {
        lock.lock().unwrap().holding == limit
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(lock.lock().unwrap().holding, limit, "no more may run");
    assert_eq!(port.stats().queued, 8 - limit);

    // One running thread blocks in a wait of the library: another waiter is
    // released in its place.
    lock.lock().unwrap().block_one = true;
    cv.notify_all();
    eventually("a replacement to run", || {
        lock.lock().unwrap().holding == limit + 1
    });
    assert_eq!(port.stats().queued, 8 - limit - 1);
    assert_eq!(port.stats().running, limit);
    // It returns: it counts again, over the limit for a while (as on Windows).
    gate.set();
    eventually("the blocked thread to count again", || {
        port.stats().running == limit + 1
    });
    assert_eq!(port.stats().queued, 8 - limit - 1);

    // Let everything run to the end; never more than `limit` at once.
    {
        let mut f = lock.lock().unwrap();
        f.free = true;
        cv.notify_all();
    }
    eventually("every packet", || lock.lock().unwrap().done == 8);
    for _ in 0..8 {
        port.post_queued_completion_status(0, STOP, None).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(lock.lock().unwrap().max_holding, limit);
    assert_eq!(port.stats().running, 0);
}

#[test]
fn at_most_one_thread_runs_with_a_limit_of_one() {
    concurrency_limit(1);
}

#[test]
fn at_most_two_threads_run_with_a_limit_of_two() {
    concurrency_limit(2);
}

#[test]
fn a_thread_returning_to_the_port_takes_the_next_packet_without_waiting() {
    let port = CompletionPort::new(1).unwrap();
    for n in 0..3 {
        port.post_queued_completion_status(n, 1, None).unwrap();
    }
    for n in 0..3 {
        let e = port
            .get_queued_completion_status(Some(Duration::ZERO))
            .unwrap();
        assert_eq!(e.bytes, n);
        assert_eq!(port.stats().running, 1);
    }
}

#[test]
fn the_waiter_gets_packets_while_the_issuing_thread_is_away() {
    // Operations issued on a thread that then blocks outside the library
    // (not in a wait of ours): another thread's wait on the port still gets
    // their packets.
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 42).unwrap();
    let (issued_tx, issued_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let issuer = std::thread::spawn(move || {
        let mut ov = Overlapped::without_event();
        pending(server.recv(&mut ov, BufList::zeroed(32), MsgFlags::empty()));
        issued_tx.send(()).unwrap();
        // Away: blocked in something that is not the library's.
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
        (server, ov)
    });
    issued_rx.recv().unwrap();
    send_all(&client, b"while you sleep");
    let mut e = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((e.key, e.bytes), (42, 15));
    let data = e.overlapped.as_mut().unwrap().take_buffers().unwrap();
    assert_eq!(data.gather(15), b"while you sleep");
    done_tx.send(()).unwrap();
    let (_server, ov) = issuer.join().unwrap();
    assert!(e.overlapped.unwrap().same(&ov));
}

#[test]
fn a_thread_may_exit_with_operations_pending_and_their_packets_still_come() {
    // Fact 133.
    let (client, server) = tcp_pair();
    let server = Arc::new(server);
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 7).unwrap();
    let s = server.clone();
    let ov = std::thread::spawn(move || {
        let mut ov = Overlapped::without_event();
        pending(s.recv(&mut ov, BufList::zeroed(32), MsgFlags::empty()));
        ov
    })
    .join()
    .unwrap();
    assert_eq!(
        port.get_queued_completion_status(SHORT).unwrap_err(),
        WsaError::WAIT_TIMEOUT
    );
    send_all(&client, b"twelve bytes");
    let mut e = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((e.key, e.bytes, e.error), (7, 12, WsaError::NO_ERROR));
    let record = e.overlapped.as_mut().unwrap();
    assert!(record.same(&ov));
    assert_eq!(record.take_buffers().unwrap().gather(12), b"twelve bytes");
}

#[test]
fn a_thread_that_exits_while_running_frees_its_place() {
    let port = CompletionPort::new(1).unwrap();
    port.post_queued_completion_status(1, 1, None).unwrap();
    let p = port.clone();
    std::thread::spawn(move || {
        p.get_queued_completion_status(LONG).unwrap();
        assert_eq!(p.stats().running, 1);
    })
    .join()
    .unwrap();
    assert_eq!(port.stats().running, 0);
    port.post_queued_completion_status(2, 2, None).unwrap();
    assert_eq!(
        port.get_queued_completion_status(Some(Duration::ZERO))
            .unwrap()
            .bytes,
        2
    );
}

#[test]
fn a_thread_blocked_in_a_synchronous_receive_lets_another_run() {
    // Fact 139 with a synchronous call: limit 1; the running thread blocks
    // in recv_sync (a wait of the library), so the second packet is released
    // to another waiter; the receive then returns and its thread counts again.
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let server = Arc::new(server);
    let mut threads = Vec::new();
    for _ in 0..2 {
        let (p, got, server) = (port.clone(), got.clone(), server.clone());
        threads.push(std::thread::spawn(move || {
            let e = p.get_queued_completion_status(LONG).unwrap();
            got.fetch_add(1, SeqCst);
            if e.key == 1 {
                // The first packet's thread blocks in a synchronous receive.
                let mut buf = [0u8; 4];
                let n = server
                    .recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty())
                    .unwrap();
                assert_eq!(&buf[..n], b"go");
            }
        }));
    }
    eventually("2 waiters", || port.stats().waiting == 2);
    port.post_queued_completion_status(0, 1, None).unwrap();
    eventually("the first to block", || {
        got.load(SeqCst) == 1 && port.stats().running == 0
    });
    port.post_queued_completion_status(0, 2, None).unwrap();
    eventually("the second to run", || got.load(SeqCst) == 2);
    assert_eq!(port.stats().queued, 0);
    send_all(&client, b"go");
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(port.stats().running, 0);
}
