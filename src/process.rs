//! Child processes that die with this program.
//!
//! `compare`, `demo` and `soak` start servers and load generators as child
//! processes. Each child asks the kernel for `SIGKILL` when its parent dies
//! (`PR_SET_PDEATHSIG`), so none outlives this program on any exit path:
//! a normal exit, an error, a panic, `SIGINT`, `SIGTERM`, even `SIGKILL`.
//! With `bench::ring`, `bench::epoll::sys` and `uring_echo`, one of the program's modules with
//! `unsafe` code.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the process that `cmd` starts die (`SIGKILL`) when this one does.
///
/// The signal is tied to the thread that spawns the child: spawn from a
/// thread that lives as long as the child should (the main thread here).
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed: `prctl` and `getppid` are
    // plain system calls on integers, `_exit` ends the child without running
    // any of the parent's code, and nothing allocates. It reads `parent`, an
    // integer copied in before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the request was made.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        })
    }
}
