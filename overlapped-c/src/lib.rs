//! # overlapped-c
//!
//! A Winsock-compatible C interface on the `overlapped` crate: the headers
//! of `include/` (`winsock2.h`, `ws2tcpip.h`, `mswsock.h`, `windows.h`, ...)
//! declare Windows' names, types and values; this crate builds
//! `liboverlapped.so` and `liboverlapped.a`, which implement them on the
//! Rust library (never a second implementation of the model).
//!
//! Every exported function is an `unsafe extern "C"` function whose safety
//! contract is the one Windows documents for it: pointers are valid for the
//! sizes given, and the buffers and `WSAOVERLAPPED` of an overlapped call
//! stay valid until its completion has been reported to the program.
//!
//! Shape: [`handles`] (the table behind `SOCKET` and `HANDLE` values),
//! [`last_error`], [`addr`] (sockaddr conversions), then one file per call
//! family: [`sockets`] (the BSD-style calls), [`records`] (the C
//! `WSAOVERLAPPED` records and their completion), [`wsa_io`]
//! (`WSARecv`/`WSASend`...), [`events`] (events and waits), [`threads`],
//! [`ports`] (completion ports, cancel), [`network_events`]
//! (`WSAEventSelect` on the [`readiness`] thread), [`extensions`] (`WSAIoctl`,
//! `AcceptEx`, `ConnectEx`...), [`messages`] (`WSARecvMsg`/`WSASendMsg`),
//! [`transmit`] (`TransmitFile`/`TransmitPackets`) with [`files`], [`resolve`] (names and addresses),
//! [`system`] (the rest of Win32 a socket program calls).

#![warn(missing_docs)]
// Exported names are Windows' (`WSARecv`), given with `export_name`; the
// Rust names stay snake_case.

pub mod addr;
pub mod address_strings;
pub mod events;
pub mod extensions;
pub mod files;
pub mod handles;
pub mod ioctls;
pub mod last_error;
pub mod messages;
pub mod network_events;
pub mod nsp;
pub mod options;
pub mod ports;
pub mod provider;
pub mod readiness;
pub mod records;
pub mod resolve;
pub mod selection;
pub mod sockets;
pub mod system;
pub mod threads;
pub mod transmit;
pub mod wide;
pub mod wsa_io;

/// `SOCKET_ERROR`.
pub const SOCKET_ERROR: i32 = -1;
/// `INVALID_SOCKET`.
pub const INVALID_SOCKET: usize = usize::MAX;
/// `TRUE`.
pub const TRUE: i32 = 1;
/// `FALSE`.
pub const FALSE: i32 = 0;
/// `INFINITE` / `WSA_INFINITE`.
pub const INFINITE: u32 = 0xFFFF_FFFF;

/// A timeout in milliseconds as the library takes it (`INFINITE` = `None`).
pub fn timeout_ms(ms: u32) -> Option<std::time::Duration> {
    (ms != INFINITE).then(|| std::time::Duration::from_millis(u64::from(ms)))
}
