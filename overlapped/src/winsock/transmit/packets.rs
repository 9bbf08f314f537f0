//! `TransmitPackets`: an array of memory and file elements, sent in order.

use std::os::fd::BorrowedFd;

use super::build::{FileArg, Part, Request};
use super::TransmitFlags;
use crate::{Completion, Overlapped, Socket, WsaResult};

/// `TP_ELEMENT_MEMORY` (1): the element's data is in memory.
pub const TP_ELEMENT_MEMORY: u32 = 1;
/// `TP_ELEMENT_FILE` (2): the element's data is a file range.
pub const TP_ELEMENT_FILE: u32 = 2;
/// `TP_ELEMENT_EOP` (4): a send ends after this element (on a datagram
/// socket: the datagram ends here).
pub const TP_ELEMENT_EOP: u32 = 4;

/// One element of a `TransmitPackets` array (`TRANSMIT_PACKETS_ELEMENT`).
///
/// ```
/// use overlapped::{TransmitPacketsElement, TP_ELEMENT_EOP, TP_ELEMENT_MEMORY};
/// let e = TransmitPacketsElement::memory(b"hello".to_vec()).eop();
/// assert_eq!(e.flags(), TP_ELEMENT_MEMORY | TP_ELEMENT_EOP);
/// assert_eq!(e.len(), 5);
/// ```
#[doc(alias = "TRANSMIT_PACKETS_ELEMENT")]
#[derive(Debug)]
pub struct TransmitPacketsElement<'a> {
    data: Data<'a>,
    eop: bool,
}

#[derive(Debug)]
enum Data<'a> {
    Memory(Vec<u8>),
    File {
        file: BorrowedFd<'a>,
        offset: Option<u64>,
        len: u32,
    },
}

impl<'a> TransmitPacketsElement<'a> {
    /// A memory element (`TP_ELEMENT_MEMORY`, `pBuffer`/`cLength`): the
    /// buffer is moved into the operation and comes back at completion.
    #[doc(alias = "TP_ELEMENT_MEMORY")]
    pub fn memory(buf: Vec<u8>) -> Self {
        TransmitPacketsElement {
            data: Data::Memory(buf),
            eop: false,
        }
    }

    /// A file element (`TP_ELEMENT_FILE`): `len` bytes (`cLength`; 0: to the
    /// end of the file) from `offset` (`nFileOffset`; `None` is Windows'
    /// −1: the file's current position, which then advances).
    #[doc(alias = "TP_ELEMENT_FILE")]
    pub fn file(file: BorrowedFd<'a>, offset: Option<u64>, len: u32) -> Self {
        TransmitPacketsElement {
            data: Data::File { file, offset, len },
            eop: false,
        }
    }

    /// Marks the end of a send after this element (`TP_ELEMENT_EOP`).
    #[doc(alias = "TP_ELEMENT_EOP")]
    pub fn eop(mut self) -> Self {
        self.eop = true;
        self
    }

    /// The element's `dwElFlags`.
    #[doc(alias = "dwElFlags")]
    pub fn flags(&self) -> u32 {
        let kind = match self.data {
            Data::Memory(_) => TP_ELEMENT_MEMORY,
            Data::File { .. } => TP_ELEMENT_FILE,
        };
        kind | if self.eop { TP_ELEMENT_EOP } else { 0 }
    }

    /// The element's `cLength` (for a file, 0 means "to the end").
    pub fn len(&self) -> u32 {
        match &self.data {
            Data::Memory(b) => b.len() as u32,
            Data::File { len, .. } => *len,
        }
    }

    /// True for an empty memory element.
    pub fn is_empty(&self) -> bool {
        matches!(&self.data, Data::Memory(b) if b.is_empty())
    }
}

pub(crate) fn packets_request(
    elements: Vec<TransmitPacketsElement<'_>>,
    send_size: u32,
    flags: TransmitFlags,
) -> Request<'_> {
    let parts = elements
        .into_iter()
        .map(|e| {
            let part = match e.data {
                Data::Memory(b) => Part::Memory(b),
                Data::File { file, offset, len } => Part::File {
                    file: FileArg::Lent(file),
                    offset,
                    len,
                },
            };
            (part, e.eop)
        })
        .collect();
    Request {
        parts,
        send_size,
        flags,
        file_call: false,
    }
}

