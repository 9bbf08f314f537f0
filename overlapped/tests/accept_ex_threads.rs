//! AcceptEx posted from several threads on one blocking listener, as the
//! completion-port servers do (each worker re-posts its accept).
//!
//! On the epoll backend every thread's ring is told of each new connection
//! (each has the listener in its own epoll set) and all of them try
//! `accept4` at once on a listener that is in blocking mode: an accept must
//! never block a thread there (issue 15: a ring that read the listener's
//! flags while another ring had switched it to non-blocking for its one
//! call, then called `accept4` after the switch back, blocked inside the
//! kernel holding its ring, so every other operation of that thread
//! stalled until the next connection — long echoes of the C
//! completion-port server stopped).

use overlapped::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const N: u32 = ACCEPT_EX_ADDRESS_LEN;
const THREADS: usize = 8;
const CONNECTIONS: usize = 1000;
/// Generous bounds on a shared 2-core machine: only a hang reaches them.
const BOUND: Duration = Duration::from_secs(60);

#[test]
fn accept_ex_from_many_threads_on_one_blocking_listener_never_blocks_a_thread() {
    let l = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 128).unwrap();
    let addr = l.local_addr().unwrap();
    // Each worker also answers pings on a connection of its own, received
    // with an overlapped receive on its own thread: the ping shows that
    // nothing holds the thread's operations.
    let pings = TcpListener::bind("127.0.0.1:0").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (accepted_tx, accepted) = mpsc::channel::<()>();
    let (ended_tx, ended) = mpsc::channel::<Result<(), String>>();
    let mut probes = Vec::new();
    for _ in 0..THREADS {
        let ping = Socket::tcp_for(&pings.local_addr().unwrap()).unwrap();
        ping.connect(&pings.local_addr().unwrap()).unwrap();
        let (probe, _) = pings.accept().unwrap();
        probe.set_read_timeout(Some(BOUND)).unwrap();
        probes.push(probe);
        let (l, stop, accepted_tx, ended_tx) = (
            l.clone(),
            stop.clone(),
            accepted_tx.clone(),
            ended_tx.clone(),
        );
        std::thread::spawn(move || {
            let _ = ended_tx.send(worker(&l, &ping, &stop, &accepted_tx));
        });
    }
    drop(ended_tx);
    for i in 0..CONNECTIONS {
        let client = TcpStream::connect(addr).unwrap();
        accepted
            .recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("connection {i} was never accepted"));
        drop(client);
        // Every thread tried that accept: each must still answer.
        for (t, probe) in probes.iter_mut().enumerate() {
            probe.write_all(b"?").unwrap();
            let mut got = [0u8; 1];
            probe.read_exact(&mut got).unwrap_or_else(|e| {
                panic!(
                    "thread {t} stopped answering after connection {i} ({e}): stuck in an accept"
                )
            });
        }
    }
    stop.store(true, SeqCst);
    for t in 0..THREADS {
        match ended.recv_timeout(BOUND) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("a worker failed: {e}"),
            Err(_) => panic!(
                "{} of {THREADS} threads never saw their AcceptEx end after its cancel",
                THREADS - t
            ),
        }
    }
}

/// Keeps an AcceptEx posted on `l` and a receive on `ping` (answered) until
/// `stop`; then cancels the accept still posted and waits for it to end.
fn worker(
    l: &Socket,
    ping: &Socket,
    stop: &AtomicBool,
    accepted: &mpsc::Sender<()>,
) -> Result<(), String> {
    let fail = |what: &str, e: WsaError| format!("{what}: {e:?}");
    let addr = l.local_addr().map_err(|e| fail("local_addr", e))?;
    let (accept_event, ping_event) = (Event::new(), Event::new());
    let mut accept_ov = Overlapped::new(&accept_event);
    let mut ping_ov = Overlapped::new(&ping_event);
    let post_accept = |ov: &mut Overlapped| -> Result<Socket, String> {
        let acc = Socket::tcp_for(&addr).map_err(|e| fail("socket", e))?;
        match l.accept_ex(&acc, ov, vec![0u8; 2 * N as usize], 0, N, N) {
            Ok(_) | Err(WsaError::WSA_IO_PENDING) => Ok(acc),
            Err(e) => Err(fail("AcceptEx", e)),
        }
    };
    let post_ping = |ov: &mut Overlapped| match ping.recv(ov, vec![0u8; 1], MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => Ok(()),
        Err(e) => Err(fail("WSARecv", e)),
    };
    let mut _acc = post_accept(&mut accept_ov)?;
    post_ping(&mut ping_ov)?;
    let events = [accept_event.clone(), ping_event.clone()];
    loop {
        let r = wait_for_multiple_events(&events, false, Some(Duration::from_millis(100)), false)
            .map_err(|e| fail("wait", e))?;
        match r {
            WaitResult::Signaled(0) => {
                get_overlapped_result(l, &accept_ov, true).map_err(|e| fail("AcceptEx", e))?;
                let _ = accepted.send(());
                accept_event.reset();
                _acc = post_accept(&mut accept_ov)?;
            }
            WaitResult::Signaled(1) => {
                let (n, _) =
                    get_overlapped_result(ping, &ping_ov, true).map_err(|e| fail("ping", e))?;
                if n == 0 {
                    return Err("the ping connection ended".into());
                }
                ping_event.reset();
                ping.send_sync(&[std::io::IoSlice::new(b"!")], MsgFlags::empty())
                    .map_err(|e| fail("pong", e))?;
                post_ping(&mut ping_ov)?;
            }
            _ if stop.load(SeqCst) => {
                let _ = cancel_io_ex(l, Some(&accept_ov));
                return match get_overlapped_result(l, &accept_ov, true) {
                    Ok(_) | Err(WsaError::WSA_OPERATION_ABORTED) => Ok(()),
                    Err(e) => Err(fail("cancelled AcceptEx", e)),
                };
            }
            _ => {}
        }
    }
}
