//! The control calls as futures: `WSAIoctl`, `WSANSPIoctl`
//! (`SIO_NSP_NOTIFY_CHANGE`) and `WSAProviderConfigChange`.
//!
//! Like the connection calls these start **at the call**: a change request
//! hears of every change after the call (its change source is open and
//! read from then on), whenever the future is first polled. Requests that
//! answer at once (the queries) give a future that is ready at once.

use super::AsyncOp;
use crate::model::op::OpKind;
use crate::winsock::ioctl::{Ioctl, IoctlOutput};
use crate::winsock::notify::{self, Change};
use crate::{BufList, Completion, LookupService, ProviderChange, Socket, WsaError, WsaResult};

impl Socket {
    /// `WSAIoctl` as a future: resolves to `Ok(output)` or `Err(code)`.
    ///
    /// * Change requests (`SIO_ADDRESS_LIST_CHANGE`,
    ///   `SIO_ROUTING_INTERFACE_CHANGE`, facts [119](crate::semantics#fact-119),
    ///   [120](crate::semantics#fact-120)) resolve to
    ///   `Ok(IoctlOutput::None)` at the first change after the call; closing
    ///   the socket first ends them with `WSA_OPERATION_ABORTED`. They work
    ///   on blocking and non-blocking sockets alike (the future is the
    ///   overlapped form).
    /// * `SIO_GET_INTERFACE_LIST` resolves to the list
    ///   (`IoctlOutput::InterfaceList`), or `WSAEFAULT` if `out_len` bytes
    ///   cannot hold it ([fact 122](crate::semantics#fact-122)).
    /// * The queries (`FIONREAD`, `SIOCATMARK`, `FIONBIO`,
    ///   `SIO_KEEPALIVE_VALS`, `SIO_GET_EXTENSION_FUNCTION_POINTER`,
    ///   `SIO_ADDRESS_LIST_QUERY`, `SIO_ROUTING_INTERFACE_QUERY`) are
    ///   answered at the call: the future is ready at once with the output,
    ///   or the error of [`Socket::ioctl_sync`] (`WSAEFAULT` for a short
    ///   `out_len`, `WSAEINVAL` for an unknown GUID, `WSAENETUNREACH`, ...).
    /// * `SIO_BASE_HANDLE` and unsupported codes: `WSAEOPNOTSUPP`
    ///   ([fact 115](crate::semantics#fact-115)); a closed socket: `WSAENOTSOCK`.
    ///
    /// **Cancel safety**: dropping a change request's future cancels the
    /// request; nothing is lost (the next request hears of changes after it
    /// is made, as on Windows). A query has already happened at the call.
    ///
    /// ```
    /// use overlapped::{block_on, Ioctl, IoctlOutput, Socket};
    /// let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap())?;
    /// let out = block_on(s.ioctl_async(&Ioctl::GetInterfaceList, u32::MAX))?;
    /// assert!(matches!(out, IoctlOutput::InterfaceList(list) if !list.is_empty()));
    /// // A change request: pending until an address changes; dropping it cancels it.
    /// let change = s.ioctl_async(&Ioctl::AddressListChange, 0);
    /// assert!(change.is_pending());
    /// drop(change);
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "WSAIoctl")]
    #[doc(alias = "SIO_ADDRESS_LIST_CHANGE")]
    #[doc(alias = "SIO_ROUTING_INTERFACE_CHANGE")]
    pub fn ioctl_async(&self, ioctl: &Ioctl, out_len: u32) -> AsyncOp<WsaResult<IoctlOutput>> {
        if self.is_closed() {
            return AsyncOp::ready(Err(WsaError::WSAENOTSOCK), to_output);
        }
        match ioctl {
            Ioctl::Unsupported(_) | Ioctl::BaseHandle => {
                AsyncOp::ready(Err(WsaError::WSAEOPNOTSUPP), to_output)
            }
            Ioctl::GetInterfaceList => {
                let out = self.query(ioctl).and_then(|out| {
                    if out.wire_len() > out_len {
                        Err(WsaError::WSAEFAULT)
                    } else {
                        Ok(out)
                    }
                });
                AsyncOp::ready(out, to_output)
            }
            Ioctl::AddressListChange | Ioctl::RoutingInterfaceChange(_) => {
                match self.change_request(ioctl) {
                    Err(e) => AsyncOp::ready(Err(e), to_output),
                    // It changed while the request was being set up.
                    Ok(Err(())) => AsyncOp::ready(Ok(IoctlOutput::None), to_output),
                    Ok(Ok(change)) => start_change(change, &|s| self.attach(s), to_output),
                }
            }
            _ => AsyncOp::ready(self.query_sized(ioctl, out_len, &mut 0), to_output),
        }
    }
}

