//! Overlapped operations as futures: completion, cancellation by drop (no
//! data lost), wake-ups from other threads, the executor (`block_on`,
//! `spawn_local`) and its alertable park.

mod common;

use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::{recv_exact, send_all, tcp_pair};
use overlapped::{
    block_on, spawn_local, BufList, Control, ControlMessage, MsgFlags, MsgSpace, ReceiveControl,
    Socket, WsaError,
};

/// Runs `f` on its own thread and fails the test if it takes over `secs`
/// (a broken wake-up must fail, not hang).
fn bounded<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the test thread panicked (above)"),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test did not finish in {secs} s (a lost wake-up?)")
        }
    }
}

/// Polls `fut` once with a waker that does nothing; returns whether it was ready.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn recv_and_send_complete_and_hand_the_buffers_back() {
    bounded(60, || {
        let (client, server) = tcp_pair();
        block_on(async {
            let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
            let send = client.send_async(data.clone(), MsgFlags::empty());
            assert_send(&send);
            // A large send completes only whole; read it while it goes.
            let reader = spawn_local(async move {
                let mut got = Vec::new();
                let mut bufs = BufList::from(vec![vec![0u8; 3000], vec![0u8; 1000]]);
                while got.len() < 100_000 {
                    let (n, b) = server.recv_async(bufs, MsgFlags::empty()).await;
                    let n = n.expect("receive") as usize;
                    assert!(n > 0);
                    got.extend(b.gather(n));
                    bufs = b;
                }
                (got, server)
            });
            let (sent, bufs) = send.await;
            assert_eq!(sent, Ok(100_000));
            assert_eq!(bufs.gather(100_000), data);
            let (got, server) = reader.await;
            assert_eq!(got, data);
            // The peer's orderly close is Ok(0).
            client.shutdown(std::net::Shutdown::Write).unwrap();
            let (n, bufs) = server
                .recv_async(BufList::zeroed(16), MsgFlags::empty())
                .await;
            assert_eq!(n, Ok(0));
            assert_eq!(bufs.total_len(), 16);
        });
    });
}

#[test]
fn errors_come_back_with_the_buffers() {
    bounded(30, || {
        let (client, _server) = tcp_pair();
        block_on(async {
            let (r, bufs) = client.recv_async(BufList::new(), MsgFlags::empty()).await;
            assert_eq!(r, Err(WsaError::WSAEINVAL));
            assert_eq!(bufs.count(), 0);
            client.shutdown(std::net::Shutdown::Write).unwrap();
            let (r, bufs) = client.send_async(b"late".to_vec(), MsgFlags::empty()).await;
            assert_eq!(r, Err(WsaError::WSAESHUTDOWN));
            assert_eq!(bufs.gather(4), b"late");
        });
    });
}

#[test]
fn dropped_receive_loses_no_data_the_next_receive_reads_it() {
    bounded(60, || {
        let (client, server) = tcp_pair();
        for round in 0..50u8 {
            // Start a receive, let it wait in the kernel, drop it.
            let mut first = server.recv_async(BufList::zeroed(64), MsgFlags::empty());
            assert!(poll_once(&mut first).is_pending());
            assert!(first.is_pending());
            drop(first);
            // What the peer sends now belongs to the next receive, whole.
            let msg = [round; 10];
            send_all(&client, &msg);
            let (n, bufs) = block_on(server.recv_async(BufList::zeroed(64), MsgFlags::empty()));
            assert_eq!(n, Ok(10), "round {round}");
            assert_eq!(bufs.gather(10), msg);
        }
    });
}

#[test]
fn dropping_the_first_of_two_pending_receives_gives_the_data_to_the_second() {
    bounded(30, || {
        let (client, server) = tcp_pair();
        let mut first = server.recv_async(BufList::zeroed(64), MsgFlags::empty());
        let mut second = server.recv_async(BufList::zeroed(64), MsgFlags::empty());
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending()); // queued behind the first (fact 13)
        drop(first);
        send_all(&client, b"second");
        let (n, bufs) = block_on(second);
        assert_eq!(n, Ok(6));
        assert_eq!(bufs.gather(6), b"second");
        // And the stream goes on in order.
        send_all(&client, b"third");
        let (n, bufs) = block_on(server.recv_async(BufList::zeroed(64), MsgFlags::empty()));
        assert_eq!(bufs.gather(n.unwrap() as usize), b"third");
    });
}

