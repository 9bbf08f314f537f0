//! `overlapped serve-uring`: a TCP echo server written directly on io_uring, without the library.
//!
//! The floor the library's servers are measured against in `compare` (issue "cost per message"):
//! what a careful hand-written loop costs on this kernel, with none of Winsock's guarantees.
//! One thread, one ring set up with `SINGLE_ISSUER | DEFER_TASKRUN`; a multishot accept that
//! puts each connection straight into the ring's fixed-file table; per connection one buffer
//! and one operation in flight (receive, then send what came, then receive again); one
//! `io_uring_enter` per loop turn that submits and waits.
//!
//! With `process.rs`, `bench/ring.rs` and `bench/epoll/sys.rs`, one of the program's modules with
//! `unsafe`:
//! the submission entries point into buffers that this module owns until their completion.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use slab::Slab;

/// Arguments of `overlapped serve-uring`.
#[derive(clap::Args, Debug)]
pub struct UringEchoArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub addr: IpAddr,
    /// Port; 0 picks a free one (printed on the first line) (from 0 to 65535).
    #[arg(long, default_value_t = 0, value_parser = crate::cli::int_in(0u16, u16::MAX))]
    pub port: u16,
}

/// Fixed-file slots: one per connection (the largest `compare` scenario has 10,000).
const FILES: u32 = 16_384;
/// Bytes per connection buffer (as `serve-tokio`).
const BUF: usize = 16 * 1024;
/// `user_data` of the multishot accept; connections use their slab key.
const ACCEPT: u64 = u64::MAX;
/// `user_data` of a close (its completion is posted only if it fails).
const CLOSE: u64 = u64::MAX - 1;
/// `user_data` of the poll on the signal pipe: SIGINT or SIGTERM arrived.
const SIGNAL: u64 = u64::MAX - 2;

/// One connection: its fixed-file slot, its buffer, and how much of it is still to be sent.
struct Conn {
    file: u32,
    buf: Box<[u8]>,
    /// Bytes received and not yet sent: `sent..len`.
    len: usize,
    sent: usize,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: UringEchoArgs) -> io::Result<()> {
    if crate::cli::only_checking() {
        return Ok(());
    }
    // Where io_uring cannot run, say so and why (the call and its errno), before listening.
    if let Err(why) = crate::bench::ring::probe() {
        return Err(io::Error::other(format!(
            "serve-uring is a loop written directly on io_uring, which cannot run here: {why} \
             (the library's servers, `overlapped serve`, fall back to epoll)"
        )));
    }
    let listener = TcpListener::bind(SocketAddr::new(args.addr, args.port)).map_err(|e| {
        io::Error::other(format!(
            "cannot listen on {}:{}: {}",
            args.addr,
            args.port,
            overlapped::WsaError::from_io(&e)
        ))
    })?;
    // Accepted sockets inherit TCP_NODELAY from the listener.
    socket2::SockRef::from(&listener).set_tcp_nodelay(true)?;
    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(4096)?;
    ring.submitter().register_files_sparse(FILES)?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        out.flush()?;
    }
    // SIGINT/SIGTERM write a byte to this pipe; a poll on it in the ring ends the loop.
    let (stop, stop_write) = std::os::unix::net::UnixStream::pair()?;
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::low_level::pipe::register(signal, stop_write.try_clone()?)?;
    }
    let poll = opcode::PollAdd::new(types::Fd(stop.as_raw_fd()), libc::POLLIN as u32)
        .build()
        .user_data(SIGNAL);
    push(&mut ring, &poll)?;
    let mut conns: Slab<Conn> = Slab::with_capacity(1024);
    let accept = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
        .allocate_file_index(true)
        .build()
        .user_data(ACCEPT);
    push(&mut ring, &accept)?;
    let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
        done.clear();
        done.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for &(ud, res, flags) in &done {
            if ud == CLOSE {
                continue;
            }
            if ud == SIGNAL {
                // Receives are still in flight and the ring's teardown ends them only after
                // this returns: leak their buffers rather than free memory the kernel may
                // still write (the process exits next).
                std::mem::forget(conns);
                return Ok(());
            }
            if ud == ACCEPT {
                if res < 0 {
                    eprintln!("accept: {}", io::Error::from_raw_os_error(-res));
                } else {
                    let key = conns.insert(Conn {
                        file: res as u32,
                        buf: vec![0u8; BUF].into_boxed_slice(),
                        len: 0,
                        sent: 0,
                    });
                    recv(&mut ring, &mut conns, key)?;
                }
                if !cqueue::more(flags) {
                    // The multishot accept ended (a full table, an error): arm it again.
                    push(&mut ring, &accept)?;
                }
                continue;
            }
            let key = ud as usize;
            let conn = &mut conns[key];
            if conn.len == 0 {
                // A receive ended.
                if res <= 0 {
                    close(&mut ring, &mut conns, key)?;
                } else {
                    conn.len = res as usize;
                    conn.sent = 0;
                    send(&mut ring, &mut conns, key)?;
                }
            } else if res < 0 {
                close(&mut ring, &mut conns, key)?;
            } else {
                conn.sent += res as usize;
                if conn.sent < conn.len {
                    send(&mut ring, &mut conns, key)?;
                } else {
                    conn.len = 0;
                    recv(&mut ring, &mut conns, key)?;
                }
            }
        }
    }
}

fn recv(ring: &mut IoUring, conns: &mut Slab<Conn>, key: usize) -> io::Result<()> {
    let conn = &mut conns[key];
    let sqe = opcode::Recv::new(
        types::Fixed(conn.file),
        conn.buf.as_mut_ptr(),
        conn.buf.len() as u32,
    )
    .build()
    .user_data(key as u64);
    push(ring, &sqe)
}

fn send(ring: &mut IoUring, conns: &mut Slab<Conn>, key: usize) -> io::Result<()> {
    let conn = &mut conns[key];
    let rest = &conn.buf[conn.sent..conn.len];
    let sqe = opcode::Send::new(types::Fixed(conn.file), rest.as_ptr(), rest.len() as u32)
        .build()
        .user_data(key as u64);
    push(ring, &sqe)
}

/// Closes the connection's fixed file and frees its record: no operation of it is in flight
/// (each connection has one at a time, and this is its completion).
fn close(ring: &mut IoUring, conns: &mut Slab<Conn>, key: usize) -> io::Result<()> {
    let conn = conns.remove(key);
    let sqe = opcode::Close::new(types::Fixed(conn.file))
        .build()
        .user_data(CLOSE)
        .flags(squeue::Flags::SKIP_SUCCESS);
    push(ring, &sqe)
}

/// Queues `sqe`, submitting first if the queue is full.
fn push(ring: &mut IoUring, sqe: &squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: every entry this module builds points into a `Conn` buffer, which stays in
        // the slab (boxed, never moved) until the operation's completion has been reaped: a
        // connection has one operation in flight and is removed only on that completion. The
        // close and accept entries point at no memory.
        if unsafe { ring.submission().push(sqe) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}
