//! WSAIoctl's query and option codes in the three modes (facts 113-118, 122).

mod common;

use std::cell::RefCell;
use std::io::IoSlice;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use overlapped::{
    get_overlapped_result, sleep_ex, wait_for_multiple_events, Completion, Event,
    ExtensionFunction, Guid, InterfaceInfo, Ioctl, IoctlOutput, KeepaliveVals, MsgFlags,
    Overlapped, Socket, WaitResult, WsaError, INTERFACE_INFO_LEN,
};

fn udp() -> Socket {
    Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap()
}

fn routine_result(run: impl FnOnce(Box<dyn FnOnce(Completion)>)) -> Completion {
    let got: Rc<RefCell<Option<Completion>>> = Rc::default();
    let g = got.clone();
    run(Box::new(move |c| *g.borrow_mut() = Some(c)));
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.borrow().is_none() {
        assert!(Instant::now() < deadline, "routine never ran");
        sleep_ex(Some(Duration::from_millis(50)), true).unwrap();
    }
    let c = got.borrow_mut().take().unwrap();
    c
}

#[test]
fn unsupported_codes_fail_synchronously_and_complete_with_an_error_overlapped() {
    // Fact 115, for 0xdeadbeef, FIOASYNC, 0x667e, SIO_FLUSH.
    let s = udp();
    for code in [
        0xdead_beef,
        overlapped::FIOASYNC,
        0x667e,
        overlapped::SIO_FLUSH,
    ] {
        let ioctl = Ioctl::Unsupported(code);
        let mut n = 123;
        assert_eq!(
            s.ioctl_sync(&ioctl, 64, &mut n),
            Err(WsaError::WSAEOPNOTSUPP)
        );
        assert_eq!(n, 0, "synchronous: count set to 0");
        let e = Event::new();
        let mut ov = Overlapped::new(&e);
        let mut n = 123;
        assert_eq!(
            s.ioctl(&mut ov, &ioctl, 64, &mut n),
            Err(WsaError::WSA_IO_PENDING)
        );
        assert_eq!(n, 123, "overlapped: count untouched");
        assert_eq!(
            get_overlapped_result(&s, &ov, false),
            Err(WsaError::WSAEOPNOTSUPP)
        );
        assert_eq!(ov.bytes_transferred(), 0);
        let c = routine_result(|r| {
            assert_eq!(
                s.ioctl_with(&ioctl, 64, &mut n, r),
                Err(WsaError::WSA_IO_PENDING)
            );
        });
        assert_eq!((c.error, c.bytes), (WsaError::WSAEOPNOTSUPP, 0));
    }
}

#[test]
fn base_handle_is_the_socket_synchronously_and_unsupported_overlapped() {
    let s = udp();
    let mut n = 0;
    assert_eq!(
        s.ioctl_sync(&Ioctl::BaseHandle, 8, &mut n),
        Ok(IoctlOutput::BaseHandle(s.as_raw_fd()))
    );
    assert_eq!(n, 8);
    assert_eq!(
        s.ioctl_sync(&Ioctl::BaseHandle, 4, &mut n),
        Err(WsaError::WSAEFAULT)
    );
    let mut ov = Overlapped::new(&Event::new());
    let mut n = 55;
    assert_eq!(
        s.ioctl(&mut ov, &Ioctl::BaseHandle, 8, &mut n),
        Err(WsaError::WSA_IO_PENDING)
    );
    assert_eq!(n, 55);
    assert_eq!(
        get_overlapped_result(&s, &ov, true),
        Err(WsaError::WSAEOPNOTSUPP)
    );
}

#[test]
fn every_extension_guid_is_found_in_every_mode_and_an_unknown_one_is_wsaeinval() {
    // Fact 116.
    let s = udp();
    for f in ExtensionFunction::ALL {
        let ioctl = Ioctl::GetExtensionFunctionPointer(f.guid());
        let mut n = 0;
        assert_eq!(
            s.ioctl_sync(&ioctl, 8, &mut n),
            Ok(IoctlOutput::ExtensionFunction(f))
        );
        assert_eq!(n, 8, "count = sizeof(void*)");
        let e = Event::new();
        let mut ov = Overlapped::new(&e);
        let mut n = 0;
        assert_eq!(
            s.ioctl(&mut ov, &ioctl, 8, &mut n),
            Ok(IoctlOutput::ExtensionFunction(f))
        );
        assert_eq!(n, 8);
        // Completed at once, and notified all the same.
        assert_eq!(get_overlapped_result(&s, &ov, false).map(|r| r.0), Ok(8));
        let c = routine_result(|r| {
            assert_eq!(
                s.ioctl_with(&ioctl, 8, &mut n, r),
                Ok(IoctlOutput::ExtensionFunction(f))
            );
        });
        assert_eq!((c.error, c.bytes), (WsaError::NO_ERROR, 8));
    }
    let unknown = Ioctl::GetExtensionFunctionPointer(Guid::new(1, 2, 3, [4; 8]));
    let mut n = 9;
    assert_eq!(s.ioctl_sync(&unknown, 8, &mut n), Err(WsaError::WSAEINVAL));
    let e = Event::new();
    let mut ov = Overlapped::new(&e);
    assert_eq!(
        s.ioctl(&mut ov, &unknown, 8, &mut n),
        Err(WsaError::WSAEINVAL)
    );
    let r = wait_for_multiple_events(std::slice::from_ref(&e), false, Some(Duration::ZERO), false);
    assert_eq!(
        r,
        Ok(WaitResult::Timeout),
        "nothing queued for an unknown GUID"
    );
    // A pointer does not fit in 4 bytes.
    let ok = Ioctl::GetExtensionFunctionPointer(overlapped::WSAID_CONNECTEX);
    assert_eq!(s.ioctl_sync(&ok, 4, &mut n), Err(WsaError::WSAEFAULT));
}

