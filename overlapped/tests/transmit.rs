//! TransmitFile and TransmitPackets (facts 109–112) on real loopback sockets
//! and real files: bytes, order, counts, errors, cancellation, truncation.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use overlapped::{
    cancel_io_ex, get_overlapped_result, sleep_ex, wait_for_multiple_events, Event, Overlapped,
    Socket, TransmitFileBuffers, TransmitFlags, TransmitPacketsElement as Element, WaitResult,
    WsaError,
};

/// A file with a recognisable pattern, removed on drop.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn new(name: &str, len: usize) -> (TempFile, Vec<u8>) {
        let data = pattern(len, name.len() as u8);
        let path = std::env::temp_dir().join(format!("ovl-tf-{}-{name}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        (TempFile { path }, data)
    }

    fn open(&self) -> File {
        File::open(&self.path).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8 ^ seed)
        .collect()
}

/// (our socket, the peer as a plain std stream).
fn pair() -> (Socket, TcpStream) {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (socket, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    (socket, peer)
}

/// Reads until end of stream in another thread.
fn read_all(mut peer: TcpStream) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        peer.read_to_end(&mut out).unwrap();
        out
    })
}

fn wait(socket: &Socket, ov: &Overlapped) -> Result<u32, WsaError> {
    get_overlapped_result(socket, ov, true).map(|(n, _)| n)
}

fn started(r: Result<u32, WsaError>) {
    assert!(
        matches!(r, Err(WsaError::WSA_IO_PENDING)),
        "did not start: {r:?}"
    );
}

fn bufs(head: &[u8], tail: &[u8]) -> Option<TransmitFileBuffers> {
    Some(TransmitFileBuffers {
        head: head.to_vec(),
        tail: tail.to_vec(),
    })
}

#[test]
fn head_file_tail_in_order_from_the_records_offset() {
    // Facts 110 and 111: head, file from Offset, tail; total = size − Offset + head + tail.
    let (tf, data) = TempFile::new("order", 300_000);
    let file = tf.open();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    ov.set_offset(1000);
    let r = socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        bufs(b"HEAD", b"TAIL!"),
        TransmitFlags::DISCONNECT,
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING), "fact 111: pending");
    assert_eq!(wait(&socket, &ov), Ok(4 + 299_000 + 5));
    assert!(event.is_set());
    let got = reader.join().unwrap();
    assert_eq!(&got[..4], b"HEAD");
    assert_eq!(&got[4..4 + 299_000], &data[1000..]);
    assert_eq!(&got[4 + 299_000..], b"TAIL!");
    let back = ov.take_buffers().unwrap();
    assert_eq!(back.buffers(), &[b"HEAD".to_vec(), b"TAIL!".to_vec()]);
}

#[test]
fn an_explicit_length_sends_that_many_bytes() {
    let (tf, data) = TempFile::new("len", 50_000);
    let file = tf.open();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    let mut ov = Overlapped::new(&Event::new());
    ov.set_offset(7);
    started(socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        12_345,
        100,
        None,
        TransmitFlags::DISCONNECT,
    ));
    assert_eq!(wait(&socket, &ov), Ok(12_345));
    assert_eq!(reader.join().unwrap(), &data[7..7 + 12_345]);
}

#[test]
fn nothing_to_send_completes_at_once_and_buffers_only_send_head_then_tail() {
    // Fact 110: no file and no buffers → success, nothing sent.
    let (socket, mut peer) = pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(
        socket.transmit_file(&mut ov, None, 0, 0, None, TransmitFlags::empty()),
        Err(WsaError::WSA_IO_PENDING)
    );
    assert_eq!(wait(&socket, &ov), Ok(0));
    assert!(event.is_set());
    assert_eq!(
        socket.transmit_file_sync(None, 0, 0, None, TransmitFlags::empty()),
        Ok(0)
    );
    // Head and tail only: head, then tail.
    assert_eq!(
        socket.transmit_file_sync(
            None,
            0,
            0,
            bufs(b"0123456789", b"abcdefghijklm"),
            TransmitFlags::empty()
        ),
        Ok(23)
    );
    let mut got = [0u8; 23];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"0123456789abcdefghijklm");
}