impl Socket {
    /// Starts an overlapped `TransmitPackets` ([fact 112](crate::semantics#fact-112)): sends the elements
    /// in order on a connected socket.
    ///
    /// * Stream socket: the bytes of all elements, in order. `send_size`
    ///   (`nSendSize`) is the size of each send into the socket; 0 picks the
    ///   default (up to 1 MiB); `0xFFFF_FFFF` makes each `EOP` group one send.
    /// * Connected datagram socket: each group of elements up to one marked
    ///   [`TransmitPacketsElement::eop`] (and the last group) is one datagram,
    ///   whatever `send_size`; a group larger than a datagram can be is
    ///   `WSAEMSGSIZE` before anything is sent.
    ///
    /// Memory buffers come back at completion, in order
    /// ([`Overlapped::take_buffers`]). Returns and fails as
    /// [`Socket::transmit_file`], plus `WSAEINVAL` for `DISCONNECT` on a
    /// datagram socket and `WSAENOBUFS` for a datagram of more than 30
    /// elements.
    ///
    /// ```
    /// use overlapped::{get_overlapped_result, Event, MsgFlags, Overlapped, Socket, TransmitFlags,
    ///                  TransmitPacketsElement as Element, WsaError};
    /// use std::os::fd::AsFd;
    /// let path = std::env::temp_dir().join(format!("tp-doc-{}", std::process::id()));
    /// std::fs::write(&path, b"file-bytes")?;
    /// let file = std::fs::File::open(&path)?;
    /// let receiver = Socket::udp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// receiver.bind(&"127.0.0.1:0".parse().unwrap())?;
    /// let sender = Socket::udp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// sender.connect(&receiver.local_addr()?)?;
    /// let event = Event::new();
    /// let mut ov = Overlapped::new(&event);
    /// let elements = vec![
    ///     Element::memory(b"one:".to_vec()),
    ///     Element::file(file.as_fd(), Some(0), 4).eop(),      // datagram 1: "one:file"
    ///     Element::memory(b"two".to_vec()).eop(),             // datagram 2: "two"
    /// ];
    /// match sender.transmit_packets(&mut ov, elements, u32::MAX, TransmitFlags::empty()) {
    ///     Err(WsaError::WSA_IO_PENDING) => {}                  // always, once started
    ///     other => panic!("did not start: {other:?}"),
    /// }
    /// assert_eq!(get_overlapped_result(&sender, &ov, true)?.0, 11);
    /// let mut buf = [0u8; 64];
    /// let n = receiver.recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty())?;
    /// assert_eq!(&buf[..n], b"one:file");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "TransmitPackets")]
    #[doc(alias = "LPFN_TRANSMITPACKETS")]
    #[doc(alias = "WSAID_TRANSMITPACKETS")]
    pub fn transmit_packets(
        &self,
        overlapped: &mut Overlapped,
        elements: Vec<TransmitPacketsElement<'_>>,
        send_size: u32,
        flags: TransmitFlags,
    ) -> WsaResult<u32> {
        let (kind, bufs) = self.transmit_kind(packets_request(elements, send_size, flags))?;
        super::always_pending(self.start_overlapped(overlapped, kind, bufs))
    }

    /// `TransmitPackets` whose completion runs `routine` on this thread in
    /// its next alertable wait. Returns and fails as
    /// [`Socket::transmit_packets`].
    #[doc(alias = "TransmitPackets")]
    pub fn transmit_packets_with<F>(
        &self,
        elements: Vec<TransmitPacketsElement<'_>>,
        send_size: u32,
        flags: TransmitFlags,
        routine: F,
    ) -> WsaResult<u32>
    where
        F: FnOnce(Completion) + 'static,
    {
        let (kind, bufs) = self.transmit_kind(packets_request(elements, send_size, flags))?;
        super::always_pending(self.start_routine(kind, bufs, routine))
    }

    /// A synchronous `TransmitPackets`: returns the bytes sent once every
    /// element is sent, waiting alertably ([fact 7](crate::semantics#fact-7)).
    #[doc(alias = "TransmitPackets")]
    pub fn transmit_packets_sync(
        &self,
        elements: Vec<TransmitPacketsElement<'_>>,
        send_size: u32,
        flags: TransmitFlags,
    ) -> WsaResult<u32> {
        let (kind, bufs) = self.transmit_kind(packets_request(elements, send_size, flags))?;
        self.transmit_sync(kind, bufs)
    }
}
