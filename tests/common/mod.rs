//! A server started as a child process of the `overlapped` binary, as users
//! and scripts start it: the first line of its output names its address.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const EXE: &str = env!("CARGO_BIN_EXE_overlapped");

/// A running server; killed on drop if not stopped.
pub struct ServerProcess {
    child: Child,
    /// `ADDR:PORT` from its `listening on ADDR:PORT` first line (a real port).
    pub addr: String,
}

impl ServerProcess {
    /// Starts `overlapped ARGS...` and reads its first line.
    pub fn start(args: &[&str]) -> ServerProcess {
        ServerProcess::start_with_stderr(args, Stdio::inherit())
    }

    /// Starts `overlapped ARGS...` with its stderr (its log) going to `log`.
    pub fn start_logged(args: &[&str], log: &std::path::Path) -> ServerProcess {
        let file = std::fs::File::create(log).expect("create the log file");
        ServerProcess::start_with_stderr(args, Stdio::from(file))
    }

    fn start_with_stderr(args: &[&str], stderr: Stdio) -> ServerProcess {
        let mut child = Command::new(EXE)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line must be `listening on ADDR:PORT`, got {line:?}"))
            .to_string();
        assert!(
            addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
            "a real loopback port expected: {addr}"
        );
        ServerProcess { child, addr }
    }

    /// SIGTERM, then the exit status; panics if it does not stop in 10 s.
    pub fn stop(mut self) -> ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                panic!("server did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl ServerProcess {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM; the server must exit with success.
    pub fn stop_cleanly(self) {
        let status = self.stop();
        assert!(
            status.success(),
            "clean exit on SIGTERM expected, got {status}"
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 20 s) until the log holds `n` lines containing `text`.
pub fn logged(log: &std::path::Path, text: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = std::fs::read_to_string(log).unwrap_or_default();
        if got.matches(text).count() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "want {n}× {text:?} in:\n{got}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
