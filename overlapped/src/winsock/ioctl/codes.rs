//! The numeric `WSAIoctl` / `ioctlsocket` codes, with Windows' values (for
//! the C interface and for programs that log codes).

const IOC_VOID: u32 = 0x2000_0000;
const IOC_OUT: u32 = 0x4000_0000;
const IOC_IN: u32 = 0x8000_0000;
const IOC_INOUT: u32 = IOC_IN | IOC_OUT;
const IOC_WS2: u32 = 0x0800_0000;
const IOC_VENDOR: u32 = 0x1800_0000;

/// `FIONREAD` (`_IOR('f', 127, u_long)`).
pub const FIONREAD: u32 = 0x4004_667f;
/// `FIONBIO` (`_IOW('f', 126, u_long)`).
pub const FIONBIO: u32 = 0x8004_667e;
/// `FIOASYNC` (`_IOW('f', 125, u_long)`): not supported ([fact 115](crate::semantics#fact-115)).
pub const FIOASYNC: u32 = 0x8004_667d;
/// `SIOCATMARK` (`_IOR('s', 7, u_long)`).
pub const SIOCATMARK: u32 = 0x4004_7307;
/// `SIO_GET_INTERFACE_LIST` (`_IOR('t', 127, u_long)`).
pub const SIO_GET_INTERFACE_LIST: u32 = 0x4004_747f;
/// `SIO_FLUSH` (`_WSAIO(IOC_WS2, 4)`): not supported ([fact 115](crate::semantics#fact-115)).
pub const SIO_FLUSH: u32 = IOC_VOID | IOC_WS2 | 4;
/// `SIO_GET_EXTENSION_FUNCTION_POINTER` (`_WSAIORW(IOC_WS2, 6)`).
pub const SIO_GET_EXTENSION_FUNCTION_POINTER: u32 = IOC_INOUT | IOC_WS2 | 6;
/// `SIO_ROUTING_INTERFACE_QUERY` (`_WSAIORW(IOC_WS2, 20)`).
pub const SIO_ROUTING_INTERFACE_QUERY: u32 = IOC_INOUT | IOC_WS2 | 20;
/// `SIO_ROUTING_INTERFACE_CHANGE` (`_WSAIOW(IOC_WS2, 21)`).
pub const SIO_ROUTING_INTERFACE_CHANGE: u32 = IOC_IN | IOC_WS2 | 21;
/// `SIO_ADDRESS_LIST_QUERY` (`_WSAIOR(IOC_WS2, 22)`).
pub const SIO_ADDRESS_LIST_QUERY: u32 = IOC_OUT | IOC_WS2 | 22;
/// `SIO_ADDRESS_LIST_CHANGE` (`_WSAIO(IOC_WS2, 23)`).
pub const SIO_ADDRESS_LIST_CHANGE: u32 = IOC_VOID | IOC_WS2 | 23;
/// `SIO_NSP_NOTIFY_CHANGE` (`_WSAIOW(IOC_WS2, 25)`), for `WSANSPIoctl`.
pub const SIO_NSP_NOTIFY_CHANGE: u32 = IOC_IN | IOC_WS2 | 25;
/// `SIO_BASE_HANDLE` (`_WSAIOR(IOC_WS2, 34)`).
pub const SIO_BASE_HANDLE: u32 = IOC_OUT | IOC_WS2 | 34;
/// `SIO_KEEPALIVE_VALS` (`_WSAIOW(IOC_VENDOR, 4)`).
pub const SIO_KEEPALIVE_VALS: u32 = IOC_IN | IOC_VENDOR | 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_windows_values() {
        assert_eq!(SIO_GET_EXTENSION_FUNCTION_POINTER, 0xc800_0006);
        assert_eq!(SIO_ROUTING_INTERFACE_QUERY, 0xc800_0014);
        assert_eq!(SIO_ROUTING_INTERFACE_CHANGE, 0x8800_0015);
        assert_eq!(SIO_ADDRESS_LIST_QUERY, 0x4800_0016);
        assert_eq!(SIO_ADDRESS_LIST_CHANGE, 0x2800_0017);
        assert_eq!(SIO_NSP_NOTIFY_CHANGE, 0x8800_0019);
        assert_eq!(SIO_BASE_HANDLE, 0x4800_0022);
        assert_eq!(SIO_KEEPALIVE_VALS, 0x9800_0004);
        assert_eq!(SIO_FLUSH, 0x2800_0004);
    }
}