#[test]
fn a_receive_wakes_when_another_thread_sends() {
    bounded(30, || {
        let (client, server) = tcp_pair();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            send_all(&client, b"from afar");
            client
        });
        let (n, bufs) = block_on(server.recv_async(BufList::zeroed(64), MsgFlags::empty()));
        assert_eq!(n, Ok(9));
        assert_eq!(bufs.gather(9), b"from afar");
        sender.join().unwrap();
    });
}

/// A one-shot signal completed by another thread's `Waker::wake`.
#[derive(Default)]
struct Flag {
    done: bool,
    waker: Option<Waker>,
}

struct FlagFuture(Arc<Mutex<Flag>>);

impl Future for FlagFuture {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut f = self.0.lock().unwrap();
        if f.done {
            Poll::Ready(())
        } else {
            f.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn block_on_wakes_when_another_thread_calls_the_waker() {
    bounded(30, || {
        for _ in 0..20 {
            let flag = Arc::new(Mutex::new(Flag::default()));
            let f = flag.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                let waker = {
                    let mut f = f.lock().unwrap();
                    f.done = true;
                    f.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            });
            block_on(FlagFuture(flag));
            t.join().unwrap();
        }
    });
}

#[test]
fn a_task_woken_from_another_thread_runs() {
    bounded(30, || {
        let flag = Arc::new(Mutex::new(Flag::default()));
        let f = flag.clone();
        let task = spawn_local(async move {
            FlagFuture(f).await;
            "woken"
        });
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let w = {
                let mut f = flag.lock().unwrap();
                f.done = true;
                f.waker.take()
            };
            w.expect("the task registered its waker").wake();
        });
        assert_eq!(block_on(task), "woken");
        t.join().unwrap();
    });
}

#[test]
fn an_operation_started_on_one_thread_completes_on_another() {
    bounded(60, || {
        let (client, server) = tcp_pair();
        // Thread A starts the receive (on its ring) and then sleeps outside
        // the library; thread B awaits it: B drives A's ring.
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let a = std::thread::spawn(move || {
            let mut fut = server.recv_async(BufList::zeroed(64), MsgFlags::empty());
            assert!(poll_once(&mut fut).is_pending());
            tx.send(fut).unwrap();
            let _ = stop_rx.recv_timeout(Duration::from_secs(50));
            server
        });
        let fut = rx.recv().unwrap();
        let b = std::thread::spawn(move || block_on(fut));
        std::thread::sleep(Duration::from_millis(50));
        send_all(&client, b"cross");
        let (n, bufs) = b.join().unwrap();
        assert_eq!(n, Ok(5));
        assert_eq!(bufs.gather(5), b"cross");
        stop_tx.send(()).unwrap();
        a.join().unwrap();
    });
}

#[test]
fn closing_the_socket_ends_a_pending_receive_future() {
    bounded(30, || {
        let (_client, server) = tcp_pair();
        // The future holds the socket's state, not a borrow: the socket may
        // be closed elsewhere while it waits.
        let recv = server.recv_async(BufList::zeroed(64), MsgFlags::empty());
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            server.close().unwrap();
        });
        let (n, bufs) = block_on(recv);
        assert_eq!(n, Err(WsaError::WSAECONNABORTED));
        assert_eq!(bufs.total_len(), 64);
        closer.join().unwrap();
    });
}

#[test]
fn many_connections_on_one_thread() {
    bounded(120, || {
        let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 128).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        let mut echoes = Vec::new();
        for _ in 0..50 {
            let c = Socket::tcp_for(&addr).unwrap();
            c.connect(&addr).unwrap();
            let (s, _) = listener.accept().unwrap();
            clients.push(c);
            echoes.push(spawn_local(async move {
                let mut bufs = BufList::zeroed(1024);
                let mut total = 0;
                loop {
                    let (n, mut b) = s.recv_async(bufs, MsgFlags::empty()).await;
                    let n = n.unwrap();
                    if n == 0 {
                        return total;
                    }
                    total += n;
                    b.limit(n as usize);
                    let (sent, mut b) = s.send_async(b, MsgFlags::empty()).await;
                    assert_eq!(sent, Ok(n));
                    b.unlimit();
                    bufs = b;
                }
            }));
        }
        let talkers = std::thread::spawn(move || {
            for round in 0..20u8 {
                for (i, c) in clients.iter().enumerate() {
                    let msg = [round ^ i as u8; 33];
                    send_all(c, &msg);
                    assert_eq!(recv_exact(c, 33), msg);
                }
            }
            for c in &clients {
                c.shutdown(std::net::Shutdown::Write).unwrap();
            }
            clients
        });
        let totals = block_on(async {
            let mut totals = Vec::new();
            for e in echoes {
                totals.push(e.await);
            }
            totals
        });
        assert!(totals.iter().all(|&t| t == 20 * 33));
        talkers.join().unwrap();
    });
}

