//! What `UNICODE` builds need from the library: the `_tmain` entry with
//! wide arguments, and the conversions the header's W functions use.
//!
//! `wchar_t` is 32 bits on Linux (UTF-32); Windows' is 16 (UTF-16). A W
//! function here takes and gives the platform's `wchar_t` strings: a
//! program that only uses `L"..."`, `TCHAR` and the W calls works
//! unchanged; one that assumes 2-byte characters (`sizeof(WCHAR) == 2`,
//! byte counts of wide strings) does not (see the README).

/// `wchar_t` on Linux.
type WChar = u32;

/// A NUL-terminated wide copy of `s`.
fn widen(s: &str) -> Vec<WChar> {
    s.chars()
        .map(|c| c as WChar)
        .chain(std::iter::once(0))
        .collect()
}

/// Runs the program's wide entry point (`_tmain` in a `UNICODE` build) with
/// the arguments converted from the locale's bytes (UTF-8 here) to wide
/// strings; its value is the process's exit code. Sets the `LC_CTYPE`
/// locale from the environment so that `wprintf` writes non-ASCII text.
///
/// # Safety
/// `argv` holds `argc` NUL-terminated strings; `entry` is the program's
/// entry function.
#[export_name = "ovl_wmain_start"]
pub unsafe extern "C" fn wmain_start(
    argc: i32,
    argv: *const *const libc::c_char,
    entry: unsafe extern "C" fn(i32, *mut *mut WChar) -> i32,
) -> i32 {
    // SAFETY: a NUL-terminated locale name.
    unsafe { libc::setlocale(libc::LC_CTYPE, c"".as_ptr()) };
    let args: Vec<Vec<WChar>> = (0..argc.max(0) as usize)
        .map(|i| {
            // SAFETY: `argc` strings at `argv` (caller).
            let s = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            widen(&s.to_string_lossy())
        })
        .collect();
    // The strings live as long as the program (as `argv` does).
    let args: &'static mut [Vec<WChar>] = Box::leak(args.into_boxed_slice());
    let mut ptrs: Vec<*mut WChar> = args.iter_mut().map(|a| a.as_mut_ptr()).collect();
    ptrs.push(std::ptr::null_mut());
    let ptrs: &'static mut [*mut WChar] = Box::leak(ptrs.into_boxed_slice());
    // SAFETY: the program's entry with a valid wide argv (caller).
    unsafe { entry(argc, ptrs.as_mut_ptr()) }
}

/// Converts the wide string `w` to UTF-8 into `out` (`n` bytes, NUL
/// included); returns the bytes needed with the NUL. Invalid code points
/// become U+FFFD.
///
/// # Safety
/// `w` is null or NUL-terminated; `out` is null or has `n` writable bytes.
#[export_name = "ovl_wide_to_utf8"]
pub unsafe extern "C" fn wide_to_utf8(w: *const WChar, out: *mut libc::c_char, n: usize) -> usize {
    let mut s = String::new();
    if !w.is_null() {
        let mut i = 0;
        loop {
            // SAFETY: NUL-terminated (caller).
            let c = unsafe { *w.add(i) };
            if c == 0 {
                break;
            }
            s.push(char::from_u32(c).unwrap_or('\u{fffd}'));
            i += 1;
        }
    }
    let need = s.len() + 1;
    if !out.is_null() && n >= need {
        // SAFETY: `n >= need` writable bytes (caller).
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), out as *mut u8, s.len());
            *out.add(s.len()) = 0;
        }
    }
    need
}

/// Converts the UTF-8 string `s` to a wide string into `out` (`n`
/// characters, NUL included); returns the characters needed with the NUL.
///
/// # Safety
/// `s` is null or NUL-terminated; `out` is null or has `n` writable characters.
#[export_name = "ovl_utf8_to_wide"]
pub unsafe extern "C" fn utf8_to_wide(s: *const libc::c_char, out: *mut WChar, n: usize) -> usize {
    let text = if s.is_null() {
        String::new()
    } else {
        // SAFETY: NUL-terminated (caller).
        unsafe { std::ffi::CStr::from_ptr(s) }
            .to_string_lossy()
            .into_owned()
    };
    let w = widen(&text);
    if !out.is_null() && n >= w.len() {
        // SAFETY: `n >= w.len()` writable characters (caller).
        unsafe { std::ptr::copy_nonoverlapping(w.as_ptr(), out, w.len()) };
    }
    w.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let w = widen("grüße €");
        let mut buf = [0 as libc::c_char; 32];
        // SAFETY: NUL-terminated input, 32-byte output.
        let n = unsafe { wide_to_utf8(w.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        assert_eq!(n, "grüße €".len() + 1);
        let mut back = [0u32; 16];
        // SAFETY: NUL-terminated input, 16-character output.
        let m = unsafe { utf8_to_wide(buf.as_ptr(), back.as_mut_ptr(), back.len()) };
        assert_eq!(&back[..m], &w[..]);
    }
}
