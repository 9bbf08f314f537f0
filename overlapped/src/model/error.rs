//! Winsock error codes, and the one table that maps Linux errno values to them.

use std::fmt;
use std::io;

/// A Winsock error code, as `WSAGetLastError` would return it.
///
/// Inside the library errors travel as [`std::io::Error`]; at the Winsock
/// surface they are turned into these codes by one table ([`WsaError::from_errno`]).
#[doc(alias = "WSAGetLastError")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WsaError(pub i32);

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $text:literal;)*) => {
        impl WsaError {
            $($(#[$doc])* pub const $name: WsaError = WsaError($value);)*

            /// The Winsock name of the code (`"WSAECONNRESET"`), if it is one the library knows.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// What the code means, in a sentence: the text `FormatMessage`
            /// gives for it on Windows, in this library's words (`None` for a
            /// code the library does not know).
            #[doc(alias = "FormatMessage")]
            pub fn message(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// Success (0): used where a routine or result reports "no error".
    NO_ERROR = 0, "The operation completed successfully.";
    /// An invalid handle (6).
    WSA_INVALID_HANDLE = 6, "The handle given is not valid.";
    /// An invalid parameter (87), e.g. an empty event array.
    WSA_INVALID_PARAMETER = 87, "A parameter is not valid (for example, an empty list of events).";
    /// A buffer was too small (122): an `AcceptEx` address area shorter than
    /// the address plus 16 bytes ([fact 87](crate::semantics#fact-87)); the connection stays queued.
    ERROR_INSUFFICIENT_BUFFER = 122, "A buffer was too small: an address area needs the address size plus 16 bytes.";
    /// Nothing matched: `CancelIoEx` found no pending operation to cancel (1168).
    ERROR_NOT_FOUND = 1168, "Nothing matched: no pending operation was found to cancel.";
    /// The file ended before the bytes asked for were sent (38): a file
    /// truncated while `TransmitFile` / `TransmitPackets` was sending it.
    ERROR_HANDLE_EOF = 38, "The file ended before the bytes asked for were sent (it was truncated while being sent).";
    /// `WAIT_TIMEOUT` (258): a completion-port wait timed out with no packet.
    WAIT_TIMEOUT = 258, "The wait ended because its time ran out.";
    /// `WAIT_IO_COMPLETION` (0xC0): an alertable completion-port wait ran APCs instead.
    WAIT_IO_COMPLETION = 0xC0, "The wait ended to run completion routines or APCs queued to the thread.";
    /// `ERROR_ABANDONED_WAIT_0` (735): the completion port was closed while the thread waited on it.
    ERROR_ABANDONED_WAIT_0 = 735, "The completion port was closed while the thread waited on it.";
    /// `ERROR_NETNAME_DELETED` (64): a completion packet's error for a reset connection.
    ERROR_NETNAME_DELETED = 64, "The connection was reset: the peer is no longer there.";
    /// `ERROR_NOT_SUPPORTED` (50): a completion packet's error for an unsupported request.
    ERROR_NOT_SUPPORTED = 50, "The request is not supported.";
    /// `ERROR_SEM_TIMEOUT` (121): a completion packet's error for a timed-out connection.
    ERROR_SEM_TIMEOUT = 121, "The connection timed out: the peer did not answer in time.";
    /// `ERROR_MORE_DATA` (234): a completion packet's error for a truncated message.
    ERROR_MORE_DATA = 234, "More data is available: the message was larger than the buffer and was cut.";
    /// `ERROR_CONNECTION_REFUSED` (1225): a completion packet's error for a refused connection.
    ERROR_CONNECTION_REFUSED = 1225, "The remote side refused the connection.";
    /// `ERROR_CONNECTION_ABORTED` (1236): a completion packet's error for a locally aborted connection.
    ERROR_CONNECTION_ABORTED = 1236, "The connection was aborted on this side.";
    /// The operation was aborted: cancelled, or its socket closed (995).
    WSA_OPERATION_ABORTED = 995, "The operation was aborted: it was cancelled, or its socket was closed.";
    /// The operation is still pending and the caller did not ask to wait (996).
    WSA_IO_INCOMPLETE = 996, "The overlapped operation has not completed yet.";
    /// The operation was started and will complete later (997).
    WSA_IO_PENDING = 997, "The overlapped operation was started and will complete later.";
    /// Interrupted call (10004).
    WSAEINTR = 10004, "A blocking call was interrupted (for example, by closing the socket it waited on).";
    /// Bad file descriptor (10009).
    WSAEBADF = 10009, "The file handle is not valid.";
    /// Permission denied (10013).
    WSAEACCES = 10013, "Permission denied: the socket may not be used this way.";
    /// Bad address (10014).
    WSAEFAULT = 10014, "An address or buffer given to the call is not valid, or too small.";
    /// Invalid argument (10022).
    WSAEINVAL = 10022, "An argument is not valid for this call or this socket's state.";
    /// Too many open sockets (10024).
    WSAEMFILE = 10024, "Too many open sockets: the process is out of descriptors.";
    /// The call would block on a non-blocking socket (10035).
    WSAEWOULDBLOCK = 10035, "The call would block on a non-blocking socket; try again later.";
    /// An operation is now in progress (10036).
    WSAEINPROGRESS = 10036, "A blocking operation is in progress.";
    /// An operation is already in progress (10037).
    WSAEALREADY = 10037, "An operation is already in progress on this socket.";
    /// Not a socket (10038).
    WSAENOTSOCK = 10038, "The handle is not a socket, or the socket has been closed.";
    /// Destination address required (10039).
    WSAEDESTADDRREQ = 10039, "A destination address is required.";
    /// Message too long, or truncated (10040).
    WSAEMSGSIZE = 10040, "The message was larger than the buffer, or than the protocol allows, and was cut.";
    /// Wrong protocol type for socket (10041).
    WSAEPROTOTYPE = 10041, "The protocol does not suit this socket type.";
    /// Bad protocol option (10042).
    WSAENOPROTOOPT = 10042, "The option or level is not known or not supported.";
    /// Protocol not supported (10043).
    WSAEPROTONOSUPPORT = 10043, "The protocol is not supported.";
    /// Socket type not supported (10044).
    WSAESOCKTNOSUPPORT = 10044, "The socket type is not supported for this address family.";
    /// Operation not supported (10045).
    WSAEOPNOTSUPP = 10045, "The operation is not supported on this kind of socket.";
    /// Protocol family not supported (10046).
    WSAEPFNOSUPPORT = 10046, "The protocol family is not supported.";
    /// Address family not supported (10047).
    WSAEAFNOSUPPORT = 10047, "The address family is not supported by this socket or protocol.";
    /// Address already in use (10048).
    WSAEADDRINUSE = 10048, "The address is already in use: another socket is bound to this address and port.";
    /// Cannot assign requested address (10049).
    WSAEADDRNOTAVAIL = 10049, "The address is not available on this machine.";
    /// Network is down (10050).
    WSAENETDOWN = 10050, "The network is down.";
    /// Network is unreachable (10051).
    WSAENETUNREACH = 10051, "The network cannot be reached.";
    /// Network dropped connection on reset (10052).
    WSAENETRESET = 10052, "The connection was broken by a network reset.";
    /// The connection was aborted locally (10053).
    WSAECONNABORTED = 10053, "The connection was aborted on this side (for example, the socket was closed).";
    /// The connection was reset by the peer (10054).
    WSAECONNRESET = 10054, "The connection was reset by the peer.";
    /// No buffer space available (10055).
    WSAENOBUFS = 10055, "No buffer space (or memory) is available for the operation.";
    /// The socket is already connected (10056).
    WSAEISCONN = 10056, "The socket is already connected.";
    /// The socket is not connected (10057).
    WSAENOTCONN = 10057, "The socket is not connected.";
    /// The socket was shut down in that direction (10058).
    WSAESHUTDOWN = 10058, "The socket has been shut down in this direction.";
    /// The connection timed out (10060).
    WSAETIMEDOUT = 10060, "The operation timed out: the peer did not answer in time.";
    /// The connection was refused (10061).
    WSAECONNREFUSED = 10061, "The connection was refused: nothing listens at that address and port.";
    /// Host is down (10064).
    WSAEHOSTDOWN = 10064, "The host is down.";
    /// No route to host (10065).
    WSAEHOSTUNREACH = 10065, "There is no route to the host.";
    /// The network subsystem is not ready (10091): here, no backend could start on this thread (a refused `OVERLAPPED_BACKEND`, or the thread's ring failed; `startup` and `backend` give the reason).
    WSASYSNOTREADY = 10091, "The network subsystem is not ready: no backend could start (overlapped::startup or overlapped::backend give the reason).";
    /// Graceful shutdown in progress (10101).
    WSAEDISCON = 10101, "The peer is closing the connection gracefully.";
    /// No more results (10110): `WSALookupServiceNext` has returned them all.
    WSA_E_NO_MORE = 10110, "No more results.";
    /// Host not found (11001): the resolver knows no such name.
    WSAHOST_NOT_FOUND = 11001, "No such host is known.";
    /// Nonauthoritative host not found (11002): the name servers did not answer; try again.
    WSATRY_AGAIN = 11002, "The name servers did not answer; try again.";
    /// A nonrecoverable resolver error (11003).
    WSANO_RECOVERY = 11003, "A nonrecoverable error occurred during a name lookup.";
    /// The name is valid but has no data of the requested type (11004).
    WSANO_DATA = 11004, "The name is valid, but no data of the requested type was found.";
}

impl WsaError {
    /// Maps a Linux `errno` value to its Winsock code. This is the library's one
    /// errno table; a value it does not know becomes `WSAEINVAL`.
    pub fn from_errno(errno: i32) -> WsaError {
        match errno {
            0 => WsaError::NO_ERROR,
            libc::EINTR => WsaError::WSAEINTR,
            libc::EBADF => WsaError::WSAENOTSOCK,
            libc::EACCES | libc::EPERM => WsaError::WSAEACCES,
            libc::EFAULT => WsaError::WSAEFAULT,
            libc::EINVAL => WsaError::WSAEINVAL,
            libc::EMFILE | libc::ENFILE => WsaError::WSAEMFILE,
            libc::EAGAIN => WsaError::WSAEWOULDBLOCK,
            libc::EINPROGRESS => WsaError::WSAEINPROGRESS,
            libc::EALREADY => WsaError::WSAEALREADY,
            libc::ENOTSOCK => WsaError::WSAENOTSOCK,
            libc::EDESTADDRREQ => WsaError::WSAEDESTADDRREQ,
            libc::EMSGSIZE => WsaError::WSAEMSGSIZE,
            libc::EPROTOTYPE => WsaError::WSAEPROTOTYPE,
            libc::ENOPROTOOPT => WsaError::WSAENOPROTOOPT,
            libc::EPROTONOSUPPORT => WsaError::WSAEPROTONOSUPPORT,
            libc::ESOCKTNOSUPPORT => WsaError::WSAESOCKTNOSUPPORT,
            libc::EOPNOTSUPP => WsaError::WSAEOPNOTSUPP,
            libc::EPFNOSUPPORT => WsaError::WSAEPFNOSUPPORT,
            libc::EAFNOSUPPORT => WsaError::WSAEAFNOSUPPORT,
            libc::EADDRINUSE => WsaError::WSAEADDRINUSE,
            libc::EADDRNOTAVAIL => WsaError::WSAEADDRNOTAVAIL,
            libc::ENETDOWN => WsaError::WSAENETDOWN,
            libc::ENETUNREACH => WsaError::WSAENETUNREACH,
            libc::ENETRESET => WsaError::WSAENETRESET,
            libc::ECONNABORTED => WsaError::WSAECONNABORTED,
            libc::ECONNRESET | libc::EPIPE => WsaError::WSAECONNRESET,
            libc::ENOBUFS | libc::ENOMEM => WsaError::WSAENOBUFS,
            libc::EISCONN => WsaError::WSAEISCONN,
            libc::ENOTCONN => WsaError::WSAENOTCONN,
            libc::ESHUTDOWN => WsaError::WSAESHUTDOWN,
            libc::ETIMEDOUT => WsaError::WSAETIMEDOUT,
            libc::ECONNREFUSED => WsaError::WSAECONNREFUSED,
            libc::EHOSTDOWN => WsaError::WSAEHOSTDOWN,
            libc::EHOSTUNREACH => WsaError::WSAEHOSTUNREACH,
            libc::ECANCELED => WsaError::WSA_OPERATION_ABORTED,
            _ => WsaError::WSAEINVAL,
        }
    }

    /// Maps an [`io::Error`] (from the OS, or made by the library) to a Winsock code.
    pub fn from_io(err: &io::Error) -> WsaError {
        match err.raw_os_error() {
            Some(errno) => WsaError::from_errno(errno),
            None => match err.kind() {
                io::ErrorKind::InvalidInput => WsaError::WSAEINVAL,
                io::ErrorKind::WouldBlock => WsaError::WSAEWOULDBLOCK,
                io::ErrorKind::TimedOut => WsaError::WSAETIMEDOUT,
                io::ErrorKind::OutOfMemory => WsaError::WSAENOBUFS,
                _ => WsaError::WSAEINVAL,
            },
        }
    }

    /// The numeric code.
    #[doc(alias = "WSAGetLastError")]
    pub fn code(self) -> i32 {
        self.0
    }

    /// True for `NO_ERROR`.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl From<io::Error> for WsaError {
    fn from(err: io::Error) -> WsaError {
        WsaError::from_io(&err)
    }
}

impl From<WsaError> for io::Error {
    fn from(err: WsaError) -> io::Error {
        io::Error::other(err)
    }
}

impl fmt::Debug for WsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "WsaError({})", self.0),
        }
    }
}

