//! SIO_ADDRESS_LIST_CHANGE and SIO_ROUTING_INTERFACE_CHANGE against real
//! changes of the network, each test in a fresh network namespace (facts
//! 119-122): one notification per posted request, in each mode, and a close
//! aborts a pending request.

mod netns_util;

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netns_util::{alertable_until, dummy, ip, run};
use overlapped::{
    get_overlapped_result, notification_result, sleep_ex, wait_for_multiple_events, Event, Ioctl,
    IoctlOutput, Overlapped, Socket, WaitResult, WsaError,
};

const BOUND: Option<Duration> = Some(Duration::from_secs(20));

fn udp(addr: &str) -> Socket {
    Socket::udp_for(&addr.parse().unwrap()).unwrap()
}

fn post(s: &Socket, ov: &mut Overlapped, ioctl: Ioctl) {
    let mut n = 0;
    assert_eq!(
        s.ioctl(ov, &ioctl, 0, &mut n),
        Err(WsaError::WSA_IO_PENDING),
        "a change request is always pending (fact 119)"
    );
}

fn signalled(e: &Event) -> bool {
    wait_for_multiple_events(std::slice::from_ref(e), false, Some(Duration::ZERO), false).unwrap()
        == WaitResult::Signaled(0)
}

fn wait_signalled(e: &Event) {
    let r = wait_for_multiple_events(std::slice::from_ref(e), false, BOUND, false).unwrap();
    assert_eq!(r, WaitResult::Signaled(0), "no notification within 20 s");
}