#[test]
fn without_a_record_the_file_goes_from_its_current_position_which_advances() {
    // Fact 110: synchronous TransmitFile reads from the file pointer.
    use std::io::Seek;
    let (tf, data) = TempFile::new("pos", 10_000);
    let mut file = tf.open();
    file.seek(std::io::SeekFrom::Start(2_500)).unwrap();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    assert_eq!(
        socket.transmit_file_sync(Some(file.as_fd()), 1_000, 0, None, TransmitFlags::empty()),
        Ok(1_000)
    );
    assert_eq!(file.stream_position().unwrap(), 3_500);
    assert_eq!(
        socket.transmit_file_sync(Some(file.as_fd()), 0, 0, None, TransmitFlags::DISCONNECT),
        Ok(6_500)
    );
    assert_eq!(reader.join().unwrap(), &data[2_500..]);
}

#[test]
fn a_routine_runs_on_the_issuing_thread_with_every_byte_counted() {
    use std::{cell::RefCell, rc::Rc};
    let (tf, data) = TempFile::new("routine", 200_000);
    let file = tf.open();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let me = std::thread::current().id();
    started(socket.transmit_file_with(
        Some(file.as_fd()),
        100,
        0,
        0,
        bufs(b"<", b">"),
        TransmitFlags::DISCONNECT,
        move |c| {
            assert_eq!(std::thread::current().id(), me);
            *s.borrow_mut() = Some((c.error, c.bytes, c.buffers));
        },
    ));
    for _ in 0..1000 {
        if seen.borrow().is_some() {
            break;
        }
        let r = sleep_ex(Some(Duration::from_secs(10)), true).unwrap();
        assert_eq!(r, WaitResult::IoCompletion);
    }
    let (error, bytes, back) = seen.borrow_mut().take().expect("routine ran");
    assert_eq!((error, bytes), (WsaError::NO_ERROR, 1 + 199_900 + 1));
    assert_eq!(back.buffers(), &[b"<".to_vec(), b">".to_vec()]);
    let got = reader.join().unwrap();
    assert_eq!(&got[1..got.len() - 1], &data[100..]);
}

#[test]
fn errors_before_anything_starts() {
    // Fact 109.
    let (tf, _) = TempFile::new("errors", 1000);
    let file = tf.open();
    let unconnected = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let mut ov = Overlapped::new(&Event::new());
    let none = TransmitFlags::empty();
    assert_eq!(
        unconnected.transmit_file(&mut ov, Some(file.as_fd()), 0, 0, None, none),
        Err(WsaError::WSAENOTCONN)
    );
    assert_eq!(
        unconnected.transmit_file(&mut ov, None, 0, 0, None, TransmitFlags::REUSE_SOCKET),
        Err(WsaError::WSAENOTCONN),
        "unconnected wins even with only TF_REUSE_SOCKET"
    );
    let udp = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(
        udp.transmit_file(&mut ov, Some(file.as_fd()), 0, 0, None, none),
        Err(WsaError::WSAENOTCONN)
    );
    assert_eq!(
        udp.transmit_packets(&mut ov, vec![Element::memory(vec![1])], 0, none),
        Err(WsaError::WSAENOTCONN)
    );

    let (socket, _peer) = pair();
    assert_eq!(
        socket.transmit_file(
            &mut ov,
            Some(file.as_fd()),
            0,
            0,
            None,
            TransmitFlags::REUSE_SOCKET
        ),
        Err(WsaError::WSAEINVAL),
        "TF_REUSE_SOCKET without TF_DISCONNECT"
    );
    assert_eq!(
        socket.transmit_file(
            &mut ov,
            None,
            0,
            0,
            None,
            TransmitFlags::from_bits_retain(0x1000)
        ),
        Err(WsaError::WSAEINVAL)
    );
    ov.set_offset(1001);
    assert_eq!(
        socket.transmit_file(&mut ov, Some(file.as_fd()), 0, 0, None, none),
        Err(WsaError::WSAEINVAL),
        "offset past EOF"
    );
    ov.set_offset(500);
    assert_eq!(
        socket.transmit_file(&mut ov, Some(file.as_fd()), 501, 0, None, none),
        Err(WsaError::WSAEINVAL),
        "length past EOF"
    );
    ov.set_offset(1000);
    assert_eq!(
        socket.transmit_file(&mut ov, Some(file.as_fd()), 0, 0, None, none),
        Err(WsaError::WSA_IO_PENDING)
    );
    assert_eq!(wait(&socket, &ov), Ok(0), "offset at EOF: nothing to send");
    // More than 2,147,483,646 bytes in all.
    let big = std::env::temp_dir().join(format!("ovl-tf-{}-big", std::process::id()));
    let f = File::create(&big).unwrap();
    f.set_len(3 << 30).unwrap();
    let f = File::open(&big).unwrap();
    ov.set_offset(0);
    assert_eq!(
        socket.transmit_file(&mut ov, Some(f.as_fd()), 0, 0, None, none),
        Err(WsaError::WSAEINVAL)
    );
    ov.set_offset((3 << 30) - 2_147_483_646);
    assert_eq!(
        socket.transmit_file(&mut ov, Some(f.as_fd()), 0, 0, bufs(b"x", b""), none),
        Err(WsaError::WSAEINVAL)
    );
    std::fs::remove_file(&big).unwrap();
    // Not a readable regular file.
    let wo = std::fs::OpenOptions::new()
        .write(true)
        .open(&tf.path)
        .unwrap();
    ov.set_offset(0);
    assert_eq!(
        socket.transmit_file(&mut ov, Some(wo.as_fd()), 0, 0, None, none),
        Err(WsaError::WSAEACCES)
    );
    let dir = File::open(std::env::temp_dir()).unwrap();
    assert_eq!(
        socket.transmit_file(&mut ov, Some(dir.as_fd()), 0, 0, None, none),
        Err(WsaError::WSAEINVAL)
    );
    // After shutdown(SD_SEND).
    socket.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        socket.transmit_file(&mut ov, Some(file.as_fd()), 0, 0, None, none),
        Err(WsaError::WSAESHUTDOWN)
    );
}

