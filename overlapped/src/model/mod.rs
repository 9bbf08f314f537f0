//! The model machinery: what makes Winsock's overlapped model out of a
//! backend's completions — per-thread state and the one wait loop
//! (`thread`), the ready bitmap behind waits (`ready`), per-socket order
//! (`lane`), the state behind a socket's handles (`socket`), an overlapped
//! record's state (`ov_state`), a future's (`async_state`), event objects
//! (`event`), backend-neutral operation records (`op`), a completion port's
//! queue (`port_queue`), the connection phases (`conn`, `conn_ops`,
//! `accept_areas`, `transmit_op`), the bytes a dropped receive future gives
//! back to its socket (`unread`), and the vocabulary operations complete
//! with (`error`, `flags`, `cmsg`, `completion`).
//!
//! Nothing here names the surface (the `winsock` module, or the crate root's
//! re-exports of it): `.ci/layers.sh` fails if anything does.

// `unsafe` lives under `sys/` only (the guide): the compiler enforces it here.
#![forbid(unsafe_code)]

pub(crate) mod accept_areas;
pub(crate) mod async_state;
pub(crate) mod cmsg;
pub(crate) mod completion;
pub(crate) mod conn;
pub(crate) mod conn_ops;
pub(crate) mod error;
pub(crate) mod event;
pub(crate) mod flags;
pub(crate) mod lane;
pub(crate) mod op;
mod op_record;
mod op_step;
pub(crate) mod ov_state;
pub(crate) mod port_queue;
pub(crate) mod ready;
pub(crate) mod socket;
pub(crate) mod thread;
pub(crate) mod transmit_op;
pub(crate) mod unread;
