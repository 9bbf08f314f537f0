//! Shared by the udp_* tests: each datagram call in each of the three modes
//! (event record, completion routine, synchronous), run to completion.
#![allow(dead_code)]

use std::cell::RefCell;
use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use overlapped::*;

pub const MODES: [Mode; 3] = [Mode::Event, Mode::Routine, Mode::Sync];
pub const LONG: Option<Duration> = Some(Duration::from_secs(10));

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Event,
    Routine,
    Sync,
}

/// How a datagram call went.
#[derive(Debug)]
pub struct Got {
    /// What the call itself returned (Ok(n), WSA_IO_PENDING, or an error).
    pub call: WsaResult<u32>,
    /// The final result (the call's, or the completion's).
    pub result: WsaResult<u32>,
    /// Bytes transferred, also on WSAEMSGSIZE.
    pub bytes: u32,
    pub flags: MsgFlags,
    pub from: Option<SocketAddr>,
    pub control: Control,
    pub bufs: Vec<Vec<u8>>,
}

impl Got {
    fn failed(call: WsaResult<u32>, bufs: Vec<Vec<u8>>) -> Got {
        Got {
            result: call,
            call,
            bytes: 0,
            flags: MsgFlags::empty(),
            from: None,
            control: Control::new(),
            bufs,
        }
    }

    /// The bytes received, across buffers.
    pub fn data(&self) -> Vec<u8> {
        BufList::from(self.bufs.clone()).gather(self.bytes as usize)
    }
}

pub fn bound_v4() -> Socket {
    let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    s
}

pub fn bound_v6() -> Socket {
    let s = Socket::udp_for(&"[::1]:0".parse().unwrap()).unwrap();
    s.bind(&"[::1]:0".parse().unwrap()).unwrap();
    s
}

pub fn send(s: &Socket, data: &[u8], to: &SocketAddr) {
    let n = s
        .send_to_sync(&[IoSlice::new(data)], to, MsgFlags::empty())
        .unwrap();
    assert_eq!(n, data.len());
}

/// Receives one datagram (`recv_msg` when `space` is given, else `recv_from`).
pub fn recv(mode: Mode, s: &Socket, bufs: Vec<Vec<u8>>, space: Option<MsgSpace>) -> Got {
    match mode {
        Mode::Event => {
            let event = Event::new();
            let mut ov = Overlapped::new(&event);
            let call = match space {
                Some(sp) => s.recv_msg(&mut ov, bufs.clone(), sp, MsgFlags::empty()),
                None => s.recv_from(&mut ov, bufs.clone(), MsgFlags::empty()),
            };
            if !matches!(call, Ok(_) | Err(WsaError::WSA_IO_PENDING)) {
                assert!(!event.is_set(), "fact 1: a failed call signals nothing");
                return Got::failed(call, bufs);
            }
            let result = get_overlapped_result(s, &ov, true).map(|(n, flags)| {
                // lpdwFlags: 0 on UDP; the message's flags are elsewhere.
                assert_eq!(flags, MsgFlags::empty());
                n
            });
            assert!(event.is_set());
            Got {
                call,
                result,
                bytes: ov.bytes_transferred(),
                flags: ov.msg_flags(),
                from: ov.source_addr(),
                control: ov.control(),
                bufs: ov.take_buffers().unwrap().into_inner(),
            }
        }
        Mode::Routine => {
            let slot: Rc<RefCell<Option<Completion>>> = Rc::default();
            let put = slot.clone();
            let routine = move |c: Completion| *put.borrow_mut() = Some(c);
            let call = match space {
                Some(sp) => s.recv_msg_with(bufs.clone(), sp, MsgFlags::empty(), routine),
                None => s.recv_from_with(bufs.clone(), MsgFlags::empty(), routine),
            };
            if !matches!(call, Ok(_) | Err(WsaError::WSA_IO_PENDING)) {
                sleep_ex(Some(Duration::from_millis(20)), true).unwrap();
                assert!(
                    slot.borrow().is_none(),
                    "fact 1: no routine after a failed call"
                );
                return Got::failed(call, bufs);
            }
            while slot.borrow().is_none() {
                sleep_ex(LONG, true).unwrap();
            }
            let c = slot.borrow_mut().take().unwrap();
            // Facts 32, 81: the routine's dwFlags is 0, even for a truncation;
            // the message's flags (WSAMSG.dwFlags) carry TRUNC/CTRUNC.
            assert_eq!(c.flags, MsgFlags::empty(), "routine dwFlags");
            Got {
                call,
                result: if c.error.is_ok() {
                    Ok(c.bytes)
                } else {
                    Err(c.error)
                },
                bytes: c.bytes,
                flags: c.msg_flags,
                from: c.from,
                control: c.control,
                bufs: c.buffers.into_inner(),
            }
        }
        Mode::Sync => {
            let mut bufs = bufs;
            let mut slices: Vec<IoSliceMut<'_>> =
                bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
            let mut info = MsgInfo::default();
            let mut from = None;
            let call = match space {
                Some(sp) => s.recv_msg_sync(&mut slices, sp, MsgFlags::empty(), &mut info),
                None => {
                    let r = s.recv_from_sync(&mut slices, MsgFlags::empty(), &mut from);
                    info.bytes = match r {
                        Ok(n) => n,
                        Err(WsaError::WSAEMSGSIZE) => slices.iter().map(|b| b.len()).sum(),
                        Err(_) => 0,
                    };
                    info.from = from;
                    r
                }
            }
            .map(|n| n as u32);
            drop(slices);
            Got {
                call,
                result: call,
                bytes: info.bytes as u32,
                flags: info.flags,
                from: info.from,
                control: info.control,
                bufs,
            }
        }
    }
}

