//! Buffer arrays longer than the kernel takes in one call.
//!
//! Linux refuses a `recvmsg`/`sendmsg` with more than `IOV_MAX` (1,024)
//! `iovec`s (`EMSGSIZE`); Windows takes any number of `WSABUF`s. So a call
//! with more buffers passes the first 1,023 to the kernel as they are and
//! the rest through one bounce buffer: copied into it before a send,
//! scattered from it after a receive. The bounce holds at most 64 KiB (more
//! than any UDP datagram, so a datagram is never split or cut short by it);
//! a stream moves the rest in further steps, as it would anyway (a send is
//! resubmitted until every byte went, [fact 12](crate::semantics#fact-12); a receive may return fewer
//! bytes than the buffers hold). Only a stream `MSG_WAITALL` receive, which
//! must not return early, bounces the whole rest.

use std::io::{IoSlice, IoSliceMut};

/// `UIO_MAXIOV`: the most `iovec`s one call takes.
pub(crate) const IOV_MAX: usize = 1024;

/// The largest bounce buffer, except for a stream `MSG_WAITALL` receive.
pub(crate) const BOUNCE_MAX: usize = 64 * 1024;

/// The bounce buffer's length for `rest` bytes past the first 1,023 buffers.
pub(crate) fn bounce_len(rest: usize, whole: bool) -> usize {
    if whole {
        rest
    } else {
        rest.min(BOUNCE_MAX)
    }
}

/// Runs a synchronous receive into `buffers`, with more than [`IOV_MAX`] of
/// them through a bounce buffer (`whole`: bounce all the rest, for a stream
/// `MSG_WAITALL`); `stored(&result)` is the number of bytes the call stored.
pub(crate) fn recv_sync<T>(
    buffers: &mut [IoSliceMut<'_>],
    whole: bool,
    call: impl FnOnce(&mut [IoSliceMut<'_>]) -> T,
    stored: impl Fn(&T) -> usize,
) -> T {
    if buffers.len() <= IOV_MAX {
        return call(buffers);
    }
    let (head, tail) = buffers.split_at_mut(IOV_MAX - 1);
    let direct: usize = head.iter().map(|b| b.len()).sum();
    let rest: usize = tail.iter().map(|b| b.len()).sum();
    let mut bounce = vec![0u8; bounce_len(rest, whole)];
    let mut slices: Vec<IoSliceMut<'_>> = head.iter_mut().map(|b| IoSliceMut::new(b)).collect();
    slices.push(IoSliceMut::new(&mut bounce));
    let result = call(&mut slices);
    drop(slices);
    let got = stored(&result).saturating_sub(direct).min(bounce.len());
    let mut from = &bounce[..got];
    for b in tail.iter_mut() {
        if from.is_empty() {
            break;
        }
        let n = b.len().min(from.len());
        b[..n].copy_from_slice(&from[..n]);
        from = &from[n..];
    }
    result
}

/// Runs a synchronous send of `buffers`, with more than [`IOV_MAX`] of them
/// through a bounce buffer (up to 64 KiB of the rest go in this call).
pub(crate) fn send_sync<T>(buffers: &[IoSlice<'_>], call: impl FnOnce(&[IoSlice<'_>]) -> T) -> T {
    if buffers.len() <= IOV_MAX {
        return call(buffers);
    }
    let (head, tail) = buffers.split_at(IOV_MAX - 1);
    let rest: usize = tail.iter().map(|b| b.len()).sum();
    let mut bounce = Vec::with_capacity(bounce_len(rest, false));
    for b in tail {
        let room = bounce.capacity() - bounce.len();
        if room == 0 {
            break;
        }
        bounce.extend_from_slice(&b[..b.len().min(room)]);
    }
    let mut slices: Vec<IoSlice<'_>> = head.to_vec();
    slices.push(IoSlice::new(&bounce));
    call(&slices)
}
