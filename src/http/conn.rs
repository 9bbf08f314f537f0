//! One connection's HTTP/1.1 state, whatever the notification model: the
//! bytes received and not yet parsed, what to answer next, keep-alive.
//! Requests are parsed with `httparse`; a pipelined request waits in
//! `pending` until the answer before it has been sent.

use std::fs::File;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use super::resolve::{resolve, Refusal, Root};
use super::response::{content_type, parse_range, write_head, Clock, Head, Status};

/// Limits of one connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of request line and headers at most (431 beyond).
    pub max_header: usize,
    /// Requests per connection at most (the last answer closes it).
    pub max_requests: u32,
    /// A request must be complete this long after its first byte (the
    /// first request: after the connection's start).
    pub header_timeout: Duration,
    /// A kept-alive connection may wait this long for its next request.
    pub idle_timeout: Duration,
    /// One `TransmitFile` call (at most `SEND_CHUNK` file bytes) must
    /// complete this long after it started.
    pub send_timeout: Duration,
    /// Connections open at once at most; more are closed at once.
    pub max_conns: usize,
    /// `TCP_NOTSENT_LOWAT` of each connection (0: the system's default).
    pub notsent_lowat: u32,
    /// Put each connection in non-blocking mode (`--nonblocking`).
    pub nonblocking: bool,
}

/// What the server serves.
pub struct Site {
    /// The root directory.
    pub root: Root,
    pub limits: Limits,
}

/// An answer: the head (status line, headers and any small body) and the
/// file range that follows it.
pub struct Reply {
    pub head: Vec<u8>,
    pub file: Option<(File, u64, u64)>,
    /// Close the connection once it is sent.
    pub close: bool,
}

/// What the connection needs next: an answer to send, or more bytes.
pub enum Next {
    Send(Reply),
    Receive,
}

/// One connection.
pub struct Conn {
    pending: Vec<u8>,
    /// Body bytes of the current request still to be skipped.
    skip: u64,
    served: u32,
    peer: Option<SocketAddr>,
    /// Since when the connection waits for request bytes (`None` while an
    /// answer is being sent).
    waiting: Option<Instant>,
    /// When the first byte of the request now pending arrived.
    first_byte: Option<Instant>,
    /// When the `TransmitFile` call in flight started (`None` while
    /// waiting for request bytes).
    sending: Option<Instant>,
    /// The current request's method and target (kept for their capacity).
    text: (String, String),
}

impl Conn {
    pub fn new(peer: Option<SocketAddr>) -> Conn {
        Conn {
            pending: Vec::new(),
            skip: 0,
            served: 0,
            peer,
            waiting: Some(Instant::now()),
            first_byte: None,
            sending: None,
            text: (String::new(), String::new()),
        }
    }

    /// A `TransmitFile` call of the answer starts now: the send timeout
    /// runs from here.
    pub fn transmitting(&mut self) {
        self.sending = Some(Instant::now());
    }

    /// When the connection is to be closed, and which timeout that is:
    /// waiting for a request (header or idle timeout) or for the send in
    /// flight to complete (send timeout).
    pub fn deadline(&self, limits: &Limits) -> Option<(Instant, &'static str)> {
        let Some(waiting) = self.waiting else {
            return self
                .sending
                .map(|since| (since + limits.send_timeout, "send timeout"));
        };
        Some(if self.served == 0 {
            (waiting + limits.header_timeout, "header timeout")
        } else if let Some(first) = self.first_byte {
            (first + limits.header_timeout, "header timeout")
        } else {
            (waiting + limits.idle_timeout, "idle timeout")
        })
    }

    /// Logs a close for a timeout (`why`, from [`Conn::deadline`]).
    pub fn log_timeout(&self, why: &str) {
        log_timeout(self.peer, why);
    }

    /// Logs a connection that ended in an error (`what` failed with `e`).
    pub fn log_failure(&self, what: &str, e: impl std::fmt::Display) {
        eprintln!("http: {} {what} failed: {e}", self.who());
    }

    /// Takes bytes just received.
    pub fn received(&mut self, mut bytes: &[u8]) {
        if self.skip > 0 {
            let n = (self.skip as usize).min(bytes.len());
            self.skip -= n as u64;
            bytes = &bytes[n..];
        }
        if self.pending.is_empty() && !bytes.is_empty() {
            self.first_byte = Some(Instant::now());
        }
        self.pending.extend_from_slice(bytes);
    }

    /// The next step: an answer to the next complete request, a receive
    /// for more bytes, or close. `spare` is a buffer to reuse for the head:
    /// taken for an answer, left in place otherwise.
    pub fn next(&mut self, site: &Site, clock: &mut Clock, spare: &mut Vec<u8>) -> Next {
        // The request's method and target are copied into buffers the
        // connection keeps (the request's bytes are consumed below).
        let mut text = std::mem::take(&mut self.text);
        let next = self.answer(site, clock, spare, &mut text);
        self.text = text;
        match next {
            Next::Send(_) => self.waiting = None,
            Next::Receive => {
                self.sending = None;
                if self.waiting.is_none() {
                    self.waiting = Some(Instant::now());
                }
            }
        }
        next
    }

