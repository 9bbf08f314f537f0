//! The GUIDs that name Winsock's extension functions
//! (`WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, ...)`), with
//! Windows' values, in one place.
//!
//! In Rust the functions are plain methods ([`crate::Socket::accept_ex`],
//! [`crate::Socket::connect_ex`], ...); the GUIDs are here so that the
//! `WSAIoctl` lookup and the C interface can name them, and so that a
//! Winsock programmer searching for `WSAID_ACCEPTEX` finds the method.

/// A GUID (`GUID`: `Data1`, `Data2`, `Data3`, `Data4`), laid out as Windows
/// lays it out (`#[repr(C)]`, 16 bytes).
#[doc(alias = "GUID")]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Guid {
    /// `Data1`.
    pub data1: u32,
    /// `Data2`.
    pub data2: u16,
    /// `Data3`.
    pub data3: u16,
    /// `Data4`.
    pub data4: [u8; 8],
}

impl Guid {
    /// A GUID from its four parts, as `{0xb5367df1, 0xcbac, 0x11cf, {...}}` is written in C.
    pub const fn new(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Guid {
        Guid {
            data1,
            data2,
            data3,
            data4,
        }
    }
}

impl std::fmt::Display for Guid {
    /// The registry form: `{B5367DF1-CBAC-11CF-95CA-00805F48A192}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{{{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

const MS: [u8; 8] = [0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92];

/// `AcceptEx` ([`crate::Socket::accept_ex`]).
#[doc(alias = "LPFN_ACCEPTEX")]
pub const WSAID_ACCEPTEX: Guid = Guid::new(0xb536_7df1, 0xcbac, 0x11cf, MS);
/// `GetAcceptExSockaddrs` ([`crate::get_accept_ex_sockaddrs`]).
#[doc(alias = "LPFN_GETACCEPTEXSOCKADDRS")]
pub const WSAID_GETACCEPTEXSOCKADDRS: Guid = Guid::new(0xb536_7df2, 0xcbac, 0x11cf, MS);
/// `TransmitFile`.
#[doc(alias = "LPFN_TRANSMITFILE")]
pub const WSAID_TRANSMITFILE: Guid = Guid::new(0xb536_7df0, 0xcbac, 0x11cf, MS);
/// `ConnectEx` ([`crate::Socket::connect_ex`]).
#[doc(alias = "LPFN_CONNECTEX")]
pub const WSAID_CONNECTEX: Guid = Guid::new(
    0x25a2_07b9,
    0xddf3,
    0x4660,
    [0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e],
);
/// `DisconnectEx` ([`crate::Socket::disconnect_ex`]).
#[doc(alias = "LPFN_DISCONNECTEX")]
pub const WSAID_DISCONNECTEX: Guid = Guid::new(
    0x7fda_2e11,
    0x8630,
    0x436f,
    [0xa0, 0x31, 0xf5, 0x36, 0xa6, 0xee, 0xc1, 0x57],
);
/// `TransmitPackets`.
#[doc(alias = "LPFN_TRANSMITPACKETS")]
pub const WSAID_TRANSMITPACKETS: Guid = Guid::new(
    0xd968_9da0,
    0x1f90,
    0x11d3,
    [0x99, 0x71, 0x00, 0xc0, 0x4f, 0x68, 0xc8, 0x76],
);
/// `WSARecvMsg` ([`crate::Socket::recv_msg`]).
#[doc(alias = "LPFN_WSARECVMSG")]
pub const WSAID_WSARECVMSG: Guid = Guid::new(
    0xf689_d7c8,
    0x6f1f,
    0x436b,
    [0x8a, 0x53, 0xe5, 0x4f, 0xe3, 0x51, 0xc3, 0x22],
);
/// `WSASendMsg` ([`crate::Socket::send_msg`]).
#[doc(alias = "LPFN_WSASENDMSG")]
pub const WSAID_WSASENDMSG: Guid = Guid::new(
    0xa441_e712,
    0x754f,
    0x43ca,
    [0x84, 0xa7, 0x0d, 0xee, 0x44, 0xcf, 0x60, 0x6d],
);

/// Every extension function GUID with its Winsock name (for lookups such
/// as `SIO_GET_EXTENSION_FUNCTION_POINTER`).
pub const EXTENSION_FUNCTIONS: [(Guid, &str); 8] = [
    (WSAID_ACCEPTEX, "AcceptEx"),
    (WSAID_GETACCEPTEXSOCKADDRS, "GetAcceptExSockaddrs"),
    (WSAID_TRANSMITFILE, "TransmitFile"),
    (WSAID_CONNECTEX, "ConnectEx"),
    (WSAID_DISCONNECTEX, "DisconnectEx"),
    (WSAID_TRANSMITPACKETS, "TransmitPackets"),
    (WSAID_WSARECVMSG, "WSARecvMsg"),
    (WSAID_WSASENDMSG, "WSASendMsg"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_print_as_windows_writes_them() {
        assert_eq!(
            WSAID_ACCEPTEX.to_string(),
            "{B5367DF1-CBAC-11CF-95CA-00805F48A192}"
        );
        assert_eq!(
            WSAID_CONNECTEX.to_string(),
            "{25A207B9-DDF3-4660-8EE9-76E58C74063E}"
        );
        assert_eq!(
            WSAID_DISCONNECTEX.to_string(),
            "{7FDA2E11-8630-436F-A031-F536A6EEC157}"
        );
        assert_eq!(std::mem::size_of::<Guid>(), 16);
    }

    #[test]
    fn guids_are_distinct() {
        for (i, (a, _)) in EXTENSION_FUNCTIONS.iter().enumerate() {
            for (b, _) in &EXTENSION_FUNCTIONS[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
