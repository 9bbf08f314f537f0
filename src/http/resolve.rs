//! Mapping a request target to a file under the root, never outside it.
//!
//! The target is percent-decoded once; a NUL byte (raw or `%00`) or a bad
//! escape is a malformed request (400); a `..` segment, raw or encoded, is
//! refused (403) before the file system is asked anything; and the path the
//! file system resolves (symlinks followed) must still lie under the root
//! (403 otherwise), so a symlink cannot lead out either.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Why a target maps to no file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: not a path we can read (bad escape, NUL byte, not origin-form).
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

/// Resolves `target` (the request's path and query) under `root` (canonical).
pub fn resolve(root: &Path, target: &str) -> Result<Found, Refusal> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Err(Refusal::BadRequest);
    }
    let decoded = percent_decode(path.as_bytes()).ok_or(Refusal::BadRequest)?;
    if decoded.contains(&0) {
        return Err(Refusal::BadRequest);
    }
    let decoded = String::from_utf8(decoded).map_err(|_| Refusal::BadRequest)?;
    let mut full = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(Refusal::Forbidden),
            s => full.push(s),
        }
    }
    let mut real = full.canonicalize().map_err(refusal)?;
    if !real.starts_with(root) {
        return Err(Refusal::Forbidden);
    }
    if real.is_dir() {
        real = real
            .join("index.html")
            .canonicalize()
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => Refusal::Forbidden,
                _ => refusal(e),
            })?;
        if !real.starts_with(root) {
            return Err(Refusal::Forbidden);
        }
    }
    let file = File::open(&real).map_err(refusal)?;
    let meta = file.metadata().map_err(refusal)?;
    if !meta.is_file() {
        return Err(Refusal::Forbidden);
    }
    Ok(Found {
        file,
        path: real,
        size: meta.len(),
        modified: meta.modified().ok(),
    })
}

fn refusal(e: std::io::Error) -> Refusal {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => Refusal::NotFound,
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