#[test]
fn block_on_is_an_alertable_wait_routines_run_inside_it() {
    bounded(30, || {
        let (client, server) = tcp_pair();
        let ran_on = Arc::new(Mutex::new(None));
        let r = ran_on.clone();
        let _ = server.recv_with(BufList::zeroed(16), MsgFlags::empty(), move |c| {
            *r.lock().unwrap() = Some((std::thread::current().id(), c.bytes));
        });
        let me = std::thread::current().id();
        block_on(async {
            let (sent, _) = client.send_async(b"apc".to_vec(), MsgFlags::empty()).await;
            assert_eq!(sent, Ok(3));
            // Wait (yielding to the executor) until the routine has run.
            std::future::poll_fn(|cx| {
                if ran_on.lock().unwrap().is_some() {
                    Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })
            .await;
        });
        assert_eq!(*ran_on.lock().unwrap(), Some((me, 3)));
    });
}

#[test]
fn datagram_futures_complete_with_address_and_control() {
    bounded(30, || {
        let any = "127.0.0.1:0".parse().unwrap();
        let (a, b) = (
            Socket::udp_for(&any).unwrap(),
            Socket::udp_for(&any).unwrap(),
        );
        a.bind(&any).unwrap();
        b.bind(&any).unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        block_on(async {
            // WSASendTo / WSARecvFrom
            let (sent, _) = b
                .send_to_async(b"dgram".to_vec(), &a_addr, MsgFlags::empty())
                .await;
            assert_eq!(sent, Ok(5));
            let c = a
                .recv_from_async(BufList::zeroed(64), MsgFlags::empty())
                .await;
            assert!(c.error.is_ok(), "{:?}", c.error);
            assert_eq!(c.buffers.gather(c.bytes as usize), b"dgram");
            assert_eq!(c.from, Some(b_addr));
            // A truncated datagram: WSAEMSGSIZE with the bytes that fit.
            let _ = b
                .send_to_async(vec![7u8; 100], &a_addr, MsgFlags::empty())
                .await;
            let c = a
                .recv_from_async(BufList::zeroed(10), MsgFlags::empty())
                .await;
            assert_eq!(c.error, WsaError::WSAEMSGSIZE);
            assert_eq!(c.bytes, 10);
            // WSASendMsg / WSARecvMsg with packet info.
            a.set_receive_control(ReceiveControl::PktInfo, true)
                .unwrap();
            let (sent, _) = b
                .send_msg_async(
                    b"msg".to_vec(),
                    Some(&a_addr),
                    Control::new(),
                    MsgFlags::empty(),
                )
                .await;
            assert_eq!(sent, Ok(3));
            let space = MsgSpace::control(Control::space(64));
            let c = a
                .recv_msg_async(BufList::zeroed(64), space, MsgFlags::empty())
                .await;
            assert!(c.error.is_ok(), "{:?}", c.error);
            assert_eq!(c.buffers.gather(3), b"msg");
            assert_eq!(c.from, Some(b_addr));
            assert!(c
                .control
                .iter()
                .any(|m| matches!(m, ControlMessage::PktInfoV4 { .. })));
        });
    });
}

#[test]
fn a_dropped_datagram_receive_leaves_the_datagram_for_the_next() {
    bounded(30, || {
        let any = "127.0.0.1:0".parse().unwrap();
        let (a, b) = (
            Socket::udp_for(&any).unwrap(),
            Socket::udp_for(&any).unwrap(),
        );
        a.bind(&any).unwrap();
        let a_addr = a.local_addr().unwrap();
        let mut fut = a.recv_from_async(BufList::zeroed(64), MsgFlags::empty());
        assert!(poll_once(&mut fut).is_pending());
        drop(fut);
        block_on(async {
            let _ = b
                .send_to_async(b"kept".to_vec(), &a_addr, MsgFlags::empty())
                .await;
            let c = a
                .recv_from_async(BufList::zeroed(64), MsgFlags::empty())
                .await;
            assert_eq!(c.buffers.gather(c.bytes as usize), b"kept");
        });
    });
}

#[test]
fn connect_ex_and_accept_ex_futures_connect_and_carry_first_data() {
    use overlapped::ACCEPT_EX_ADDRESS_LEN as N;
    bounded(30, || {
        let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 8).unwrap();
        let to = listener.local_addr().unwrap();
        let accepted = Socket::tcp_for(&to).unwrap();
        let client = Socket::tcp_for(&to).unwrap();
        client.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
        block_on(async {
            let accept =
                listener.accept_ex_async(&accepted, vec![0u8; 64 + 2 * N as usize], 64, N, N);
            let connect = client.connect_ex_async(&to, b"first".to_vec());
            let (sent, bufs) = connect.await;
            assert_eq!(sent, Ok(5));
            assert_eq!(bufs.gather(5), b"first");
            let (got, out) = accept.await;
            assert_eq!(&out.first()[..got.unwrap() as usize], b"first");
        });
        client.update_connect_context().unwrap();
        accepted.update_accept_context(&listener).unwrap();
        assert_eq!(accepted.peer_addr().unwrap(), client.local_addr().unwrap());
        // Errors at the call come back with the buffers: ConnectEx on a
        // connected socket.
        let (r, bufs) = block_on(client.connect_ex_async(&to, b"again".to_vec()));
        assert_eq!(r, Err(WsaError::WSAEISCONN));
        assert_eq!(bufs.gather(5), b"again");
    });
}

