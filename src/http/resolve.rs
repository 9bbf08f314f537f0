//! Mapping a request target to a file under the root, never outside it.
//!
//! The target is percent-decoded once; a NUL byte (raw or `%00`) or a bad
//! escape is a malformed request (400); dot-segments, raw or encoded, are
//! removed (RFC 3986 §5.2.4), and a `..` that would climb above the root is
//! refused (403) before the file system is asked anything; and the path the
//! file system resolves (symlinks followed) must still lie under the root
//! (403 otherwise), so a symlink cannot lead out either.

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Why a target maps to no file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: not a path we can read (bad escape, NUL byte, neither origin-form
    /// nor an `http(s)://` absolute-form).
    BadRequest,
    /// 403: outside the root, or not a readable regular file.
    Forbidden,
    /// 404: nothing there.
    NotFound,
}

/// An opened file: the file, its size and its modification time.
pub struct Found {
    pub file: File,
    pub path: PathBuf,
    pub size: u64,
    pub modified: Option<std::time::SystemTime>,
}

/// The served directory: its canonical path and an open descriptor on it.
pub struct Root {
    pub path: PathBuf,
    dir: OwnedFd,
}

impl Root {
    pub fn open(path: PathBuf) -> std::io::Result<Root> {
        let dir = File::open(&path)?.into();
        Ok(Root { path, dir })
    }
}

/// Resolves `target` (the request's path and query) under `root`.
///
/// Fast path: one `openat2` below the root's descriptor with
/// `RESOLVE_BENEATH`, which the kernel refuses (`EXDEV`) if any step,
/// symlinks included, would leave the root. Only then the slow path:
/// resolve every symlink (`canonicalize`) and serve the file if it still
/// lies under the root (an absolute symlink to a file inside it).
pub fn resolve(root: &Root, target: &str) -> Result<Found, Refusal> {
    let path = origin_form(target.split(['?', '#']).next().unwrap_or(""));
    if !path.starts_with('/') {
        return Err(Refusal::BadRequest);
    }
    // Decoded only if there is anything to decode (no allocation otherwise).
    let decoded: std::borrow::Cow<'_, str> = if path.contains('%') {
        let bytes = percent_decode(path.as_bytes()).ok_or(Refusal::BadRequest)?;
        String::from_utf8(bytes)
            .map_err(|_| Refusal::BadRequest)?
            .into()
    } else {
        path.into()
    };
    if decoded.contains('\0') {
        return Err(Refusal::BadRequest);
    }
    // RFC 3986 remove_dot_segments: `..` drops the segment before it; one
    // that would climb above the root is refused.
    let mut relative = PathBuf::with_capacity(decoded.len() + 2);
    relative.push(".");
    let mut depth = 0usize;
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                depth = depth.checked_sub(1).ok_or(Refusal::Forbidden)?;
                relative.pop();
            }
            s => {
                depth += 1;
                relative.push(s);
            }
        }
    }
    let file = match beneath(root.dir.as_fd(), &relative) {
        Ok(f) => f,
        Err(Errno::XDEV) => return slow_path(root, &relative),
        Err(e) => return Err(refusal(e.into())),
    };
    let found = finish(root, file, relative)?;
    // `/file/` names a directory: a file there is not found, as `open(2)`
    // answers ENOTDIR (an index.html found for `/dir/` is fine).
    let dir_form = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    if dir_form && !found.path.ends_with("index.html") {
        return Err(Refusal::NotFound);
    }
    Ok(found)
}

/// The path of an absolute-form target (`http://host/path`, which a
/// server must accept, RFC 9112 §3.2.2): what follows the authority, `/`
/// if nothing does. Any other target is returned as it is.
fn origin_form(target: &str) -> &str {
    let rest = match target.get(..8) {
        Some(p) if p.eq_ignore_ascii_case("https://") => &target[8..],
        _ => match target.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("http://") => &target[7..],
            _ => return target,
        },
    };
    match rest.find('/') {
        Some(at) => &rest[at..],
        None => "/",
    }
}

fn beneath(dir: BorrowedFd<'_>, path: &Path) -> Result<File, Errno> {
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    // `O_NONBLOCK`: opening a FIFO for reading would otherwise wait for a
    // writer (the thread, and every connection it serves, stuck); with it
    // the open returns at once and `finish` refuses what is not a regular
    // file. On a regular file the flag changes nothing (open(2)); `sendfile`
    // and splice ignore it on their file side.
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    openat2(dir, path, flags, Mode::empty(), how).map(File::from)
}

fn finish(root: &Root, file: File, path: PathBuf) -> Result<Found, Refusal> {
    let meta = file.metadata().map_err(refusal)?;
    if meta.is_dir() {
        let index = match beneath(file.as_fd(), Path::new("index.html")) {
            Ok(f) => f,
            Err(Errno::NOENT) => return Err(Refusal::Forbidden),
            Err(Errno::XDEV) => return slow_path(root, &path.join("index.html")),
            Err(e) => return Err(refusal(e.into())),
        };
        return finish(root, index, path.join("index.html"));
    }
    if !meta.is_file() {
        return Err(Refusal::Forbidden);
    }
    Ok(Found {
        file,
        path,
        size: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// A symlink the kernel would not follow beneath the root: serve its
/// target only if, every link resolved, it lies under the root.
fn slow_path(root: &Root, relative: &Path) -> Result<Found, Refusal> {
    let real = root.path.join(relative).canonicalize().map_err(refusal)?;
    if !real.starts_with(&root.path) {
        return Err(Refusal::Forbidden);
    }
    let inside = real
        .strip_prefix(&root.path)
        .map_err(|_| Refusal::Forbidden)?;
    let file =
        beneath(root.dir.as_fd(), &Path::new(".").join(inside)).map_err(|e| refusal(e.into()))?;
    finish(root, file, real)
}

fn refusal(e: std::io::Error) -> Refusal {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => Refusal::NotFound,
        _ if e.raw_os_error() == Some(libc::ENAMETOOLONG) => Refusal::NotFound,
        _ => Refusal::Forbidden,
    }
}

/// `%XX` escapes decoded; `None` for a malformed escape.
fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode(b"/a%2e%2E/b").unwrap(), b"/a../b");
        assert_eq!(percent_decode(b"/%zz"), None);
        assert_eq!(percent_decode(b"/%4"), None);
    }
}
