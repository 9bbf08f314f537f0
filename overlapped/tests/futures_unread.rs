//! No data lost on a dropped receive future: the bytes of a receive that
//! completed in the kernel but whose future was dropped before handing them
//! over are read by the next receive, of any mode, in order (`unread.rs`).

mod common;

use std::future::Future;
use std::io::IoSliceMut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use common::{send_all, tcp_pair, LONG};
use overlapped::{
    block_on, get_overlapped_result, sleep_ex, wait_for_multiple_events, BufList, Event, Ioctl,
    IoctlOutput, MsgFlags, Overlapped, Socket, WaitResult, WsaError, ACCEPT_EX_ADDRESS_LEN,
};

/// Runs `f` on its own thread; fails the test if it takes over `secs`.
fn bounded<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the test thread panicked (above)"),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test did not finish in {secs} s"),
    }
}

/// A waker that remembers it was called.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// A receive future that completes in the kernel with `data` and is then
/// dropped without being polled again: its bytes go back to `server`.
fn abandon_a_completed_receive(client: &Socket, server: &Socket, data: &[u8], room: usize) {
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut fut = server.recv_async(BufList::zeroed(room), MsgFlags::empty());
    assert!(poll_with(&mut fut, &waker).is_pending());
    send_all(client, data);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !flag.0.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the receive never completed");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(fut); // completed, never handed over
}

fn fionread(s: &Socket) -> u32 {
    match s.ioctl_sync(&Ioctl::FionRead, 4, &mut 0).unwrap() {
        IoctlOutput::Readable(n) => n,
        other => panic!("FIONREAD gave {other:?}"),
    }
}

#[test]
fn a_completed_receive_dropped_gives_its_bytes_to_the_next_future() {
    bounded(60, || {
        let (client, server) = tcp_pair();
        abandon_a_completed_receive(&client, &server, b"hello", 64);
        assert_eq!(fionread(&server), 5, "FIONREAD counts the bytes given back");
        send_all(&client, b" world");
        let mut got = Vec::new();
        while got.len() < 11 {
            let (n, bufs) = block_on(server.recv_async(BufList::zeroed(64), MsgFlags::empty()));
            got.extend(bufs.gather(n.unwrap() as usize));
        }
        assert_eq!(got, b"hello world");
    });
}

#[test]
fn every_receive_mode_reads_the_given_back_bytes_first() {
    bounded(60, || {
        let (client, server) = tcp_pair();
        abandon_a_completed_receive(&client, &server, b"abcdefghij", 64);
        send_all(&client, b"KLMNO");

        // A zero-byte receive completes at once; a peek sees without taking.
        let (n, _) = block_on(server.recv_async(BufList::zeroed(0), MsgFlags::empty()));
        assert_eq!(n, Ok(0));
        let (n, bufs) = block_on(server.recv_async(BufList::zeroed(3), MsgFlags::PEEK));
        assert_eq!(bufs.gather(n.unwrap() as usize), b"abc");
        let mut buf = [0u8; 2];
        let n = server
            .recv_sync(&mut [IoSliceMut::new(&mut buf)], MsgFlags::PEEK)
            .unwrap();
        assert_eq!(&buf[..n], b"ab");

        // Synchronous: two bytes.
        let n = server
            .recv_sync(&mut [IoSliceMut::new(&mut buf)], MsgFlags::empty())
            .unwrap();
        assert_eq!(&buf[..n], b"ab");

        // Overlapped with an event: two more (completed at once).
        let event = Event::new();
        let mut ov = Overlapped::new(&event);
        let r = server.recv(&mut ov, BufList::zeroed(2), MsgFlags::empty());
        assert!(r == Ok(2) || r == Err(WsaError::WSA_IO_PENDING), "{r:?}");
        let w = wait_for_multiple_events(std::slice::from_ref(&event), false, LONG, false);
        assert_eq!(w.unwrap(), WaitResult::Signaled(0));
        assert_eq!(get_overlapped_result(&server, &ov, false).unwrap().0, 2);
        assert_eq!(ov.take_buffers().unwrap().gather(2), b"cd");

        // A completion routine: two more.
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let g = got.clone();
        let _ = server.recv_with(BufList::zeroed(2), MsgFlags::empty(), move |c| {
            g.lock().unwrap().extend(c.buffers.gather(c.bytes as usize));
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline);
            let _ = sleep_ex(Some(Duration::from_millis(100)), true);
        }
        assert_eq!(*got.lock().unwrap(), b"ef");

        // MSG_WAITALL: the last given-back bytes, then the kernel's.
        let (n, bufs) = block_on(server.recv_async(BufList::zeroed(9), MsgFlags::WAITALL));
        assert_eq!(n, Ok(9));
        assert_eq!(bufs.gather(9), b"ghijKLMNO");
        assert_eq!(fionread(&server), 0);
    });
}