#[test]
fn a_dropped_accept_leaves_the_connection_for_the_next_accept() {
    use overlapped::ACCEPT_EX_ADDRESS_LEN as N;
    bounded(30, || {
        let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 8).unwrap();
        let to = listener.local_addr().unwrap();
        let first = Socket::tcp_for(&to).unwrap();
        let fut = listener.accept_ex_async(&first, vec![0u8; 2 * N as usize], 0, N, N);
        assert!(fut.is_pending()); // started at the call
        drop(fut);
        let second = Socket::tcp_for(&to).unwrap();
        let fut = listener.accept_ex_async(&second, vec![0u8; 2 * N as usize], 0, N, N);
        let client = Socket::connect_tcp(&to).unwrap();
        let (r, _) = block_on(fut);
        assert_eq!(r, Ok(0));
        second.update_accept_context(&listener).unwrap();
        assert_eq!(second.peer_addr().unwrap(), client.local_addr().unwrap());
    });
}

#[test]
fn transmit_and_disconnect_futures() {
    use overlapped::{TransmitFileBuffers, TransmitFlags, TransmitPacketsElement};
    use std::os::fd::AsFd;
    bounded(30, || {
        let (client, server) = tcp_pair();
        let path = std::env::temp_dir().join(format!("overlapped-futures-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        block_on(async {
            let head_tail = TransmitFileBuffers {
                head: b"<".to_vec(),
                tail: b">".to_vec(),
            };
            let fut = client.transmit_file_async(
                Some(file.as_fd()),
                4,
                0,
                0,
                Some(head_tail),
                TransmitFlags::empty(),
            );
            drop(file); // the operation holds its own descriptor
            assert_eq!(fut.await, Ok(8));
            let elements = vec![
                TransmitPacketsElement::memory(b"ab".to_vec()),
                TransmitPacketsElement::memory(b"cd".to_vec()),
            ];
            let sent = client
                .transmit_packets_async(elements, 0, TransmitFlags::empty())
                .await;
            assert_eq!(sent, Ok(4));
            assert_eq!(
                client.disconnect_ex_async(TransmitFlags::empty()).await,
                Ok(0)
            );
        });
        assert_eq!(recv_exact(&server, 12), b"<456789>abcd");
        let mut rest = [0u8; 1];
        let n = server
            .recv_sync(
                &mut [std::io::IoSliceMut::new(&mut rest)],
                MsgFlags::empty(),
            )
            .unwrap();
        assert_eq!(n, 0, "the disconnect ended the stream");
        let _ = std::fs::remove_file(&path);
    });
}
