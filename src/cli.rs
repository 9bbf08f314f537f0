//! Checked options, shared by every subcommand.
//!
//! The convention: every numeric option states its accepted range at the end
//! of its help, as `(from MIN to MAX)` (with a unit where it has one), and
//! parses with [`int_in`] or [`secs_in`] (or [`num_in`]) over the same bounds, so
//! clap rejects a value outside it before any work, naming the option, with
//! exit status 2. A limit that depends on two options (connections × depth)
//! is stated in both helps and checked, also before any work, with
//! [`usage_error`]. `tests/cli_args.rs` reads every `--help` and checks that
//! each stated range is the real one.
//!
//! With `OVERLAPPED_CHECK_ARGS=1` in the environment, a subcommand stops
//! right after its checks ([`only_checking`]) and exits 0: how the tests
//! prove that the largest stated value is accepted without running anything.

use std::fmt::Display;
use std::str::FromStr;

/// A value parser for a whole number from `min` to `max` (both included).
pub fn int_in<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |s: &str| match s.trim().parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        Ok(_) => Err(format!("must be from {min} to {max}")),
        // A whole number too large for the type is out of range, not malformed.
        Err(_) if is_whole(s.trim()) => Err(format!("must be from {min} to {max}")),
        Err(_) => Err(format!("not a whole number (must be from {min} to {max})")),
    }
}

/// Whether `s` is written as a whole number (a sign, then digits).
fn is_whole(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A value parser for a finite number from `min` to `max` (both included);
/// `nan`, `inf` and the like are refused.
pub fn num_in(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    move |s: &str| match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= min && v <= max => Ok(v),
        _ => Err(format!("must be a number from {min} to {max}")),
    }
}

/// A value parser for seconds from `min` to `max` (both included); `nan`,
/// `inf` and the like are refused.
pub fn secs_in(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    move |s: &str| match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= min && v <= max => Ok(v),
        _ => Err(format!("must be a number of seconds from {min} to {max}")),
    }
}

/// The longest run any subcommand accepts: one day, in seconds.
pub const MAX_SECS: f64 = 86_400.0;

/// Reports a bad combination of options the way clap reports a bad option
/// (`overlapped: MESSAGE` on stderr, exit status 2). Only before any work.
pub fn usage_error(msg: &str) -> ! {
    eprintln!("overlapped: {msg}");
    std::process::exit(2);
}

/// True when the environment asks only for the checks
/// (`OVERLAPPED_CHECK_ARGS=1`): the caller returns at once, having started
/// nothing. Prints `arguments ok` so a test can tell.
pub fn only_checking() -> bool {
    let checking = std::env::var_os("OVERLAPPED_CHECK_ARGS").is_some_and(|v| v == "1");
    if checking {
        println!("arguments ok");
    }
    checking
}

/// The options given on the command line (not defaulted) of the subcommand
/// being run, by clap id (the field name: `connect_timeout`).
static GIVEN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Records which options of the chosen subcommand the user gave.
pub fn remember_given(matches: &clap::ArgMatches) {
    let mut given = Vec::new();
    if let Some((_, sub)) = matches.subcommand() {
        for id in sub.ids() {
            if sub.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine) {
                given.push(id.as_str().to_string());
            }
        }
    }
    let _ = GIVEN.set(given);
}

/// Whether option `id` (clap id: the field name) was given on the command line.
pub fn given(id: &str) -> bool {
    GIVEN.get().is_some_and(|g| g.iter().any(|x| x == id))
}

/// Refuses (exit 2, naming them) the options of `ids` that were given but
/// do not apply: `why` says when they do not.
pub fn refuse_given(ids: &[&str], why: &str) {
    let bad: Vec<String> = ids
        .iter()
        .filter(|id| given(id))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect();
    if !bad.is_empty() {
        usage_error(&format!("{} {why}", bad.join(", ")));
    }
}

/// Makes a write to a closed stdout (`overlapped compare | head -1`) end the
/// program quietly, as CLI tools do on SIGPIPE: status 141 (128 + SIGPIPE),
/// no panic message. Rust ignores SIGPIPE, so `println!` panics on EPIPE
/// instead; the signal itself stays ignored (a server's write to a closed
/// socket must not kill it). Child servers die with the program
/// (`PR_SET_PDEATHSIG`, see `process.rs`).
pub fn quiet_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        previous(info);
    }));
}

