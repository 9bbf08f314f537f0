//! The Winsock surface: one file per call family (sockets, AcceptEx,
//! ConnectEx, DisconnectEx, WSARecv/WSASend, datagrams, completion ports,
//! WSAIoctl and change notifications, TransmitFile/TransmitPackets, waits,
//! the overlapped record's handle) and the futures over them (`future/`).
//! The state behind the handles and the types operations complete with
//! (errors, flags, control data, events) are the model's (`crate::model`).

// `unsafe` lives under `sys/` only (the guide): the compiler enforces it here.
#![forbid(unsafe_code)]

// The order of these modules is the order of `Socket`'s methods in the
// docs: create and connect (AcceptEx, ConnectEx, DisconnectEx with them),
// receive and send, datagrams, completion-port modes, futures, WSAIoctl,
// TransmitFile/TransmitPackets, then addresses, options and close. (Blank
// lines keep rustfmt from sorting them.)
pub(crate) mod socket;

pub(crate) mod accept;

pub(crate) mod connect;

pub(crate) mod disconnect;

pub(crate) mod socket_io;

pub(crate) mod dgram;

pub(crate) mod port;

pub(crate) mod future;

pub(crate) mod ioctl;

pub(crate) mod transmit;

pub(crate) mod socket_options;

pub(crate) mod accept_addrs;
pub(crate) mod apc;

pub(crate) mod cancel;
pub(crate) mod filewatch;
pub mod guid;
pub(crate) mod notify;
pub(crate) mod nsp;
pub(crate) mod overlapped;
pub(crate) mod provider;
pub(crate) mod sync_wait;
pub(crate) mod wait;