/// Sends one datagram (`send_msg` when `control` is given, else `send_to`).
pub fn send_mode(
    mode: Mode,
    s: &Socket,
    bufs: Vec<Vec<u8>>,
    to: Option<&SocketAddr>,
    control: Option<Control>,
) -> WsaResult<u32> {
    match mode {
        Mode::Event => {
            let event = Event::new();
            let mut ov = Overlapped::new(&event);
            let call = match control {
                Some(c) => s.send_msg(&mut ov, bufs, to, c, MsgFlags::empty()),
                None => s.send_to(&mut ov, bufs, to.unwrap(), MsgFlags::empty()),
            };
            match call {
                Ok(_) | Err(WsaError::WSA_IO_PENDING) => {
                    get_overlapped_result(s, &ov, true).map(|(n, _)| n)
                }
                Err(e) => Err(e),
            }
        }
        Mode::Routine => {
            let slot: Rc<RefCell<Option<Completion>>> = Rc::default();
            let put = slot.clone();
            let routine = move |c: Completion| *put.borrow_mut() = Some(c);
            let call = match control {
                Some(c) => s.send_msg_with(bufs, to, c, MsgFlags::empty(), routine),
                None => s.send_to_with(bufs, to.unwrap(), MsgFlags::empty(), routine),
            };
            match call {
                Ok(_) | Err(WsaError::WSA_IO_PENDING) => {
                    while slot.borrow().is_none() {
                        sleep_ex(LONG, true).unwrap();
                    }
                    let c = slot.borrow_mut().take().unwrap();
                    // Facts 32, 81: the routine's dwFlags is 0, even for a truncation;
                    // the message's flags (WSAMSG.dwFlags) carry TRUNC/CTRUNC.
                    assert_eq!(c.flags, MsgFlags::empty(), "routine dwFlags");
                    if c.error.is_ok() {
                        Ok(c.bytes)
                    } else {
                        Err(c.error)
                    }
                }
                Err(e) => Err(e),
            }
        }
        Mode::Sync => {
            let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
            match control {
                Some(c) => s.send_msg_sync(&slices, to, &c, MsgFlags::empty()),
                None => s.send_to_sync(&slices, to.unwrap(), MsgFlags::empty()),
            }
            .map(|n| n as u32)
        }
    }
}
