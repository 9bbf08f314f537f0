//! Datagram and buffer edges: where Windows keeps a routine's flags and the
//! message's flags (facts 32, 81), control buffers sized the Windows way
//! (fact 80), and buffer arrays longer than the kernel's iovec limit.

mod common;
mod udp_common;

use overlapped::*;
use std::cell::RefCell;
use std::rc::Rc;
use udp_common::{bound_v4, send, LONG};

/// Runs the routine receive `start` and returns its completion.
fn routine_completion(
    start: impl FnOnce(Box<dyn FnOnce(Completion)>) -> WsaResult<u32>,
) -> (WsaResult<u32>, Completion) {
    let slot: Rc<RefCell<Option<Completion>>> = Rc::default();
    let put = slot.clone();
    let call = start(Box::new(move |c| *put.borrow_mut() = Some(c)));
    while slot.borrow().is_none() {
        assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    }
    let c = slot.borrow_mut().take().unwrap();
    (call, c)
}

#[test]
fn a_routine_gets_dwflags_zero_and_the_message_keeps_ctrunc() {
    let rx = bound_v4();
    rx.set_receive_control(ReceiveControl::PktInfo, true)
        .unwrap();
    send(&bound_v4(), b"pktinf", &rx.local_addr().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Fact 81: pending although the datagram was queued, then
    // routine(WSAEMSGSIZE, 6, .., dwFlags = 0); WSAMSG.dwFlags = MSG_CTRUNC.
    let (call, c) = routine_completion(|r| {
        rx.recv_msg_with(
            BufList::zeroed(32),
            MsgSpace::control(1),
            MsgFlags::empty(),
            r,
        )
    });
    assert_eq!(call, Err(WsaError::WSA_IO_PENDING));
    assert_eq!((c.error, c.bytes), (WsaError::WSAEMSGSIZE, 6));
    assert_eq!(c.flags, MsgFlags::empty());
    assert_eq!(c.msg_flags, MsgFlags::CTRUNC);
    assert_eq!(c.buffers.gather(6), b"pktinf");
}

#[test]
fn a_truncated_datagram_gives_the_routine_dwflags_zero() {
    let rx = bound_v4();
    send(&bound_v4(), b"deadbeefs", &rx.local_addr().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Facts 32, 78: (WSAEMSGSIZE, 6), dwFlags 0.
    let (call, c) =
        routine_completion(|r| rx.recv_from_with(BufList::zeroed(6), MsgFlags::empty(), r));
    assert_eq!(call, Err(WsaError::WSA_IO_PENDING));
    assert_eq!((c.error, c.bytes), (WsaError::WSAEMSGSIZE, 6));
    assert_eq!(c.flags, MsgFlags::empty());
    assert_eq!(c.msg_flags, MsgFlags::TRUNC);
    // The record keeps the message's flags in msg_flags, and its
    // WSAGetOverlappedResult flags are 0 too.
    send(&bound_v4(), b"deadbeefs", &rx.local_addr().unwrap());
    let mut ov = Overlapped::new(&Event::new());
    let _ = rx.recv_from(&mut ov, BufList::zeroed(6), MsgFlags::empty());
    assert_eq!(
        get_overlapped_result(&rx, &ov, true),
        Err(WsaError::WSAEMSGSIZE)
    );
    assert_eq!(ov.bytes_transferred(), 6);
    assert_eq!(ov.msg_flags(), MsgFlags::TRUNC);
    send(&bound_v4(), b"fits", &rx.local_addr().unwrap());
    let _ = rx.recv_from(&mut ov, BufList::zeroed(6), MsgFlags::empty());
    assert_eq!(
        get_overlapped_result(&rx, &ov, true),
        Ok((4, MsgFlags::empty()))
    );
}

/// `n` buffers of `len` bytes, each filled with its index (mod 251).
fn many(n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| vec![(i % 251) as u8; len]).collect()
}

fn flat(bufs: &[Vec<u8>]) -> Vec<u8> {
    bufs.concat()
}

#[test]
fn two_thousand_buffers_in_one_datagram_call_in_every_mode() {
    use udp_common::{recv, send_mode, MODES};
    for mode in MODES {
        let (a, b) = (bound_v4(), bound_v4());
        let to = b.local_addr().unwrap();
        // WSASendTo and WSASendMsg with 2,000 buffers: one datagram, whole.
        let bufs = many(2000, 3);
        assert_eq!(
            send_mode(mode, &a, bufs.clone(), Some(&to), None),
            Ok(6000),
            "{mode:?}"
        );
        let got = recv(mode, &b, vec![vec![0; 4]; 2000], None);
        assert_eq!(got.result, Ok(6000), "{mode:?}");
        assert_eq!(got.data(), flat(&bufs), "{mode:?}");
        a.connect(&to).unwrap();
        assert_eq!(
            send_mode(mode, &a, bufs.clone(), None, Some(Control::new())),
            Ok(6000),
            "{mode:?}"
        );
        let got = recv(mode, &b, vec![vec![0; 3]; 2000], Some(MsgSpace::default()));
        assert_eq!(got.result, Ok(6000), "{mode:?}");
        assert_eq!(got.data(), flat(&bufs), "{mode:?}");
        // Truncation is still measured against all the buffers.
        send(&a, &[7u8; 2500], &to);
        let got = recv(mode, &b, vec![vec![0; 1]; 2000], None);
        assert_eq!(got.result, Err(WsaError::WSAEMSGSIZE), "{mode:?}");
        assert_eq!(got.bytes, 2000, "{mode:?}");
        assert_eq!(got.data(), vec![7u8; 2000]);
    }
}

/// Sends `bufs` on `s` in `mode` (`0`: event record, `1`: batched record,
/// `2`: routine, `3`: synchronous) and returns the completion's byte count.
fn stream_send(mode: usize, s: &Socket, bufs: Vec<Vec<u8>>) -> WsaResult<u32> {
    match mode {
        0 | 1 => {
            let mut ov = Overlapped::new(&Event::new());
            set_batching(mode == 1).unwrap();
            let r = s.send(&mut ov, bufs, MsgFlags::empty());
            set_batching(false).unwrap();
            match r {
                Ok(_) | Err(WsaError::WSA_IO_PENDING) => {
                    get_overlapped_result(s, &ov, true).map(|(n, _)| n)
                }
                Err(e) => Err(e),
            }
        }
        2 => {
            let (call, c) = routine_completion(|r| s.send_with(bufs, MsgFlags::empty(), r));
            assert!(
                matches!(call, Ok(_) | Err(WsaError::WSA_IO_PENDING)),
                "{call:?}"
            );
            if c.error.is_ok() {
                Ok(c.bytes)
            } else {
                Err(c.error)
            }
        }
        _ => {
            let slices: Vec<std::io::IoSlice<'_>> =
                bufs.iter().map(|b| std::io::IoSlice::new(b)).collect();
            s.send_sync(&slices, MsgFlags::empty()).map(|n| n as u32)
        }
    }
}

#[test]
fn two_thousand_buffers_in_one_stream_send_in_every_mode() {
    let (client, server) = common::tcp_pair();
    for mode in 0..4 {
        // Small buffers, and buffers whose rest is far past the 64 KiB bounce.
        for len in [1, 300] {
            let bufs = many(2000, len);
            let expect = flat(&bufs);
            let reader = {
                let n = expect.len();
                let server = server.clone();
                std::thread::spawn(move || common::recv_exact(&server, n))
            };
            assert_eq!(
                stream_send(mode, &client, bufs),
                Ok(expect.len() as u32),
                "mode {mode}, {len}-byte buffers"
            );
            assert_eq!(reader.join().unwrap(), expect, "mode {mode}");
        }
    }
}

#[test]
fn two_thousand_buffers_in_one_stream_receive_fill_in_order() {
    let (client, server) = common::tcp_pair();
    let data: Vec<u8> = (0..4000u32).map(|i| (i % 253) as u8).collect();
    // MSG_WAITALL: all 2,000 two-byte buffers, in order, whatever the chunks.
    for mode in 0..3 {
        let sender = {
            let client = client.clone();
            let data = data.clone();
            std::thread::spawn(move || {
                for chunk in data.chunks(700) {
                    common::send_all(&client, chunk);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            })
        };
        let got = match mode {
            0 => {
                let mut ov = Overlapped::new(&Event::new());
                let r = server.recv(&mut ov, vec![vec![0u8; 2]; 2000], MsgFlags::WAITALL);
                assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
                assert_eq!(
                    get_overlapped_result(&server, &ov, true),
                    Ok((4000, MsgFlags::empty()))
                );
                ov.take_buffers().unwrap().into_inner()
            }
            1 => {
                let (_, c) = routine_completion(|r| {
                    server.recv_with(vec![vec![0u8; 2]; 2000], MsgFlags::WAITALL, r)
                });
                assert_eq!((c.error, c.bytes), (WsaError::NO_ERROR, 4000));
                c.buffers.into_inner()
            }
            _ => {
                let mut bufs = vec![vec![0u8; 2]; 2000];
                let mut slices: Vec<std::io::IoSliceMut<'_>> = bufs
                    .iter_mut()
                    .map(|b| std::io::IoSliceMut::new(b))
                    .collect();
                assert_eq!(server.recv_sync(&mut slices, MsgFlags::WAITALL), Ok(4000));
                drop(slices);
                bufs
            }
        };
        sender.join().unwrap();
        assert_eq!(flat(&got), data, "mode {mode}");
    }
    // Without MSG_WAITALL a receive returns what is there, in order.
    common::send_all(&client, &data);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut ov = Overlapped::new(&Event::new());
    let n = match server.recv(&mut ov, vec![vec![0u8; 1]; 5000], MsgFlags::empty()) {
        Ok(n) => n,
        Err(WsaError::WSA_IO_PENDING) => get_overlapped_result(&server, &ov, true).unwrap().0,
        Err(e) => panic!("{e}"),
    } as usize;
    assert!(n > 0 && n <= 4000);
    let got = ov.take_buffers().unwrap().gather(n);
    assert_eq!(got, data[..n]);
    let rest = common::recv_exact(&server, 4000 - n);
    assert_eq!(rest, data[n..]);
}

#[test]
fn control_buffers_sized_the_windows_way_hold_their_messages() {
    use udp_common::{recv, MODES};
    for mode in MODES {
        let rx = bound_v4();
        rx.set_receive_control(ReceiveControl::PktInfo, true)
            .unwrap();
        let tx = bound_v4();
        let to = rx.local_addr().unwrap();
        // Fact 80: WSA_CMSG_SPACE(sizeof(IN_PKTINFO)) = 24 is what a Windows
        // program allocates; Linux's in_pktinfo needs 28. It must fit.
        send(&tx, b"info", &to);
        let got = recv(mode, &rx, vec![vec![0; 16]], Some(MsgSpace::control(24)));
        assert_eq!(got.result, Ok(4), "{mode:?}");
        assert_eq!(got.flags, MsgFlags::empty(), "{mode:?}");
        let msgs: Vec<_> = got.control.iter().collect();
        assert!(
            matches!(msgs[..], [ControlMessage::PktInfoV4 { addr, .. }] if addr.is_loopback()),
            "{mode:?}: {msgs:?}"
        );
        // One byte less than Windows needs: cut, as Windows would (fact 81).
        send(&tx, b"info", &to);
        let got = recv(mode, &rx, vec![vec![0; 16]], Some(MsgSpace::control(23)));
        assert_eq!(got.result, Err(WsaError::WSAEMSGSIZE), "{mode:?}");
        assert_eq!(got.flags, MsgFlags::CTRUNC, "{mode:?}");
        assert_eq!((got.bytes, got.data()), (4, b"info".to_vec()), "{mode:?}");
        assert!(got.control.is_empty(), "{mode:?}");
        // Two messages: IN_PKTINFO (24) then an INT (WSA_CMSG_LEN 20) = 44.
        rx.set_receive_control(ReceiveControl::TtlOrHopLimit, true)
            .unwrap();
        send(&tx, b"both", &to);
        let got = recv(mode, &rx, vec![vec![0; 16]], Some(MsgSpace::control(44)));
        assert_eq!(got.result, Ok(4), "{mode:?}");
        assert_eq!(got.control.iter().count(), 2, "{mode:?}");
        send(&tx, b"both", &to);
        let got = recv(mode, &rx, vec![vec![0; 16]], Some(MsgSpace::control(43)));
        assert_eq!(got.result, Err(WsaError::WSAEMSGSIZE), "{mode:?}");
        assert_eq!(got.flags, MsgFlags::CTRUNC, "{mode:?}");
        let msgs: Vec<_> = got.control.iter().collect();
        assert!(
            matches!(msgs[..], [ControlMessage::PktInfoV4 { .. }]),
            "{mode:?}: {msgs:?}"
        );
        // A Linux-sized request works too.
        send(&tx, b"both", &to);
        let got = recv(
            mode,
            &rx,
            vec![vec![0; 16]],
            Some(MsgSpace::control(Control::space(12) + Control::space(4))),
        );
        assert_eq!(got.result, Ok(4), "{mode:?}");
        assert_eq!(got.control.iter().count(), 2, "{mode:?}");
    }
}

/// `WSARecv` on a datagram socket, with an event record or a routine:
/// (result, bytes, the message's flags).
fn plain_recv(mode: udp_common::Mode, s: &Socket) -> (WsaResult<u32>, u32, MsgFlags) {
    match mode {
        udp_common::Mode::Event => {
            let event = Event::new();
            let mut ov = Overlapped::new(&event);
            let call = s.recv(&mut ov, BufList::zeroed(6), MsgFlags::empty());
            assert!(matches!(call, Ok(_) | Err(WsaError::WSA_IO_PENDING)));
            let result = get_overlapped_result(s, &ov, true).map(|(n, flags)| {
                assert_eq!(flags, MsgFlags::empty(), "lpdwFlags");
                n
            });
            (result, ov.bytes_transferred(), ov.msg_flags())
        }
        udp_common::Mode::Routine => {
            let (call, c) =
                routine_completion(|r| s.recv_with(BufList::zeroed(6), MsgFlags::empty(), r));
            assert!(matches!(call, Ok(_) | Err(WsaError::WSA_IO_PENDING)));
            assert_eq!(c.flags, MsgFlags::empty(), "routine dwFlags");
            let result = if c.error.is_ok() {
                Ok(c.bytes)
            } else {
                Err(c.error)
            };
            (result, c.bytes, c.msg_flags)
        }
        udp_common::Mode::Sync => {
            let mut b = [0u8; 6];
            let r = s.recv_sync(&mut [std::io::IoSliceMut::new(&mut b)], MsgFlags::empty());
            let n = match r {
                Ok(n) => n as u32,
                Err(_) => 6,
            };
            (r.map(|n| n as u32), n, MsgFlags::empty())
        }
    }
}

#[test]
fn receive_control_on_does_not_truncate_receives_without_a_control_buffer() {
    // WSARecv / WSARecvFrom have no control buffer: with IP_PKTINFO on (for
    // the program's WSARecvMsg path), a 4-byte datagram into 6 bytes is
    // Ok(4) with no flags, a 9-byte one WSAEMSGSIZE with MSG_TRUNC only
    // (facts 32, 78, 81); only WSARecvMsg reports MSG_CTRUNC.
    let rx = bound_v4();
    rx.set_receive_control(ReceiveControl::PktInfo, true)
        .unwrap();
    let tx = bound_v4();
    let to = rx.local_addr().unwrap();
    for mode in udp_common::MODES {
        // WSARecvFrom.
        send(&tx, b"four", &to);
        let got = udp_common::recv(mode, &rx, vec![vec![0; 6]], None);
        assert_eq!(got.result, Ok(4), "{mode:?} recv_from 4 B");
        assert_eq!(got.flags, MsgFlags::empty(), "{mode:?} recv_from 4 B");
        assert_eq!(got.data(), b"four");
        send(&tx, b"ninebytes", &to);
        let got = udp_common::recv(mode, &rx, vec![vec![0; 6]], None);
        assert_eq!(
            got.result,
            Err(WsaError::WSAEMSGSIZE),
            "{mode:?} recv_from 9 B"
        );
        assert_eq!(got.data(), b"nineby");
        if mode != udp_common::Mode::Sync {
            assert_eq!(got.flags, MsgFlags::TRUNC, "{mode:?} recv_from 9 B");
        }
        // WSARecv.
        send(&tx, b"four", &to);
        assert_eq!(
            plain_recv(mode, &rx),
            (Ok(4), 4, MsgFlags::empty()),
            "{mode:?} recv 4 B"
        );
        send(&tx, b"ninebytes", &to);
        let (result, bytes, flags) = plain_recv(mode, &rx);
        assert_eq!(
            (result, bytes),
            (Err(WsaError::WSAEMSGSIZE), 6),
            "{mode:?} recv 9 B"
        );
        if mode != udp_common::Mode::Sync {
            assert_eq!(flags, MsgFlags::TRUNC, "{mode:?} recv 9 B");
        }
        // WSARecvMsg still reports the control data it could not hold.
        send(&tx, b"four", &to);
        let got = udp_common::recv(mode, &rx, vec![vec![0; 6]], Some(MsgSpace::control(1)));
        assert_eq!(got.result, Err(WsaError::WSAEMSGSIZE), "{mode:?} recv_msg");
        assert_eq!(got.flags, MsgFlags::CTRUNC, "{mode:?} recv_msg");
    }
    // The async forms share the kinds above.
    send(&tx, b"four", &to);
    let c = block_on(rx.recv_from_async(BufList::zeroed(6), MsgFlags::empty()));
    assert_eq!(
        (c.error, c.bytes, c.msg_flags),
        (WsaError::NO_ERROR, 4, MsgFlags::empty())
    );
    send(&tx, b"four", &to);
    let (r, _) = block_on(rx.recv_async(BufList::zeroed(6), MsgFlags::empty()));
    assert_eq!(r, Ok(4));
}
