//! `overlapped serve-tokio`: a TCP (or UDP) echo server on tokio, the baseline for comparisons.
//!
//! Written the way a Rust user would: a current-thread runtime, an accept loop, one task per
//! connection that reads into a buffer and writes it all back.

use std::io::Write;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::signal::unix::{signal, SignalKind};

use crate::bench::Proto;

/// Arguments of `overlapped serve-tokio`.
#[derive(clap::Args, Debug)]
pub struct TokioEchoArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub addr: std::net::IpAddr,
    /// Port; 0 picks a free one (printed on the first line) (from 0 to 65535).
    #[arg(long, default_value_t = 0, value_parser = crate::cli::int_in(0u16, u16::MAX))]
    pub port: u16,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Proto::Tcp)]
    pub proto: Proto,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: TokioEchoArgs) -> std::io::Result<()> {
    if crate::cli::only_checking() {
        return Ok(());
    }
    let _ = crate::bench::ring::raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.proto {
        Proto::Tcp => rt.block_on(serve(args)),
        Proto::Udp => rt.block_on(serve_udp(args)),
    }
}

fn announce(addr: std::net::SocketAddr) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}

async fn serve(args: TokioEchoArgs) -> std::io::Result<()> {
    let bind = std::net::SocketAddr::new(args.addr, args.port);
    let listener = TcpListener::bind(bind).await.map_err(|e| {
        std::io::Error::other(format!(
            "cannot listen on {bind}: {}",
            overlapped::WsaError::from_io(&e)
        ))
    })?;
    announce(listener.local_addr()?)?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(echo(stream));
                }
                // Out of descriptors or a connection reset before accept: keep serving.
                Err(e) => {
                    eprintln!("accept: {}", overlapped::WsaError::from_io(&e));
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    Ok(())
}

async fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn serve_udp(args: TokioEchoArgs) -> std::io::Result<()> {
    let bind = std::net::SocketAddr::new(args.addr, args.port);
    let socket = UdpSocket::bind(bind).await.map_err(|e| {
        std::io::Error::other(format!(
            "cannot bind {bind}: {}",
            overlapped::WsaError::from_io(&e)
        ))
    })?;
    announce(socket.local_addr()?)?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                // A failed send (peer gone) loses that datagram only, as UDP does.
                if let Ok((n, peer)) = received {
                    let _ = socket.send_to(&buf[..n], peer).await;
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    Ok(())
}
