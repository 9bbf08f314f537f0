//! A small transmit on a socket in non-blocking mode whose file range is
//! in the page cache is sent on the calling thread (`send` + `sendfile`),
//! with Winsock's semantics kept: the call still says `WSA_IO_PENDING`
//! and the completion is still notified with every byte (facts 109–111);
//! what did not fit goes on through the ring from the exact byte, in
//! order after earlier sends; an uncached file, a blocking socket and a
//! reset peer keep working as before.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use overlapped::{
    get_overlapped_result, inline_transmits_on_this_thread as inline, sleep_ex, CompletionPort,
    Event, NotificationModes, Overlapped, Socket, TransmitFileBuffers, TransmitFlags, WaitResult,
    WsaError,
};

/// A file of `len` known bytes, removed on drop.
struct TempFile(PathBuf, Vec<u8>);

impl TempFile {
    fn new(name: &str, len: usize) -> TempFile {
        let data: Vec<u8> = (0..len).map(|i| (i * 13 + i / 509) as u8).collect();
        let path = std::env::temp_dir().join(format!("ovl-tfi-{}-{name}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        // Read once: every page is in the page cache.
        assert_eq!(std::fs::read(&path).unwrap(), data);
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

/// A connected socket in non-blocking mode, and its peer.
fn pair() -> (Socket, TcpStream) {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (socket, _) = listener.accept().unwrap();
    socket.set_nonblocking(true).unwrap();
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

/// Starts TransmitFile of the whole of `file` (from the record's offset)
/// between `head` and `tail`, and checks it went pending
/// (`WSA_IO_PENDING`, even when it completed during the call).
fn start_whole(socket: &Socket, ov: &mut Overlapped, file: &File, head: &[u8], tail: &[u8]) {
    let r = socket.transmit_file(
        ov,
        Some(file.as_fd()),
        0,
        0,
        buffers(head, tail),
        TransmitFlags::empty(),
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
}

fn read_n(peer: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0; n];
    peer.read_exact(&mut got).unwrap();
    got
}

#[test]
fn a_small_cached_transmit_completes_during_the_call_and_is_still_notified() {
    let tf = TempFile::new("event", 3000);
    let file = tf.open();
    let (socket, mut peer) = pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    ov.set_offset(100);
    let before = inline();
    let r = socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        buffers(b"HEAD", b"TAIL!"),
        TransmitFlags::empty(),
    );
    assert_eq!(
        r,
        Err(WsaError::WSA_IO_PENDING),
        "fact 111: pending, always"
    );
    assert_eq!(inline(), before + 1, "sent inline");
    // Sent inline: already complete, without any wait.
    let done = get_overlapped_result(&socket, &ov, false);
    assert_eq!(
        done.map(|(n, _)| n),
        Ok(4 + 2900 + 5),
        "completed in the call"
    );
    assert!(event.is_set(), "the record's event is set");
    let got = read_n(&mut peer, 4 + 2900 + 5);
    assert_eq!(&got[..4], b"HEAD");
    assert_eq!(&got[4..4 + 2900], &tf.1[100..]);
    assert_eq!(&got[4 + 2900..], b"TAIL!");
    assert_eq!(
        ov.take_buffers().unwrap().buffers(),
        &[b"HEAD".to_vec(), b"TAIL!".to_vec()]
    );
    // And again on the same connection, a range in the middle.
    let mut ov = Overlapped::new(&event);
    ov.set_offset(1000);
    let r = socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        10,
        0,
        None,
        TransmitFlags::empty(),
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    assert_eq!(
        get_overlapped_result(&socket, &ov, false).map(|(n, _)| n),
        Ok(10)
    );
    assert_eq!(read_n(&mut peer, 10), &tf.1[1000..1010]);
    assert_eq!(inline(), before + 2);
}

/// A socket in blocking mode keeps the ring's path (`sendfile` could
/// block there), with the same bytes and count; so does one made
/// non-blocking behind the library's back (the mode the library goes by
/// is the one set through it).
#[test]
fn a_blocking_socket_keeps_the_rings_path() {
    let tf = TempFile::new("blocking", 3000);
    let file = tf.open();
    let (socket, mut peer) = pair();
    socket.set_nonblocking(false).unwrap();
    let mut ov = Overlapped::new(&Event::new());
    ov.set_offset(7);
    let before = inline();
    start_whole(&socket, &mut ov, &file, b"H", b"T");
    assert_eq!(
        get_overlapped_result(&socket, &ov, true).unwrap().0,
        1 + 2993 + 1
    );
    assert_eq!(inline(), before, "not inline");
    assert_eq!(&read_n(&mut peer, 2995)[1..2994], &tf.1[7..]);
    // Non-blocking behind the library's back (not through
    // `set_nonblocking`): the library does not see it and keeps the ring.
    socket.as_socket2().set_nonblocking(true).unwrap();
    let mut ov = Overlapped::new(&Event::new());
    let before = inline();
    let r = socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        5,
        0,
        None,
        TransmitFlags::empty(),
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    assert_eq!(get_overlapped_result(&socket, &ov, true).unwrap().0, 5);
    assert_eq!(inline(), before, "not inline");
    assert_eq!(read_n(&mut peer, 5), &tf.1[..5]);
}

#[test]
fn an_inline_transmit_runs_its_routine_and_queues_its_packet() {
    use std::{cell::RefCell, rc::Rc};
    let tf = TempFile::new("routine", 1024);
    let file = tf.open();
    let (socket, mut peer) = pair();
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let before = inline();
    let r = socket.transmit_file_with(
        Some(file.as_fd()),
        24,
        0,
        0,
        buffers(b"<", b">"),
        TransmitFlags::empty(),
        move |c| *s.borrow_mut() = Some((c.error, c.bytes)),
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    assert_eq!(inline(), before + 1, "sent inline");
    // Queued during the call: the first alertable wait runs it at once.
    assert_eq!(
        sleep_ex(Some(Duration::ZERO), true),
        Ok(WaitResult::IoCompletion)
    );
    assert_eq!(
        seen.borrow_mut().take(),
        Some((WsaError::NO_ERROR, 1 + 1000 + 1))
    );
    assert_eq!(&read_n(&mut peer, 1002)[1..1001], &tf.1[24..]);

    // A port with SKIP_COMPLETION_PORT_ON_SUCCESS still gets the packet:
    // the call said WSA_IO_PENDING (fact 111).
    let (socket, mut peer) = pair();
    let before = inline();
    socket
        .set_file_completion_notification_modes(NotificationModes::SKIP_COMPLETION_PORT_ON_SUCCESS)
        .unwrap();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&socket, 9).unwrap();
    let mut ov = Overlapped::without_event();
    let r = socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        None,
        TransmitFlags::empty(),
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    assert_eq!(inline(), before + 1, "sent inline");
    let entry = port
        .get_queued_completion_status(Some(Duration::ZERO))
        .expect("the packet, queued during the call");
    assert_eq!(
        (entry.key, entry.bytes, entry.error),
        (9, 1024, WsaError::NO_ERROR)
    );
    assert_eq!(read_n(&mut peer, 1024), tf.1);
}

/// A socket that cannot take the whole transmit: the part that fits goes
/// inline, the rest through the ring once the peer reads, from the exact
/// byte; a send issued before it goes first, one issued after it last.
#[test]
fn what_does_not_fit_goes_on_from_the_exact_byte_in_order() {
    let tf = TempFile::new("partial", 60_000);
    let file = tf.open();
    let (socket, mut peer) = pair();
    socket.as_socket2().set_send_buffer_size(4096).unwrap();
    // Fill the socket (and the peer's receive buffer) first.
    let mut fov = Overlapped::new(&Event::new());
    let r = socket.send(
        &mut fov,
        vec![0xABu8; 4 << 20],
        overlapped::MsgFlags::empty(),
    );
    assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    let mut ov = Overlapped::new(&Event::new());
    start_whole(&socket, &mut ov, &file, b"[", b"]");
    let mut after = Overlapped::new(&Event::new());
    let r = socket.send(&mut after, b"END".to_vec(), overlapped::MsgFlags::empty());
    assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let want = (4 << 20) + 60_002 + 3;
        while got.len() < want {
            let mut chunk = [0u8; 8192];
            let n = peer.read(&mut chunk).unwrap();
            assert!(n > 0, "EOF after {} bytes", got.len());
            got.extend_from_slice(&chunk[..n]);
            // A slow reader: the transmit meets a full socket more than once.
            if got.len() % 7 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        got
    });
    assert_eq!(
        get_overlapped_result(&socket, &fov, true).unwrap().0,
        4 << 20
    );
    assert_eq!(get_overlapped_result(&socket, &ov, true).unwrap().0, 60_002);
    assert_eq!(get_overlapped_result(&socket, &after, true).unwrap().0, 3);
    let got = reader.join().unwrap();
    assert!(got[..4 << 20].iter().all(|&b| b == 0xAB));
    let t = &got[4 << 20..];
    assert_eq!(t[0], b'[');
    assert_eq!(&t[1..60_001], &tf.1[..]);
    assert_eq!(&t[60_001..], b"]END");
}

/// A file written with `O_DIRECT` is not in the page cache: the transmit
/// takes the ring's path (a disk read never blocks the caller) and every
/// byte still arrives. Skipped where the file system keeps such a write
/// cached anyway (`fincore` says so).
#[test]
fn an_uncached_file_goes_through_the_ring_and_arrives_whole() {
    let path = std::env::temp_dir().join(format!("ovl-tfi-{}-direct", std::process::id()));
    let _gone = Remove(path.clone());
    let len = 16 << 10;
    // An aligned buffer, in safe code: a slice of a larger one.
    let mut big = vec![0u8; len + 4096];
    let skip = (4096 - big.as_ptr() as usize % 4096) % 4096;
    let data = &mut big[skip..skip + len];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i * 31 + i / 4096) as u8;
    }
    let direct = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc_o_direct())
        .open(&path);
    let Ok(mut direct) = direct else {
        eprintln!("skipped: O_DIRECT refused here");
        return;
    };
    if direct.write_all(data).is_err() {
        eprintln!("skipped: O_DIRECT write refused here");
        return;
    }
    drop(direct);
    let data = data.to_vec();
    match cached_pages(&path) {
        Some(0) => {}
        other => {
            eprintln!("skipped: the file is cached after an O_DIRECT write ({other:?} pages)");
            return;
        }
    }
    let file = File::open(&path).unwrap();
    let (socket, mut peer) = pair();
    let mut ov = Overlapped::new(&Event::new());
    let before = inline();
    start_whole(&socket, &mut ov, &file, b"H", b"");
    assert_eq!(
        inline(),
        before,
        "not inline: the file is not in the page cache"
    );
    let in_call = get_overlapped_result(&socket, &ov, false).is_ok();
    let (bytes, _) = get_overlapped_result(&socket, &ov, true).unwrap();
    assert_eq!(bytes as usize, 1 + len);
    let got = read_n(&mut peer, 1 + len);
    assert_eq!(got[0], b'H');
    assert_eq!(&got[1..], &data[..]);
    eprintln!("uncached transmit completed during the call: {in_call}");
}

