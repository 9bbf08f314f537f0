//! Overlapped futures on tokio (feature `tokio`): completions wake tasks
//! through tokio's reactor, `AsyncStream` carries tokio I/O, and a real
//! hyper server echoes bodies over overlapped sockets, judged by curl.
#![cfg(feature = "tokio")]

mod common;

use std::convert::Infallible;
use std::time::Duration;

use common::{recv_exact, send_all, tcp_pair};
use overlapped::tokio_io::AsyncStream;
use overlapped::{BufList, MsgFlags, Socket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Bounds a test: a lost wake-up fails it instead of hanging.
async fn bounded<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the test did not finish in time (a lost wake-up?)")
}

#[test]
fn completions_wake_tasks_on_a_current_thread_runtime() {
    let (client, server) = tcp_pair();
    current_thread().block_on(bounded(30, async move {
        // The sender is another thread; the runtime thread sleeps in
        // epoll_wait until the ring says a completion is there.
        let sender = std::thread::spawn(move || {
            for i in 0..20u8 {
                std::thread::sleep(Duration::from_millis(5));
                send_all(&client, &[i; 7]);
            }
            client
        });
        let mut bufs = BufList::zeroed(7);
        for i in 0..20u8 {
            let (n, b) = server.recv_async(bufs, MsgFlags::WAITALL).await;
            assert_eq!(n, Ok(7));
            assert_eq!(b.gather(7), [i; 7]);
            bufs = b;
        }
        sender.join().unwrap();
    }));
}

#[test]
fn overlapped_futures_run_as_tasks_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bounded(60, async {
        let mut tasks = Vec::new();
        for t in 0..8u8 {
            tasks.push(tokio::spawn(async move {
                let (client, server) = tcp_pair();
                for round in 0..25u8 {
                    let msg = vec![t ^ round; 100];
                    let (sent, _) = client.send_async(msg.clone(), MsgFlags::empty()).await;
                    assert_eq!(sent, Ok(100));
                    let (n, bufs) = server
                        .recv_async(BufList::zeroed(100), MsgFlags::WAITALL)
                        .await;
                    assert_eq!(n, Ok(100));
                    assert_eq!(bufs.gather(100), msg);
                    tokio::task::yield_now().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }));
}

#[test]
fn a_select_that_drops_a_read_loses_nothing() {
    // AsyncStream keeps its receive across dropped reads: cancel-safe.
    let (client, server) = tcp_pair();
    current_thread().block_on(bounded(30, async move {
        let mut s = AsyncStream::new(server);
        let mut buf = [0u8; 64];
        for i in 0..10u8 {
            tokio::select! {
                _ = s.read(&mut buf) => panic!("nothing was sent yet"),
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
            send_all(&client, &[i; 3]);
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[i; 3]);
        }
    }));
}

#[test]
fn async_stream_carries_tokio_io_both_ways() {
    let (client, server) = tcp_pair();
    current_thread().block_on(bounded(60, async move {
        let echo = tokio::spawn(async move {
            let mut s = AsyncStream::with_buffers(server, 1000, 700);
            let (mut r, mut w) = tokio::io::split(&mut s);
            let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
            w.shutdown().await.unwrap();
            n
        });
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let d = data.clone();
        let peer = tokio::task::spawn_blocking(move || {
            let reader = {
                let c = &client;
                std::thread::scope(|scope| {
                    let r = scope.spawn(|| recv_exact(c, d.len()));
                    for chunk in d.chunks(4096) {
                        send_all(c, chunk);
                    }
                    c.shutdown(std::net::Shutdown::Write).unwrap();
                    r.join().unwrap()
                })
            };
            (reader, client)
        });
        let (echoed, client) = peer.await.unwrap();
        assert!(echoed == data, "echo differs");
        assert_eq!(echo.await.unwrap(), data.len() as u64);
        // After our FIN the echo shut down too: end of stream.
        let mut rest = [0u8; 1];
        assert_eq!(
            client
                .recv_sync(
                    &mut [std::io::IoSliceMut::new(&mut rest)],
                    MsgFlags::empty()
                )
                .unwrap(),
            0
        );
    }));
}

/// A hyper HTTP/1.1 server over overlapped sockets that echoes request
/// bodies; curl is the client.
#[test]
fn hyper_echoes_bodies_over_overlapped_sockets() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        Ok(Response::new(Full::new(body.unwrap_or_default())))
    }

    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("overlapped-hyper-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(dir.join("big"), &big).unwrap();
    std::fs::write(dir.join("small"), b"hello, overlapped").unwrap();

    let rt = current_thread();
    let url = format!("http://{addr}/echo");
    let curl = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            // Two requests on one kept-alive connection.
            let out = std::process::Command::new("curl")
                .args(["-sS", "--max-time", "60", "--data-binary"])
                .arg(format!("@{}", dir.join("big").display()))
                .args(["-o"])
                .arg(dir.join("big.out"))
                .arg(&url)
                .arg("--next")
                .args(["-sS", "--max-time", "60", "--data-binary"])
                .arg(format!("@{}", dir.join("small").display()))
                .args(["-o"])
                .arg(dir.join("small.out"))
                .arg(&url)
                .output()
                .expect("curl runs");
            assert!(
                out.status.success(),
                "curl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
    };
    rt.block_on(bounded(120, async move {
        // The blocking accept runs beside the runtime; every byte of the
        // connection goes through overlapped receives and sends.
        let (socket, _) = tokio::task::spawn_blocking(move || listener.accept())
            .await
            .unwrap()
            .unwrap();
        let io = hyper_util::rt::TokioIo::new(AsyncStream::new(socket));
        hyper::server::conn::http1::Builder::new()
            .serve_connection(io, hyper::service::service_fn(echo))
            .await
            .unwrap();
    }));
    curl.join().unwrap();
    assert!(
        std::fs::read(dir.join("big.out")).unwrap() == big,
        "big body differs"
    );
    assert_eq!(
        std::fs::read(dir.join("small.out")).unwrap(),
        b"hello, overlapped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