/// The name, the number and the meaning, as `std::io::Error` shows an OS
/// error: `WSAEADDRINUSE (10048): The address is already in use: ...`.
impl fmt::Display for WsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)?;
        match self.message() {
            Some(text) => write!(f, ": {text}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for WsaError {}

/// The result type of the Winsock surface.
pub type WsaResult<T> = Result<T, WsaError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_table() {
        let cases = [
            (libc::ECONNRESET, 10054),
            (libc::EPIPE, 10054),
            (libc::ECONNABORTED, 10053),
            (libc::ECANCELED, 995),
            (libc::EAGAIN, 10035),
            (libc::ENOTCONN, 10057),
            (libc::EMSGSIZE, 10040),
            (libc::ECONNREFUSED, 10061),
            (libc::EINVAL, 10022),
            (libc::EBADF, 10038),
            (libc::ESHUTDOWN, 10058),
            (libc::EADDRINUSE, 10048),
            (libc::ENOMEM, 10055),
            (libc::EOPNOTSUPP, 10045),
            (libc::EISCONN, 10056),
            (libc::ETIMEDOUT, 10060),
            (0, 0),
            (9999, 10022),
        ];
        for (errno, code) in cases {
            assert_eq!(WsaError::from_errno(errno).code(), code, "errno {errno}");
        }
    }

    #[test]
    fn every_known_code_has_a_name_and_a_message() {
        for code in (0..20_000).map(WsaError) {
            assert_eq!(code.name().is_some(), code.message().is_some(), "{code:?}");
            if let Some(text) = code.message() {
                assert!(text.ends_with('.') && text.len() > 10, "{code:?}: {text}");
                let shown = code.to_string();
                assert!(shown.contains(&code.0.to_string()) && shown.contains(text));
            }
        }
    }

    #[test]
    fn names_and_io_round_trip() {
        assert_eq!(WsaError::WSA_IO_PENDING.name(), Some("WSA_IO_PENDING"));
        assert_eq!(
            format!("{}", WsaError::WSAECONNRESET),
            "WSAECONNRESET (10054): The connection was reset by the peer."
        );
        assert_eq!(
            format!("{:?}", WsaError::WSAECONNRESET),
            "WSAECONNRESET (10054)"
        );
        assert_eq!(format!("{}", WsaError(4242)), "WsaError(4242)");
        let io = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(WsaError::from(io), WsaError::WSAECONNREFUSED);
        let back: io::Error = WsaError::WSAEINVAL.into();
        assert_eq!(
            back.to_string(),
            "WSAEINVAL (10022): An argument is not valid for this call or this socket's state."
        );
    }
}
