//! # overlapped
//!
//! The Winsock **Overlapped I/O model** for Rust on Linux, built on io_uring,
//! with an epoll backend where io_uring cannot be used.
//!
//! The backend is chosen once per process, on first use: io_uring when a
//! ring can be created and the kernel has every operation the library needs;
//! otherwise epoll (readiness plus non-blocking calls), automatically — a
//! container's seccomp profile that denies `io_uring_setup`,
//! `kernel.io_uring_disabled`, an older kernel. The Winsock semantics are the
//! same on both. `OVERLAPPED_BACKEND=uring` or `=epoll` ([`BACKEND_VAR`])
//! forces one (a forced io_uring that cannot start is an error, never a
//! silent fallback: [`startup()`] and [`backend()`] return it with the
//! reason; making sockets, events and ports still succeeds, and the first
//! call that needs the thread's ring, an operation or a wait, fails with
//! `WSASYSNOTREADY`); [`backend()`] tells the program which one runs and why.
//!
//! Two ways to learn that an operation finished, as in Winsock:
//!
//! * **Event objects** (Overlapped (1)): start an operation with an
//!   [`Overlapped`] record that names an [`Event`]; the call returns at once,
//!   completed or `Err(WSA_IO_PENDING)`. Wait with
//!   [`wait_for_multiple_events`] (or an [`EventSet`] for thousands of
//!   events), read the result with [`get_overlapped_result`].
//! * **Completion routines** (Overlapped (2)): start an operation with a
//!   closure ([`Socket::recv_with`]); when it completes, the closure is queued
//!   to the *issuing thread* and runs only while that thread is in an
//!   alertable wait ([`sleep_ex`], or a wait with `alertable = true`).
//!
//! A [`Socket`] is a handle, as a Winsock `SOCKET` is: clone it to use the
//! socket from a routine or another thread; [`Socket::close`] closes it for
//! every handle, and dropping the last handle closes it too. Buffers
//! ([`BufList`]) are moved into an operation and handed back when it
//! completes, so the kernel never writes memory that was freed or moved.
//!
//! ## A client: connect, send, receive
//!
//! ```no_run
//! use overlapped::{get_overlapped_result, BufList, Event, MsgFlags, Overlapped, Socket, WsaError};
//!
//! fn main() -> Result<(), WsaError> {
//!     let server = Socket::connect_tcp(&"127.0.0.1:5150".parse().unwrap())?; // socket + connect
//!     let event = Event::new();                                          // WSACreateEvent
//!     let mut send = Overlapped::new(&event);                            // WSAOVERLAPPED { hEvent }
//!     match server.send(&mut send, b"hello".to_vec(), MsgFlags::empty()) { // WSASend
//!         Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
//!         Err(e) => return Err(e), // never started
//!     }
//!     let (sent, _) = get_overlapped_result(&server, &send, true)?;     // wait for it
//!     let mut recv = Overlapped::new(&event);
//!     match server.recv(&mut recv, BufList::zeroed(4096), MsgFlags::empty()) { // WSARecv
//!         Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
//!         Err(e) => return Err(e),
//!     }
//!     let (got, _) = get_overlapped_result(&server, &recv, true)?;
//!     let reply = recv.take_buffers().unwrap().gather(got as usize);
//!     println!("sent {sent} bytes, received {reply:?}");
//!     Ok(())
//! }
//! ```
//!
//! ## A server, with an event object
//!
//! ```no_run
//! use overlapped::{get_overlapped_result, wait_for_multiple_events, BufList, Event,
//!                  MsgFlags, Overlapped, Socket, WaitResult, WsaError};
//!
//! fn main() -> Result<(), WsaError> {
//!     let listener = Socket::listen_tcp(&"127.0.0.1:5150".parse().unwrap(), 128)?;
//!     let (client, _) = listener.accept()?;
//!     let event = Event::new();
//!     let mut ov = Overlapped::new(&event);
//!     match client.recv(&mut ov, BufList::zeroed(4096), MsgFlags::empty()) {
//!         Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
//!         Err(e) => return Err(e),
//!     }
//!     let events = [event.clone()];
//!     if let WaitResult::Signaled(0) = wait_for_multiple_events(&events, false, None, false)? {
//!         event.reset();
//!         let (bytes, _flags) = get_overlapped_result(&client, &ov, false)?;
//!         let data = ov.take_buffers().unwrap().gather(bytes as usize);
//!         println!("received {bytes} bytes: {data:?}");
//!     }
//!     Ok(())
//! }
//! ```
//!
//! ## Completion routines: an echo that re-posts from its routine
//!
//! Runs as it stands (a client and a server on loopback, one thread): the
//! routines run only inside an alertable wait of the thread that started
//! the operations. Here that is the client's blocking receive: a blocking
//! Winsock call waits alertably ([fact 7](crate::semantics#fact-7)).
//!
//! ```
//! use std::io::{IoSlice, IoSliceMut};
//! use overlapped::{BufList, Completion, MsgFlags, Socket, WsaError};
//!
//! /// Receives on `socket`; the routine echoes, and its send routine receives again.
//! fn echo(socket: Socket) {
//!     let handle = socket.clone(); // the routine's own handle
//!     let _ = socket.recv_with(BufList::zeroed(4096), MsgFlags::empty(), move |c: Completion| {
//!         if !c.error.is_ok() || c.bytes == 0 {
//!             return; // closed or failed: the last handle goes, the socket closes
//!         }
//!         let mut data = c.buffers;
//!         data.limit(c.bytes as usize); // send back only what arrived
//!         let next = handle.clone();
//!         let _ = handle.send_with(data, MsgFlags::empty(), move |_| echo(next));
//!     });
//! }
//!
//! fn main() -> Result<(), WsaError> {
//!     let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 16)?;
//!     let client = Socket::connect_tcp(&listener.local_addr()?)?;
//!     let (server_side, _) = listener.accept()?;
//!     echo(server_side);
//!
//!     client.send_sync(&[IoSlice::new(b"ping")], MsgFlags::empty())?;
//!     let mut back = [0u8; 4];
//!     // While this waits, the server's routines run (receive, then echo).
//!     let n = client.recv_sync(&mut [IoSliceMut::new(&mut back)], MsgFlags::empty())?;
//!     assert_eq!(&back[..n], &b"ping"[..n]);
//!     Ok(())
//! }
//! ```
//!
//! ## async/await
//!
//! A third way to learn of a completion: every operation has an `*_async`
//! form ([`Socket::recv_async`], [`Socket::send_async`],
//! [`Socket::accept_ex_async`], ...) that returns a future ([`AsyncOp`]).
//! The buffers move into the operation and come back in the output;
//! dropping the future before it completes cancels the operation.
//! [`block_on`] runs a future on the calling thread and [`spawn_local`] adds
//! tasks: that executor's park is the thread's alertable wait, so routines
//! and APCs run there too.
//!
//! ```
//! use overlapped::{block_on, BufList, MsgFlags, Socket};
//!
//! let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1)?;
//! let client = Socket::connect_tcp(&listener.local_addr()?)?;
//! let (server, _) = listener.accept()?;
//! block_on(async {
//!     let (sent, _) = client.send_async(b"ping".to_vec(), MsgFlags::empty()).await;  // WSASend
//!     assert_eq!(sent, Ok(4));
//!     let (got, bufs) = server.recv_async(BufList::zeroed(16), MsgFlags::empty()).await; // WSARecv
//!     assert_eq!(bufs.gather(got? as usize), b"ping");
//!     Ok::<(), overlapped::WsaError>(())
//! })?;
//! # Ok::<(), overlapped::WsaError>(())
//! ```
//!
//! **tokio.** With the cargo feature `tokio`, the same futures run on a
//! tokio runtime (current- or multi-thread): the first one polled on a
//! thread registers that thread's ring with tokio's reactor, so a
//! completion wakes its task like any tokio socket, and
//! `tokio_io::AsyncStream` gives a stream socket tokio's
//! `AsyncRead`/`AsyncWrite` (codecs, `tokio::io::copy`, hyper). Without the
//! feature the futures still complete under tokio or any other executor:
//! the library's own service thread reaps the polling thread's ring and
//! calls the task's waker, which costs a wake-up from another thread and
//! can be late by up to two of that thread's ticks (100 ms each while no
//! thread sleeps in the library). The module is `tokio_io`, not `tokio`,
//! so `use overlapped::*;` leaves `tokio::` naming the crate.
//!
//! The behaviour each call follows is in [`semantics`] (the "fact N" links
//! of these docs); DESIGN.md in the repository shows the layers, the
//! Windows→Linux map and every deviation.

