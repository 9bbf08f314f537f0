//! Watching a set of configuration files for changes (inotify), for
//! `WSANSPIoctl` (the resolver's files) and `WSAProviderConfigChange`
//! (`/etc/protocols`, `/etc/services`).
//!
//! The *directories* are watched, not the files: a manager that replaces a
//! file by renaming a new one over it (`IN_MOVED_TO`) leaves a watch on the
//! old file's inode deaf. A file that is a symbolic link (resolv.conf often
//! points into `/run`) is watched under its link name and at its target.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use inotify::Inotify;

use crate::notify::Change;
use crate::op::ChangeFilter;
use crate::sys::notify as sys;
use crate::{Socket, WsaError, WsaResult};

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

    fn dir_list(&self) -> Vec<&Path> {
        self.dirs.keys().map(PathBuf::as_path).collect()
    }

    /// A filter for events of an inotify instance watching our directories
    /// with watch descriptors `wds`.
    fn filter(&self, wds: Vec<Option<i32>>) -> FileFilter {
        let watches = self
            .dirs
            .values()
            .zip(wds)
            .filter_map(|(names, wd)| wd.map(|wd| (wd, names.clone())))
            .collect();
        FileFilter { watches }
    }

    /// A change request: a fresh inotify instance, read through the ring.
    pub(crate) fn change(&self) -> WsaResult<Change> {
        let (fd, wds) =
            sys::inotify_watching(&self.dir_list()).map_err(|e| WsaError::from_io(&e))?;
        Ok(Change {
            source: Socket::from_source(fd),
            filter: Box::new(self.filter(wds)),
        })
    }

    /// A watch to poll (`SIO_NSP_NOTIFY_CHANGE` without a completion).
    pub(crate) fn poll_watch(&self) -> WsaResult<PollWatch> {
        let inotify = Inotify::init().map_err(|e| WsaError::from_io(&e))?;
        let mut wds = Vec::new();
        for dir in self.dir_list() {
            match inotify.watches().add(dir, sys::watch_mask()) {
                Ok(wd) => wds.push(Some(wd.get_watch_descriptor_id())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => wds.push(None),
                Err(e) => return Err(WsaError::from_io(&e)),
            }
        }
        Ok(PollWatch {
            filter: self.filter(wds),
            inotify,
            changed: false,
        })
    }
}

/// Recognizes events about the watched files among an instance's events.
struct FileFilter {
    /// Watch descriptor → the names watched in that directory.
    watches: Vec<(i32, Vec<OsString>)>,
}

impl FileFilter {
    fn matches(&self, wd: i32, mask: u32, name: &std::ffi::OsStr) -> bool {
        if mask & sys::IN_Q_OVERFLOW != 0 {
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

/// A watch read without the ring, for polling: remembers a change once seen.
pub(crate) struct PollWatch {
    filter: FileFilter,
    inotify: Inotify,
    changed: bool,
}

impl PollWatch {
    /// Whether a watched file changed since the watch was made (reads the
    /// queued events without blocking).
    pub(crate) fn changed(&mut self) -> WsaResult<bool> {
        let mut buf = [0u8; 4096];
        while !self.changed {
            match self.inotify.read_events(&mut buf) {
                Ok(events) => {
                    let mut any = false;
                    for e in events {
                        any = true;
                        let name = e.name.unwrap_or_default();
                        if self
                            .filter
                            .matches(e.wd.get_watch_descriptor_id(), e.mask.bits(), name)
                        {
                            self.changed = true;
                        }
                    }
                    if !any {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(WsaError::from_io(&e)),
            }
        }
        Ok(self.changed)
    }
}
