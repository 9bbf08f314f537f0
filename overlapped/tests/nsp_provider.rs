//! WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE) and WSAProviderConfigChange against
//! real file changes in a temporary directory (facts 123, 124), including
//! the replace-by-rename that resolv.conf managers do.

mod netns_util;

use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netns_util::alertable_until;
use overlapped::{
    notification_result, wait_for_multiple_events, Event, LookupService, Overlapped,
    ProviderChange, WaitResult, WsaError,
};

/// One test at a time: a change request resubmits its read after every
/// event that is not a change it waits for, and today's driver lets a thread
/// waiting on another ring submit that read; when that thread (another
/// test) exits, the kernel cancels the read (DESIGN.md, "Known
/// limitations"). Serialised, no other test thread drives this one's ring.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "overlapped-{tag}-{}-{:?}",
            std::process::id(),
            Instant::now()
        ));
        let p = PathBuf::from(p.to_string_lossy().replace([' ', '{', '}', ':', '.'], "_"));
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What a resolv.conf manager does: write a new file, rename it over the old.
fn replace_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn signalled(e: &Event, wait: Option<Duration>) -> bool {
    wait_for_multiple_events(std::slice::from_ref(e), false, wait, false).unwrap()
        == WaitResult::Signaled(0)
}

const BOUND: Option<Duration> = Some(Duration::from_secs(20));

#[test]
fn lookup_resolves_localhost_with_the_system_resolver() {
    let _serial = serial();
    let mut q = LookupService::begin("localhost").unwrap();
    let mut all = Vec::new();
    loop {
        match q.next() {
            Ok(ip) => all.push(ip),
            Err(e) => {
                assert_eq!(e, WsaError::WSA_E_NO_MORE);
                break;
            }
        }
    }
    assert!(all.iter().any(|ip| ip.is_loopback()), "{all:?}");
    assert_eq!(
        LookupService::begin("").map(|_| ()),
        Err(WsaError::WSAEINVAL)
    );
}

#[test]
fn nsp_poll_says_wouldblock_until_a_watched_file_changes() {
    let _serial = serial();
    let dir = TempDir::new("poll");
    let hosts = dir.file("hosts", "127.0.0.1 localhost\n");
    let q = LookupService::begin_watching("localhost", &[&hosts]).unwrap();
    assert_eq!(q.notify_change_poll(), Err(WsaError::WSAEWOULDBLOCK));
    dir.file("unrelated", "x");
    assert_eq!(q.notify_change_poll(), Err(WsaError::WSAEWOULDBLOCK));
    dir.file("hosts", "127.0.0.1 localhost\n192.0.2.1 example\n");
    assert_eq!(
        q.notify_change_poll(),
        Ok(()),
        "NO_ERROR: the query set changed"
    );
    assert_eq!(q.notify_change_poll(), Ok(()), "and stays changed");
}

#[test]
fn nsp_notify_with_a_record_fires_once_on_replace_by_rename() {
    let _serial = serial();
    let dir = TempDir::new("rename");
    let resolv = dir.file("resolv.conf", "nameserver 192.0.2.53\n");
    let q = LookupService::begin_watching("localhost", &[&resolv]).unwrap();
    let e = Event::new();
    let mut ov = Overlapped::new(&e);
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    dir.file("resolv.conf.unrelated", "x");
    assert!(!signalled(&e, Some(Duration::from_millis(100))));
    replace_by_rename(&resolv, "nameserver 198.51.100.53\n");
    assert!(signalled(&e, BOUND));
    assert_eq!(notification_result(&ov), Ok(()));
    // A busy record cannot start another; a completed one can.
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSAEINVAL));
    replace_by_rename(&resolv, "nameserver 203.0.113.53\n");
    assert!(signalled(&e, BOUND));
    e.reset();
    replace_by_rename(&resolv, "nameserver 192.0.2.54\n");
    assert!(
        !signalled(&e, Some(Duration::from_millis(100))),
        "one completion per request"
    );
}

#[test]
fn nsp_notify_follows_a_symlinked_resolv_conf() {
    let _serial = serial();
    let dir = TempDir::new("symlink");
    fs::create_dir_all(dir.0.join("run")).unwrap();
    let target = dir.file("run/stub-resolv.conf", "nameserver 127.0.0.53\n");
    let link = dir.0.join("resolv.conf");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let q = LookupService::begin_watching("localhost", &[&link]).unwrap();
    assert!(q.watched_files().contains(&target));
    let e = Event::new();
    let mut ov = Overlapped::new(&e);
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    replace_by_rename(&target, "nameserver 127.0.0.54\n");
    assert!(signalled(&e, BOUND));
}

