//! Watching a set of configuration files for changes (inotify), for
//! `WSANSPIoctl` (the resolver's files) and `WSAProviderConfigChange`
//! (`/etc/protocols`, `/etc/services`).
//!
//! The *directories* are watched, not the files: a manager that replaces a
//! file by renaming a new one over it (`IN_MOVED_TO`) leaves a watch on the
//! old file's inode deaf. A file that is a symbolic link (resolv.conf often
//! points into `/run`) is watched under its link name and at its target.
//!
//! A watched file's directory must exist when the watch is made (else
//! `WSAEINVAL`: a mistyped path would otherwise never fire). A directory
//! that goes away later (a resolv.conf manager removing and recreating
//! `/run/resolvconf`) completes the pending request (`IN_DELETE_SELF`), and
//! every later request re-arms its instance: a directory that is back is
//! watched again (its new inode), one still missing is watched for through
//! its nearest existing ancestor (`IN_CREATE`/`IN_MOVED_TO` of the missing
//! name), so the watch never goes silently deaf. The look at the
//! directories is made again once the watches are in place, until it holds
//! ([`FileWatch::arm`]): a directory may come or go between the two.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::op::ChangeFilter;
use crate::sys::notify as sys;
use crate::winsock::notify::Change;
use crate::{Socket, WsaError, WsaResult};

/// What an inotify instance watches: directory, event mask, the names in
/// it that matter.
type Plan = Vec<(PathBuf, u32, Vec<OsString>)>;

/// A set of files whose change means "look again".
#[derive(Clone, Debug)]
pub(crate) struct FileSet {
    /// Directory → names of the watched files in it.
    dirs: BTreeMap<PathBuf, Vec<OsString>>,
}

impl FileSet {
    /// The files `paths`, each under its own name and, if it is a symbolic
    /// link, at its target too. Files need not exist (one may appear).
    pub(crate) fn new<P: AsRef<Path>>(paths: &[P]) -> FileSet {
        let mut dirs: BTreeMap<PathBuf, Vec<OsString>> = BTreeMap::new();
        let mut add = |p: &Path| {
            if let (Some(dir), Some(name)) = (p.parent(), p.file_name()) {
                let dir = if dir.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    dir.to_path_buf()
                };
                let names = dirs.entry(dir).or_default();
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_os_string());
                }
            }
        };
        for p in paths {
            let p = p.as_ref();
            add(p);
            if let Ok(target) = std::fs::canonicalize(p) {
                if target != p {
                    add(&target);
                }
            }
        }
        FileSet { dirs }
    }

    /// The watched files (directory and name), for display.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .flat_map(|(d, names)| names.iter().map(move |n| d.join(n)))
            .collect()
    }

    /// `WSAEINVAL` unless every watched file's directory exists.
    pub(crate) fn check(&self) -> WsaResult<()> {
        if self.dirs.is_empty() || self.dirs.keys().any(|d| !d.is_dir()) {
            return Err(WsaError::WSAEINVAL);
        }
        Ok(())
    }

    /// What to watch now: each existing directory for its files; for a
    /// missing one, its nearest existing ancestor for the appearance of the
    /// next name on the way down. Directory → (mask, names).
    fn plan(&self) -> Plan {
        let mut plan: BTreeMap<PathBuf, (u32, Vec<OsString>)> = BTreeMap::new();
        let mut add = |dir: &Path, mask: u32, names: &[OsString]| {
            let entry = plan.entry(dir.to_path_buf()).or_default();
            entry.0 |= mask;
            for n in names {
                if !entry.1.contains(n) {
                    entry.1.push(n.clone());
                }
            }
        };
        for (dir, names) in &self.dirs {
            if dir.is_dir() {
                add(dir, sys::watch_mask(), names);
                continue;
            }
            let mut child = dir.as_path();
            while let (Some(parent), Some(name)) = (child.parent(), child.file_name()) {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                if parent.is_dir() {
                    add(
                        parent,
                        sys::watch_mask() | sys::IN_APPEARS,
                        &[name.to_os_string()],
                    );
                    break;
                }
                child = parent;
            }
        }
        plan.into_iter().map(|(d, (m, n))| (d, m, n)).collect()
    }

    /// The directories and masks of a plan, for the kernel.
    fn targets(plan: &Plan) -> Vec<(&Path, u32)> {
        plan.iter().map(|(d, m, _)| (d.as_path(), *m)).collect()
    }

    /// A filter for events of an inotify instance armed with `plan`, whose
    /// directories got watch descriptors `wds`.
    fn filter(plan: Plan, wds: &[Option<i32>]) -> FileFilter {
        let watches = plan
            .into_iter()
            .zip(wds)
            .filter_map(|((_, _, names), wd)| wd.map(|wd| (wd, names)))
            .collect();
        FileFilter {
            watches,
            any: false,
        }
    }

    /// What the watched files are now: each one's identity (device,
    /// inode: a file renamed over it is another), times and size, and the
    /// same of a symbolic link itself.
    fn stamp(&self) -> Vec<Option<[i64; 7]>> {
        use std::os::unix::fs::MetadataExt;
        let of = |m: std::io::Result<std::fs::Metadata>| {
            m.ok().map(|m| {
                [
                    m.dev() as i64,
                    m.ino() as i64,
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                    m.size() as i64,
                ]
            })
        };
        self.files()
            .iter()
            .flat_map(|f| [of(std::fs::metadata(f)), of(std::fs::symlink_metadata(f))])
            .collect()
    }
}

