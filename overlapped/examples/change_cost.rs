//! What a change request costs: post and cancel `N` requests of each kind
//! (`SIO_ADDRESS_LIST_CHANGE`, `SIO_ROUTING_INTERFACE_CHANGE` for one
//! destination, `SIO_NSP_NOTIFY_CHANGE`) and `N` address-list queries, and
//! print the time per request.
//!
//! ```sh
//! cargo run --release -p overlapped --example change_cost -- 2000
//! ```

use std::time::Instant;

use overlapped::{
    cancel_io_ex, get_overlapped_result, notification_result, wait_for_multiple_events, Event,
    Ioctl, LookupService, Overlapped, Socket, WsaError,
};

fn per_op(label: &str, n: u32, mut one: impl FnMut()) {
    let t = Instant::now();
    for _ in 0..n {
        one();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("{label:<48} {us:>8.1} µs");
}

fn main() -> Result<(), WsaError> {
    let n = count_argument();
    let s = Socket::udp_for(&"0.0.0.0:0".parse().unwrap())?;
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let mut bytes = 0;
    let mut post_cancel = |ioctl: Ioctl| {
        let r = s.ioctl(&mut ov, &ioctl, 0, &mut bytes);
        assert_eq!(r.map(|_| ()), Err(WsaError::WSA_IO_PENDING));
        cancel_io_ex(&s, Some(&ov)).unwrap();
        wait_for_multiple_events(std::slice::from_ref(&event), false, None, false).unwrap();
        assert_eq!(
            get_overlapped_result(&s, &ov, false).map(|_| ()),
            Err(WsaError::WSA_OPERATION_ABORTED)
        );
    };
    println!("{n} requests each (post, cancel, wait for the abort):");
    per_op("SIO_ADDRESS_LIST_CHANGE", n, || {
        post_cancel(Ioctl::AddressListChange)
    });
    per_op("SIO_ROUTING_INTERFACE_CHANGE (127.0.0.1)", n, || {
        post_cancel(Ioctl::RoutingInterfaceChange(
            "127.0.0.1:0".parse().unwrap(),
        ))
    });
    per_op("SIO_ROUTING_INTERFACE_CHANGE (any route)", n, || {
        post_cancel(Ioctl::RoutingInterfaceChange("0.0.0.0:0".parse().unwrap()))
    });
    let q = LookupService::begin("localhost")?;
    per_op("SIO_NSP_NOTIFY_CHANGE (ended by a new lookup)", n, || {
        let q = LookupService::begin_watching("localhost", &overlapped::RESOLVER_FILES).unwrap();
        let mut ov = Overlapped::new(&event);
        assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
        drop(q);
        wait_for_multiple_events(std::slice::from_ref(&event), false, None, false).unwrap();
        assert_eq!(
            notification_result(&ov),
            Err(WsaError::WSA_OPERATION_ABORTED)
        );
    });
    drop(q);
    let dir = std::env::temp_dir().join(format!("change-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let q = LookupService::begin_watching("localhost", &[&hosts])?;
    per_op(
        "SIO_NSP_NOTIFY_CHANGE on one lookup, then a write",
        n,
        || {
            let mut ov = Overlapped::new(&event);
            assert_eq!(q.notify_change(&mut ov), Err(WsaError::WSA_IO_PENDING));
            std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
            wait_for_multiple_events(std::slice::from_ref(&event), false, None, false).unwrap();
            assert_eq!(notification_result(&ov), Ok(()));
        },
    );
    per_op("  (the write alone)", n, || {
        std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    });
    drop(q);
    let _ = std::fs::remove_dir_all(&dir);
    per_op(
        "WSALookupServiceBegin + End alone (its poll watch)",
        n,
        || {
            drop(LookupService::begin_watching("localhost", &overlapped::RESOLVER_FILES).unwrap());
        },
    );
    per_op("SIO_ADDRESS_LIST_QUERY (synchronous)", n, || {
        s.ioctl_sync(&Ioctl::AddressListQuery, u32::MAX, &mut bytes)
            .unwrap();
    });
    per_op("SIO_ROUTING_INTERFACE_QUERY (synchronous)", n, || {
        s.ioctl_sync(
            &Ioctl::RoutingInterfaceQuery("127.0.0.1:7".parse().unwrap()),
            u32::MAX,
            &mut bytes,
        )
        .unwrap();
    });
    Ok(())
}

/// The number of requests of each kind: the first argument (from 1 to
/// 1000000), 1000 without one. Anything else is a usage error (exit 2).
fn count_argument() -> u32 {
    let mut args = std::env::args().skip(1);
    let n = match args.next() {
        None => return 1000,
        Some(arg) => match arg.parse::<u32>() {
            Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
            _ => Err(arg),
        },
    };
    match (n, args.next()) {
        (Ok(n), None) => n,
        (Err(arg), _) => usage(&format!("{arg:?} is not a count (from 1 to 1000000)")),
        (Ok(_), Some(extra)) => usage(&format!("unexpected argument {extra:?}")),
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("change_cost: {msg}\nusage: change_cost [N]   (from 1 to 1000000, default 1000)");
    std::process::exit(2);
}