#[test]
fn tf_disconnect_ends_the_stream_and_later_sends_fail() {
    let (tf, data) = TempFile::new("disc", 5000);
    let file = tf.open();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    assert_eq!(
        socket.transmit_file_sync(Some(file.as_fd()), 0, 0, None, TransmitFlags::DISCONNECT),
        Ok(5000)
    );
    assert_eq!(
        reader.join().unwrap(),
        data,
        "the peer read the end of the stream"
    );
    let r = socket.send_sync(
        &[std::io::IoSlice::new(b"x")],
        overlapped::MsgFlags::empty(),
    );
    assert_eq!(r, Err(WsaError::WSAESHUTDOWN));
    // Flags that mean nothing different here are accepted.
    let (socket, peer) = pair();
    let reader = read_all(peer);
    let all = TransmitFlags::WRITE_BEHIND
        | TransmitFlags::USE_KERNEL_APC
        | TransmitFlags::USE_SYSTEM_THREAD;
    let file = tf.open(); // the first handle's position is at the end now
    assert_eq!(
        socket.transmit_file_sync(Some(file.as_fd()), 10, 0, None, all),
        Ok(10)
    );
    drop(socket);
    assert_eq!(reader.join().unwrap(), &data[..10]);
}

#[test]
fn offsets_past_4_gib_work() {
    // A sparse 5 GiB file with a marker past 2^32.
    let path = std::env::temp_dir().join(format!("ovl-tf-{}-sparse", std::process::id()));
    let at: u64 = (4 << 30) + 12_345;
    {
        let mut f = File::create(&path).unwrap();
        f.set_len(5 << 30).unwrap();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(at)).unwrap();
        f.write_all(b"past four gigabytes").unwrap();
    }
    let file = File::open(&path).unwrap();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    let mut ov = Overlapped::new(&Event::new());
    ov.set_offset(at);
    started(socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        19,
        0,
        None,
        TransmitFlags::DISCONNECT,
    ));
    assert_eq!(wait(&socket, &ov), Ok(19));
    assert_eq!(reader.join().unwrap(), b"past four gigabytes");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_large_file_arrives_whole() {
    let (tf, data) = TempFile::new("large", 64 << 20);
    let file = tf.open();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    let mut ov = Overlapped::new(&Event::new());
    started(socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        None,
        TransmitFlags::DISCONNECT,
    ));
    assert_eq!(wait(&socket, &ov), Ok(64 << 20));
    assert!(reader.join().unwrap() == data, "bytes differ");
}

/// A socket whose peer does not read: the transmit blocks on a full buffer.
fn stalled_pair() -> (Socket, TcpStream) {
    let (socket, peer) = pair();
    socket.as_socket2().set_send_buffer_size(64 << 10).unwrap();
    socket2::SockRef::from(&peer)
        .set_recv_buffer_size(64 << 10)
        .unwrap();
    (socket, peer)
}

