//! Every public item of the library that has a Winsock counterpart carries
//! its Winsock name as `#[doc(alias = ...)]` (the guide; README says so), so
//! that searching the docs for `WSARecv` or `bind` finds it. This scans
//! `pub fn`/`pub struct`/`pub enum`/`pub trait`/`pub type` under
//! overlapped/src (not the backends, `sys/uring/` and `sys/epoll/`, which are
//! private; a file is named by its path under its layer folder) and fails
//! for one without an alias that is not in [`NO_WINSOCK_NAME`]: a new public
//! item needs an alias, or a place in that list when Windows has nothing
//! like it. Constants are not scanned: they carry Windows' names themselves.

use std::path::{Path, PathBuf};

/// Items with no Winsock counterpart (`file kind name`): helpers of our
/// own types, Rust conveniences, the futures layer.
const NO_WINSOCK_NAME: &[&str] = &[
    "lib.rs fn backend",
    "choice.rs enum BackendKind",
    "choice.rs fn name",
    "choice.rs struct Backend",
    "guid.rs fn new",
    "provider.rs fn watched_files",
    "ioctl.rs fn wire_len",
    "wait.rs fn code",
    "wait.rs fn new",
    "wait.rs fn len",
    "wait.rs fn is_empty",
    "wait.rs fn get",
    "wait.rs fn events",
    "wait.rs fn push",
    "wait.rs fn replace",
    "wait.rs fn swap_remove",
    "overlapped.rs fn same",
    "overlapped.rs fn take_buffers",
    "buf.rs fn zeroed",
    "buf.rs fn push",
    "buf.rs fn limit",
    "buf.rs fn unlimit",
    "buf.rs fn count",
    "buf.rs fn total_len",
    "buf.rs fn buffers_mut",
    "buf.rs fn first",
    "buf.rs fn gather",
    "buf.rs fn into_inner",
    "event.rs fn is_set",
    "event.rs fn is_manual_reset",
    "event.rs fn same",
    "lib.rs struct ReadmeExamples",
    "lib.rs fn set_batching",
    "cmsg.rs fn new",
    "cmsg.rs fn builder",
    "cmsg.rs fn len",
    "cmsg.rs fn is_empty",
    "cmsg.rs fn as_bytes",
    "cmsg.rs fn push",
    "cmsg.rs fn build",
    "error.rs fn name",
    "error.rs fn from_errno",
    "error.rs fn from_io",
    "error.rs fn is_ok",
    "error.rs type WsaResult",
    "port.rs struct PortStats",
    "port.rs fn stats",
    "nsp.rs fn name",
    "nsp.rs fn watched_files",
    "ioctl/extension.rs fn from_guid",
    "ioctl/extension.rs fn guid",
    "ioctl/extension.rs fn name",
    "ioctl/netinfo.rs fn to_bytes",
    "ioctl/netinfo.rs fn decode_list",
    "transmit/packets.rs fn len",
    "transmit/packets.rs fn is_empty",
    "transmit/mod.rs fn inline_transmits_on_this_thread",
    "future/tokio_io.rs struct AsyncStream",
    "future/tokio_io.rs fn new",
    "future/tokio_io.rs fn with_buffers",
    "future/tokio_io.rs fn get_ref",
    "future/mod.rs struct AsyncOp",
    "future/mod.rs fn is_pending",
    "future/executor.rs fn block_on",
    "future/executor.rs fn spawn_local",
    "future/executor.rs struct JoinHandle",
    "future/executor.rs fn is_finished",
];

/// Items whose own name is the Winsock name (rustdoc refuses an alias
/// equal to the name).
const NAMED_AS_IN_WINSOCK: &[&str] = &[
    "socket.rs fn bind",
    "socket.rs fn listen",
    "socket_options.rs fn shutdown",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            // The backends are private; `sys/buf.rs` (`BufList`, the
            // operations' buffers, re-exported) is the public item below them.
            if p.file_name().is_some_and(|n| n != "uring" && n != "epoll") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `(kind, name)` of a line declaring a public item, if it does.
fn public_item(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix("pub ")?;
    let rest = rest.strip_prefix("unsafe ").unwrap_or(rest);
    let rest = match rest.strip_prefix("const fn ") {
        Some(r) => &rest[rest.len() - r.len() - 3..],
        None => rest,
    };
    let (kind, rest) = rest.split_once(' ')?;
    if !["fn", "struct", "enum", "trait", "type"].contains(&kind) {
        return None;
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some((kind, &rest[..end]))
}

#[test]
fn every_public_item_with_a_winsock_name_carries_it_as_a_doc_alias() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut missing = Vec::new();
    let mut allowed_seen = Vec::new();
    for file in files {
        // Named by the path under its layer folder (`winsock/`, `model/`).
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let rel = ["winsock/", "model/", "sys/"]
            .iter()
            .find_map(|layer| rel.strip_prefix(layer))
            .map(str::to_string)
            .unwrap_or(rel);
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some((kind, name)) = public_item(line) else {
                continue;
            };
            // The doc comments and attributes right above the item.
            let has_alias = lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim())
                .take_while(|l| l.starts_with("///") || l.starts_with("#["))
                .any(|l| l.starts_with("#[doc(alias"));
            let id = format!("{rel} {kind} {name}");
            if NAMED_AS_IN_WINSOCK.contains(&id.as_str()) {
                continue;
            }
            if NO_WINSOCK_NAME.contains(&id.as_str()) {
                allowed_seen.push(id);
            } else if !has_alias {
                missing.push(id);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "public items without a #[doc(alias = \"<Winsock name>\")] (add one, or list \
         the item in NO_WINSOCK_NAME if Windows has nothing like it):\n{}",
        missing.join("\n")
    );
    let stale: Vec<&&str> = NO_WINSOCK_NAME
        .iter()
        .filter(|a| !allowed_seen.iter().any(|s| s == *a))
        .collect();
    assert!(
        stale.is_empty(),
        "NO_WINSOCK_NAME lists items that are gone: {stale:?}"
    );
}