#[test]
fn nsp_notify_with_a_routine_and_end_aborts_a_pending_one() {
    let _serial = serial();
    let dir = TempDir::new("routine");
    let hosts = dir.file("hosts", "127.0.0.1 localhost\n");
    let q = LookupService::begin_watching("localhost", &[&hosts]).unwrap();
    let got = Rc::new(Cell::new(Vec::new()));
    let record = |got: &Rc<Cell<Vec<WsaError>>>| {
        let g = got.clone();
        move |c: overlapped::Completion| {
            let mut v = g.take();
            v.push(c.error);
            g.set(v);
        }
    };
    let r = q.notify_change_with(record(&got));
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    dir.file("hosts", "127.0.0.1 localhost\n192.0.2.7 seven\n");
    let seen = || {
        let v = got.take();
        let n = v.len();
        got.set(v);
        n
    };
    alertable_until(|| seen() == 1);
    let r = q.notify_change_with(record(&got));
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    // Record pending too; ending the query aborts both (fact 123).
    let e = Event::new();
    let mut ov = Overlapped::new(&e);
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    q.end().unwrap();
    assert!(signalled(&e, BOUND));
    assert_eq!(
        notification_result(&ov),
        Err(WsaError::WSA_OPERATION_ABORTED)
    );
    alertable_until(|| seen() == 2);
    assert_eq!(
        got.take(),
        vec![WsaError::NO_ERROR, WsaError::WSA_OPERATION_ABORTED]
    );
}

#[test]
fn provider_change_handle_at_once_then_completions_on_change() {
    let _serial = serial();
    let dir = TempDir::new("provider");
    let protocols = dir.file("protocols", "tcp 6 TCP\n");
    let services = dir.file("services", "echo 7/tcp\n");
    let h = ProviderChange::watching(&[&protocols, &services]).unwrap();
    let e = Event::new();
    let mut ov = Overlapped::new(&e);
    assert_eq!(h.wait_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    assert_eq!(notification_result(&ov), Err(WsaError::WSA_IO_INCOMPLETE));
    replace_by_rename(&services, "echo 7/tcp\ndiscard 9/tcp\n");
    assert!(signalled(&e, BOUND));
    assert_eq!(notification_result(&ov), Ok(()));
    // Routine.
    let ran = Rc::new(Cell::new(None));
    let r2 = ran.clone();
    assert_eq!(
        h.wait_change_with(move |c| r2.set(Some(c.error))),
        Err(WsaError::WSA_IO_PENDING)
    );
    fs::write(&protocols, "tcp 6 TCP\nudp 17 UDP\n").unwrap();
    alertable_until(|| ran.get().is_some());
    assert_eq!(ran.get(), Some(WsaError::NO_ERROR));
    // Synchronous: blocks until a change (another thread keeps changing).
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let p = protocols.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..200 {
            if d.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
            fs::write(&p, format!("tcp 6 TCP\n# {i}\n")).unwrap();
        }
    });
    let r = h.wait_change_sync();
    done.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(r, Ok(()));
    // Closing the handle aborts a pending call.
    assert_eq!(h.wait_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    drop(h);
    assert!(signalled(&e, BOUND));
    assert_eq!(
        notification_result(&ov),
        Err(WsaError::WSA_OPERATION_ABORTED)
    );
}

#[test]
fn a_file_in_a_missing_directory_is_refused_at_the_start() {
    let _serial = serial();
    let dir = TempDir::new("nodir");
    let missing = dir.0.join("not-there").join("x");
    assert_eq!(
        LookupService::begin_watching("localhost", &[&missing]).map(|_| ()),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(
        ProviderChange::watching(&[&missing]).map(|_| ()),
        Err(WsaError::WSAEINVAL)
    );
}

#[test]
fn nsp_notify_survives_its_directory_being_removed_and_recreated() {
    let _serial = serial();
    let top = TempDir::new("recreate");
    let rf = top.0.join("rf");
    fs::create_dir_all(&rf).unwrap();
    let resolv = rf.join("resolv.conf");
    fs::write(&resolv, "nameserver 192.0.2.53\n").unwrap();
    let q = LookupService::begin_watching("localhost", &[&resolv]).unwrap();
    let e = Event::new();
    let mut ov = Overlapped::new(&e);
    // The directory goes: the pending request completes.
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    fs::remove_dir_all(&rf).unwrap();
    assert!(signalled(&e, BOUND), "removal of the directory");
    assert_eq!(notification_result(&ov), Ok(()));
    // Posted while it is missing: its reappearance completes the request.
    e.reset();
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    assert!(!signalled(&e, Some(Duration::from_millis(100))));
    fs::create_dir_all(&rf).unwrap();
    assert!(signalled(&e, BOUND), "the directory is back");
    // Posted after it is back: a change of the new file completes it.
    e.reset();
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    assert!(!signalled(&e, Some(Duration::from_millis(100))));
    fs::write(&resolv, "nameserver 198.51.100.53\n").unwrap();
    assert!(signalled(&e, BOUND), "a write in the recreated directory");
    e.reset();
    assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
    replace_by_rename(&resolv, "nameserver 203.0.113.53\n");
    assert!(signalled(&e, BOUND), "and a rename over it");
}