#[test]
fn a_cancelled_transmit_reports_what_went() {
    let (tf, data) = TempFile::new("cancel", 16 << 20);
    let file = tf.open();
    let (socket, peer) = stalled_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    started(socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        bufs(b"head", b""),
        TransmitFlags::empty(),
    ));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !ov.is_completed(),
        "the peer reads nothing: it cannot have finished"
    );
    cancel_io_ex(&socket, Some(&ov)).unwrap();
    let r = wait_for_multiple_events(
        std::slice::from_ref(&event),
        false,
        Some(Duration::from_secs(20)),
        false,
    )
    .unwrap();
    assert_eq!(r, WaitResult::Signaled(0), "a cancel ends the transmit");
    assert_eq!(wait(&socket, &ov), Err(WsaError::WSA_OPERATION_ABORTED));
    let went = ov.bytes_transferred() as usize;
    assert!(went < data.len() + 4);
    let reader = read_all(peer);
    drop(socket);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), went, "the peer gets exactly the bytes reported");
    assert_eq!(&got[..4], b"head");
    assert!(got[4..] == data[..went - 4]);
}

#[test]
fn closing_the_socket_aborts_a_blocked_transmit() {
    let (tf, _) = TempFile::new("close", 16 << 20);
    let file = tf.open();
    let (socket, _peer) = stalled_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    started(socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        None,
        TransmitFlags::empty(),
    ));
    std::thread::sleep(Duration::from_millis(100));
    drop(socket);
    let r = wait_for_multiple_events(
        std::slice::from_ref(&event),
        false,
        Some(Duration::from_secs(20)),
        false,
    )
    .unwrap();
    assert_eq!(r, WaitResult::Signaled(0));
    assert!(ov.is_completed());
    assert!(ov.bytes_transferred() < 16 << 20);
}

#[test]
fn a_file_truncated_mid_send_ends_with_an_error_not_a_hang() {
    let (tf, data) = TempFile::new("trunc", 16 << 20);
    let file = tf.open();
    let (socket, peer) = stalled_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    started(socket.transmit_file(
        &mut ov,
        Some(file.as_fd()),
        0,
        0,
        None,
        TransmitFlags::empty(),
    ));
    std::thread::sleep(Duration::from_millis(200));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&tf.path)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let reader = read_all(peer);
    let r = wait_for_multiple_events(
        std::slice::from_ref(&event),
        false,
        Some(Duration::from_secs(30)),
        false,
    )
    .unwrap();
    assert_eq!(r, WaitResult::Signaled(0), "the transmit ends");
    assert_eq!(wait(&socket, &ov), Err(WsaError::ERROR_HANDLE_EOF));
    let went = ov.bytes_transferred() as usize;
    drop(socket);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), went);
    assert!(went < data.len());
    assert!(got[..went.min(1 << 20)] == data[..went.min(1 << 20)]);
}

#[test]
fn packets_on_a_stream_go_in_order() {
    let (tf, data) = TempFile::new("packets", 100_000);
    let file = tf.open();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    let mut ov = Overlapped::new(&Event::new());
    let elements = vec![
        Element::memory(b"[a]".to_vec()),
        Element::file(file.as_fd(), Some(10), 1000),
        Element::memory(Vec::new()),
        Element::memory(b"[b]".to_vec()).eop(),
        Element::file(file.as_fd(), Some(50_000), 0),
        Element::memory(b"[c]".to_vec()),
    ];
    started(socket.transmit_packets(&mut ov, elements, u32::MAX, TransmitFlags::DISCONNECT));
    assert_eq!(wait(&socket, &ov), Ok(3 + 1000 + 3 + 50_000 + 3));
    let mut want = b"[a]".to_vec();
    want.extend_from_slice(&data[10..1010]);
    want.extend_from_slice(b"[b]");
    want.extend_from_slice(&data[50_000..]);
    want.extend_from_slice(b"[c]");
    assert!(reader.join().unwrap() == want);
    let back = ov.take_buffers().unwrap();
    assert_eq!(back.count(), 4, "every memory element comes back");
}