    fn answer(
        &mut self,
        site: &Site,
        clock: &mut Clock,
        spare: &mut Vec<u8>,
        (method, target): &mut (String, String),
    ) -> Next {
        if self.pending.is_empty() {
            return Next::Receive;
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let parsed = req.parse(&self.pending);
        let used = match parsed {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if self.pending.len() > site.limits.max_header {
                    let head = std::mem::take(spare);
                    let (status, why) = too_large(&self.pending, site.limits.max_header);
                    return self.refuse(clock, head, status, why);
                }
                return Next::Receive;
            }
            Err(httparse::Error::TooManyHeaders) => {
                let head = std::mem::take(spare);
                return self.refuse(clock, head, Status::HeaderTooLarge, "too many headers");
            }
            Err(e) => {
                let head = std::mem::take(spare);
                return self.refuse(clock, head, Status::BadRequest, &e.to_string());
            }
        };
        // From here on every way out is an answer.
        let head = std::mem::take(spare);
        if used > site.limits.max_header {
            let (status, why) = too_large(&self.pending[..used], site.limits.max_header);
            return self.refuse(clock, head, status, why);
        }
        method.clear();
        method.push_str(req.method.unwrap_or(""));
        target.clear();
        target.push_str(req.path.unwrap_or(""));
        let (method, target) = (method.as_str(), target.as_str());
        let http10 = req.version == Some(0);
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
        };
        if !http10 && header("host").is_none() {
            // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
            return self.refuse(clock, head, Status::BadRequest, "no Host header");
        }
        let connection = header("connection");
        let mut keep_alive = match connection {
            Some(c) if contains_ignore_case(c, "close") => false,
            Some(c) if contains_ignore_case(c, "keep-alive") => true,
            _ => !http10,
        };
        if header("transfer-encoding").is_some() {
            // A body we cannot frame: answer and close.
            return self.refuse(clock, head, Status::BadRequest, "transfer-encoding");
        }
        let body = match header("content-length").map(|v| v.trim().parse::<u64>()) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                return self.refuse(clock, head, Status::BadRequest, "bad content-length")
            }
        };
        let range = header("range").map(str::to_string);
        let ims = header("if-modified-since").and_then(|v| httpdate::parse_http_date(v).ok());
        self.pending.drain(..used);
        let in_buffer = (body as usize).min(self.pending.len());
        self.pending.drain(..in_buffer);
        self.skip = body - in_buffer as u64;
        // Bytes of a pipelined request: its clock starts now.
        self.first_byte = (!self.pending.is_empty()).then(Instant::now);
        self.served += 1;
        if self.served >= site.limits.max_requests {
            keep_alive = false;
        }
        let is_head = method == "HEAD";
        if method != "GET" && !is_head {
            return self.error(
                clock,
                head,
                Status::MethodNotAllowed,
                keep_alive,
                is_head,
                method,
                target,
            );
        }
        let found = match resolve(&site.root, target) {
            Ok(f) => f,
            Err(refusal) => {
                let (status, keep) = match refusal {
                    Refusal::BadRequest => (Status::BadRequest, false),
                    Refusal::Forbidden => (Status::Forbidden, keep_alive),
                    Refusal::NotFound => (Status::NotFound, keep_alive),
                };
                return self.error(clock, head, status, keep, is_head, method, target);
            }
        };
        let mut out = head;
        let modified = found.modified.map(whole_seconds);
        let base = Head {
            status: Status::Ok,
            content_type: content_type(&found.path),
            length: found.size,
            last_modified: modified,
            range: None,
            unsatisfiable_size: None,
            keep_alive,
            http10,
        };
        if let (Some(ims), Some(m)) = (ims, modified) {
            if m <= ims {
                let h = Head {
                    status: Status::NotModified,
                    ..base
                };
                write_head(&mut out, clock, &h);
                return self.send(out, None, keep_alive);
            }
        }
        match parse_range(range.as_deref(), found.size) {
            Err(()) => {
                self.log(Status::RangeNotSatisfiable, method, target);
                let h = Head {
                    status: Status::RangeNotSatisfiable,
                    length: 0,
                    unsatisfiable_size: Some(found.size),
                    ..base
                };
                write_head(&mut out, clock, &h);
                self.send(out, None, keep_alive)
            }
            Ok(Some((first, last))) => {
                let len = last - first + 1;
                let h = Head {
                    status: Status::PartialContent,
                    length: len,
                    range: Some((first, last, found.size)),
                    ..base
                };
                write_head(&mut out, clock, &h);
                let file = (!is_head).then_some((found.file, first, len));
                self.send(out, file, keep_alive)
            }
            Ok(None) => {
                write_head(&mut out, clock, &base);
                let file = (!is_head).then_some((found.file, 0, found.size));
                self.send(out, file, keep_alive)
            }
        }
    }

    fn send(&mut self, head: Vec<u8>, file: Option<(File, u64, u64)>, keep_alive: bool) -> Next {
        let file = file.filter(|f| f.2 > 0);
        Next::Send(Reply {
            head,
            file,
            close: !keep_alive,
        })
    }

    /// A malformed request: answer and close (what follows cannot be trusted).
    fn refuse(&mut self, clock: &mut Clock, head: Vec<u8>, status: Status, why: &str) -> Next {
        eprintln!(
            "http: {} {} {}: {why}",
            self.who(),
            status.code(),
            status.reason()
        );
        self.pending.clear();
        let mut out = head;
        error_page(&mut out, clock, status, false, false);
        self.send(out, None, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn error(
        &mut self,
        clock: &mut Clock,
        head: Vec<u8>,
        status: Status,
        keep_alive: bool,
        is_head: bool,
        method: &str,
        target: &str,
    ) -> Next {
        self.log(status, method, target);
        let mut out = head;
        error_page(&mut out, clock, status, keep_alive, is_head);
        self.send(out, None, keep_alive)
    }

    fn log(&self, status: Status, method: &str, target: &str) {
        let shown: String = target.chars().take(200).collect();
        eprintln!(
            "http: {} \"{method} {}\" {} {}",
            self.who(),
            shown.escape_debug(),
            status.code(),
            status.reason()
        );
    }

    /// The peer's address as logged (`-` if unknown).
    pub fn peer(&self) -> String {
        self.who()
    }

    fn who(&self) -> String {
        self.peer.map_or_else(|| "-".to_string(), |p| p.to_string())
    }
}

/// Logs that the connection of `peer` was closed for a timeout (`why`).
pub fn log_timeout(peer: Option<SocketAddr>, why: &str) {
    let who = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
    eprintln!("http: {who} closed: {why}");
}

/// Closes a connection accepted beyond `--max-conns` (`open` are open),
/// with a log line. Nothing of it has been read: the client sees the
/// connection end (a reset if its request had already arrived).
pub fn refuse_connection(socket: overlapped::Socket, open: usize) {
    let who = socket
        .peer_addr()
        .map_or_else(|_| "-".to_string(), |p| p.to_string());
    eprintln!("http: {who} refused: {open} connections open (--max-conns)");
    let _ = socket.close();
}

/// Sets up a connection just admitted: its `TCP_NOTSENT_LOWAT`
/// (`--notsent-lowat`) and its non-blocking mode (`--nonblocking`; every
/// call the server makes on it is overlapped, which ignores the mode, and
/// the library then sends small cached answers inline). A socket that
/// refuses either is served as it is.
pub fn tune(socket: &overlapped::Socket, limits: &Limits) {
    if limits.nonblocking {
        let _ = socket.set_nonblocking(true);
    }
    if limits.notsent_lowat > 0 {
        let _ = socket
            .as_socket2()
            .set_tcp_notsent_lowat(limits.notsent_lowat);
    }
}

/// A short text body for an error status, in the head buffer itself.
fn error_page(
    out: &mut Vec<u8>,
    clock: &mut Clock,
    status: Status,
    keep_alive: bool,
    is_head: bool,
) {
    let body = format!("{} {}\n", status.code(), status.reason());
    let h = Head {
        status,
        content_type: "text/plain; charset=utf-8",
        length: body.len() as u64,
        last_modified: None,
        range: None,
        unsatisfiable_size: None,
        keep_alive,
        http10: false,
    };
    write_head(out, clock, &h);
    if !is_head {
        out.extend_from_slice(body.as_bytes());
    }
}

/// Whether `haystack` contains `needle`, ASCII case ignored.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// HTTP dates have whole seconds: compare modification times so.
fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

/// What a request longer than `max` bytes before its body is refused
/// with: 414 when its request line alone is longer (RFC 9110 §15.5.15: the
/// target is too long), 431 otherwise (the header fields are).
fn too_large(request: &[u8], max: usize) -> (Status, &'static str) {
    let line = request
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(request.len());
    if line > max {
        (Status::UriTooLong, "request target too long")
    } else {
        (Status::HeaderTooLarge, "headers too large")
    }
}

#[cfg(test)]
mod tests {
    use super::contains_ignore_case;

    #[test]
    fn connection_tokens_ignore_case() {
        assert!(contains_ignore_case("Keep-Alive", "keep-alive"));
        assert!(contains_ignore_case("foo, CLOSE", "close"));
        assert!(!contains_ignore_case("clos", "close"));
        assert!(!contains_ignore_case("", "close"));
    }
}
