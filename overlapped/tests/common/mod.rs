#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use overlapped::{Socket, WsaError};

/// A connected TCP pair on loopback: (client, server side).
pub fn tcp_pair() -> (Socket, Socket) {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Socket::tcp_for(&addr).unwrap();
    client.connect(&addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// A connected TCP pair over IPv6 loopback.
pub fn tcp_pair_v6() -> (Socket, Socket) {
    let bind: SocketAddr = "[::1]:0".parse().unwrap();
    let listener = Socket::listen_tcp(&bind, 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Socket::tcp_for(&addr).unwrap();
    client.connect(&addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// Sends all of `data` synchronously.
pub fn send_all(s: &Socket, data: &[u8]) {
    let n = s
        .send_sync(
            &[std::io::IoSlice::new(data)],
            overlapped::MsgFlags::empty(),
        )
        .unwrap();
    assert_eq!(n, data.len());
}

/// Receives exactly `n` bytes synchronously.
pub fn recv_exact(s: &Socket, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let k = s
            .recv_sync(
                &mut [std::io::IoSliceMut::new(&mut out[got..])],
                overlapped::MsgFlags::empty(),
            )
            .unwrap();
        assert!(k > 0, "peer closed early");
        got += k;
    }
    out
}

/// Asserts the call returned pending.
pub fn pending(r: Result<u32, WsaError>) {
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
}

pub const SHORT: Option<Duration> = Some(Duration::from_millis(50));
pub const LONG: Option<Duration> = Some(Duration::from_secs(10));
