//! Per-operation cost: one 64-byte recv/send round trip on a connected
//! loopback pair, in each notification model, and with the bare `io-uring`
//! crate as the floor.
//!
//! Each iteration: the peer (a plain blocking socket) has already sent 64
//! bytes; the measured side receives them and echoes them back; the peer
//! reads the echo. Run with `cargo bench -p overlapped`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use criterion::{criterion_group, criterion_main, Criterion};
use overlapped::{
    get_overlapped_result, sleep_ex, BufList, Event, MsgFlags, Overlapped, Socket, WaitResult,
    WsaError,
};

fn pair() -> (TcpStream, Socket) {
    let l = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    peer.set_nodelay(true).unwrap();
    let (s, _) = l.accept().unwrap();
    s.as_socket2().set_tcp_nodelay(true).unwrap();
    (peer, s)
}

fn event_model(c: &mut Criterion) {
    let (mut peer, s) = pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let mut bufs = Some(BufList::zeroed(64));
    let mut back = [0u8; 64];
    c.bench_function("event: WSARecv + WSASend round trip", |b| {
        b.iter(|| {
            peer.write_all(&[7u8; 64]).unwrap();
            for send in [false, true] {
                let mut buf = bufs.take().unwrap();
                if send {
                    buf.limit(64);
                }
                let r = if send {
                    s.send(&mut ov, buf, MsgFlags::empty())
                } else {
                    s.recv(&mut ov, buf, MsgFlags::empty())
                };
                assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)));
                assert_eq!(event.wait(None), Ok(WaitResult::Signaled(0)));
                event.reset();
                get_overlapped_result(&s, &ov, false).unwrap();
                let mut buf = ov.take_buffers().unwrap();
                buf.unlimit();
                bufs = Some(buf);
            }
            peer.read_exact(&mut back).unwrap();
        })
    });
}

fn routine_model(c: &mut Criterion) {
    let (mut peer, s) = pair();
    let s = std::rc::Rc::new(s);
    let mut back = [0u8; 64];
    let slot: std::rc::Rc<std::cell::RefCell<Option<BufList>>> =
        std::rc::Rc::new(std::cell::RefCell::new(Some(BufList::zeroed(64))));
    c.bench_function("routine: WSARecv + WSASend round trip", |b| {
        b.iter(|| {
            peer.write_all(&[7u8; 64]).unwrap();
            let buf = slot.borrow_mut().take().unwrap();
            let (s2, slot2) = (s.clone(), slot.clone());
            let _ = s.recv_with(buf, MsgFlags::empty(), move |c| {
                let mut buf = c.buffers;
                buf.limit(c.bytes as usize);
                let _ = s2.send_with(buf, MsgFlags::empty(), move |c| {
                    let mut buf = c.buffers;
                    buf.unlimit();
                    *slot2.borrow_mut() = Some(buf);
                });
            });
            while slot.borrow().is_none() {
                sleep_ex(None, true).unwrap();
            }
            peer.read_exact(&mut back).unwrap();
        })
    });
}

fn bare_io_uring(c: &mut Criterion) {
    use io_uring::{opcode, types, IoUring};
    let (mut peer, s) = pair();
    let fd = types::Fd(s.as_raw_fd());
    let mut ring = IoUring::new(8).unwrap();
    let mut buf = vec![0u8; 64];
    let mut back = [0u8; 64];
    c.bench_function("bare io-uring: RECV + SEND round trip", |b| {
        b.iter(|| {
            peer.write_all(&[7u8; 64]).unwrap();
            let recv = opcode::Recv::new(fd, buf.as_mut_ptr(), 64)
                .build()
                .user_data(1);
            // SAFETY: `buf` outlives the operation: we wait for its completion below.
            unsafe { ring.submission().push(&recv).unwrap() };
            ring.submit_and_wait(1).unwrap();
            let n = ring.completion().next().unwrap().result();
            assert_eq!(n, 64);
            let send = opcode::Send::new(fd, buf.as_ptr(), 64).build().user_data(2);
            // SAFETY: as above.
            unsafe { ring.submission().push(&send).unwrap() };
            ring.submit_and_wait(1).unwrap();
            assert_eq!(ring.completion().next().unwrap().result(), 64);
            peer.read_exact(&mut back).unwrap();
        })
    });
}

criterion_group!(benches, event_model, routine_model, bare_io_uring);
criterion_main!(benches);
