//! `WSAProviderConfigChange`: hear when the set of protocols and services
//! the library can offer changes ([fact 124](crate::semantics#fact-124)).
//!
//! Windows signals the installation or removal of a transport or namespace
//! provider. Linux has no providers; what changes the protocols and services
//! a Winsock program can name here is the protocol and service databases,
//! `/etc/protocols` (`getprotobyname`, `WSAEnumProtocols`' names) and
//! `/etc/services` (`getservbyname`), and the name-service switch that
//! decides where those come from, `/etc/nsswitch.conf`. Those files are
//! watched (inotify, read through the ring). Not signalled: the kernel
//! gaining or losing an address family when a module loads (see DESIGN.md).

use std::path::{Path, PathBuf};

use crate::winsock::filewatch::{FileSet, FileWatch};
use crate::winsock::notify::{self, Mode};
use crate::{Completion, Overlapped, WsaResult};

/// The files whose change changes the protocols and services on offer.
pub const PROVIDER_FILES: [&str; 3] = ["/etc/protocols", "/etc/services", "/etc/nsswitch.conf"];

/// The notification handle of `WSAProviderConfigChange`. Made at once (the
/// first call, with `*lpNotificationHandle == NULL`); each later call
/// completes when a change happens after it. Dropping the handle
/// (`CloseHandle`) aborts a pending call with `WSA_OPERATION_ABORTED`.
///
/// ```no_run
/// use overlapped::{notification_result, wait_for_multiple_events, Event, Overlapped,
///                  ProviderChange, WsaError};
/// let handle = ProviderChange::new()?;                       // first call: at once
/// let event = Event::new();
/// let mut ov = Overlapped::new(&event);
/// assert_eq!(handle.wait_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
/// wait_for_multiple_events(std::slice::from_ref(&event), false, None, false)?;
/// notification_result(&ov)?;                                 // providers changed
/// # Ok::<(), WsaError>(())
/// ```
#[doc(alias = "WSAProviderConfigChange")]
pub struct ProviderChange {
    files: FileWatch,
}

impl ProviderChange {
    /// A handle watching [`PROVIDER_FILES`] (`WSAProviderConfigChange` with a
    /// NULL handle: completes at once).
    #[doc(alias = "WSAProviderConfigChange")]
    pub fn new() -> WsaResult<ProviderChange> {
        ProviderChange::watching(&PROVIDER_FILES)
    }

    /// A handle watching `files` instead (for tests).
    /// `WSAEINVAL` when a file's directory does not exist; a directory
    /// removed later is watched for its return (see [`crate::LookupService::begin_watching`]).
    #[doc(alias = "WSAProviderConfigChange")]
    pub fn watching<P: AsRef<Path>>(files: &[P]) -> WsaResult<ProviderChange> {
        Ok(ProviderChange {
            files: FileWatch::new(FileSet::new(files))?,
        })
    }

    /// The files watched (symbolic links followed).
    pub fn watched_files(&self) -> Vec<PathBuf> {
        self.files.files()
    }

    /// Waits for the next change with an event record: `Err(WSA_IO_PENDING)`,
    /// then the record completes (0 bytes; [`crate::notification_result`]).
    /// `WSAEINVAL` if the record is busy.
    #[doc(alias = "WSAProviderConfigChange")]
    pub fn wait_change(&self, overlapped: &mut Overlapped) -> WsaResult<()> {
        self.start(Mode::Record {
            ov: overlapped,
            signal: None,
        })
    }

    /// Waits for the next change with a completion routine, run in this
    /// thread's next alertable wait after it.
    #[doc(alias = "WSAProviderConfigChange")]
    pub fn wait_change_with<F>(&self, routine: F) -> WsaResult<()>
    where
        F: FnOnce(Completion) + 'static,
    {
        self.start(Mode::Routine(Box::new(routine)))
    }

    /// Blocks until the next change (`WSAProviderConfigChange` with neither
    /// a record nor a routine), alertably: APCs and routines run meanwhile.
    #[doc(alias = "WSAProviderConfigChange")]
    pub fn wait_change_sync(&self) -> WsaResult<()> {
        notify::wait(self.files.change()?, &drop, None)
    }

    /// A change request on the provider files.
    pub(crate) fn change(&self) -> WsaResult<notify::Change> {
        self.files.change()
    }

    fn start(&self, mode: Mode<'_>) -> WsaResult<()> {
        notify::start(self.files.change()?, mode, &drop).map(|_| ())
    }
}

impl std::fmt::Debug for ProviderChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderChange")
            .field("files", &self.files.files())
            .finish()
    }
}