impl LookupService {
    /// `WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE)` as a future: resolves to `Ok(())`
    /// at the next change of a watched file after this call, or to
    /// `Err(WSA_OPERATION_ABORTED)` when the query ends first
    /// ([`LookupService::end`], or dropping it). Errors at the call (the
    /// future is ready with them): those of [`LookupService::notify_change`]
    /// (`WSAEINVAL` when a watched directory is gone, ...).
    ///
    /// **Cancel safety**: dropping the future cancels the request; the next
    /// one hears of changes after it is made.
    ///
    /// ```
    /// use overlapped::{block_on, LookupService};
    /// let dir = std::env::temp_dir().join(format!("nsp-async-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let hosts = dir.join("hosts");
    /// let query = LookupService::begin_watching("localhost", &[&hosts])?;
    /// let change = query.notify_change_async();                // registered now
    /// std::fs::write(&hosts, "127.0.0.1 example\n").unwrap();
    /// block_on(change)?;                                       // the results may have changed
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), overlapped::WsaError>(())
    /// ```
    #[doc(alias = "WSANSPIoctl")]
    #[doc(alias = "SIO_NSP_NOTIFY_CHANGE")]
    pub fn notify_change_async(&self) -> AsyncOp<WsaResult<()>> {
        match self.change() {
            // The instance stays with the handle, which closes it.
            Ok(change) => start_change(change, &drop, to_unit),
            Err(e) => AsyncOp::ready(Err(e), to_unit),
        }
    }
}

impl ProviderChange {
    /// `WSAProviderConfigChange` (with a handle, overlapped) as a future:
    /// resolves to `Ok(())` at the next change of the provider files after
    /// this call, or `Err(WSA_OPERATION_ABORTED)` if the handle is dropped
    /// first. Errors at the call as [`ProviderChange::wait_change`].
    ///
    /// **Cancel safety**: as [`LookupService::notify_change_async`].
    #[doc(alias = "WSAProviderConfigChange")]
    pub fn wait_change_async(&self) -> AsyncOp<WsaResult<()>> {
        match self.change() {
            Ok(change) => start_change(change, &drop, to_unit),
            Err(e) => AsyncOp::ready(Err(e), to_unit),
        }
    }
}

/// Starts a change request on the calling thread's ring; its source goes
/// to `owner` (closing the owner aborts the request).
fn start_change<T>(change: Change, owner: &dyn Fn(Socket), map: fn(Completion) -> T) -> AsyncOp<T> {
    let Change { source, filter } = change;
    let kind = OpKind::Change { filter };
    let bufs = BufList::zeroed(notify::READ_BUFFER);
    let (op, never) = AsyncOp::start_now(&source.inner, kind, bufs, map);
    if never.is_none() {
        owner(source);
    }
    op
}

fn to_unit(c: Completion) -> WsaResult<()> {
    if c.error.is_ok() {
        Ok(())
    } else {
        Err(c.error)
    }
}

fn to_output(c: Completion) -> WsaResult<IoctlOutput> {
    to_unit(c).map(|()| IoctlOutput::None)
}
