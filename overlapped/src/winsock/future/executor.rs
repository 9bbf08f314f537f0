//! A minimal single-thread executor: `block_on` and `spawn_local`.
//!
//! Its park is the thread's alertable wait (`Local::park`): while no task is
//! runnable the thread sleeps in its ring, reaps completions (which wake
//! tasks), and runs completion routines and APCs queued to it, as any
//! alertable wait of the library does. A wake-up from another thread writes
//! the ring's eventfd only when the thread sleeps.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use crate::model::thread::{self, ThreadShared};

/// The tasks woken since the executor last looked, and how to wake its thread.
struct RunQueue {
    ready: Mutex<Vec<usize>>,
    any: AtomicBool,
    ring: Option<Arc<ThreadShared>>,
    thread: std::thread::Thread,
}

impl RunQueue {
    fn push(&self, id: usize) {
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id);
        self.any.store(true, SeqCst);
        self.notify();
    }

    fn notify(&self) {
        match &self.ring {
            Some(shared) => shared.wake(),
            None => self.thread.unpark(),
        }
    }

    fn take(&self) -> Vec<usize> {
        self.any.store(false, SeqCst);
        std::mem::take(&mut *self.ready.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One task's waker: queues the task once until it is polled again.
struct TaskWaker {
    id: usize,
    queued: AtomicBool,
    queue: Arc<RunQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, SeqCst) {
            if self.id == MAIN {
                self.queue.any.store(true, SeqCst);
                self.queue.notify();
            } else {
                self.queue.push(self.id);
            }
        }
    }
}

const MAIN: usize = usize::MAX;

type Task = Pin<Box<dyn Future<Output = ()>>>;

struct Executor {
    /// Spawned tasks; `None` while one is being polled.
    tasks: RefCell<Slab<(Option<Task>, Arc<TaskWaker>)>>,
    queue: Arc<RunQueue>,
    running: Cell<bool>,
}

thread_local! {
    static EXECUTOR: Rc<Executor> = Rc::new(Executor {
        tasks: RefCell::new(Slab::new()),
        queue: Arc::new(RunQueue {
            ready: Mutex::new(Vec::new()),
            any: AtomicBool::new(false),
            ring: thread::current().ok().map(|l| l.shared.clone()),
            thread: std::thread::current(),
        }),
        running: Cell::new(false),
    });
}

impl Executor {
    /// Polls every task woken so far, once each.
    fn run_ready(&self) {
        for id in self.queue.take() {
            let taken = {
                let mut tasks = self.tasks.borrow_mut();
                match tasks.get_mut(id) {
                    Some((task, waker)) => task.take().map(|t| (t, waker.clone())),
                    None => None,
                }
            };
            let Some((mut task, waker)) = taken else {
                continue;
            };
            waker.queued.store(false, SeqCst);
            let w = Waker::from(waker);
            let done = task.as_mut().poll(&mut Context::from_waker(&w)).is_ready();
            let mut tasks = self.tasks.borrow_mut();
            if done {
                tasks.try_remove(id);
            } else if let Some((slot, _)) = tasks.get_mut(id) {
                *slot = Some(task);
            }
        }
    }
}

/// Runs `future` to completion on the calling thread, and with it every
/// task spawned on this thread with [`spawn_local`], and returns its output.
///
/// While nothing is runnable the thread waits in its ring, **alertably**:
/// completions of the thread's overlapped operations wake their tasks, and
/// completion routines and APCs queued to the thread run there (the wait is
/// the executor's park). Another thread's `Waker::wake` wakes it through the
/// ring's eventfd. Tasks that have not finished when `future` does stay
/// spawned and run again in the thread's next `block_on`.
///
/// A `block_on` inside a task of this executor drives only its own future
/// (the outer tasks wait until it returns). Where io_uring cannot be used
/// the thread's ring is an epoll one (see [`backend`](crate::backend)) and
/// everything above works the same. Only when no backend can run (a refused
/// forced choice, [`startup`](crate::startup)'s errors) does the executor
/// still run, parking the thread, while the overlapped operations report
/// `WSASYSNOTREADY`.
///
/// ```
/// use overlapped::{block_on, spawn_local};
/// let answer = block_on(async {
///     let task = spawn_local(async { 6 * 7 });
///     task.await
/// });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let exec = EXECUTOR.with(|e| e.clone());
    let nested = exec.running.replace(true);
    let mut future = pin!(future);
    let main = Arc::new(TaskWaker {
        id: MAIN,
        queued: AtomicBool::new(true),
        queue: exec.queue.clone(),
    });
    let waker = Waker::from(main.clone());
    let local = thread::current().ok();
    let output = loop {
        if main.queued.swap(false, SeqCst) {
            if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
                break out;
            }
        }
        if !nested {
            exec.run_ready();
        }
        let queue = &exec.queue;
        let mut runnable = || main.queued.load(SeqCst) || (!nested && queue.any.load(SeqCst));
        match &local {
            // Reaps what is ready (no system call if nothing is), then sleeps
            // in the ring only if nothing is runnable.
            Some(local) => {
                local.park(&mut runnable, None, true);
            }
            None => {
                if !runnable() {
                    std::thread::park();
                }
            }
        }
    };
    exec.running.set(nested);
    output
}

/// Spawns `future` as a task of the calling thread's executor; it runs
/// while the thread is in [`block_on`] (now, or the next time). Returns a
/// handle that resolves to the task's output; dropping the handle lets the
/// task run on, detached.
///
/// The future need not be `Send`: it never leaves the thread.
///
/// ```
/// use overlapped::{block_on, spawn_local, BufList, MsgFlags, Socket};
/// let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
/// let client = Socket::tcp_for(&listener.local_addr()?)?;
/// client.connect(&listener.local_addr()?)?;
/// let (server, _) = listener.accept()?;
/// let echo = spawn_local(async move {
///     let (n, mut bufs) = server.recv_async(BufList::zeroed(64), MsgFlags::empty()).await;
///     bufs.limit(n.unwrap() as usize);
///     server.send_async(bufs, MsgFlags::empty()).await.0
/// });
/// block_on(async {
///     let _ = client.send_async(b"ping".to_vec(), MsgFlags::empty()).await;
///     let (n, bufs) = client.recv_async(BufList::zeroed(64), MsgFlags::empty()).await;
///     assert_eq!(bufs.gather(n.unwrap() as usize), b"ping");
///     assert_eq!(echo.await, Ok(4));
/// });
/// # Ok::<(), overlapped::WsaError>(())
/// ```
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    let join = Rc::new(RefCell::new(Join {
        value: None,
        waker: None,
    }));
    let j = join.clone();
    let task: Task = Box::pin(async move {
        let value = future.await;
        let waker = {
            let mut j = j.borrow_mut();
            j.value = Some(value);
            j.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    });
    EXECUTOR.with(|exec| {
        let mut tasks = exec.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let id = entry.key();
        let waker = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(true),
            queue: exec.queue.clone(),
        });
        entry.insert((Some(task), waker));
        exec.queue.push(id);
    });
    JoinHandle { join }
}

struct Join<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The output of a task spawned with [`spawn_local`], as a future.
pub struct JoinHandle<T> {
    join: Rc<RefCell<Join<T>>>,
}

impl<T> JoinHandle<T> {
    /// Whether the task has finished (its output is waiting here).
    pub fn is_finished(&self) -> bool {
        self.join.borrow().value.is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut j = self.join.borrow_mut();
        match j.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                j.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