#[test]
fn packets_on_a_connected_datagram_socket_send_one_datagram_per_eop_group() {
    let (tf, data) = TempFile::new("dgram", 30_000);
    let file = tf.open();
    let any = "127.0.0.1:0".parse().unwrap();
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let sender = Socket::udp_for(&any).unwrap();
    sender.connect(&receiver.local_addr().unwrap()).unwrap();
    let mut ov = Overlapped::new(&Event::new());
    let elements = vec![
        Element::memory(b"one:".to_vec()),
        Element::file(file.as_fd(), Some(3), 20_000).eop(),
        Element::memory(b"two".to_vec()).eop(),
        Element::file(file.as_fd(), Some(0), 5),
        Element::memory(b"!".to_vec()),
    ];
    started(sender.transmit_packets(&mut ov, elements, u32::MAX, TransmitFlags::empty()));
    assert_eq!(wait(&sender, &ov), Ok(4 + 20_000 + 3 + 5 + 1));
    let mut buf = vec![0u8; 65536];
    let n = receiver.recv(&mut buf).unwrap();
    let mut want = b"one:".to_vec();
    want.extend_from_slice(&data[3..20_003]);
    assert!(buf[..n] == want, "datagram 1: {n} bytes");
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"two");
    let n = receiver.recv(&mut buf).unwrap();
    let mut want = data[..5].to_vec();
    want.push(b'!');
    assert_eq!(&buf[..n], &want[..], "the last group needs no EOP");

    assert_eq!(
        sender.transmit_packets(
            &mut ov,
            vec![Element::memory(vec![1])],
            0,
            TransmitFlags::DISCONNECT
        ),
        Err(WsaError::WSAEINVAL),
        "fact 112: no TF_DISCONNECT on a datagram socket"
    );
    assert_eq!(
        sender.transmit_packets(
            &mut ov,
            vec![Element::memory(vec![0; 70_000])],
            0,
            TransmitFlags::empty()
        ),
        Err(WsaError::WSAEMSGSIZE)
    );
    assert_eq!(
        sender.transmit_file(
            &mut ov,
            Some(file.as_fd()),
            0,
            0,
            None,
            TransmitFlags::empty()
        ),
        Err(WsaError::WSAEOPNOTSUPP)
    );
}

#[test]
fn sends_and_transmits_keep_call_order_and_pipes_are_reused() {
    let (tf, data) = TempFile::new("many", 4096);
    let file = tf.open();
    let (socket, peer) = pair();
    let reader = read_all(peer);
    let mut records: Vec<Overlapped> = Vec::new();
    let mut want = Vec::new();
    for i in 0..300u32 {
        let mut ov = Overlapped::new(&Event::new());
        let tag = format!("<{i}>").into_bytes();
        want.extend_from_slice(&tag);
        if i % 3 == 0 {
            let r = socket.send(&mut ov, tag, overlapped::MsgFlags::empty());
            assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)));
        } else {
            ov.set_offset(u64::from(i));
            started(socket.transmit_file(
                &mut ov,
                Some(file.as_fd()),
                100,
                0,
                bufs(&tag, b""),
                TransmitFlags::empty(),
            ));
            want.extend_from_slice(&data[i as usize..i as usize + 100]);
        }
        records.push(ov);
    }
    for ov in &records {
        wait(&socket, ov).unwrap();
    }
    drop(socket);
    assert!(reader.join().unwrap() == want);
}

#[test]
fn tf_disconnect_with_reuse_socket_recycles_an_accepted_socket_for_accept_ex() {
    // Fact 107: after TransmitFile(TF_DISCONNECT | TF_REUSE_SOCKET) the
    // socket goes back to AcceptEx, same descriptor.
    use overlapped::ACCEPT_EX_ADDRESS_LEN as N;
    use std::os::fd::AsRawFd;
    let (tf, data) = TempFile::new("reuse", 20_000);
    let file = tf.open();
    let l = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = l.local_addr().unwrap();
    let acc = Socket::tcp_for(&addr).unwrap();
    let fd = acc.as_raw_fd();
    for round in 0..3u64 {
        let mut ov = Overlapped::new(&Event::new());
        let r = l.accept_ex(&acc, &mut ov, vec![0u8; 2 * N as usize], 0, N, N);
        assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
        let client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        get_overlapped_result(&l, &ov, true).unwrap();
        acc.update_accept_context(&l).unwrap();
        let reader = read_all(client);
        let mut ov = Overlapped::new(&Event::new());
        ov.set_offset(round * 100);
        let flags = TransmitFlags::DISCONNECT | TransmitFlags::REUSE_SOCKET;
        started(acc.transmit_file(&mut ov, Some(file.as_fd()), 1000, 0, None, flags));
        assert_eq!(wait(&acc, &ov), Ok(1000));
        let got = reader.join().unwrap();
        let at = round as usize * 100;
        assert_eq!(
            got,
            &data[at..at + 1000],
            "round {round}: the peer reads the bytes, then the end"
        );
        assert_eq!(acc.as_raw_fd(), fd);
        assert_eq!(
            acc.peer_addr(),
            Err(WsaError::WSAENOTCONN),
            "ready for AcceptEx again"
        );
    }
}