#![warn(missing_docs)]

#[doc = include_str!("../../docs/winsock-semantics.md")]
pub mod semantics {}

/// The README's examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

// The layers (DESIGN.md): the Winsock surface on top, the model machinery
// under it, the kernel (backends and helpers) at the bottom.
mod model;
mod sys;
mod winsock;

pub use model::cmsg::{Control, ControlBuilder, ControlIter, ControlMessage, ReceiveControl};
pub use model::completion::Completion;
pub use model::error::{WsaError, WsaResult};
pub use model::event::Event;
pub use model::flags::MsgFlags;
pub use sys::buf::BufList;
pub use sys::choice::{Backend, BackendKind, BACKEND_VAR};
pub use sys::SetupError;
pub use winsock::accept_addrs::{
    get_accept_ex_sockaddrs, AcceptExSockaddrs, ACCEPT_EX_ADDRESS_LEN, SOCKADDR_IN6_LEN,
    SOCKADDR_IN_LEN,
};
pub use winsock::apc::{queue_user_apc, ThreadHandle};
pub use winsock::cancel::{cancel_io, cancel_io_ex};
pub use winsock::connect::CONNECT_TIME_NOT_CONNECTED;
pub use winsock::dgram::{MsgInfo, MsgSpace, MAX_DATAGRAM_V4, MAX_DATAGRAM_V6};
#[cfg(feature = "tokio")]
pub use winsock::future::tokio_io;
pub use winsock::future::{block_on, spawn_local, AsyncOp, JoinHandle};
pub use winsock::guid;
pub use winsock::guid::{
    Guid, WSAID_ACCEPTEX, WSAID_CONNECTEX, WSAID_DISCONNECTEX, WSAID_GETACCEPTEXSOCKADDRS,
    WSAID_TRANSMITFILE, WSAID_TRANSMITPACKETS, WSAID_WSARECVMSG, WSAID_WSASENDMSG,
};
pub use winsock::ioctl::codes::*;
pub use winsock::ioctl::extension::ExtensionFunction;
pub use winsock::ioctl::{
    InterfaceFlags, InterfaceInfo, Ioctl, IoctlOutput, KeepaliveVals, INTERFACE_INFO_LEN,
};
pub use winsock::notify::notification_result;
pub use winsock::nsp::{LookupService, RESOLVER_FILES};
pub use winsock::overlapped::{get_overlapped_result, Overlapped};
pub use winsock::port::{CompletionEntry, CompletionPort, NotificationModes, PortStats};
pub use winsock::provider::{ProviderChange, PROVIDER_FILES};
pub use winsock::socket::Socket;
#[doc(hidden)]
pub use winsock::transmit::inline_transmits_on_this_thread;
pub use winsock::transmit::{
    TransmitFileBuffers, TransmitFlags, TransmitPacketsElement, TP_ELEMENT_EOP, TP_ELEMENT_FILE,
    TP_ELEMENT_MEMORY,
};
pub use winsock::wait::{
    sleep_ex, wait_for_multiple_events, wait_for_single_object_ex, EventSet, WaitResult,
    WSA_INFINITE,
};

