//! The extension functions `SIO_GET_EXTENSION_FUNCTION_POINTER` looks up by
//! GUID ([fact 116](crate::semantics#fact-116)).

use crate::winsock::guid::*;

/// The extension functions `SIO_GET_EXTENSION_FUNCTION_POINTER` hands out
/// ([fact 116](crate::semantics#fact-116)). In Rust each is a method of [`crate::Socket`] (or a free
/// function); the lookup says which, so a program that looks functions up
/// by GUID (and the C interface, which returns real pointers) can check that
/// the provider offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[doc(alias = "SIO_GET_EXTENSION_FUNCTION_POINTER")]
pub enum ExtensionFunction {
    /// `AcceptEx` (`WSAID_ACCEPTEX`): [`crate::Socket::accept_ex`].
    AcceptEx,
    /// `GetAcceptExSockaddrs` (`WSAID_GETACCEPTEXSOCKADDRS`): [`crate::get_accept_ex_sockaddrs`].
    GetAcceptExSockaddrs,
    /// `ConnectEx` (`WSAID_CONNECTEX`): [`crate::Socket::connect_ex`].
    ConnectEx,
    /// `DisconnectEx` (`WSAID_DISCONNECTEX`): [`crate::Socket::disconnect_ex`].
    DisconnectEx,
    /// `TransmitFile` (`WSAID_TRANSMITFILE`): [`crate::Socket::transmit_file`].
    TransmitFile,
    /// `TransmitPackets` (`WSAID_TRANSMITPACKETS`): [`crate::Socket::transmit_packets`].
    TransmitPackets,
    /// `WSARecvMsg` (`WSAID_WSARECVMSG`): [`crate::Socket::recv_msg`].
    WsaRecvMsg,
    /// `WSASendMsg` (`WSAID_WSASENDMSG`): [`crate::Socket::send_msg`].
    WsaSendMsg,
}

impl ExtensionFunction {
    /// Every extension function, in the order of Windows' `mswsock.h`.
    pub const ALL: [ExtensionFunction; 8] = [
        ExtensionFunction::AcceptEx,
        ExtensionFunction::GetAcceptExSockaddrs,
        ExtensionFunction::ConnectEx,
        ExtensionFunction::DisconnectEx,
        ExtensionFunction::TransmitFile,
        ExtensionFunction::TransmitPackets,
        ExtensionFunction::WsaRecvMsg,
        ExtensionFunction::WsaSendMsg,
    ];

    /// The function a GUID names, `None` for an unknown GUID.
    pub fn from_guid(guid: &Guid) -> Option<ExtensionFunction> {
        Self::ALL.into_iter().find(|f| f.guid() == *guid)
    }

    /// The function's `WSAID_*`.
    pub fn guid(self) -> Guid {
        match self {
            ExtensionFunction::AcceptEx => WSAID_ACCEPTEX,
            ExtensionFunction::GetAcceptExSockaddrs => WSAID_GETACCEPTEXSOCKADDRS,
            ExtensionFunction::ConnectEx => WSAID_CONNECTEX,
            ExtensionFunction::DisconnectEx => WSAID_DISCONNECTEX,
            ExtensionFunction::TransmitFile => WSAID_TRANSMITFILE,
            ExtensionFunction::TransmitPackets => WSAID_TRANSMITPACKETS,
            ExtensionFunction::WsaRecvMsg => WSAID_WSARECVMSG,
            ExtensionFunction::WsaSendMsg => WSAID_WSASENDMSG,
        }
    }

    /// The function's Windows name.
    pub fn name(self) -> &'static str {
        match self {
            ExtensionFunction::AcceptEx => "AcceptEx",
            ExtensionFunction::GetAcceptExSockaddrs => "GetAcceptExSockaddrs",
            ExtensionFunction::ConnectEx => "ConnectEx",
            ExtensionFunction::DisconnectEx => "DisconnectEx",
            ExtensionFunction::TransmitFile => "TransmitFile",
            ExtensionFunction::TransmitPackets => "TransmitPackets",
            ExtensionFunction::WsaRecvMsg => "WSARecvMsg",
            ExtensionFunction::WsaSendMsg => "WSASendMsg",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guid_names_its_function() {
        for f in ExtensionFunction::ALL {
            assert_eq!(ExtensionFunction::from_guid(&f.guid()), Some(f));
            assert!(EXTENSION_FUNCTIONS.contains(&(f.guid(), f.name())));
        }
        assert_eq!(
            ExtensionFunction::from_guid(&Guid::new(0, 0, 0, [0; 8])),
            None
        );
    }
}
