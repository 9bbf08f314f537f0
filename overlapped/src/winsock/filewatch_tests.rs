//! The re-arm of a [`FileWatch`] racing a directory's return or removal:
//! the plan is made, the world changes, then the watches are added (what a
//! request posted at that moment meets).

use super::*;

/// A fresh directory `top` with `rf/resolv.conf` in it.
fn setup(tag: &str) -> (PathBuf, PathBuf, FileWatch) {
    let top = std::env::temp_dir().join(format!("overlapped-arm-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&top);
    let rf = top.join("rf");
    std::fs::create_dir_all(&rf).unwrap();
    std::fs::write(rf.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
    let watch = FileWatch::new(FileSet::new(&[rf.join("resolv.conf")])).unwrap();
    (top, rf, watch)
}

/// Whether the instance `fd` has, within a bounded wait, events that
/// `filter` calls a change.
fn hears(fd: RawFd, filter: &mut FileFilter) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let mut buf = [0u8; 4096];
        let n = sys::read_within(fd, &mut buf, 100);
        if n > 0 && filter.changed(&buf[..n]) {
            return true;
        }
    }
    false
}

#[test]
fn a_directory_back_before_the_ancestor_watch_is_added_is_watched() {
    let (top, rf, watch) = setup("back");
    std::fs::remove_dir_all(&rf).unwrap();
    let stale = watch.files.plan(); // rf missing: its ancestor, for its return
    std::fs::create_dir_all(&rf).unwrap(); // back before the watch is added
    let (fd, _) = sys::inotify_watching(&[]).unwrap();
    let (mut filter, wds) = watch.arm(fd.as_raw_fd(), &[], stale).unwrap();
    assert!(!filter.any, "the plan settles");
    assert_eq!(wds.len(), 1);
    std::fs::write(rf.join("resolv.conf"), "nameserver 192.0.2.54\n").unwrap();
    assert!(
        hears(fd.as_raw_fd(), &mut filter),
        "a write in the directory that came back"
    );
    let _ = std::fs::remove_dir_all(&top);
}

#[test]
fn a_directory_gone_before_its_watch_is_added_is_watched_for() {
    let (top, rf, watch) = setup("gone");
    let stale = watch.files.plan(); // rf there
    std::fs::remove_dir_all(&rf).unwrap(); // gone before its watch is added
    let (fd, _) = sys::inotify_watching(&[]).unwrap();
    let (mut filter, wds) = watch.arm(fd.as_raw_fd(), &[], stale).unwrap();
    assert!(!filter.any, "the plan settles");
    assert_eq!(wds.len(), 1);
    assert!(wds[0].is_some(), "the ancestor is watched");
    std::fs::create_dir_all(&rf).unwrap();
    assert!(hears(fd.as_raw_fd(), &mut filter), "the directory's return");
    let _ = std::fs::remove_dir_all(&top);
}

#[test]
fn a_rearm_removes_the_watches_it_no_longer_plans() {
    let (top, rf, watch) = setup("rm");
    std::fs::remove_dir_all(&rf).unwrap();
    let (fd, _) = sys::inotify_watching(&[]).unwrap();
    let (_, on_top) = watch.arm(fd.as_raw_fd(), &[], watch.files.plan()).unwrap();
    std::fs::create_dir_all(&rf).unwrap();
    sys::drain(fd.as_raw_fd());
    let (mut filter, on_rf) = watch
        .arm(fd.as_raw_fd(), &on_top, watch.files.plan())
        .unwrap();
    assert_ne!(on_top, on_rf);
    // The ancestor's watch is gone: a new name in it says nothing.
    std::fs::create_dir_all(top.join("rf2")).unwrap();
    std::fs::write(rf.join("resolv.conf"), "nameserver 192.0.2.55\n").unwrap();
    assert!(hears(fd.as_raw_fd(), &mut filter));
    let _ = std::fs::remove_dir_all(&top);
}