/// A peer that reset the connection: the transmit fails at completion
/// (fact 111: it started), with no bytes; it does not kill the process
/// (`sendfile` would raise SIGPIPE; Rust ignores it, and the library
/// sends inline only where it is ignored).
#[test]
fn a_reset_peer_fails_the_transmit_at_completion() {
    let tf = TempFile::new("reset", 2000);
    let file = tf.open();
    let (socket, peer) = pair();
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
    // Wait for the reset to arrive (the kernel then knows no peer).
    let mut reset = false;
    for _ in 0..1000 {
        if socket.as_socket2().peer_addr().is_err() {
            reset = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(reset, "the reset arrived");
    for head in [Some(b"H".as_slice()), None] {
        let mut ov = Overlapped::new(&Event::new());
        let r = socket.transmit_file(
            &mut ov,
            Some(file.as_fd()),
            0,
            0,
            head.map(|h| TransmitFileBuffers {
                head: h.to_vec(),
                tail: Vec::new(),
            }),
            TransmitFlags::empty(),
        );
        match r {
            Err(WsaError::WSA_IO_PENDING) => {
                let r = get_overlapped_result(&socket, &ov, true);
                assert!(r.is_err(), "a transmit to a reset peer failed: {r:?}");
            }
            // Refused before it started (the socket knows it is not connected).
            Err(e) => assert_ne!(e, WsaError::NO_ERROR),
            Ok(n) => panic!("sent {n} bytes to a reset peer"),
        }
    }
}

struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `O_DIRECT` on Linux (x86_64, aarch64 and most others: 0o40000; aarch64: 0o200000).
fn libc_o_direct() -> i32 {
    if cfg!(any(target_arch = "aarch64", target_arch = "arm")) {
        0o200000
    } else {
        0o40000
    }
}

/// The file's pages in the page cache, as `fincore` (util-linux) counts
/// them; `None` if it cannot say.
fn cached_pages(path: &std::path::Path) -> Option<u64> {
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "PAGES"])
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