pub use socket2::{Domain, Protocol, Type};

/// Chooses when the calling thread's operations reach the kernel.
///
/// Off (the default, as Winsock behaves): each call submits its operation at
/// once, and an operation that completes during the call returns its byte
/// count. On: operations return `WSA_IO_PENDING` and are submitted together
/// at the thread's next wait (or poll of a record, or when another thread
/// waits for them) — one system call for a whole batch. Use it on a thread
/// that always comes back to a wait of the library, as the book's servers
/// do. Operations started by completion routines are batched either way,
/// in both modes submitted together when the routines of an alertable wait
/// have run, before the wait returns (the service thread, serving the ring
/// meanwhile, may submit them sooner). The wait then reaps once more: a
/// routine whose operation completed at that submission runs in the same
/// wait, after the routine that started it returned, as on Windows, where a
/// wait runs every APC queued before it returns (what those second routines
/// start is submitted by the next wait in this mode, when their delivery
/// ends without it).
pub fn set_batching(enabled: bool) -> WsaResult<()> {
    model::thread::current()?.shared.ring.set_batching(enabled);
    Ok(())
}

/// The backend this process runs on — io_uring or epoll — and why it was
/// chosen. Decided once per process, on first use of the library (or of
/// this call):
///
/// * io_uring when a ring can be created and the kernel's probe lists every
///   opcode the library needs (`reason`: `"io_uring works and has every
///   opcode needed"`);
/// * otherwise epoll, with the reason io_uring could not be used, e.g.
///   `"io_uring_setup: EPERM (Operation not permitted)"` under a container's
///   default seccomp profile or `kernel.io_uring_disabled=2`;
/// * `OVERLAPPED_BACKEND=epoll` or `=uring` ([`BACKEND_VAR`]) forces one.
///
/// Both backends give the same Winsock semantics (DESIGN.md lists each
/// operation's mapping on both, and the few differences).
///
/// # Errors
///
/// No backend can run: [`SetupError::ForcedUring`] (`OVERLAPPED_BACKEND=uring`
/// where io_uring cannot start: no silent fallback), or
/// [`SetupError::BadBackend`] (any other value than `uring` or `epoll`).
/// Every thread's start then fails with the same error.
///
/// ```
/// let chosen = overlapped::backend().expect("a backend can run here");
/// println!("backend: {chosen}"); // e.g. "uring (io_uring works and has every opcode needed)"
/// match chosen.kind {
///     overlapped::BackendKind::Uring => {}
///     overlapped::BackendKind::Epoll => eprintln!("io_uring unavailable: {}", chosen.reason),
/// }
/// ```
pub fn backend() -> Result<Backend, SetupError> {
    sys::choice::chosen()
}

/// Starts the library on the calling thread (`WSAStartup`): chooses the
/// backend on the process's first use ([`backend`]: io_uring, or epoll where
/// io_uring cannot be used) and creates the thread's ring, or says exactly
/// why it cannot and what to do: [`SetupError::ForcedUring`]
/// (`OVERLAPPED_BACKEND=uring` where io_uring cannot start),
/// [`SetupError::BadBackend`] (another value), or the thread's own ring
/// failing (e.g. a descriptor or memory limit). Optional: every thread gets
/// its ring on first use anyway, but then a failure can only show as
/// `WSASYSNOTREADY`, without the reason.
#[doc(alias = "WSAStartup")]
pub fn startup() -> Result<(), SetupError> {
    model::thread::try_current().map(|_| ())
}
