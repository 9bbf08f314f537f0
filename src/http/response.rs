//! Response heads: status line and headers, written into a reused buffer.

use std::io::Write;
use std::time::SystemTime;

/// A status the server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    PartialContent,
    NotModified,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RangeNotSatisfiable,
    HeaderTooLarge,
    UriTooLong,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::PartialContent => 206,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RangeNotSatisfiable => 416,
            Status::HeaderTooLarge => 431,
            Status::UriTooLong => 414,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::PartialContent => "Partial Content",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeaderTooLarge => "Request Header Fields Too Large",
            Status::UriTooLong => "URI Too Long",
        }
    }
}

/// The `Date` header's value, formatted at most once a second, and the
/// last `Last-Modified` value (a server answers the same file many times).
pub struct Clock {
    second: u64,
    text: String,
    modified: Option<(SystemTime, String)>,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            second: u64::MAX,
            text: String::new(),
            modified: None,
        }
    }

    /// `t` as an HTTP date, formatted again only when it changes.
    pub fn http_date(&mut self, t: SystemTime) -> &str {
        if self.modified.as_ref().is_none_or(|(m, _)| *m != t) {
            self.modified = Some((t, httpdate::fmt_http_date(t)));
        }
        self.modified.as_ref().map_or("", |(_, text)| text)
    }

    pub fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if secs != self.second {
            self.second = secs;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

/// What the head says about the body.
pub struct Head<'a> {
    pub status: Status,
    pub content_type: &'a str,
    pub length: u64,
    pub last_modified: Option<SystemTime>,
    /// `Content-Range`: (first, last, size), or `*/size` for a 416.
    pub range: Option<(u64, u64, u64)>,
    pub unsatisfiable_size: Option<u64>,
    pub keep_alive: bool,
    /// HTTP/1.0 client: say keep-alive explicitly.
    pub http10: bool,
}

/// Writes `head` into `out` (cleared first).
pub fn write_head(out: &mut Vec<u8>, clock: &mut Clock, head: &Head<'_>) {
    out.clear();
    // A whole head fits: no growth while it is written.
    out.reserve(320);
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nServer: overlapped\r\nDate: {}\r\n",
        head.status.code(),
        head.status.reason(),
        clock.now()
    );
    if head.status != Status::NotModified {
        let _ = write!(
            out,
            "Content-Type: {}\r\nContent-Length: {}\r\n",
            head.content_type, head.length
        );
    }
    if let Some(t) = head.last_modified {
        let _ = write!(out, "Last-Modified: {}\r\n", clock.http_date(t));
    }
    if matches!(head.status, Status::Ok | Status::PartialContent) {
        out.extend_from_slice(b"Accept-Ranges: bytes\r\n");
    }
    if let Some((first, last, size)) = head.range {
        let _ = write!(out, "Content-Range: bytes {first}-{last}/{size}\r\n");
    }
    if let Some(size) = head.unsatisfiable_size {
        let _ = write!(out, "Content-Range: bytes */{size}\r\n");
    }
    if head.status == Status::MethodNotAllowed {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    if !head.keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if head.http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `Content-Type` from the file name's extension.
pub fn content_type(path: &std::path::Path) -> &'static str {
    // Lower-cased in a small buffer: no allocation per answer.
    let mut buf = [0u8; 8];
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= buf.len())
        .map(|e| {
            let lower = &mut buf[..e.len()];
            lower.copy_from_slice(e.as_bytes());
            lower.make_ascii_lowercase();
            // ASCII lower-casing keeps UTF-8 valid.
            std::str::from_utf8(lower).unwrap_or("")
        });
    match ext {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js" | "mjs") => "text/javascript",
        Some("json") => "application/json",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("wasm") => "application/wasm",
        Some("mp4") => "video/mp4",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// A single byte range (`Range: bytes=…`) against a file of `size` bytes:
/// `Ok(Some((first, last)))`, `Ok(None)` when the header is absent or not
/// one range we honour (several ranges, other units: the whole file is
/// sent, as RFC 9110 allows; a malformed range-spec — `first > last`, not
/// numbers, no `-` — is no valid range and is ignored too, RFC 9110
/// §14.2), `Err(())` when valid but unsatisfiable (416).
#[allow(clippy::result_unit_err)]
pub fn parse_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = value else { return Ok(None) };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let number = |t: &str| t.parse::<u64>().ok();
    let range = if a.is_empty() {
        let Some(n) = number(b) else { return Ok(None) };
        if n == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let Some(first) = number(a) else {
            return Ok(None);
        };
        let last: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            let Some(last) = number(b) else {
                return Ok(None);
            };
            if last < first {
                // No valid range-spec: the header is ignored (RFC 9110 §14.2).
                return Ok(None);
            }
            last
        };
        if first >= size {
            return Err(());
        }
        (first, last.min(size - 1))
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_ignore_case() {
        use std::path::Path;
        assert_eq!(
            content_type(Path::new("a/INDEX.Html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("f.WOFF2")), "font/woff2");
        assert_eq!(
            content_type(Path::new("f.html-but-longer")),
            "application/octet-stream"
        );
        assert_eq!(content_type(Path::new("f.é")), "application/octet-stream");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Ok(Some((0, 3))));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Ok(Some((8, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=4-2"), 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=5-"), 1), Err(()));
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Ok(None));
        assert_eq!(parse_range(Some("items=0-1"), 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=x-1"), 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=abc"), 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=-x"), 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=-0"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Err(()));
    }
}
