//! `WSAProviderConfigChange` on the library's [`ProviderChange`]: the
//! first call (with `*lpNotificationHandle == NULL`) makes the notification
//! handle at once; each later call completes when the protocols and
//! services on offer change after it (here: `/etc/protocols`,
//! `/etc/services`, `/etc/nsswitch.conf`, see the library), synchronously,
//! with an event record, or with a completion routine. `CloseHandle` on
//! the handle aborts a pending call (`WSA_OPERATION_ABORTED`).
//!
//! `OVERLAPPED_PROVIDER_FILES` (paths separated by `:`), when set as the
//! handle is made, replaces the watched files: a test aid, since changing
//! the real ones needs root and disturbs the machine.

use std::sync::Arc;

use overlapped::{Completion, ProviderChange, WsaError, PROVIDER_FILES};

use crate::handles::{self, Object};
use crate::last_error::{self, fail};
use crate::records::{self, CRecord};
use crate::wsa_io::CompletionRoutine;

fn watched_files() -> Vec<String> {
    match std::env::var("OVERLAPPED_PROVIDER_FILES") {
        Ok(v) if !v.is_empty() => v.split(':').map(str::to_string).collect(),
        _ => PROVIDER_FILES.iter().map(|s| s.to_string()).collect(),
    }
}

fn report(r: Result<(), WsaError>) -> i32 {
    match r {
        Ok(()) => {
            last_error::set(0);
            0
        }
        Err(e) => fail(e),
    }
}

#[export_name = "WSAProviderConfigChange"]
unsafe extern "C" fn wsa_provider_config_change(
    handle: *mut usize,
    c: *mut CRecord,
    routine: CompletionRoutine,
) -> i32 {
    if handle.is_null() {
        return fail(WsaError::WSAEFAULT);
    }
    // SAFETY: a valid HANDLE (Windows' contract).
    let h = unsafe { *handle };
    if h == 0 {
        return match ProviderChange::watching(&watched_files()) {
            Ok(p) => {
                // SAFETY: as above.
                unsafe { *handle = handles::insert(Object::Provider(Arc::new(p))) };
                report(Ok(()))
            }
            Err(e) => fail(e),
        };
    }
    let provider = match handles::get(h) {
        Some(Object::Provider(p)) => p,
        _ => return fail(WsaError::WSA_INVALID_HANDLE),
    };
    if let Some(routine) = routine {
        if !c.is_null() {
            // SAFETY: a valid record (Windows' contract).
            unsafe { records::mark_pending(c) };
        }
        let cc = c as usize;
        let r = provider.wait_change_with(move |done: Completion| {
            // SAFETY: the record stays valid until the routine ran (Windows' contract).
            unsafe {
                if cc != 0 {
                    records::write_result(cc as *mut CRecord, done.error, 0);
                }
                routine(done.error.0 as u32, 0, cc as *mut CRecord, 0);
            }
        });
        return report(r);
    }
    if c.is_null() {
        return report(provider.wait_change_sync());
    }
    // SAFETY: `c` valid until the completion is reported (Windows' contract).
    let r = unsafe { records::start_notification(c, h, |ov| provider.wait_change(ov)) };
    report(r)
}
