//! `WSALookupServiceBegin` / `Next` / `End` for host names over the system
//! resolver, and `WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE)`: hear when the
//! results of the query may have changed ([fact 123](crate::semantics#fact-123)).
//!
//! On Linux the results of a host-name query change when the resolver's
//! configuration or the hosts database changes: `/etc/resolv.conf`,
//! `/etc/hosts`, `/etc/nsswitch.conf`, `/etc/gai.conf` (configurable with
//! [`LookupService::begin_watching`]). Those files are watched with
//! inotify, read through the ring.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::sys::resolve::{resolve, ResolveError};
use crate::winsock::filewatch::{FileSet, FileWatch, PollWatch};
use crate::winsock::notify::{self, Mode};
use crate::{Completion, Overlapped, WsaError, WsaResult};

/// The files whose change may change what the system resolver answers.
pub const RESOLVER_FILES: [&str; 4] = [
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
];

/// A host-name query (`HANDLE` of `WSALookupServiceBegin`), ended by
/// [`LookupService::end`] or drop (`WSALookupServiceEnd`), which aborts a
/// pending change notification with `WSA_OPERATION_ABORTED`.
///
/// ```no_run
/// use overlapped::{sleep_ex, LookupService, WsaError};
/// let mut q = LookupService::begin("localhost")?;
/// while let Ok(ip) = q.next() {                        // WSALookupServiceNext
///     println!("{ip}");
/// }
/// // Tell me when the answer may change (a routine, run in an alertable wait):
/// let r = q.notify_change_with(|c| println!("resolver changed: {:?}", c.error));
/// assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
/// sleep_ex(None, true)?;
/// # Ok::<(), WsaError>(())
/// ```
#[doc(alias = "WSALookupServiceBegin")]
pub struct LookupService {
    name: String,
    files: FileWatch,
    /// The answer, resolved at the first `next`.
    results: Option<Result<Vec<IpAddr>, WsaError>>,
    at: usize,
    /// Since `begin`: for the poll form.
    poll: Mutex<PollWatch>,
}

impl LookupService {
    /// Starts a query for host `name` (`WSALookupServiceBegin` with the
    /// `SVCID_HOSTNAME` class), watching [`RESOLVER_FILES`].
    /// `WSAEINVAL` for an empty name.
    #[doc(alias = "WSALookupServiceBegin")]
    pub fn begin(name: &str) -> WsaResult<LookupService> {
        LookupService::begin_watching(name, &RESOLVER_FILES)
    }

    /// [`LookupService::begin`], watching `files` instead of the system's
    /// resolver configuration (for tests, or a resolver configured elsewhere).
    /// `WSAEINVAL` for an empty name, or when a file's directory does not
    /// exist (the file itself may be missing: its creation is a change). A
    /// directory removed later is watched for its return (its reappearance
    /// completes a pending request; later requests watch the new one).
    #[doc(alias = "WSALookupServiceBegin")]
    pub fn begin_watching<P: AsRef<Path>>(name: &str, files: &[P]) -> WsaResult<LookupService> {
        if name.is_empty() || name.contains('\0') {
            return Err(WsaError::WSAEINVAL);
        }
        let files = FileWatch::new(FileSet::new(files))?;
        let poll = files.poll_watch();
        Ok(LookupService {
            name: name.to_string(),
            files,
            results: None,
            at: 0,
            poll: Mutex::new(poll),
        })
    }

    /// The name queried.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The files watched for changes (symbolic links followed).
    pub fn watched_files(&self) -> Vec<PathBuf> {
        self.files.files()
    }

    /// The next address of the answer (`WSALookupServiceNext`), resolved by
    /// the system resolver at the first call. `WSA_E_NO_MORE` after the last;
    /// `WSAHOST_NOT_FOUND` (no such name), `WSANO_DATA` (no address),
    /// `WSATRY_AGAIN` (no answer from the name servers) or
    /// `WSANO_RECOVERY` when the name did not resolve.
    #[doc(alias = "WSALookupServiceNext")]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> WsaResult<IpAddr> {
        let name = &self.name;
        let results = self.results.get_or_insert_with(|| {
            resolve(name).map_err(|e| match e {
                ResolveError::NoName => WsaError::WSAHOST_NOT_FOUND,
                ResolveError::NoData => WsaError::WSANO_DATA,
                ResolveError::Again => WsaError::WSATRY_AGAIN,
                ResolveError::Fail => WsaError::WSANO_RECOVERY,
            })
        });
        let list = results.as_ref().map_err(|e| *e)?;
        let ip = *list.get(self.at).ok_or(WsaError::WSA_E_NO_MORE)?;
        self.at += 1;
        Ok(ip)
    }

    /// `WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE)` without a completion: polls.
    /// `Ok(())` (`NO_ERROR`) if the query's results may have changed since
    /// [`LookupService::begin`] (a watched file changed; it stays so),
    /// `Err(WSAEWOULDBLOCK)` while they are still valid ([fact 123](crate::semantics#fact-123)).
    #[doc(alias = "WSANSPIoctl")]
    #[doc(alias = "SIO_NSP_NOTIFY_CHANGE")]
    pub fn notify_change_poll(&self) -> WsaResult<()> {
        let changed = self
            .files
            .poll(&mut self.poll.lock().unwrap_or_else(|e| e.into_inner()));
        if changed {
            Ok(())
        } else {
            Err(WsaError::WSAEWOULDBLOCK)
        }
    }

    /// `WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE)` with an event record: returns
    /// `Err(WSA_IO_PENDING)`; the record completes (0 bytes) at the next
    /// change of a watched file after this call, or with
    /// `WSA_OPERATION_ABORTED` when the query ends. Read the result with
    /// [`crate::notification_result`]. A record without an event signals
    /// nothing visible: give it one. `WSAEINVAL` if the record is busy.
    #[doc(alias = "WSANSPIoctl")]
    pub fn notify_change(&self, overlapped: &mut Overlapped) -> WsaResult<()> {
        let mode = Mode::Record {
            ov: overlapped,
            signal: None,
        };
        self.start(mode)
    }

    /// `WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE)` with a completion routine (a
    /// `WSACOMPLETION` of type `NSP_NOTIFY_APC`): `Err(WSA_IO_PENDING)`; the
    /// routine runs in this thread's next alertable wait after the change,
    /// with `NO_ERROR` (or `WSA_OPERATION_ABORTED` when the query ends).
    #[doc(alias = "WSANSPIoctl")]
    pub fn notify_change_with<F>(&self, routine: F) -> WsaResult<()>
    where
        F: FnOnce(Completion) + 'static,
    {
        self.start(Mode::Routine(Box::new(routine)))
    }

    /// A change request on the watched files (the instance stays with the handle).
    pub(crate) fn change(&self) -> WsaResult<notify::Change> {
        self.files.change()
    }

    fn start(&self, mode: Mode<'_>) -> WsaResult<()> {
        let change = self.files.change()?;
        // The instance stays with the handle (`FileWatch`), which closes it.
        notify::start(change, mode, &drop).map(|_| ())
    }

    /// Ends the query (`WSALookupServiceEnd`): a pending notification
    /// completes with `WSA_OPERATION_ABORTED`. Dropping does the same.
    #[doc(alias = "WSALookupServiceEnd")]
    pub fn end(self) -> WsaResult<()> {
        Ok(())
    }
}

impl std::fmt::Debug for LookupService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupService")
            .field("name", &self.name)
            .field("files", &self.files.files())
            .finish()
    }
}
