//! What the connection operations (`AcceptEx`, `ConnectEx`, `DisconnectEx`)
//! do at each completion. Each runs in phases, one kernel request at a time:
//! an accept, then (receive-with-accept) the first receive on the accepted
//! connection; a connect, then the send data; a shutdown, then (reuse) a
//! fresh endpoint.

use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use socket2::{Protocol, Type};

use crate::model::conn::{self, Origin};
use crate::model::error::WsaError;
use crate::model::flags::MsgFlags;
use crate::model::op::{OpKind, OpSlot, Step};
use crate::model::socket::SocketInner;
use crate::sys::OpMem;

/// Where an `AcceptEx` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptPhase {
    /// An address area is too small: wait for a connection to be queued and
    /// fail with `ERROR_INSUFFICIENT_BUFFER`, leaving it queued ([fact 87](crate::semantics#fact-87)).
    Short,
    /// Waiting for a connection.
    Accepting,
    /// Accepted; waiting for the first data (receive-with-accept, [fact 86](crate::semantics#fact-86)).
    Receiving,
}

/// An `AcceptEx`: the accept socket and the output buffer's layout.
pub(crate) struct AcceptSpec {
    /// The accept socket, which adopts the accepted connection.
    pub(crate) target: Arc<SocketInner>,
    pub(crate) receive_len: u32,
    pub(crate) local_len: u32,
    pub(crate) remote_len: u32,
    pub(crate) phase: AcceptPhase,
    /// A blocking `accept`: no update-context step, no address areas.
    pub(crate) plain: bool,
}

impl AcceptSpec {
    pub(crate) fn targets(&self, socket: &Arc<SocketInner>) -> bool {
        Arc::ptr_eq(&self.target, socket)
    }
}

/// Where a `ConnectEx` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectPhase {
    Connecting,
    /// Connected; `done` bytes of the send data are sent.
    Sending {
        done: usize,
    },
}

/// A `ConnectEx` (or blocking `connect`): the destination.
pub(crate) struct ConnectSpec {
    pub(crate) addr: SocketAddr,
    pub(crate) phase: ConnectPhase,
    /// `ConnectEx` (needs `SO_UPDATE_CONNECT_CONTEXT` after), not `connect`.
    pub(crate) ex: bool,
}

fn done(error: WsaError, bytes: u32) -> Step {
    Step::Done {
        error,
        bytes,
        flags: MsgFlags::empty(),
    }
}

impl OpSlot {
    /// The step of a connection operation; `None` for the others.
    pub(crate) fn step_connection(
        &mut self,
        mem: &mut OpMem,
        res: i32,
        cancelled: bool,
    ) -> Option<Step> {
        Some(match self.kind {
            OpKind::Accept(_) => self.step_accept(mem, res, cancelled),
            OpKind::Connect(_) => self.step_connect(mem, res, cancelled),
            OpKind::Disconnect { reuse } => self.step_disconnect(res, reuse, cancelled),
            _ => return None,
        })
    }

    fn step_accept(&mut self, mem: &mut OpMem, res: i32, cancelled: bool) -> Step {
        let OpKind::Accept(spec) = &mut self.kind else {
            unreachable!("step_accept on another kind");
        };
        let target = spec.target.clone();
        let ended = cancelled || self.socket.is_closed() || target.is_closed();
        let finish = |step: Step| {
            target.conn.end(conn::ACCEPTING);
            step
        };
        match spec.phase {
            AcceptPhase::Short => finish(if ended {
                done(WsaError::WSA_OPERATION_ABORTED, 0)
            } else if res < 0 {
                done(WsaError::from_errno(-res), 0)
            } else {
                done(WsaError::ERROR_INSUFFICIENT_BUFFER, 0)
            }),
            AcceptPhase::Accepting if res < 0 => finish(if ended {
                done(WsaError::WSA_OPERATION_ABORTED, 0)
            } else {
                done(WsaError::from_errno(-res), 0)
            }),
            AcceptPhase::Accepting => {
                let fd: OwnedFd = crate::sys::fd::take(res);
                if ended {
                    // Closing the new descriptor ends the connection.
                    return finish(done(WsaError::WSA_OPERATION_ABORTED, 0));
                }
                if let Err(e) = crate::sys::fd::replace(target.fd(), fd) {
                    return finish(done(WsaError::from_io(&e), 0));
                }
                let context = if spec.plain {
                    conn::CONTEXT_NONE
                } else {
                    conn::CONTEXT_ACCEPT
                };
                target.conn.connected(Origin::Accepted, context);
                target.set_connected(true);
                if !spec.plain {
                    let (r, l, rl) = (spec.receive_len, spec.local_len, spec.remote_len);
                    if let Some(out) = mem.bufs.buffers_mut().first_mut() {
                        crate::model::accept_areas::write_areas(out, &target, r, l, rl);
                    }
                }
                if spec.receive_len > 0 {
                    spec.phase = AcceptPhase::Receiving;
                    return Step::Resubmit;
                }
                finish(done(WsaError::NO_ERROR, 0))
            }
            AcceptPhase::Receiving => finish(match res {
                // The accept socket (or the listener) closed while the first
                // data was awaited: aborted, 0 bytes (fact 95).
                _ if ended && res <= 0 => done(WsaError::WSA_OPERATION_ABORTED, 0),
                n if n >= 0 => done(WsaError::NO_ERROR, n as u32),
                e => done(WsaError::from_errno(-e), 0),
            }),
        }
    }