fn addresses(s: &Socket) -> Vec<SocketAddr> {
    let mut n = 0;
    match s
        .ioctl_sync(&Ioctl::AddressListQuery, u32::MAX, &mut n)
        .unwrap()
    {
        IoctlOutput::AddressList(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn address_list_change_with_records_fires_once_per_request() {
    run(
        "address_list_change_with_records_fires_once_per_request",
        || {
            let s = udp("0.0.0.0:0");
            let (e1, e2) = (Event::new(), Event::new());
            let (mut o1, mut o2) = (Overlapped::new(&e1), Overlapped::new(&e2));
            post(&s, &mut o1, Ioctl::AddressListChange);
            post(&s, &mut o2, Ioctl::AddressListChange);
            assert!(!signalled(&e1) && !signalled(&e2));
            assert!(!addresses(&s).contains(&"127.0.0.2:0".parse().unwrap()));
            ip(&["addr", "add", "127.0.0.2/32", "dev", "lo"]);
            wait_signalled(&e1);
            wait_signalled(&e2);
            assert_eq!(
                get_overlapped_result(&s, &o1, false),
                Ok((0, Default::default()))
            );
            assert_eq!(
                get_overlapped_result(&s, &o2, false),
                Ok((0, Default::default()))
            );
            assert!(addresses(&s).contains(&"127.0.0.2:0".parse().unwrap()));
            // Completed once: nothing more without a new request.
            e1.reset();
            ip(&["addr", "del", "127.0.0.2/32", "dev", "lo"]);
            post(&s, &mut o2, Ioctl::AddressListChange);
            ip(&["addr", "add", "127.0.0.3/32", "dev", "lo"]);
            wait_signalled(&e2);
            assert!(!signalled(&e1), "a completed request never fires again");
        },
    );
}

#[test]
fn address_list_change_with_a_routine_runs_it_once() {
    run("address_list_change_with_a_routine_runs_it_once", || {
        let s = udp("0.0.0.0:0");
        let runs = Rc::new(Cell::new(0));
        let error = Rc::new(Cell::new(WsaError::WSAEINVAL));
        let (r, e) = (runs.clone(), error.clone());
        let mut n = 0;
        let posted = s.ioctl_with(&Ioctl::AddressListChange, 0, &mut n, move |c| {
            r.set(r.get() + 1);
            e.set(c.error);
            assert_eq!(c.bytes, 0);
        });
        assert_eq!(posted, Err(WsaError::WSA_IO_PENDING));
        ip(&["addr", "add", "192.0.2.10/32", "dev", "lo"]);
        ip(&["addr", "add", "192.0.2.11/32", "dev", "lo"]);
        alertable_until(|| runs.get() > 0);
        assert_eq!(error.get(), WsaError::NO_ERROR);
        ip(&["addr", "del", "192.0.2.10/32", "dev", "lo"]);
        assert_eq!(
            sleep_ex(Some(Duration::from_millis(200)), true).unwrap(),
            WaitResult::Timeout
        );
        assert_eq!(runs.get(), 1, "exactly one completion per posted request");
    });
}

#[test]
fn address_list_change_blocking_waits_and_nonblocking_would_block() {
    run(
        "address_list_change_blocking_waits_and_nonblocking_would_block",
        || {
            let s = udp("0.0.0.0:0");
            let mut n = 7;
            s.set_nonblocking(true).unwrap();
            assert_eq!(
                s.ioctl_sync(&Ioctl::AddressListChange, 0, &mut n),
                Err(WsaError::WSAEWOULDBLOCK)
            );
            s.set_nonblocking(false).unwrap();
            // Another thread changes the address list until the call returns
            // (a single change could come before the call subscribes).
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            let changer = std::thread::spawn(move || {
                for i in 0..200 {
                    if d.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    let op = if i % 2 == 0 { "add" } else { "del" };
                    ip(&["addr", op, "198.51.100.9/32", "dev", "lo"]);
                }
            });
            let out = s.ioctl_sync(&Ioctl::AddressListChange, 0, &mut n);
            done.store(true, Ordering::SeqCst);
            changer.join().unwrap();
            assert_eq!(out, Ok(IoctlOutput::None));
            assert_eq!(n, 0);
        },
    );
}

#[test]
fn address_list_change_hears_only_its_family() {
    run("address_list_change_hears_only_its_family", || {
        let v4 = udp("0.0.0.0:0");
        let v6 = udp("[::]:0");
        let (e4, e6) = (Event::new(), Event::new());
        let (mut o4, mut o6) = (Overlapped::new(&e4), Overlapped::new(&e6));
        post(&v4, &mut o4, Ioctl::AddressListChange);
        post(&v6, &mut o6, Ioctl::AddressListChange);
        ip(&["addr", "add", "192.0.2.20/32", "dev", "lo"]);
        wait_signalled(&e4);
        assert!(
            !signalled(&e6),
            "an IPv4 change does not complete an IPv6 request"
        );
        ip(&["addr", "add", "2001:db8::20/128", "dev", "lo", "nodad"]);
        wait_signalled(&e6);
        assert_eq!(get_overlapped_result(&v6, &o6, false).map(|r| r.0), Ok(0));
        let want: SocketAddr = "[2001:db8::20]:0".parse().unwrap();
        assert!(addresses(&v6).contains(&want));
    });
}

#[test]
fn closing_the_socket_aborts_a_pending_change_request() {
    run("closing_the_socket_aborts_a_pending_change_request", || {
        // Record (fact 119: closesocket → WSA_OPERATION_ABORTED).
        let s = udp("0.0.0.0:0");
        let e = Event::new();
        let mut ov = Overlapped::new(&e);
        post(&s, &mut ov, Ioctl::AddressListChange);
        drop(s);
        wait_signalled(&e);
        assert_eq!(
            notification_result(&ov),
            Err(WsaError::WSA_OPERATION_ABORTED)
        );
        // Routine.
        let s = udp("0.0.0.0:0");
        let got = Rc::new(Cell::new(None));
        let g = got.clone();
        let mut n = 0;
        let r = s.ioctl_with(
            &Ioctl::RoutingInterfaceChange("0.0.0.0:0".parse().unwrap()),
            0,
            &mut n,
            move |c| g.set(Some(c.error)),
        );
        assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
        s.close().unwrap();
        alertable_until(|| got.get().is_some());
        assert_eq!(got.get(), Some(WsaError::WSA_OPERATION_ABORTED));
    });
}

#[test]
fn routing_interface_change_and_query_follow_real_routes() {
    run(
        "routing_interface_change_and_query_follow_real_routes",
        || {
            dummy("d0", "192.0.2.1/24");
            let s = udp("0.0.0.0:0");
            let dest: SocketAddr = "198.51.100.7:80".parse().unwrap();
            let mut n = 0;
            // No route yet (fact 121).
            assert_eq!(
                s.ioctl_sync(&Ioctl::RoutingInterfaceQuery(dest), u32::MAX, &mut n),
                Err(WsaError::WSAENETUNREACH)
            );
            let (e_dest, e_any) = (Event::new(), Event::new());
            let (mut o_dest, mut o_any) = (Overlapped::new(&e_dest), Overlapped::new(&e_any));
            post(&s, &mut o_dest, Ioctl::RoutingInterfaceChange(dest));
            // A route elsewhere does not change the route to `dest`.
            ip(&["route", "add", "203.0.113.0/24", "dev", "d0"]);
            post(
                &s,
                &mut o_any,
                Ioctl::RoutingInterfaceChange("0.0.0.0:0".parse().unwrap()),
            );
            ip(&["route", "add", "198.51.100.0/24", "dev", "d0"]);
            wait_signalled(&e_dest);
            wait_signalled(&e_any);
            let out = s.ioctl_sync(&Ioctl::RoutingInterfaceQuery(dest), u32::MAX, &mut n);
            assert_eq!(
                out,
                Ok(IoctlOutput::RoutingInterface(
                    "192.0.2.1:0".parse().unwrap()
                ))
            );
            assert_eq!(n, 16);
            // Too small: WSAEFAULT with the size needed (fact 121).
            let mut n = 0;
            assert_eq!(
                s.ioctl_sync(&Ioctl::RoutingInterfaceQuery(dest), 15, &mut n),
                Err(WsaError::WSAEFAULT)
            );
            assert_eq!(n, 16);
            // Deleting the route completes a new request for `dest`.
            post(&s, &mut o_dest, Ioctl::RoutingInterfaceChange(dest));
            ip(&["route", "del", "198.51.100.0/24", "dev", "d0"]);
            wait_signalled(&e_dest);
            assert_eq!(
                get_overlapped_result(&s, &o_dest, false).map(|r| r.0),
                Ok(0)
            );
        },
    );
}

#[test]
fn interface_and_address_lists_show_a_dummy_link() {
    run("interface_and_address_lists_show_a_dummy_link", || {
        dummy("d1", "192.0.2.33/24");
        let s = udp("0.0.0.0:0");
        let mut n = 0;
        let Ok(IoctlOutput::InterfaceList(list)) =
            s.ioctl_sync(&Ioctl::GetInterfaceList, u32::MAX, &mut n)
        else {
            panic!("no interface list")
        };
        assert_eq!(n, list.len() as u32 * overlapped::INTERFACE_INFO_LEN);
        let d1 = list
            .iter()
            .find(|i| i.address == "192.0.2.33".parse::<std::net::Ipv4Addr>().unwrap())
            .expect("the dummy link's address");
        assert_eq!(d1.netmask.to_string(), "255.255.255.0");
        assert_eq!(d1.broadcast.to_string(), "192.0.2.255");
        assert!(d1.flags.contains(overlapped::InterfaceFlags::UP));
        let lo = list
            .iter()
            .find(|i| IpAddr::V4(i.address).is_loopback())
            .unwrap();
        assert!(lo.flags.contains(overlapped::InterfaceFlags::LOOPBACK));
        // Address list: SOCKET_ADDRESS_LIST sizes (8 + 16 + 16 per IPv4 address).
        let addrs = addresses(&s);
        assert!(addrs.contains(&"192.0.2.33:0".parse().unwrap()));
        let need = 8 + 32 * addrs.len() as u32;
        let mut n = 0;
        assert_eq!(
            s.ioctl_sync(&Ioctl::AddressListQuery, need - 1, &mut n),
            Err(WsaError::WSAEFAULT)
        );
        assert_eq!(n, need, "the size needed (fact 121's rule)");
    });
}

#[test]
fn cancel_io_ex_ends_a_change_request_and_a_port_gets_its_completion() {
    run(
        "cancel_io_ex_ends_a_change_request_and_a_port_gets_its_completion",
        || {
            let s = udp("0.0.0.0:0");
            let e = Event::new();
            let mut ov = Overlapped::new(&e);
            // CancelIoEx with the record, then with none (fact 126).
            post(&s, &mut ov, Ioctl::AddressListChange);
            assert_eq!(overlapped::cancel_io_ex(&s, Some(&ov)), Ok(()));
            wait_signalled(&e);
            assert_eq!(
                get_overlapped_result(&s, &ov, false),
                Err(WsaError::WSA_OPERATION_ABORTED)
            );
            assert_eq!(
                overlapped::cancel_io_ex(&s, None),
                Err(WsaError::ERROR_NOT_FOUND)
            );
            post(&s, &mut ov, Ioctl::AddressListChange);
            assert_eq!(overlapped::cancel_io_ex(&s, None), Ok(()));
            wait_signalled(&e);
            assert_eq!(
                get_overlapped_result(&s, &ov, false),
                Err(WsaError::WSA_OPERATION_ABORTED)
            );
            // A socket bound to a completion port: the notification is a packet
            // with the socket's key, and routines are refused (fact 39).
            let port = overlapped::CompletionPort::new(1).unwrap();
            port.associate(&s, 42).unwrap();
            post(
                &s,
                &mut ov,
                Ioctl::RoutingInterfaceChange("0.0.0.0:0".parse().unwrap()),
            );
            ip(&["addr", "add", "192.0.2.99/32", "dev", "lo"]);
            let entry = port.get_queued_completion_status(BOUND).unwrap();
            assert_eq!(
                (entry.key, entry.bytes, entry.error),
                (42, 0, WsaError::NO_ERROR)
            );
            assert!(entry.overlapped.as_ref().unwrap().same(&ov));
            let mut n = 0;
            let r = s.ioctl_with(&Ioctl::AddressListChange, 0, &mut n, |_| {});
            assert_eq!(r, Err(WsaError::WSAEINVAL));
        },
    );
}

#[test]
fn a_change_request_outlives_the_thread_that_posted_it() {
    run(
        "a_change_request_outlives_the_thread_that_posted_it",
        || {
            // Fact 133: a thread's exit does not end its event-notified operations.
            let s = Arc::new(udp("0.0.0.0:0"));
            let e = Event::new();
            let (s2, e2) = (s.clone(), e.clone());
            let ov = std::thread::spawn(move || {
                let mut ov = Overlapped::new(&e2);
                post(&s2, &mut ov, Ioctl::AddressListChange);
                ov
            })
            .join()
            .unwrap();
            ip(&["addr", "add", "192.0.2.123/32", "dev", "lo"]);
            wait_signalled(&e);
            assert_eq!(get_overlapped_result(&s, &ov, false).map(|r| r.0), Ok(0));
        },
    );
}
