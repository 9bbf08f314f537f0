//! The control calls as futures: `ioctl_async` (WSAIoctl: the queries, the
//! interface list, and the change requests against real address changes in
//! a network namespace), `LookupService::notify_change_async` (WSANSPIoctl)
//! and `ProviderChange::wait_change_async` (WSAProviderConfigChange) against
//! real file changes: completion, cancellation by drop, close aborts, and
//! wake-ups from another thread.

mod netns_util;

use std::fs;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use netns_util::{dummy, ip, run};
use overlapped::{
    block_on, BufList, Ioctl, IoctlOutput, LookupService, MsgFlags, ProviderChange, Socket,
    WsaError,
};

/// One test at a time (see tests/nsp_provider.rs: a change request's read
/// may be resubmitted by another test's thread, whose exit would cancel it).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

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

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

fn udp(addr: &str) -> Socket {
    Socket::udp_for(&addr.parse().unwrap()).unwrap()
}

/// Keeps calling `change` every 50 ms on another thread until the returned
/// flag is set (one change could come before a request subscribes; here
/// the request subscribes at the call, but the loop keeps the test robust).
fn keep_changing(change: impl Fn(u32) + Send + 'static) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        for i in 0..400 {
            std::thread::sleep(Duration::from_millis(50));
            if s.load(Ordering::SeqCst) {
                return;
            }
            change(i);
        }
    });
    stop
}