    fn step_connect(&mut self, mem: &mut OpMem, res: i32, cancelled: bool) -> Step {
        let OpKind::Connect(spec) = &mut self.kind else {
            unreachable!("step_connect on another kind");
        };
        let socket = self.socket.clone();
        let ended = cancelled || socket.is_closed();
        let total = mem.bufs.total_len();
        match spec.phase {
            ConnectPhase::Connecting => {
                socket.conn.end(conn::CONNECTING);
                if res < 0 {
                    // The socket may try again (fact 100).
                    return done(
                        if ended {
                            WsaError::WSA_OPERATION_ABORTED
                        } else {
                            WsaError::from_errno(-res)
                        },
                        0,
                    );
                }
                let context = if spec.ex {
                    conn::CONTEXT_CONNECT
                } else {
                    conn::CONTEXT_NONE
                };
                socket.conn.connected(Origin::Connected, context);
                socket.set_connected(true);
                if ended {
                    return done(WsaError::WSA_OPERATION_ABORTED, 0);
                }
                if total > 0 {
                    spec.phase = ConnectPhase::Sending { done: 0 };
                    return Step::Resubmit;
                }
                done(WsaError::NO_ERROR, 0)
            }
            ConnectPhase::Sending { done: sent } => {
                if res > 0 && sent + (res as usize) < total && !ended {
                    spec.phase = ConnectPhase::Sending {
                        done: sent + res as usize,
                    };
                    return Step::Resubmit;
                }
                let sent = sent + res.max(0) as usize;
                let error = if res < 0 {
                    WsaError::from_errno(-res)
                } else if sent < total {
                    WsaError::WSA_OPERATION_ABORTED
                } else {
                    WsaError::NO_ERROR
                };
                done(error, sent as u32)
            }
        }
    }

    fn step_disconnect(&mut self, res: i32, reuse: bool, cancelled: bool) -> Step {
        let socket = &self.socket;
        if cancelled || socket.is_closed() {
            return done(WsaError::WSA_OPERATION_ABORTED, 0);
        }
        if res < 0 && res != -libc::ENOTCONN {
            return done(WsaError::from_errno(-res), 0);
        }
        socket.mark_send_shut();
        if reuse {
            if let Err(e) = fresh_endpoint(socket) {
                return done(WsaError::from_io(&e), 0);
            }
        }
        done(WsaError::NO_ERROR, 0)
    }
}

/// `TF_REUSE_SOCKET`: gives the socket a fresh, unconnected endpoint behind
/// the same descriptor number, so it can go to `AcceptEx` or `ConnectEx`
/// again ([fact 107](crate::semantics#fact-107)). The old connection, already shut down for sending,
/// closes as `closesocket` would close it (the kernel finishes it, through
/// TIME_WAIT, on its own). Receives still pending on it end with 0 bytes.
/// A socket that had connected out is bound again to the same local IP
/// (with a new port: the old one is in TIME_WAIT), since `ConnectEx` needs
/// a bound socket; an accepted one stays unbound, as `AcceptEx` needs.
/// Options kept: non-blocking mode, `TCP_NODELAY`, `SO_KEEPALIVE`, `SO_LINGER`.
pub(crate) fn fresh_endpoint(socket: &SocketInner) -> std::io::Result<()> {
    let old = socket.sock();
    let domain = old.domain()?;
    let fresh = socket2::Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    fresh.set_nonblocking(crate::sys::nonblock::nonblocking(old.as_raw_fd())?)?;
    if old.tcp_nodelay().unwrap_or(false) {
        let _ = fresh.set_tcp_nodelay(true);
    }
    if old.keepalive().unwrap_or(false) {
        let _ = fresh.set_keepalive(true);
    }
    if let Ok(Some(linger)) = old.linger() {
        let _ = fresh.set_linger(Some(linger));
    }
    if socket.conn.origin() == Origin::Connected {
        if let Some(mut local) = old.local_addr().ok().and_then(|a| a.as_socket()) {
            local.set_port(0);
            let _ = fresh.bind(&local.into());
        }
    }
    // Receives pending on the old endpoint end (0 bytes) rather than wait
    // on a connection nobody can reach any more.
    let _ = old.shutdown(Shutdown::Read);
    crate::sys::fd::replace(socket.fd(), OwnedFd::from(fresh))?;
    socket.shut.store(0, SeqCst);
    socket.conn.reset();
    socket.set_connected(false);
    Ok(())
}
