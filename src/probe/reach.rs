//! Reachability: TCP connects from inside the sandbox to named addresses,
//! with the interfaces and routes the sandbox sees.

use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::net::NetView;

pub fn default_timeout_ms() -> u64 {
    1_000
}

#[derive(Serialize, Debug)]
pub struct ReachReport {
    /// Per name: `"ok"` when the connection was accepted, else the errno
    /// (`ENETUNREACH`, `ECONNREFUSED`, `ETIMEDOUT` ...).
    pub connect: BTreeMap<String, String>,
    #[serde(flatten)]
    pub view: NetView,
}

/// Connects to each address once, with a timeout, and closes at once.
pub fn reach(targets: &BTreeMap<String, SocketAddr>, timeout_ms: u64) -> ReachReport {
    let timeout = Duration::from_millis(timeout_ms.max(1));
    let connect = targets
        .iter()
        .map(|(name, addr)| (name.clone(), connect_outcome(addr, timeout)))
        .collect();
    ReachReport {
        connect,
        view: super::net::view(),
    }
}

fn connect_outcome(addr: &SocketAddr, timeout: Duration) -> String {
    match TcpStream::connect_timeout(addr, timeout) {
        Ok(_) => "ok".into(),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut && e.raw_os_error().is_none() => {
            "ETIMEDOUT".into()
        }
        Err(e) => super::io_outcome::<()>(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_listener_is_ok_and_a_closed_port_is_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = l.local_addr().unwrap();
        // A port whose listener is gone refuses connections.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let targets: BTreeMap<String, SocketAddr> =
            [("open".to_string(), open), ("closed".to_string(), closed)]
                .into_iter()
                .collect();
        let r = reach(&targets, 500);
        assert_eq!(r.connect["open"], "ok");
        assert_eq!(r.connect["closed"], "ECONNREFUSED");
        let v = serde_json::to_value(&r).unwrap();
        assert!(v["interfaces"].is_array(), "{v}");
        assert_eq!(v["connect"]["open"], "ok");
    }
}