/// The inotify instances of one handle (a lookup, a provider handle), each
/// serving one request at a time and reused by the next: closing an
/// instance costs the kernel a grace period (about 10 ms measured, see
/// `examples/change_cost.rs`), so instances are closed only when the handle
/// goes, and then by the background closer ([`crate::winsock::notify::close_later`]).
pub(crate) struct FileWatch {
    files: FileSet,
    /// Each instance with its directories' watch descriptors.
    sources: Mutex<Vec<(Socket, Vec<Option<i32>>)>>,
}

impl FileWatch {
    /// `WSAEINVAL` if a file's directory does not exist (see the module
    /// docs).
    pub(crate) fn new(files: FileSet) -> WsaResult<FileWatch> {
        files.check()?;
        Ok(FileWatch {
            files,
            sources: Mutex::new(Vec::new()),
        })
    }

    /// The watched files (directory and name).
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        self.files.files()
    }

    /// A poll watch of the same files, from now.
    pub(crate) fn poll_watch(&self) -> PollWatch {
        PollWatch::new(&self.files)
    }

    /// Whether `poll` has seen a change.
    pub(crate) fn poll(&self, poll: &mut PollWatch) -> bool {
        poll.changed(&self.files)
    }

    /// A change request: an idle instance of this handle (its queued events
    /// discarded: they happened before the request), or a new one.
    pub(crate) fn change(&self) -> WsaResult<Change> {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        // Idle: nothing but this list holds it (no request in flight, none
        // being started with it: a `Change` holds a handle until the
        // request is in its lane).
        let idle = sources
            .iter_mut()
            .find(|(s, _)| std::sync::Arc::strong_count(&s.inner) == 1);
        let (source, filter) = match idle {
            Some((s, wds)) => {
                sys::drain(s.as_raw_fd());
                // Re-arm: a directory recreated since the last request has
                // a new inode (its old watch is gone), a missing one is
                // watched for through an ancestor.
                let (filter, fresh) = self.arm(s.as_raw_fd(), wds, self.files.plan())?;
                *wds = fresh;
                (s.clone(), filter)
            }
            None => {
                // The kernel allows few instances (128 per user by default):
                // if it says no while the closer still holds some, wait for it.
                let (fd, _) =
                    crate::winsock::notify::retry_while_closing(|| sys::inotify_watching(&[]))
                        .map_err(|e| WsaError::from_io(&e))?;
                let source = Socket::from_source(fd);
                let (filter, wds) = self.arm(source.as_raw_fd(), &[], self.files.plan())?;
                sources.push((source.clone(), wds));
                (source, filter)
            }
        };
        Ok(Change {
            source,
            filter: Box::new(filter),
        })
    }

    /// Arms the instance `fd` (whose watches were `old`) for the files as
    /// they are now, starting from `plan` (just made): the filter for its events, and the watch descriptors
    /// it holds (watches no longer planned are removed).
    ///
    /// The plan is made again after the watches are added, until it is the
    /// same: a directory that appears between the look and the watch on its
    /// ancestor (its `IN_CREATE` already past), or goes before its own watch
    /// is added (`ENOENT`), would otherwise leave the request deaf for good.
    /// Once the plan holds, every later change is an event of some watch.
    /// Directories that keep coming and going are given up on after a few
    /// rounds: then every watch made stays and any event of theirs completes
    /// the request (the files did change after it was posted).
    fn arm(
        &self,
        fd: RawFd,
        old: &[Option<i32>],
        mut plan: Plan,
    ) -> WsaResult<(FileFilter, Vec<Option<i32>>)> {
        const ROUNDS: usize = 16;
        let mut made: Vec<Option<i32>> = old.iter().filter(|w| w.is_some()).copied().collect();
        for _ in 0..ROUNDS {
            let wds = sys::add_watches(fd, &FileSet::targets(&plan))
                .map_err(|e| WsaError::from_io(&e))?;
            for wd in &wds {
                if wd.is_some() && !made.contains(wd) {
                    made.push(*wd);
                }
            }
            let now = self.files.plan();
            if now == plan && wds.iter().all(Option::is_some) {
                for wd in made.iter().flatten() {
                    if !wds.contains(&Some(*wd)) {
                        sys::remove_watch(fd, *wd);
                    }
                }
                return Ok((FileSet::filter(plan, &wds), wds));
            }
            plan = now;
        }
        Ok((FileFilter::any(), made))
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        // Pending requests end now (WSA_OPERATION_ABORTED); the kernel's
        // slow part of the close happens on the closer thread.
        let sources = std::mem::take(&mut *self.sources.lock().unwrap_or_else(|e| e.into_inner()));
        for (source, _) in sources {
            crate::winsock::notify::close_later(source);
        }
    }
}

