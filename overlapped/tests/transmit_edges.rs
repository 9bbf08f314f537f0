//! TransmitFile at its edges: a socket whose buffers are full, a socket in
//! non-blocking mode (which overlapped calls ignore, fact 4), a transmit
//! that finishes during the call on a port that skips successes (facts
//! 111, 140), and the file's own position without a record (fact 110).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use overlapped::{
    get_overlapped_result, CompletionPort, Event, NotificationModes, Overlapped, Socket,
    TransmitFileBuffers, TransmitFlags, TransmitPacketsElement, WsaError,
};

/// A file of `len` patterned bytes, removed on drop.
struct TempFile(PathBuf, Vec<u8>);

impl TempFile {
    fn new(name: &str, len: usize) -> TempFile {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let path = std::env::temp_dir().join(format!("ovl-tfi-{}-{name}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        TempFile(path, data)
    }

    fn open(&self) -> File {
        File::open(&self.0).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn pair() -> (Socket, TcpStream) {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (socket, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    (socket, peer)
}

fn buffers(head: &[u8], tail: &[u8]) -> Option<TransmitFileBuffers> {
    Some(TransmitFileBuffers {
        head: head.to_vec(),
        tail: tail.to_vec(),
    })
}

fn read_n(peer: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    peer.read_exact(&mut got).unwrap();
    got
}

/// The socket's buffers are full (the peer does not read yet): once the
/// peer reads it gets the filler, then head, file and tail, in order, and
/// the transmit counts head + file + tail.
#[test]
fn a_small_transmit_on_a_full_socket_waits_for_room() {
    let tf = TempFile::new("full", 8192);
    let file = tf.open();
    let (socket, mut peer) = pair();
    socket.as_socket2().set_send_buffer_size(64 << 10).unwrap();
    socket2::SockRef::from(&peer)
        .set_recv_buffer_size(64 << 10)
        .unwrap();
    // Fill both buffers: would-block three times in a row, 50 ms apart
    // (meanwhile the peer's kernel takes what its receive buffer holds).
    let chunk = [0xEEu8; 4096];
    let mut filler = 0usize;
    let mut refusals = 0;
    while refusals < 3 {
        match socket
            .as_socket2()
            .send_with_flags(&chunk, libc::MSG_DONTWAIT)
        {
            Ok(n) => {
                filler += n;
                refusals = 0;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                refusals += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    }
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let r = socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        buffers(b"H", b"T"),
        TransmitFlags::DISCONNECT,
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    std::thread::sleep(Duration::from_millis(100));
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    let (bytes, _) = get_overlapped_result(&socket, &ov, true).unwrap();
    assert_eq!(bytes as usize, 1 + 8192 + 1);
    assert_eq!(got.len(), filler + 8194);
    assert!(got[..filler].iter().all(|b| *b == 0xEE));
    assert_eq!(got[filler], b'H');
    assert_eq!(&got[filler + 1..filler + 8193], &tf.1[..]);
    assert_eq!(got[filler + 8193], b'T');
}

/// On a socket that skips the port on success (fact 140), a transmit
/// that finished during the call (here: nothing to send, on a thread that
/// submits at once) still reported `WSA_IO_PENDING` (fact 111), so its
/// packet is queued all the same: the caller waits for it. So is a small
/// file's.
#[test]
fn a_transmit_done_during_the_call_still_queues_its_packet() {
    let tf = TempFile::new("port", 2000);
    let file = tf.open();
    let (socket, mut peer) = pair();
    socket
        .set_file_completion_notification_modes(NotificationModes::SKIP_COMPLETION_PORT_ON_SUCCESS)
        .unwrap();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&socket, 7).unwrap();
    for (with_file, want) in [(false, 0), (true, 2002)] {
        let mut ov = Overlapped::without_event();
        let r = socket.transmit_file(
            &mut ov,
            with_file.then(|| file.as_fd()),
            0,
            0,
            with_file.then(|| buffers(b"H", b"T")).flatten(),
            TransmitFlags::empty(),
        );
        assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
        assert_eq!(read_n(&mut peer, want).len(), want);
        let entry = port
            .get_queued_completion_status(Some(Duration::from_secs(20)))
            .expect("the transmit's packet");
        assert_eq!((entry.key, entry.bytes), (7, want as u32));
        assert!(entry.error.is_ok());
    }
}

/// Without a record the file goes from its current position, which
/// advances by what was sent, inline or not (fact 110).
#[test]
fn a_small_sync_transmit_advances_the_files_position() {
    let tf = TempFile::new("sync", 3000);
    let mut file = tf.open();
    file.seek(SeekFrom::Start(1000)).unwrap();
    let (socket, mut peer) = pair();
    let n = socket
        .transmit_file_sync(Some(file.as_fd()), 500, 0, None, TransmitFlags::empty())
        .unwrap();
    assert_eq!(n, 500);
    assert_eq!(read_n(&mut peer, 500), &tf.1[1000..1500]);
    assert_eq!(file.stream_position().unwrap(), 1500);
    let n = socket
        .transmit_file_sync(Some(file.as_fd()), 0, 0, None, TransmitFlags::empty())
        .unwrap();
    assert_eq!(n, 1500);
    assert_eq!(read_n(&mut peer, 1500), &tf.1[1500..]);
    assert_eq!(file.stream_position().unwrap(), 3000);
}

/// Non-blocking mode is for synchronous calls only (fact 4): a transmit
/// larger than the socket's buffers on a non-blocking socket still sends
/// every byte as the peer reads.
#[test]
fn a_large_transmit_on_a_non_blocking_socket_sends_everything() {
    let tf = TempFile::new("nb-large", 16 << 20);
    let file = tf.open();
    let (socket, mut peer) = pair();
    socket.set_nonblocking(true).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let r = socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        None,
        TransmitFlags::DISCONNECT,
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !event.is_set(),
        "done early: {:?}",
        get_overlapped_result(&socket, &ov, false)
    );
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(
        get_overlapped_result(&socket, &ov, true).unwrap().0,
        16 << 20
    );
    assert!(got == tf.1, "{} bytes", got.len());
}

/// Sends with `start`, then reads to the end (the transmit disconnects) and
/// returns what the peer got and what the completion counted.
fn transmit_and_read(
    socket: &Socket,
    peer: &mut TcpStream,
    start: impl FnOnce(&mut Overlapped) -> Result<u32, WsaError>,
) -> (Vec<u8>, u32) {
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    match start(&mut ov) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => panic!("did not start: {e}"),
    }
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    let (n, _) = get_overlapped_result(socket, &ov, true).expect("the transmit succeeds");
    (got, n)
}

/// An empty head buffer is no head (`HeadLength` 0): the peer gets the file
/// once, the completion counts it once, and `TF_DISCONNECT` ends without an
/// error, for a file of one chain and of many, with and without a tail.
#[test]
fn an_empty_head_sends_the_file_once() {
    for (len, tail) in [(1000, &b""[..]), (1000, &b">>"[..]), (3 << 20, &b"end"[..])] {
        let tf = TempFile::new(&format!("empty-head-{len}-{}", tail.len()), len);
        let file = tf.open();
        let (socket, mut peer) = pair();
        let (got, n) = transmit_and_read(&socket, &mut peer, |ov| {
            socket.transmit_file(
                ov,
                Some(file.as_fd()),
                0,
                0,
                buffers(b"", tail),
                TransmitFlags::DISCONNECT,
            )
        });
        let mut want = tf.1.clone();
        want.extend_from_slice(tail);
        assert_eq!(
            n as usize,
            want.len(),
            "counted ({len} B file, {} B tail)",
            tail.len()
        );
        assert!(
            got == want,
            "peer got {} bytes, want {}",
            got.len(),
            want.len()
        );
    }
}

/// Zero-length memory elements anywhere in a TransmitPackets array send
/// nothing and do not disturb the elements around them.
#[test]
fn zero_length_packet_elements_send_nothing() {
    let tf = TempFile::new("empty-elements", 70_000);
    let file = tf.open();
    let (socket, mut peer) = pair();
    let (got, n) = transmit_and_read(&socket, &mut peer, |ov| {
        let elements = vec![
            TransmitPacketsElement::memory(Vec::new()),
            TransmitPacketsElement::file(file.as_fd(), Some(0), 0),
            TransmitPacketsElement::memory(Vec::new()),
            TransmitPacketsElement::memory(b"end".to_vec()),
            TransmitPacketsElement::memory(Vec::new()),
        ];
        socket.transmit_packets(ov, elements, 0, TransmitFlags::DISCONNECT)
    });
    let mut want = tf.1.clone();
    want.extend_from_slice(b"end");
    assert_eq!(n as usize, want.len());
    assert!(
        got == want,
        "peer got {} bytes, want {}",
        got.len(),
        want.len()
    );
}
