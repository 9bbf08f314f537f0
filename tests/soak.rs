//! `overlapped soak`, briefly: both echo servers under connection churn
//! (echo, reset mid-message, half-close, stop reading, vanish), every byte
//! checked, and no growth of the server's memory or descriptors afterwards.

use std::process::Command;

#[test]
fn a_short_soak_of_both_servers_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_overlapped"))
        .args(["soak", "--secs", "1.5", "--workers", "3"])
        .output()
        .expect("run overlapped soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "soak failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for model in ["event", "routine"] {
        assert!(
            stdout.contains(&format!("soak {model}: OK")),
            "no verdict for {model}:\n{stdout}"
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("soak {model}: ")) && l.contains("churned"))
            .unwrap_or_else(|| panic!("no figures for {model}:\n{stdout}"));
        // "N connections churned (E echoed, R reset mid-message, H
        // half-closed, S stopped reading, V vanished), ...": each of the 3
        // workers makes one connection of every kind first, whatever the
        // machine's load (soak itself checks the bytes and the leaks).
        let figures: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .take(6)
            .collect();
        assert_eq!(figures.len(), 6, "{line}");
        assert!(figures[0] >= 15, "too few connections for {model}: {line}");
        for (n, what) in figures[1..].iter().zip([
            "echoed",
            "reset mid-message",
            "half-closed",
            "stopped reading",
            "vanished",
        ]) {
            assert!(*n >= 3, "fewer than 3 {what} for {model}: {line}");
        }
    }
}

#[test]
fn soak_rejects_a_bad_model_with_a_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_overlapped"))
        .args(["soak", "--model", "nonsense"])
        .output()
        .expect("run overlapped soak");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonsense"));
}