/// Recognizes events about the watched files among an instance's events.
struct FileFilter {
    /// Watch descriptor → the names watched in that directory.
    watches: Vec<(i32, Vec<OsString>)>,
    /// Every event is a change (see [`FileWatch::arm`]).
    any: bool,
}

impl FileFilter {
    /// A filter for which every event is a change.
    fn any() -> FileFilter {
        FileFilter {
            watches: Vec::new(),
            any: true,
        }
    }

    fn matches(&self, wd: i32, mask: u32, name: &std::ffi::OsStr) -> bool {
        if self.any || mask & sys::IN_Q_OVERFLOW != 0 {
            return true;
        }
        let Some((_, names)) = self.watches.iter().find(|(w, _)| *w == wd) else {
            return false;
        };
        mask & sys::IN_WATCH_LOST != 0 || names.iter().any(|n| n == name)
    }
}

impl ChangeFilter for FileFilter {
    fn changed(&mut self, read: &[u8]) -> bool {
        sys::inotify_events(read)
            .iter()
            .any(|e| self.matches(e.wd, e.mask, &e.name))
    }
}

/// The poll form of `SIO_NSP_NOTIFY_CHANGE`: the files as they were at
/// `begin`, compared with how they are now (no inotify instance: those are
/// few, 128 per user by default). A change once seen stays seen.
pub(crate) struct PollWatch {
    at_begin: Vec<Option<[i64; 7]>>,
    changed: bool,
}

impl PollWatch {
    pub(crate) fn new(files: &FileSet) -> PollWatch {
        PollWatch {
            at_begin: files.stamp(),
            changed: false,
        }
    }

    /// Whether a watched file changed since the watch was made.
    pub(crate) fn changed(&mut self, files: &FileSet) -> bool {
        if !self.changed {
            self.changed = files.stamp() != self.at_begin;
        }
        self.changed
    }
}

#[cfg(test)]
#[path = "filewatch_tests.rs"]
mod tests;