/// Tiny deterministic generator (the seed is printed on failure).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn many_receives_dropped_at_random_points_lose_nothing() {
    bounded(240, || {
        let (client, server) = tcp_pair();
        const TOTAL: usize = 2_000_000;
        let data: Vec<u8> = (0..TOTAL).map(|i| (i * 7 % 251) as u8).collect();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("seed {seed}");
        let sent = data.clone();
        let sender = std::thread::spawn(move || {
            let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
            let mut at = 0;
            while at < TOTAL {
                let n = (1 + rng.below(3000) as usize).min(TOTAL - at);
                send_all(&client, &sent[at..at + n]);
                at += n;
                if rng.below(4) == 0 {
                    std::thread::sleep(Duration::from_micros(rng.below(300)));
                }
            }
            client // kept open until the reader is done
        });
        let mut rng = Rng(seed);
        let mut got: Vec<u8> = Vec::with_capacity(TOTAL);
        let (mut dropped, mut dropped_done) = (0u32, 0u32);
        while got.len() < TOTAL {
            let room = 1 + rng.below(2048) as usize;
            match rng.below(8) {
                // A future dropped at a random point: never polled, just
                // started, or after a pause in which the kernel may have
                // filled it (and the outcome may have been stored).
                0..=3 => {
                    let flag = Arc::new(Flag::default());
                    let waker = Waker::from(flag.clone());
                    let mut fut = server.recv_async(BufList::zeroed(room), MsgFlags::empty());
                    if rng.below(5) > 0 {
                        match poll_with(&mut fut, &waker) {
                            Poll::Ready((n, bufs)) => {
                                got.extend(bufs.gather(n.unwrap() as usize));
                                continue;
                            }
                            Poll::Pending => {}
                        }
                        match rng.below(3) {
                            0 => {}
                            1 => std::thread::yield_now(),
                            _ => std::thread::sleep(Duration::from_micros(rng.below(500))),
                        }
                        if flag.0.load(Ordering::SeqCst) {
                            dropped_done += 1;
                        }
                    }
                    dropped += 1;
                    drop(fut);
                }
                4 | 5 => {
                    let (n, bufs) =
                        block_on(server.recv_async(BufList::zeroed(room), MsgFlags::empty()));
                    let n = n.expect("receive") as usize;
                    assert!(n > 0, "the stream ended early");
                    got.extend(bufs.gather(n));
                }
                6 => {
                    let mut buf = vec![0u8; room];
                    let n = server
                        .recv_sync(&mut [IoSliceMut::new(&mut buf)], MsgFlags::empty())
                        .expect("receive");
                    assert!(n > 0, "the stream ended early");
                    got.extend(&buf[..n]);
                }
                _ => {
                    let event = Event::new();
                    let mut ov = Overlapped::new(&event);
                    let _ = server.recv(&mut ov, BufList::zeroed(room), MsgFlags::empty());
                    let (n, _) = get_overlapped_result(&server, &ov, true).expect("receive");
                    assert!(n > 0, "the stream ended early");
                    got.extend(ov.take_buffers().unwrap().gather(n as usize));
                }
            }
            assert!(
                got[..] == data[..got.len()],
                "seed {seed}: the stream differs within the first {} bytes",
                got.len()
            );
        }
        assert_eq!(got.len(), TOTAL, "seed {seed}: more bytes than were sent");
        eprintln!("{dropped} futures dropped, {dropped_done} after their receive completed");
        drop(sender.join().unwrap());
    });
}

#[test]
fn an_accept_dropped_after_it_completed_gives_its_first_data_to_the_connection() {
    bounded(60, || {
        let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 8).unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = Socket::tcp_for(&addr).unwrap();
        let n = ACCEPT_EX_ADDRESS_LEN;
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut fut = listener.accept_ex_async(&accept, vec![0u8; 16 + 2 * n as usize], 16, n, n);
        assert!(poll_with(&mut fut, &waker).is_pending());
        let client = Socket::tcp_for(&addr).unwrap();
        client.connect(&addr).unwrap();
        send_all(&client, b"first data");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !flag.0.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the accept never completed");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(fut); // accepted, first data received, never handed over
        accept.update_accept_context(&listener).unwrap();
        send_all(&client, b", then more");
        let mut got = Vec::new();
        while got.len() < 21 {
            let (n, bufs) = block_on(accept.recv_async(BufList::zeroed(64), MsgFlags::empty()));
            got.extend(bufs.gather(n.unwrap() as usize));
        }
        assert_eq!(got, b"first data, then more");
    });
}
