//! `--model async`: the echo server as `async` code on the library's own
//! executor.
//!
//! The accepting thread is the one the other servers use; the worker runs
//! [`overlapped::block_on`], one task per client ([`overlapped::spawn_local`])
//! looping `recv_async` → `send_async` with the same buffer. The executor's
//! park is the thread's alertable wait, and with batching on, the operations
//! the tasks start are submitted by the wait, in the call that sleeps.

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use overlapped::{block_on, spawn_local, BufList, MsgFlags, Socket};

use super::shared::Shared;

/// Serves until a stop is requested.
pub fn serve(listener: Socket, buffer: usize) -> std::io::Result<()> {
    let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let w = waker.clone();
    let shared = Shared::start_with(
        listener,
        Some(Box::new(move || {
            let taken = w.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waker) = taken {
                waker.wake();
            }
        })),
    )?;
    overlapped::set_batching(true).map_err(std::io::Error::other)?;
    block_on(async {
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
                spawn_local(echo(socket, buffer));
            }
        }
    });
    Ok(())
}

/// Echoes until the peer closes or an operation fails (then the socket closes).
async fn echo(socket: Socket, buffer: usize) {
    let mut bufs = BufList::zeroed(buffer);
    loop {
        let (received, mut b) = socket.recv_async(bufs, MsgFlags::empty()).await;
        match received {
            Ok(0) | Err(_) => return,
            Ok(n) => b.limit(n as usize),
        }
        let (sent, mut b) = socket.send_async(b, MsgFlags::empty()).await;
        if sent.is_err() {
            return;
        }
        b.unlimit();
        bufs = b;
    }
}
