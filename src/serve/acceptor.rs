//! `--accept ex`: the servers take connections with `AcceptEx`, posted by
//! the worker itself, and need no accepting thread.
//!
//! The listener keeps `--backlog-posts` accepts posted; each completion
//! hands its accept socket over as a client and posts a new accept with a
//! fresh socket. With `--first-data` the accept also receives the client's
//! first message (receive-with-accept), which the server then echoes.

use std::net::SocketAddr;

use clap::ValueEnum;
use overlapped::{Socket, WsaError, ACCEPT_EX_ADDRESS_LEN};

/// How a server takes new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AcceptMode {
    /// `AcceptEx` posted by the worker: no accepting thread.
    Ex,
    /// The book's style: a thread blocked in `accept` hands clients over.
    Thread,
}

/// What `--accept ex` needs to post accepts.
pub struct Acceptor {
    /// The listening socket (the accepts are its operations).
    pub listener: Socket,
    addr: SocketAddr,
    /// How many accepts to keep posted.
    pub posts: usize,
    /// Bytes of first data each accept receives (0: none).
    pub receive_len: u32,
}

/// The address areas: room for either family.
pub const AREA: u32 = ACCEPT_EX_ADDRESS_LEN;

impl Acceptor {
    /// An acceptor for `listener`; `first_data` asks for receive-with-accept
    /// into `buffer` bytes.
    pub fn new(listener: Socket, posts: usize, first_data: bool, buffer: usize) -> Acceptor {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| "127.0.0.1:0".parse().expect("a valid address"));
        Acceptor {
            listener,
            addr,
            posts,
            receive_len: if first_data { buffer as u32 } else { 0 },
        }
    }

    /// A fresh accept socket of the listener's family.
    pub fn accept_socket(&self) -> Result<Socket, WsaError> {
        Socket::tcp_for(&self.addr)
    }

    /// An output buffer: the first data, then the two address areas.
    pub fn output(&self) -> Vec<u8> {
        vec![0u8; (self.receive_len + 2 * AREA) as usize]
    }

    /// Finishes an accepted client (`SO_UPDATE_ACCEPT_CONTEXT`, `TCP_NODELAY`).
    pub fn admit(&self, client: &Socket) {
        let _ = client.update_accept_context(&self.listener);
        let _ = client.as_socket2().set_tcp_nodelay(true);
    }

    /// Whether an accept's failure means "try again later" rather than at
    /// once (out of descriptors, memory): a retry now would fail again.
    pub fn transient(e: WsaError) -> bool {
        e != WsaError::WSA_OPERATION_ABORTED && e != WsaError::WSAECONNRESET && !e.is_ok()
    }
}
