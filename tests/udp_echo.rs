//! `serve --proto udp --model event|routine` end to end on loopback: 10
//! senders × 10,000 datagrams of mixed sizes (1 B to 65,507 B), every echo
//! checked byte for byte. Datagrams the kernel drops under load are counted
//! (and printed) apart from wrong bytes: wrong bytes must be 0, losses small.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

mod common;

use common::ServerProcess;
const SENDERS: u32 = 10;
const PER_SENDER: u32 = 10_000;
/// Datagrams in flight per sender.
const WINDOW: usize = 8;
/// After this long without an echo a datagram counts as lost.
const LOSS_TIMEOUT: Duration = Duration::from_millis(300);
const MAX: usize = 65_507;

fn start(model: &str) -> ServerProcess {
    ServerProcess::start(&[
        "serve",
        "--proto",
        "udp",
        "--model",
        model,
        "--addr",
        "127.0.0.1",
        "--port",
        "0",
    ])
}

fn rng(x: u64) -> u64 {
    // splitmix64
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixed sizes: mostly small, some large, the extremes included.
fn size_of(id: u64) -> usize {
    let r = rng(id);
    let pick = |lo: usize, hi: usize| lo + (r >> 8) as usize % (hi - lo + 1);
    match r % 100 {
        0 => 1,
        1 => MAX,
        2..=9 => pick(1, 7),
        10..=64 => pick(8, 1_500),
        65..=92 => pick(1_501, 16_384),
        _ => pick(16_385, MAX),
    }
}

/// The content of datagram `id`: a slice of a shared pattern, with the id in
/// its first 8 bytes when it is long enough to hold it.
fn content(pattern: &[u8], id: u64) -> Vec<u8> {
    let len = size_of(id);
    let offset = (rng(id ^ 0xABCD) % 65_536) as usize;
    let mut d = pattern[offset..offset + len].to_vec();
    if len >= 8 {
        d[..8].copy_from_slice(&id.to_le_bytes());
    }
    d
}

#[derive(Default, Debug)]
struct Tally {
    echoed: u64,
    lost: u64,
    late: u64,
    wrong: u64,
}

fn sender(server: SocketAddr, me: u32, pattern: &[u8]) -> Tally {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&sock)
        .set_recv_buffer_size(4 << 20)
        .unwrap();
    sock.connect(server).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let mut tally = Tally::default();
    let mut outstanding: HashMap<u64, Instant> = HashMap::new();
    let mut expired: HashMap<u64, ()> = HashMap::new();
    let mut next = 0u32;
    let mut buf = vec![0u8; 70_000];
    while next < PER_SENDER || !outstanding.is_empty() {
        while next < PER_SENDER && outstanding.len() < WINDOW {
            let id = (u64::from(me) << 32) | u64::from(next);
            let d = content(pattern, id);
            assert_eq!(sock.send(&d).unwrap(), d.len());
            outstanding.insert(id, Instant::now());
            next += 1;
        }
        match sock.recv(&mut buf) {
            Ok(n) => {
                let got = &buf[..n];
                // Which datagram is it? Its id, or for tiny ones its content.
                let id = if n >= 8 {
                    Some(u64::from_le_bytes(got[..8].try_into().unwrap()))
                } else {
                    let mut ids: Vec<u64> =
                        outstanding.keys().chain(expired.keys()).copied().collect();
                    ids.sort_unstable();
                    ids.into_iter().find(|&id| content(pattern, id) == got)
                };
                let known =
                    id.filter(|id| outstanding.contains_key(id) || expired.contains_key(id));
                match known {
                    Some(id) if content(pattern, id) == got => {
                        if outstanding.remove(&id).is_some() {
                            tally.echoed += 1;
                        } else {
                            expired.remove(&id);
                            tally.late += 1;
                        }
                    }
                    _ => tally.wrong += 1,
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("sender {me}: {e}"),
        }
        let now = Instant::now();
        outstanding.retain(|&id, sent| {
            let keep = now.duration_since(*sent) < LOSS_TIMEOUT;
            if !keep {
                tally.lost += 1;
                expired.insert(id, ());
            }
            keep
        });
    }
    tally
}

fn load(model: &str) {
    let server = start(model);
    let addr: SocketAddr = server.addr.parse().unwrap();
    let pattern: Vec<u8> = (0..65_536 + MAX).map(|i| rng(i as u64) as u8).collect();
    let pattern = std::sync::Arc::new(pattern);

    // A zero-length datagram is echoed as one, not taken as end-of-stream.
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    probe.send_to(&[], addr).unwrap();
    let (n, from) = probe.recv_from(&mut [0u8; 8]).unwrap();
    assert_eq!((n, from), (0, addr), "{model}: zero-length echo");

    let start = Instant::now();
    let tallies: Vec<Tally> = (0..SENDERS)
        .map(|me| {
            let pattern = pattern.clone();
            std::thread::spawn(move || sender(addr, me, &pattern))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let secs = start.elapsed().as_secs_f64();
    let mut total = Tally::default();
    for t in &tallies {
        total.echoed += t.echoed;
        total.lost += t.lost;
        total.late += t.late;
        total.wrong += t.wrong;
    }
    let sent = u64::from(SENDERS * PER_SENDER);
    println!(
        "udp echo --model {model}: {sent} datagrams in {secs:.2} s ({:.0}/s): echoed {}, lost {} ({:.3}%), late {}, wrong {}",
        sent as f64 / secs,
        total.echoed,
        total.lost,
        100.0 * total.lost as f64 / sent as f64,
        total.late,
        total.wrong
    );
    assert_eq!(total.wrong, 0, "{model}: wrong bytes came back");
    assert_eq!(total.echoed + total.lost, sent);
    assert!(
        total.lost * 100 <= sent,
        "{model}: lost {} of {sent}",
        total.lost
    );
    server.stop_cleanly();
}

#[test]
fn udp_echo_event_model_under_ten_senders() {
    load("event");
}

#[test]
fn udp_echo_routine_model_under_ten_senders() {
    load("routine");
}
