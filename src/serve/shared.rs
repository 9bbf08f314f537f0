//! What the servers share: the accepting thread (`--accept thread`), the
//! hand-off of new clients to the worker, and the clean stop on
//! SIGINT/SIGTERM (the only thread besides the workers with `--accept ex`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use overlapped::{Event, Socket};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The hand-off between the accepting thread and the worker.
pub struct Shared {
    /// Set whenever new clients wait in `queue`, and on stop.
    pub accept_event: Event,
    /// Clients accepted and not yet taken by the worker.
    pub queue: Mutex<Vec<Socket>>,
    /// Set once a stop was asked for.
    pub stop: AtomicBool,
    listener: Option<Arc<Socket>>,
    /// Called after new clients were queued and on stop (the port model
    /// posts a packet to its port).
    on_news: Option<Box<dyn Fn() + Send + Sync>>,
}

impl Shared {
    /// Starts the accepting thread and the signal watcher.
    pub fn start(listener: Socket) -> std::io::Result<Arc<Shared>> {
        Shared::start_with(listener, None)
    }

    /// Starts the signal watcher only: the worker takes connections itself
    /// (`--accept ex`); a stop sets `accept_event`.
    pub fn start_signals_only() -> std::io::Result<Arc<Shared>> {
        Shared::start_signals_with(None)
    }

    /// Like [`Shared::start_signals_only`], calling `on_news` on stop.
    pub fn start_signals_with(
        on_news: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> std::io::Result<Arc<Shared>> {
        let shared = Arc::new(Shared {
            accept_event: Event::new(),
            queue: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            listener: None,
            on_news,
        });
        Shared::watch_signals(&shared)?;
        Ok(shared)
    }

    fn watch_signals(shared: &Arc<Shared>) -> std::io::Result<()> {
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let s = shared.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if signals.forever().next().is_some() {
                    s.request_stop();
                }
            })?;
        Ok(())
    }

    /// Like [`Shared::start`], calling `on_news` (besides setting the
    /// accept event) whenever clients were queued, and on stop.
    pub fn start_with(
        listener: Socket,
        on_news: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> std::io::Result<Arc<Shared>> {
        let shared = Arc::new(Shared {
            accept_event: Event::new(),
            queue: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            listener: Some(Arc::new(listener)),
            on_news,
        });
        Shared::watch_signals(&shared)?;
        let s = shared.clone();
        std::thread::Builder::new()
            .name("accept".into())
            .spawn(move || s.accept_loop())?;
        Ok(shared)
    }

    fn accept_loop(&self) {
        let Some(listener) = &self.listener else {
            return;
        };
        while !self.stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((client, _)) => {
                    let _ = client.as_socket2().set_tcp_nodelay(true);
                    self.queue
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(client);
                    self.accept_event.set();
                    self.news();
                }
                Err(e) => {
                    if self.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    // Out of descriptors or a transient failure: say so, pause, go on.
                    eprintln!("accept failed: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
    }

    /// Asks everything to stop: wakes the worker and the accepting thread.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.accept_event.set();
        self.news();
        if let Some(listener) = &self.listener {
            let _ = listener.shutdown(std::net::Shutdown::Both);
        }
    }

    fn news(&self) {
        if let Some(f) = &self.on_news {
            f();
        }
    }

    /// Whether a stop was asked for.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Takes the clients accepted since the last call.
    pub fn take_new(&self) -> Vec<Socket> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
