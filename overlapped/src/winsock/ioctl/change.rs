//! `SIO_ADDRESS_LIST_CHANGE` and `SIO_ROUTING_INTERFACE_CHANGE` on rtnetlink.
//!
//! Each request opens an rtnetlink socket bound to the groups it needs, so it
//! hears every change made after it was posted. A read that carries a
//! message of the right family makes the filter look again: at the local
//! address list (completes when the *set* differs from the snapshot taken
//! at the post, so the kernel's address refreshes — IPv6 lifetimes, DAD
//! flags — do not count), or at the route to the destination.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::netinfo;
use crate::model::op::ChangeFilter;
use crate::sys::notify as sys;
use crate::winsock::notify::Change;
use crate::{Socket, WsaError, WsaResult};

/// What one rtnetlink message is about, as far as the filters care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Topic {
    /// `RTM_NEWADDR` / `RTM_DELADDR` of this family (true: IPv6).
    Address(bool),
    /// `RTM_NEWROUTE` / `RTM_DELROUTE` of this family.
    Route(bool),
    /// `RTM_NEWLINK` / `RTM_DELLINK`.
    Link,
    /// Anything else, or a message the parser did not understand.
    Other,
}

fn family_is_v6(family: AddressFamily) -> Option<bool> {
    match family {
        AddressFamily::Inet => Some(false),
        AddressFamily::Inet6 => Some(true),
        _ => None,
    }
}

/// The topics of the messages in one read of an rtnetlink socket.
pub(crate) fn topics(mut read: &[u8]) -> Vec<Topic> {
    let mut out = Vec::new();
    while read.len() >= 16 {
        let len = u32::from_ne_bytes([read[0], read[1], read[2], read[3]]) as usize;
        if len < 16 {
            break;
        }
        let topic = match NetlinkMessage::<RouteNetlinkMessage>::deserialize(
            &read[..len.min(read.len())],
        ) {
            Ok(NetlinkMessage {
                payload: NetlinkPayload::InnerMessage(m),
                ..
            }) => match m {
                RouteNetlinkMessage::NewAddress(a) | RouteNetlinkMessage::DelAddress(a) => {
                    family_is_v6(a.header.family).map_or(Topic::Other, Topic::Address)
                }
                RouteNetlinkMessage::NewRoute(r) | RouteNetlinkMessage::DelRoute(r) => {
                    family_is_v6(r.header.address_family).map_or(Topic::Other, Topic::Route)
                }
                RouteNetlinkMessage::NewLink(_) | RouteNetlinkMessage::DelLink(_) => Topic::Link,
                _ => Topic::Other,
            },
            _ => Topic::Other,
        };
        out.push(topic);
        let step = (len + 3) & !3;
        if step >= read.len() {
            break;
        }
        read = &read[step..];
    }
    out
}

/// Completes when the set of local addresses of one family changes.
struct AddressFilter {
    ipv6: bool,
    snapshot: BTreeSet<SocketAddr>,
}

impl ChangeFilter for AddressFilter {
    fn changed(&mut self, read: &[u8]) -> bool {
        let relevant = topics(read)
            .iter()
            .any(|t| matches!(t, Topic::Address(v6) if *v6 == self.ipv6));
        relevant && self.differs()
    }

    fn overrun(&mut self) -> bool {
        self.differs()
    }
}

impl AddressFilter {
    fn differs(&self) -> bool {
        // If the list cannot be read, say "changed": the caller will look.
        netinfo::local_address_set(self.ipv6).map_or(true, |now| now != self.snapshot)
    }
}

/// Completes when the local address used to reach `dest` changes (or, for
/// the wildcard destination, on any route change of the family).
struct RouteFilter {
    ipv6: bool,
    dest: Option<SocketAddr>,
    last: WsaResult<SocketAddr>,
}

impl ChangeFilter for RouteFilter {
    fn changed(&mut self, read: &[u8]) -> bool {
        let topics = topics(read);
        match self.dest {
            None => topics
                .iter()
                .any(|t| matches!(t, Topic::Route(v6) if *v6 == self.ipv6)),
            Some(dest) => {
                let relevant = topics.iter().any(|t| match t {
                    Topic::Route(v6) | Topic::Address(v6) => *v6 == self.ipv6,
                    Topic::Link => true,
                    Topic::Other => false,
                });
                relevant && netinfo::routing_interface(&dest) != self.last
            }
        }
    }
}

/// An `SIO_ADDRESS_LIST_CHANGE` request for the family of `socket`.
/// `Err(changed)`: the list changed while the request was being set up
/// (between the snapshot and the subscription): complete it at once.
pub(crate) fn address_list_change(ipv6: bool) -> WsaResult<Result<Change, ()>> {
    let before = netinfo::local_address_set(ipv6)?;
    let groups = if ipv6 {
        sys::RTMGRP_IPV6_IFADDR
    } else {
        sys::RTMGRP_IPV4_IFADDR
    };
    let fd = sys::route_socket(groups).map_err(|e| WsaError::from_io(&e))?;
    let snapshot = netinfo::local_address_set(ipv6)?;
    if snapshot != before {
        return Ok(Err(()));
    }
    Ok(Ok(Change {
        source: Socket::from_source(fd),
        filter: Box::new(AddressFilter { ipv6, snapshot }),
    }))
}

/// An `SIO_ROUTING_INTERFACE_CHANGE` request for `dest` (the wildcard
/// address: any route of its family). `Err(())`: the route changed while
/// the request was being set up.
pub(crate) fn routing_interface_change(dest: &SocketAddr) -> WsaResult<Result<Change, ()>> {
    let ipv6 = dest.is_ipv6();
    let wildcard = netinfo::is_wildcard(&dest.ip());
    let (route, addr) = if ipv6 {
        (sys::RTMGRP_IPV6_ROUTE, sys::RTMGRP_IPV6_IFADDR)
    } else {
        (sys::RTMGRP_IPV4_ROUTE, sys::RTMGRP_IPV4_IFADDR)
    };
    let groups = if wildcard {
        route
    } else {
        route | addr | sys::RTMGRP_LINK
    };
    let before = if wildcard {
        Err(WsaError::WSAEINVAL)
    } else {
        netinfo::routing_interface(dest)
    };
    let fd = sys::route_socket(groups).map_err(|e| WsaError::from_io(&e))?;
    let last = if wildcard {
        before
    } else {
        netinfo::routing_interface(dest)
    };
    if last != before {
        return Ok(Err(()));
    }
    Ok(Ok(Change {
        source: Socket::from_source(fd),
        filter: Box::new(RouteFilter {
            ipv6,
            dest: (!wildcard).then_some(*dest),
            last,
        }),
    }))
}