#[test]
fn ioctl_futures_answer_queries_at_once() {
    bounded(60, || {
        let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = Socket::tcp_for(&addr).unwrap();
        client.connect(&addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        block_on(async {
            let (sent, _) = client
                .send_async(b"12345".to_vec(), MsgFlags::empty())
                .await;
            assert_eq!(sent, Ok(5));
            // FIONREAD: ready at once (the data may still be on its way).
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let mut fut = server.ioctl_async(&Ioctl::FionRead, 4);
                let Poll::Ready(out) = poll_once(&mut fut) else {
                    panic!("a query is ready at once");
                };
                if out == Ok(IoctlOutput::Readable(5)) {
                    break;
                }
                assert!(Instant::now() < deadline, "FIONREAD: {out:?}");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(
                server.ioctl_async(&Ioctl::FionRead, 2).await,
                Err(WsaError::WSAEFAULT),
                "a short output length"
            );
            let list = server.ioctl_async(&Ioctl::GetInterfaceList, u32::MAX).await;
            assert!(
                matches!(&list, Ok(IoctlOutput::InterfaceList(l)) if !l.is_empty()),
                "{list:?}"
            );
            assert_eq!(
                server.ioctl_async(&Ioctl::GetInterfaceList, 1).await,
                Err(WsaError::WSAEFAULT)
            );
            assert_eq!(
                server
                    .ioctl_async(&Ioctl::Unsupported(0x1234_5678), 0)
                    .await,
                Err(WsaError::WSAEOPNOTSUPP)
            );
            assert_eq!(
                server.ioctl_async(&Ioctl::BaseHandle, 8).await,
                Err(WsaError::WSAEOPNOTSUPP),
                "overlapped SIO_BASE_HANDLE (fact 115)"
            );
            let (n, bufs) = server
                .recv_async(BufList::zeroed(8), MsgFlags::empty())
                .await;
            assert_eq!(bufs.gather(n.unwrap() as usize), b"12345");
        });
        let closed = udp("127.0.0.1:0");
        closed.clone().close().unwrap();
        assert_eq!(
            block_on(closed.ioctl_async(&Ioctl::FionRead, 4)),
            Err(WsaError::WSAENOTSOCK)
        );
    });
}

#[test]
fn address_list_change_future_completes_on_a_change_and_drop_cancels() {
    let _serial = serial();
    run(
        "address_list_change_future_completes_on_a_change_and_drop_cancels",
        || {
            bounded(120, || {
                let s = udp("0.0.0.0:0");
                // Dropped unpolled and dropped after a poll: both cancel.
                drop(s.ioctl_async(&Ioctl::AddressListChange, 0));
                let mut polled = s.ioctl_async(&Ioctl::AddressListChange, 0);
                assert!(poll_once(&mut polled).is_pending());
                drop(polled);
                // Made here, awaited on another thread: woken from there.
                let fut = s.ioctl_async(&Ioctl::AddressListChange, 0);
                assert!(fut.is_pending(), "a change request waits for a change");
                let waiter = std::thread::spawn(move || block_on(fut));
                std::thread::sleep(Duration::from_millis(100));
                assert!(!waiter.is_finished(), "completed with no change");
                ip(&["addr", "add", "127.0.0.2/32", "dev", "lo"]);
                assert_eq!(waiter.join().unwrap(), Ok(IoctlOutput::None));
                // A routing-interface change made before the first poll is
                // heard: the request is registered at the call.
                dummy("d0", "192.0.2.1/24");
                let dest = "198.51.100.7:80".parse().unwrap();
                let fut = s.ioctl_async(&Ioctl::RoutingInterfaceChange(dest), 0);
                ip(&["route", "add", "198.51.100.0/24", "dev", "d0"]);
                assert_eq!(block_on(fut), Ok(IoctlOutput::None));
                // Closing the socket aborts a pending request (fact 119).
                let fut = s.ioctl_async(&Ioctl::AddressListChange, 0);
                let waiter = std::thread::spawn(move || block_on(fut));
                std::thread::sleep(Duration::from_millis(50));
                s.close().unwrap();
                assert_eq!(waiter.join().unwrap(), Err(WsaError::WSA_OPERATION_ABORTED));
            })
        },
    );
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "overlapped-async-{tag}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn nsp_notify_change_future_completes_on_change_and_end_aborts() {
    let _serial = serial();
    bounded(120, || {
        let dir = TempDir::new("nsp");
        let hosts = dir.0.join("hosts");
        fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
        let query = LookupService::begin_watching("localhost", &[&hosts]).unwrap();
        // Dropping a pending request cancels it; the next one still works.
        let mut dropped = query.notify_change_async();
        assert!(poll_once(&mut dropped).is_pending());
        drop(dropped);
        let fut = query.notify_change_async();
        let waiter = std::thread::spawn(move || block_on(fut));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!waiter.is_finished(), "completed with no change");
        fs::write(&hosts, "127.0.0.1 localhost changed\n").unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(()));
        // Ending the query aborts a pending request.
        let fut = query.notify_change_async();
        let waiter = std::thread::spawn(move || block_on(fut));
        std::thread::sleep(Duration::from_millis(50));
        query.end().unwrap();
        assert_eq!(waiter.join().unwrap(), Err(WsaError::WSA_OPERATION_ABORTED));
    });
}

#[test]
fn provider_change_future_completes_on_change_and_drop_of_the_handle_aborts() {
    let _serial = serial();
    bounded(120, || {
        let dir = TempDir::new("provider");
        let protocols = dir.0.join("protocols");
        fs::write(&protocols, "tcp 6 TCP\n").unwrap();
        let handle = ProviderChange::watching(&[&protocols]).unwrap();
        drop(handle.wait_change_async());
        let fut = handle.wait_change_async();
        let p = protocols.clone();
        let stop = keep_changing(move |i| fs::write(&p, format!("tcp 6 TCP\n# {i}\n")).unwrap());
        assert_eq!(block_on(fut), Ok(()));
        stop.store(true, Ordering::SeqCst);
        let fut = handle.wait_change_async();
        let waiter = std::thread::spawn(move || block_on(fut));
        std::thread::sleep(Duration::from_millis(50));
        drop(handle);
        assert_eq!(waiter.join().unwrap(), Err(WsaError::WSA_OPERATION_ABORTED));
        // A missing directory is refused at the call, by a ready future.
        let gone = ProviderChange::watching(&[dir.0.join("none/protocols")]);
        assert!(gone.is_err());
    });
}
