//! The target address, and the rule that only loopback may be loaded unless told otherwise.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Why an address cannot be used.
#[derive(Debug)]
pub enum TargetError {
    /// Not an address, or it did not resolve.
    Invalid(String),
    /// Not on loopback, and `--allow-remote` was not given.
    Remote(String),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Invalid(m) => write!(f, "{m}"),
            TargetError::Remote(a) => write!(
                f,
                "refusing to load {a}: not a loopback address (127.0.0.0/8, ::1); \
                 pass --allow-remote to target it anyway"
            ),
        }
    }
}

/// Whether `ip` is a loopback address (including IPv4-mapped 127.0.0.0/8).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Resolves `HOST:PORT`. Without `allow_remote`, only literal loopback addresses and
/// `localhost` are accepted, and no name lookup is made for anything else.
pub fn resolve(addr: &str, allow_remote: bool) -> Result<SocketAddr, TargetError> {
    let sa = resolve_any_port(addr, allow_remote)?;
    if sa.port() == 0 {
        // Port 0 is "any" for a bind, never a server to connect to.
        return Err(TargetError::Invalid(format!(
            "{addr}: port 0 cannot be connected to (the port must be from 1 to 65535)"
        )));
    }
    Ok(sa)
}

fn resolve_any_port(addr: &str, allow_remote: bool) -> Result<SocketAddr, TargetError> {
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return if allow_remote || is_loopback(sa.ip()) {
            Ok(sa)
        } else {
            Err(TargetError::Remote(addr.to_string()))
        };
    }
    let (host, _) = addr
        .rsplit_once(':')
        .ok_or_else(|| TargetError::Invalid(format!("{addr}: expected HOST:PORT")))?;
    if !allow_remote && !host.eq_ignore_ascii_case("localhost") {
        return Err(TargetError::Remote(addr.to_string()));
    }
    let all: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| TargetError::Invalid(format!("{addr}: {e}")))?
        .collect();
    let pick = all
        .iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| TargetError::Invalid(format!("{addr}: no address")))?;
    if !allow_remote && !is_loopback(pick.ip()) {
        return Err(TargetError::Remote(addr.to_string()));
    }
    Ok(pick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        assert!(resolve("127.0.0.1:7", false).is_ok());
        assert!(resolve("127.9.9.9:7", false).is_ok());
        assert!(resolve("[::1]:7", false).is_ok());
        assert!(resolve("[::ffff:127.0.0.1]:7", false).is_ok());
        assert!(matches!(
            resolve("10.0.0.1:7", false),
            Err(TargetError::Remote(_))
        ));
        assert!(matches!(
            resolve("[::2]:7", false),
            Err(TargetError::Remote(_))
        ));
        assert!(matches!(
            resolve("example.org:7", false),
            Err(TargetError::Remote(_))
        ));
        assert!(matches!(
            resolve("nonsense", false),
            Err(TargetError::Invalid(_))
        ));
        assert!(resolve("10.0.0.1:7", true).is_ok());
    }
}
