//! User APCs (`QueueUserAPC`) and thread handles.

use std::sync::Arc;

use crate::model::thread::{self, RemoteApc, ThreadShared};
use crate::WsaResult;

/// A handle to a thread that uses the library, for queueing APCs to it.
#[doc(alias = "HANDLE")]
#[derive(Clone)]
pub struct ThreadHandle {
    shared: Arc<ThreadShared>,
}

impl ThreadHandle {
    /// The calling thread (`GetCurrentThread`); creates its ring if needed.
    #[doc(alias = "GetCurrentThread")]
    pub fn current() -> WsaResult<ThreadHandle> {
        Ok(ThreadHandle {
            shared: thread::current()?.shared.clone(),
        })
    }
}

/// Queues `apc` to run on `thread` in its next alertable wait
/// (`QueueUserAPC`). User APCs share the queue with completion routines, in
/// order. Returns false if the thread has exited (the APC is dropped).
///
/// ```
/// use overlapped::{queue_user_apc, sleep_ex, ThreadHandle, WaitResult};
/// let me = ThreadHandle::current()?;
/// let worker = std::thread::spawn(move || queue_user_apc(&me, || println!("ran in my wait")));
/// assert!(worker.join().unwrap());
/// assert_eq!(sleep_ex(None, true)?, WaitResult::IoCompletion);
/// # Ok::<(), overlapped::WsaError>(())
/// ```
#[doc(alias = "QueueUserAPC")]
pub fn queue_user_apc<F>(thread: &ThreadHandle, apc: F) -> bool
where
    F: FnOnce() + Send + 'static,
{
    thread.shared.post(RemoteApc::User(Box::new(apc)))
}