/// `--backend`: the backend the library runs on in this program and the
/// servers it starts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendArg {
    /// io_uring (an error if it cannot start here).
    Uring,
    /// epoll: readiness plus non-blocking calls.
    Epoll,
}

/// Forces the library's backend for this process and its children, as
/// `OVERLAPPED_BACKEND` does. Call before any use of the library and
/// before any thread starts.
pub fn force_backend(backend: Option<BackendArg>) {
    if let Some(b) = backend {
        let name = match b {
            BackendArg::Uring => "uring",
            BackendArg::Epoll => "epoll",
        };
        std::env::set_var(overlapped::BACKEND_VAR, name);
        BY_OPTION.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether `--backend` (not the user's `OVERLAPPED_BACKEND`) forced the
/// backend: a refusal then names the option.
static BY_OPTION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The backend as this program shows it: when `--backend` forced it, the
/// reason names the option (the library only sees the variable it set).
pub fn backend_text(b: &overlapped::Backend) -> String {
    shown_backend(b, BY_OPTION.load(std::sync::atomic::Ordering::Relaxed))
}

/// Why the backend runs, as [`backend_text`] words it (without the backend's name).
pub fn backend_reason(b: &overlapped::Backend) -> String {
    shown_reason(b, BY_OPTION.load(std::sync::atomic::Ordering::Relaxed))
}

fn shown_backend(b: &overlapped::Backend, by_option: bool) -> String {
    format!("{} ({})", b.kind, shown_reason(b, by_option))
}

fn shown_reason(b: &overlapped::Backend, by_option: bool) -> String {
    let var = format!("forced by {}=", overlapped::BACKEND_VAR);
    match b.reason.strip_prefix(&var) {
        Some(name) if by_option => format!("forced by --backend {name}"),
        _ => b.reason.clone(),
    }
}

/// The library's start-up error as this program shows it: a refused forced
/// io_uring names what forced it (`--backend uring`, or the variable).
pub fn setup_error_text(e: &overlapped::SetupError) -> String {
    refusal_text(e, BY_OPTION.load(std::sync::atomic::Ordering::Relaxed))
}

fn refusal_text(e: &overlapped::SetupError, by_option: bool) -> String {
    match e {
        overlapped::SetupError::ForcedUring(why) if by_option => format!(
            "--backend uring, but io_uring cannot start here: {why} \
             (drop --backend uring, or pass --backend epoll, to use the epoll backend)"
        ),
        _ => e.to_string(),
    }
}

/// [`overlapped::startup`], its error worded by [`setup_error_text`].
pub fn startup() -> std::io::Result<()> {
    overlapped::startup().map_err(|e| std::io::Error::other(setup_error_text(&e)))
}

#[cfg(test)]
mod backend_tests {
    use super::refusal_text;
    use overlapped::SetupError;

    #[test]
    fn a_forced_backend_names_the_option_that_forced_it() {
        let b = overlapped::Backend {
            kind: overlapped::BackendKind::Epoll,
            reason: format!("forced by {}=epoll", overlapped::BACKEND_VAR),
        };
        assert_eq!(
            super::shown_backend(&b, true),
            "epoll (forced by --backend epoll)"
        );
        assert_eq!(super::shown_backend(&b, false), b.to_string());
        let auto = overlapped::Backend {
            kind: overlapped::BackendKind::Epoll,
            reason: "io_uring_setup: EPERM (Operation not permitted)".into(),
        };
        assert_eq!(super::shown_backend(&auto, true), auto.to_string());
    }

    #[test]
    fn a_refusal_names_what_forced_io_uring() {
        let e = SetupError::ForcedUring("io_uring_setup: EPERM (Operation not permitted)".into());
        let by_option = refusal_text(&e, true);
        assert!(
            by_option.starts_with(
                "--backend uring, but io_uring cannot start here: io_uring_setup: EPERM"
            ),
            "{by_option}"
        );
        assert!(by_option.contains("drop --backend uring"), "{by_option}");
        assert!(!by_option.contains("OVERLAPPED_BACKEND"), "{by_option}");
        let by_var = refusal_text(&e, false);
        assert!(by_var.contains("unset OVERLAPPED_BACKEND"), "{by_var}");
    }
}
