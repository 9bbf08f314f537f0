//! `TransmitFile` given the file (`transmit_file_owned`, `_with`): the same
//! bytes and counts as the lent form (facts 110, 111), the same checks
//! before the start (fact 109), and the descriptor closed by the library —
//! when the operation ends, or at once when it cannot start.

use std::fs::File;
use std::io::Read;
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use overlapped::{
    get_overlapped_result, sleep_ex, Event, Overlapped, Socket, TransmitFileBuffers, TransmitFlags,
    WaitResult, WsaError,
};

/// A file of `len` known bytes, removed on drop.
struct TempFile(PathBuf, Vec<u8>);

impl TempFile {
    fn new(name: &str, len: usize) -> TempFile {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        let path = std::env::temp_dir().join(format!("ovl-tfo-{}-{name}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        TempFile(path, data)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// How many of this process's descriptors are open on `path`.
fn open_on(path: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target == path)
        .count()
}

fn pair() -> (Socket, TcpStream) {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (socket, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    (socket, peer)
}

fn bufs(head: &[u8], tail: &[u8]) -> Option<TransmitFileBuffers> {
    Some(TransmitFileBuffers {
        head: head.to_vec(),
        tail: tail.to_vec(),
    })
}

#[test]
fn an_owned_file_goes_from_the_records_offset_and_is_closed_after() {
    let tf = TempFile::new("order", 300_000);
    let file: OwnedFd = File::open(&tf.0).unwrap().into();
    assert_eq!(open_on(&tf.0), 1);
    let (socket, mut peer) = pair();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        got
    });
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    ov.set_offset(1000);
    let r = socket.transmit_file_owned(
        &mut ov,
        Some(file),
        0,
        0,
        bufs(b"HEAD", b"TAIL!"),
        TransmitFlags::DISCONNECT,
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING), "fact 111: pending");
    let (bytes, _) = get_overlapped_result(&socket, &ov, true).unwrap();
    assert_eq!(bytes, 4 + 299_000 + 5);
    let got = reader.join().unwrap();
    assert_eq!(&got[..4], b"HEAD");
    assert_eq!(&got[4..4 + 299_000], &tf.1[1000..]);
    assert_eq!(&got[4 + 299_000..], b"TAIL!");
    assert_eq!(
        ov.take_buffers().unwrap().buffers(),
        &[b"HEAD".to_vec(), b"TAIL!".to_vec()]
    );
    assert_eq!(
        open_on(&tf.0),
        0,
        "the library closed the file it was given"
    );
}

#[test]
fn an_owned_file_that_cannot_start_is_closed_at_once() {
    // Fact 109's checks, as for a lent file.
    let tf = TempFile::new("refused", 1000);
    let mut ov = Overlapped::new(&Event::new());
    let none = TransmitFlags::empty();
    let unconnected = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let file: OwnedFd = File::open(&tf.0).unwrap().into();
    assert_eq!(
        unconnected.transmit_file_owned(&mut ov, Some(file), 0, 0, None, none),
        Err(WsaError::WSAENOTCONN)
    );
    assert_eq!(open_on(&tf.0), 0);
    let (socket, _peer) = pair();
    let write_only: OwnedFd = std::fs::OpenOptions::new()
        .write(true)
        .open(&tf.0)
        .unwrap()
        .into();
    assert_eq!(
        socket.transmit_file_owned(&mut ov, Some(write_only), 0, 0, None, none),
        Err(WsaError::WSAEACCES)
    );
    assert_eq!(open_on(&tf.0), 0);
    let file: OwnedFd = File::open(&tf.0).unwrap().into();
    ov.set_offset(1001);
    assert_eq!(
        socket.transmit_file_owned(&mut ov, Some(file), 0, 0, None, none),
        Err(WsaError::WSAEINVAL),
        "an offset past the end"
    );
    assert_eq!(open_on(&tf.0), 0);
    let dir: OwnedFd = File::open(std::env::temp_dir()).unwrap().into();
    ov.set_offset(0);
    assert_eq!(
        socket.transmit_file_owned(&mut ov, Some(dir), 0, 0, None, none),
        Err(WsaError::WSAEINVAL),
        "not a regular file"
    );
}

#[test]
fn an_owned_file_with_a_routine_counts_every_byte_and_is_closed() {
    use std::{cell::RefCell, rc::Rc};
    let tf = TempFile::new("routine", 200_000);
    let file: OwnedFd = File::open(&tf.0).unwrap().into();
    let (socket, mut peer) = pair();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        got
    });
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let r = socket.transmit_file_owned_with(
        Some(file),
        100,
        0,
        0,
        bufs(b"<", b">"),
        TransmitFlags::DISCONNECT,
        move |c| *s.borrow_mut() = Some((c.error, c.bytes)),
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    for _ in 0..1000 {
        if seen.borrow().is_some() {
            break;
        }
        let r = sleep_ex(Some(Duration::from_secs(10)), true).unwrap();
        assert_eq!(r, WaitResult::IoCompletion);
    }
    let (error, bytes) = seen.borrow_mut().take().expect("routine ran");
    assert_eq!((error, bytes), (WsaError::NO_ERROR, 1 + 199_900 + 1));
    let got = reader.join().unwrap();
    assert_eq!(&got[1..got.len() - 1], &tf.1[100..]);
    assert_eq!(open_on(&tf.0), 0);
}
