//! `--model async`: the echo server as `async` code on the library's own
//! executor.
//!
//! One thread runs [`overlapped::block_on`]: with `--accept ex` (the
//! default) `--backlog-posts` tasks each loop `accept_ex_async` → spawn a
//! client task; with `--accept thread` the accepting thread hands clients
//! over and the main task spawns them. A client task loops `recv_async` →
//! `send_async` with the same buffer (with `--first-data`, the first message
//! came with the accept and is echoed first). The executor's park is the
//! thread's alertable wait, and with batching on, the operations the tasks
//! start are submitted by the wait, in the call that sleeps.

use std::future::poll_fn;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use overlapped::{block_on, spawn_local, BufList, MsgFlags, Socket};

use super::acceptor::{AcceptMode, Acceptor, AREA};
use super::shared::Shared;

/// Serves until a stop is requested.
pub fn serve(
    listener: Socket,
    buffer: usize,
    mode: AcceptMode,
    posts: usize,
    first_data: bool,
) -> std::io::Result<()> {
    let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let w = waker.clone();
    let on_news: Box<dyn Fn() + Send + Sync> = Box::new(move || {
        let taken = w.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(waker) = taken {
            waker.wake();
        }
    });
    let (shared, acceptor) = match mode {
        AcceptMode::Thread => (Shared::start_with(listener, Some(on_news))?, None),
        AcceptMode::Ex => {
            let acceptor = Acceptor::new(listener, posts, first_data, buffer);
            (
                Shared::start_signals_with(Some(on_news))?,
                Some(Rc::new(acceptor)),
            )
        }
    };
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    block_on(async {
        if let Some(acceptor) = &acceptor {
            for _ in 0..acceptor.posts {
                spawn_local(accept_loop(acceptor.clone(), buffer));
            }
        }
        loop {
            let news = poll_fn(|cx| {
                // Register first, then look: news that lands in between wakes us.
                *waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
                if shared.stopping() {
                    return Poll::Ready(None);
                }
                let new = shared.take_new();
                if new.is_empty() {
                    Poll::Pending
                } else {
                    Poll::Ready(Some(new))
                }
            })
            .await;
            let Some(clients) = news else {
                return;
            };
            for socket in clients {
                spawn_local(echo(socket, BufList::zeroed(buffer), 0));
            }
        }
    });
    Ok(())
}

/// Keeps one `AcceptEx` posted on the listener: each connection becomes a
/// client task, then the next accept goes with a fresh socket.
async fn accept_loop(acceptor: Rc<Acceptor>, buffer: usize) {
    loop {
        let socket = match acceptor.accept_socket() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("socket for AcceptEx failed: {e}");
                pause(Duration::from_millis(10)).await;
                continue;
            }
        };
        let accept = acceptor.listener.accept_ex_async(
            &socket,
            acceptor.output(),
            acceptor.receive_len,
            AREA,
            AREA,
        );
        let (result, output) = accept.await;
        match result {
            Ok(first) => {
                acceptor.admit(&socket);
                let mut bufs = output;
                if first == 0 {
                    bufs = BufList::zeroed(buffer);
                }
                spawn_local(echo(socket, bufs, first));
            }
            Err(e) if Acceptor::transient(e) => {
                eprintln!("AcceptEx failed: {e}");
                pause(Duration::from_millis(10)).await;
            }
            // Aborted (the listener is closing) or the client reset: go on.
            Err(_) => {}
        }
    }
}

/// Echoes until the peer closes or an operation fails (then the socket
/// closes). `first` bytes already in `bufs` (the accept's first data) are
/// echoed first.
async fn echo(socket: Socket, mut bufs: BufList, first: u32) {
    let mut n = first;
    loop {
        if n > 0 {
            bufs.limit(n as usize);
            let (sent, mut b) = socket.send_async(bufs, MsgFlags::empty()).await;
            if sent.is_err() {
                return;
            }
            b.unlimit();
            bufs = b;
        }
        let (received, b) = socket.recv_async(bufs, MsgFlags::empty()).await;
        bufs = b;
        match received {
            Ok(0) | Err(_) => return,
            Ok(got) => n = got,
        }
    }
}

/// Waits `d` (after a transient accept failure; the executor has no
/// timers, so a short-lived thread calls the waker).
async fn pause(d: Duration) {
    let mut started = false;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    poll_fn(|cx| {
        if done.load(std::sync::atomic::Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !started {
            started = true;
            let (waker, done) = (cx.waker().clone(), done.clone());
            std::thread::spawn(move || {
                std::thread::sleep(d);
                done.store(true, std::sync::atomic::Ordering::SeqCst);
                waker.wake();
            });
        }
        Poll::Pending
    })
    .await
}