#[test]
fn fionread_counts_readable_bytes_and_needs_four_bytes_of_output() {
    // Fact 117.
    let (client, server) = common::tcp_pair();
    let mut n = 0;
    assert_eq!(
        server.ioctl_sync(&Ioctl::FionRead, 4, &mut n),
        Ok(IoctlOutput::Readable(0))
    );
    client
        .send_sync(&[IoSlice::new(b"hello world")], MsgFlags::empty())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = server.ioctl_sync(&Ioctl::FionRead, 4, &mut n).unwrap();
        if out == IoctlOutput::Readable(11) {
            break;
        }
        assert!(Instant::now() < deadline, "{out:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(n, 4);
    let mut n = 77;
    assert_eq!(
        server.ioctl_sync(&Ioctl::FionRead, 3, &mut n),
        Err(WsaError::WSAEFAULT)
    );
    assert_eq!(n, 77, "count unchanged");
    let mut ov = Overlapped::new(&Event::new());
    assert_eq!(
        server.ioctl(&mut ov, &Ioctl::FionRead, 4, &mut n),
        Ok(IoctlOutput::Readable(11))
    );
    assert_eq!(
        get_overlapped_result(&server, &ov, false).map(|r| r.0),
        Ok(4)
    );
}

#[test]
fn siocatmark_is_true_until_urgent_data_waits() {
    // Fact 117: TRUE when no out-of-band data is pending.
    let (client, server) = common::tcp_pair();
    let mut n = 0;
    assert_eq!(
        server.ioctl_sync(&Ioctl::SiocAtMark, 4, &mut n),
        Ok(IoctlOutput::AtMark(true))
    );
    client
        .send_sync(&[IoSlice::new(b"!")], MsgFlags::OOB)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.ioctl_sync(&Ioctl::SiocAtMark, 4, &mut n) != Ok(IoctlOutput::AtMark(false)) {
        assert!(Instant::now() < deadline, "urgent data never seen");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        server.ioctl_sync(&Ioctl::SiocAtMark, 2, &mut n),
        Err(WsaError::WSAEFAULT)
    );
    assert_eq!(
        udp().ioctl_sync(&Ioctl::SiocAtMark, 4, &mut n),
        Ok(IoctlOutput::AtMark(true))
    );
}

#[test]
fn fionbio_switches_synchronous_calls_and_returns_no_output() {
    // Fact 118.
    let s = udp();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let mut n = 5;
    assert_eq!(
        s.ioctl_sync(&Ioctl::FionBio(true), 0, &mut n),
        Ok(IoctlOutput::None)
    );
    assert_eq!(n, 0);
    let mut buf = [0u8; 8];
    let mut from = None;
    let r = s.recv_from_sync(
        &mut [std::io::IoSliceMut::new(&mut buf)],
        MsgFlags::empty(),
        &mut from,
    );
    assert_eq!(r.map(|_| ()), Err(WsaError::WSAEWOULDBLOCK));
    s.ioctl_sync(&Ioctl::FionBio(false), 0, &mut n).unwrap();
    assert!(!s.as_socket2().nonblocking().unwrap());
}

#[test]
fn keepalive_vals_set_the_tcp_keepalive_times() {
    let (client, _server) = common::tcp_pair();
    let vals = KeepaliveVals {
        on: true,
        time_ms: 7_500,
        interval_ms: 2_000,
    };
    let mut n = 9;
    assert_eq!(
        client.ioctl_sync(&Ioctl::KeepaliveVals(vals), 0, &mut n),
        Ok(IoctlOutput::None)
    );
    assert_eq!(n, 0);
    let s2 = client.as_socket2();
    assert!(s2.keepalive().unwrap());
    assert_eq!(
        s2.tcp_keepalive_time().unwrap(),
        Duration::from_secs(8),
        "rounded up to seconds"
    );
    assert_eq!(s2.tcp_keepalive_interval().unwrap(), Duration::from_secs(2));
    let off = KeepaliveVals { on: false, ..vals };
    let mut ov = Overlapped::new(&Event::new());
    assert_eq!(
        client.ioctl(&mut ov, &Ioctl::KeepaliveVals(off), 0, &mut n),
        Ok(IoctlOutput::None)
    );
    assert!(!s2.keepalive().unwrap());
}

#[test]
fn interface_list_is_always_asynchronous_when_overlapped() {
    // Fact 122.
    let s = udp();
    let mut n = 0;
    let Ok(IoctlOutput::InterfaceList(sync)) =
        s.ioctl_sync(&Ioctl::GetInterfaceList, u32::MAX, &mut n)
    else {
        panic!("no list")
    };
    assert!(!sync.is_empty(), "loopback at least");
    assert_eq!(n, sync.len() as u32 * INTERFACE_INFO_LEN);
    let mut n = 3;
    assert_eq!(
        s.ioctl_sync(&Ioctl::GetInterfaceList, 10, &mut n),
        Err(WsaError::WSAEFAULT)
    );
    assert_eq!(n, 0, "synchronous too-small: count 0");
    // Record: pending even though the data is there; bytes = the list size.
    let mut ov = Overlapped::new(&Event::new());
    let mut n = 0;
    assert_eq!(
        s.ioctl(&mut ov, &Ioctl::GetInterfaceList, u32::MAX, &mut n),
        Err(WsaError::WSA_IO_PENDING)
    );
    let (bytes, _) = get_overlapped_result(&s, &ov, true).unwrap();
    assert_eq!(bytes, sync.len() as u32 * INTERFACE_INFO_LEN);
    let wire = ov.take_buffers().unwrap().gather(bytes as usize);
    assert_eq!(InterfaceInfo::decode_list(&wire), sync);
    // Too small: completes with WSAEFAULT, 0 bytes (record and routine).
    assert_eq!(
        s.ioctl(&mut ov, &Ioctl::GetInterfaceList, 10, &mut n),
        Err(WsaError::WSA_IO_PENDING)
    );
    assert_eq!(
        get_overlapped_result(&s, &ov, true),
        Err(WsaError::WSAEFAULT)
    );
    assert_eq!(ov.bytes_transferred(), 0);
    let c = routine_result(|r| {
        assert_eq!(
            s.ioctl_with(&Ioctl::GetInterfaceList, 10, &mut n, r),
            Err(WsaError::WSA_IO_PENDING)
        );
    });
    assert_eq!((c.error, c.bytes), (WsaError::WSAEFAULT, 0));
    let c = routine_result(|r| {
        let _ = s.ioctl_with(&Ioctl::GetInterfaceList, u32::MAX, &mut n, r);
    });
    assert_eq!(
        InterfaceInfo::decode_list(&c.buffers.gather(c.bytes as usize)),
        sync
    );
}

#[test]
fn routing_query_on_loopback_and_address_list_of_each_family() {
    let s = udp();
    let mut n = 0;
    let dest = "127.0.0.1:7".parse().unwrap();
    let out = s.ioctl_sync(&Ioctl::RoutingInterfaceQuery(dest), u32::MAX, &mut n);
    assert_eq!(
        out,
        Ok(IoctlOutput::RoutingInterface(
            "127.0.0.1:0".parse().unwrap()
        ))
    );
    let mut ov = Overlapped::new(&Event::new());
    let out = s.ioctl(&mut ov, &Ioctl::RoutingInterfaceQuery(dest), 16, &mut n);
    assert_eq!(
        out,
        Ok(IoctlOutput::RoutingInterface(
            "127.0.0.1:0".parse().unwrap()
        ))
    );
    let Ok(IoctlOutput::AddressList(v4)) = s.ioctl_sync(&Ioctl::AddressListQuery, u32::MAX, &mut n)
    else {
        panic!()
    };
    assert!(v4.iter().all(|a| a.is_ipv4()));
    assert!(v4.contains(&"127.0.0.1:0".parse().unwrap()));
    assert_eq!(n, 8 + 32 * v4.len() as u32);
}

#[test]
fn ioctl_codes_keep_windows_values() {
    assert_eq!(
        Ioctl::AddressListChange.code(),
        overlapped::SIO_ADDRESS_LIST_CHANGE
    );
    assert_eq!(Ioctl::FionRead.code(), 0x4004_667f);
    assert_eq!(Ioctl::FionBio(true).code(), 0x8004_667e);
    assert_eq!(Ioctl::SiocAtMark.code(), 0x4004_7307);
    assert_eq!(Ioctl::GetInterfaceList.code(), 0x4004_747f);
    assert_eq!(Ioctl::Unsupported(0x667e).code(), 0x667e);
}
