//! Reachability: TCP connects from inside the sandbox to named addresses,
//! with the interfaces and routes the sandbox sees.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::net::NetView;
use super::schema::{self, f, rare_list_at, Field, Ty};
use super::Def;

/// How long a connect waits for an answer, in milliseconds: far from the
/// kernel's retransmit times (a SYN is sent again after 1 s and 3 s, an
/// ARP request every second), so one lost packet is retried twice before
/// the probe gives up. Every answer the suite expects (a connection, a
/// refusal, no route) comes in microseconds; only silence waits this long.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;

/// The value a connect reports when nothing answered within its timeout:
/// not an errno, which would be the kernel's own answer.
pub const NO_ANSWER: &str = "no-answer";

pub fn default_timeout_ms() -> u64 {
    CONNECT_TIMEOUT_MS
}

#[derive(Serialize, Debug)]
pub struct ReachReport {
    /// Per name: `"ok"` when the connection was accepted, the errno the
    /// kernel answered with (`ENETUNREACH`, `ECONNREFUSED` ...), or
    /// [`NO_ANSWER`] when nothing answered within the timeout.
    pub connect: BTreeMap<String, String>,
    /// The names nothing answered within the timeout: the probe could not
    /// tell a refusal from a lost packet for them.
    pub no_answer: Vec<String>,
    #[serde(flatten)]
    pub view: NetView,
}

/// Connects to each address once, with a timeout, and closes at once.
pub fn reach(targets: &BTreeMap<String, SocketAddr>, timeout_ms: u64) -> ReachReport {
    let timeout = Duration::from_millis(timeout_ms.max(1));
    let connect: BTreeMap<String, String> = targets
        .iter()
        .map(|(name, addr)| (name.clone(), connect_outcome(addr, timeout)))
        .collect();
    let no_answer = connect
        .iter()
        .filter(|(_, o)| *o == NO_ANSWER)
        .map(|(n, _)| n.clone())
        .collect();
    ReachReport {
        connect,
        no_answer,
        view: super::net::view(),
    }
}

/// `"ok"`, the kernel's errno, or [`NO_ANSWER`] when the wait ran out.
pub fn connect_outcome(addr: &SocketAddr, timeout: Duration) -> String {
    match TcpStream::connect_timeout(addr, timeout) {
        Ok(_) => "ok".into(),
        // The standard library's own timeout carries no errno; an
        // ETIMEDOUT from the kernel (its SYN retries exhausted) does.
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut && e.raw_os_error().is_none() => {
            NO_ANSWER.into()
        }
        Err(e) => super::io_outcome::<()>(Err(e)),
    }
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `net-reach`: TCP connects to each named address (`peer =
/// "10.200.0.1:4242"`) and reports `"ok"` or the errno, with the
/// interfaces and routes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NetReachArgs {
    pub connect: BTreeMap<String, SocketAddr>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl Def for NetReachArgs {
    type Output = ReachReport;
    fn run(&self) -> ReachReport {
        reach(&self.connect, self.timeout_ms)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.connect", Ty::Object));
        v.extend(
            self.connect
                .keys()
                .map(|k| f(format!("probe.connect.{k}"), Ty::Outcome)),
        );
        v.extend(rare_list_at("probe.no_answer".into(), Ty::Str));
        schema::net_view(v);
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
        assert!(r.no_answer.is_empty(), "{r:?}");
        let v = serde_json::to_value(&r).unwrap();
        assert!(v["interfaces"].is_array(), "{v}");
        assert_eq!(v["connect"]["open"], "ok");
    }

    #[test]
    fn silence_is_no_answer_not_an_errno() {
        // A listener whose backlog is full drops further SYNs: nothing
        // answers. (Loopback; the port is only ever used by this test.)
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut silent = None;
        for _ in 0..10_000 {
            let o = connect_outcome(&addr, Duration::from_millis(200));
            if o != "ok" {
                silent = Some(o);
                break;
            }
        }
        drop(l);
        assert_eq!(silent.as_deref(), Some(NO_ANSWER));
    }
}
