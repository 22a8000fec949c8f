//! A veth pair between the helper's throwaway outer network namespace and
//! the sandbox's, set up over rtnetlink before the sandbox is released.
//!
//! The helper has entered its outer network namespace (`outer = ["net"]`,
//! which `VethSpec::validate` demands) before it cloned the sandbox, so
//! no step here touches the host's interfaces, addresses or routes: the
//! pair is made in the outer namespace with its peer end created straight
//! in the sandbox's namespace (by the sandbox's pid), each end gets its
//! address, and both ends and both loopbacks come up, as a container
//! runtime's bridge-less network would. The sandbox is released only once
//! the kernel reports both ends up (operstate up, carrier on, a queueing
//! discipline that transmits): a link-up call returns before that, and a
//! packet sent in between is dropped, which TCP notices only at its first
//! retransmit a second later. No route beyond the pair's prefix
//! is added. Everything goes away with the namespaces: the sandbox's when
//! it exits, the outer one when the helper does.
//!
//! The helper can also hold a TCP listener on every address of the outer
//! namespace (the peer end's, its loopback's, and extra loopback addresses
//! standing in for the host's other addresses): connections complete in
//! the kernel's backlog, nobody accepts them.

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;
use nix::unistd::Pid;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use super::plumbing::step;
use crate::model::error::StepError;
use crate::sys::io_errno;

use crate::model::veth::VethSpec;

/// What the helper holds while the sandbox runs.
pub struct Attached {
    _listener: Option<TcpListener>,
}

/// Sets the pair up for the sandbox `child` (cloned, not yet released),
/// from the helper's outer network namespace.
pub fn attach(v: &VethSpec, child: Pid) -> Result<Attached, StepError> {
    let mut rt = Rtnl::open()?;
    let lo = index_of("lo")?;
    rt.request("link-up", "lo", set_up(lo), false)?;
    for a in &v.outside_lo {
        rt.request(
            "add-address",
            &format!("lo {a}/32"),
            add_address(lo, *a, 32),
            true,
        )?;
    }
    rt.request(
        "add-veth",
        &format!("{} peer {} in pid {child}", v.outside_name, v.inside_name),
        new_veth(&v.outside_name, &v.inside_name, child.as_raw() as u32),
        true,
    )?;
    let out = index_of(&v.outside_name)?;
    rt.request(
        "add-address",
        &format!("{} {}/{}", v.outside_name, v.outside, v.prefix_len),
        add_address(out, v.outside, v.prefix_len),
        true,
    )?;
    rt.request("link-up", &v.outside_name, set_up(out), false)?;
    in_netns_of(child, || {
        let mut rt = Rtnl::open()?;
        let lo = index_of("lo")?;
        rt.request("link-up", "lo (sandbox)", set_up(lo), false)?;
        let inside = index_of(&v.inside_name)?;
        rt.request(
            "add-address",
            &format!("{} {}/{}", v.inside_name, v.inside, v.prefix_len),
            add_address(inside, v.inside, v.prefix_len),
            true,
        )?;
        rt.request("link-up", &v.inside_name, set_up(inside), false)?;
        rt.wait_ready(inside, &v.inside_name)
    })?;
    // The end brought up first gets its carrier only when its peer comes
    // up, and its queueing discipline later still, from the kernel's
    // link-watch worker: until then it drops every packet it is given.
    rt.wait_ready(out, &v.outside_name)?;
    if super::sabotage::hit(super::sabotage::Sabotage::VethDefaultRoute) {
        in_netns_of(child, || default_route_via_peer(v))?;
    }
    let listener = match v.listen_port {
        Some(port) => Some(
            TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
                .map_err(|e| step("listen", &format!("0.0.0.0:{port}"), io_errno(e)))?,
        ),
        None => None,
    };
    Ok(Attached {
        _listener: listener,
    })
}

/// How long a veth end may take to become ready after its link-up call:
/// far beyond the link-watch worker's usual delay (it runs within a second
/// even on a loaded host), short of the sandbox's own timeout.
pub const READY_WAIT: Duration = Duration::from_secs(5);

/// A link's state as the kernel reports it back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkState {
    /// IFF_UP: the link was set up.
    pub admin_up: bool,
    /// IFLA_OPERSTATE is `up` (RFC 2863), set by the link-watch worker.
    pub oper_up: bool,
    /// IFLA_CARRIER: for a veth end, its peer is up too.
    pub carrier: bool,
    /// IFLA_QDISC: `noop` (drops everything) until the link is activated.
    pub qdisc: Option<String>,
}

impl LinkState {
    /// Up, with carrier, and a queueing discipline that transmits: a
    /// packet sent now is not dropped by the link itself.
    pub fn ready(&self) -> bool {
        self.admin_up
            && self.oper_up
            && self.carrier
            && self.qdisc.as_deref().is_some_and(|q| q != "noop")
    }

    fn from_message(m: &LinkMessage) -> LinkState {
        let mut s = LinkState {
            admin_up: m.header.flags.contains(LinkFlags::Up),
            ..Default::default()
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::OperState(st) => s.oper_up = *st == State::Up,
                LinkAttribute::Carrier(c) => s.carrier = *c != 0,
                LinkAttribute::Qdisc(q) => s.qdisc = Some(q.clone()),
                _ => {}
            }
        }
        s
    }
}

fn index_of(name: &str) -> Result<u32, StepError> {
    nix::net::if_::if_nametoindex(name).map_err(|e| step("if_nametoindex", name, e))
}

/// Runs `f` in the network namespace of `pid`, then returns to this one.
fn in_netns_of<T>(pid: Pid, f: impl FnOnce() -> Result<T, StepError>) -> Result<T, StepError> {
    use nix::sched::{setns, CloneFlags};
    let open = |p: String| std::fs::File::open(&p).map_err(|e| step("open-netns", &p, io_errno(e)));
    let own = open("/proc/self/ns/net".into())?;
    let theirs = open(format!("/proc/{pid}/ns/net"))?;
    setns(&theirs, CloneFlags::CLONE_NEWNET)
        .map_err(|e| step("setns", &format!("/proc/{pid}/ns/net"), e))?;
    let r = f();
    // Back home before anything else: the listener belongs outside.
    setns(&own, CloneFlags::CLONE_NEWNET)
        .map_err(|e| step("setns-back", "/proc/self/ns/net", e))?;
    r
}

/// A veth pair: `outside` here, its peer `inside` made in the network
/// namespace of `pid`.
pub fn new_veth(outside: &str, inside: &str, pid: u32) -> RouteNetlinkMessage {
    let mut peer = LinkMessage::default();
    peer.attributes = vec![
        LinkAttribute::IfName(inside.into()),
        LinkAttribute::NetNsPid(pid),
    ];
    let mut m = LinkMessage::default();
    m.attributes = vec![
        LinkAttribute::IfName(outside.into()),
        LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]),
    ];
    RouteNetlinkMessage::NewLink(m)
}

/// Asks for the link `index`.
pub fn get_link(index: u32) -> RouteNetlinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    RouteNetlinkMessage::GetLink(m)
}

/// Sets IFF_UP on the link `index`.
pub fn set_up(index: u32) -> RouteNetlinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
    RouteNetlinkMessage::NewLink(m)
}

/// Adds `addr/prefix_len` to the link `index` (its prefix route comes with it).
pub fn add_address(index: u32, addr: Ipv4Addr, prefix_len: u8) -> RouteNetlinkMessage {
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.prefix_len = prefix_len;
    m.header.index = index;
    m.attributes = vec![
        AddressAttribute::Local(IpAddr::V4(addr)),
        AddressAttribute::Address(IpAddr::V4(addr)),
    ];
    RouteNetlinkMessage::NewAddress(m)
}

/// A route netlink socket of the calling thread's network namespace.
struct Rtnl {
    sock: Socket,
    seq: u32,
}

impl Rtnl {
    fn open() -> Result<Rtnl, StepError> {
        let err = |e: std::io::Error| step("netlink-socket", "NETLINK_ROUTE", io_errno(e));
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(err)?;
        sock.bind_auto().map_err(err)?;
        sock.connect(&SocketAddr::new(0, 0)).map_err(err)?;
        Ok(Rtnl { sock, seq: 0 })
    }

    /// Sends one request and waits for the kernel's acknowledgement.
    fn request(
        &mut self,
        what: &str,
        target: &str,
        msg: RouteNetlinkMessage,
        create: bool,
    ) -> Result<(), StepError> {
        self.seq += 1;
        let buf = encode(msg, self.seq, create);
        let fail = |e: Errno| step(what, target, e);
        self.sock.send(&buf, 0).map_err(|e| fail(io_errno(e)))?;
        loop {
            let mut rx: Vec<u8> = Vec::with_capacity(16384);
            self.sock.recv(&mut rx, 0).map_err(|e| fail(io_errno(e)))?;
            if let Some(answer) = ack_of(&rx, self.seq) {
                return answer.map_err(fail);
            }
        }
    }
}

impl Rtnl {
    /// The state of the link `index`, asked for now.
    fn link_state(&mut self, index: u32, name: &str) -> Result<LinkState, StepError> {
        self.seq += 1;
        let buf = encode(get_link(index), self.seq, false);
        let fail = |e: Errno| step("get-link", name, e);
        self.sock.send(&buf, 0).map_err(|e| fail(io_errno(e)))?;
        loop {
            let mut rx: Vec<u8> = Vec::with_capacity(16384);
            self.sock.recv(&mut rx, 0).map_err(|e| fail(io_errno(e)))?;
            if let Some(answer) = link_of(&rx, self.seq) {
                return answer.map(|m| LinkState::from_message(&m)).map_err(fail);
            }
        }
    }

    /// Waits until the link `index` is [`LinkState::ready`], asking the
    /// kernel every millisecond, for at most [`READY_WAIT`]. A link that
    /// never gets there is a set-up error naming what it lacked.
    fn wait_ready(&mut self, index: u32, name: &str) -> Result<(), StepError> {
        let start = Instant::now();
        loop {
            let state = self.link_state(index, name)?;
            if state.ready() {
                return Ok(());
            }
            if start.elapsed() >= READY_WAIT {
                return Err(step(
                    "veth-ready",
                    &format!("{name} after {READY_WAIT:?}: {state:?}"),
                    Errno::ETIMEDOUT,
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One request as bytes: asks for an acknowledgement; `create` also for
/// a new object that must not exist yet.
pub fn encode(msg: RouteNetlinkMessage, seq: u32, create: bool) -> Vec<u8> {
    let mut hdr = NetlinkHeader::default();
    hdr.flags = NLM_F_REQUEST | NLM_F_ACK;
    if create {
        hdr.flags |= NLM_F_CREATE | NLM_F_EXCL;
    }
    hdr.sequence_number = seq;
    let mut nl = NetlinkMessage::new(hdr, NetlinkPayload::from(msg));
    nl.finalize();
    let mut buf = vec![0; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// The first answer to request `seq` in a datagram that `pick` takes, or
/// a malformed datagram as `EBADMSG`.
fn answer_to<T>(
    datagram: &[u8],
    seq: u32,
    pick: impl Fn(NetlinkPayload<RouteNetlinkMessage>) -> Option<Result<T, Errno>>,
) -> Option<Result<T, Errno>> {
    let mut off = 0;
    while off + 16 <= datagram.len() {
        let len = u32::from_ne_bytes(datagram[off..off + 4].try_into().ok()?) as usize;
        if len < 16 || off + len > datagram.len() {
            return Some(Err(Errno::EBADMSG));
        }
        let part = &datagram[off..off + len];
        if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(part) {
            if m.header.sequence_number == seq {
                if let Some(answer) = pick(m.payload) {
                    return Some(answer);
                }
            }
        }
        off += (len + 3) & !3;
    }
    None
}

/// The errno of a netlink error message (its code is negative).
fn errno_of(code: std::num::NonZeroI32) -> Errno {
    Errno::from_raw(code.get().abs())
}

/// The acknowledgement of request `seq` in a datagram, if there is one:
/// `Ok` for success, else the errno the kernel answered with.
pub fn ack_of(datagram: &[u8], seq: u32) -> Option<Result<(), Errno>> {
    answer_to(datagram, seq, |payload| match payload {
        NetlinkPayload::Error(e) => Some(e.code.map_or(Ok(()), |c| Err(errno_of(c)))),
        _ => None,
    })
}

/// The answer to the link request `seq` in a datagram, if there is one:
/// the link, or the errno the kernel answered with.
pub fn link_of(datagram: &[u8], seq: u32) -> Option<Result<LinkMessage, Errno>> {
    answer_to(datagram, seq, |payload| match payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => Some(Ok(l)),
        NetlinkPayload::Error(e) => e.code.map(|c| Err(errno_of(c))),
        _ => None,
    })
}

/// The `veth-default-route` sabotage: a default route in the sandbox
/// through the pair's outer end.
fn default_route_via_peer(v: &VethSpec) -> Result<(), StepError> {
    let mut rt = Rtnl::open()?;
    let inside = index_of(&v.inside_name)?;
    let route = super::sabotage::default_route(inside, v.outside);
    rt.request(
        "add-route",
        &format!("default via {}", v.outside),
        route,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_veth_request_creates_the_peer_in_the_sandboxs_namespace() {
        let buf = encode(new_veth("veth-outer", "veth0", 4242), 7, true);
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf).unwrap();
        assert_eq!(m.header.sequence_number, 7);
        assert_eq!(
            m.header.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) = m.payload else {
            panic!("not a new link: {m:?}")
        };
        assert!(link
            .attributes
            .contains(&LinkAttribute::IfName("veth-outer".into())));
        let peer = link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
                    LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))) => Some(p.clone()),
                    _ => None,
                }),
                _ => None,
            })
            .expect("a peer");
        assert_eq!(
            peer.attributes,
            vec![
                LinkAttribute::IfName("veth0".into()),
                LinkAttribute::NetNsPid(4242)
            ]
        );
    }

    #[test]
    fn address_and_up_requests_name_the_link() {
        let RouteNetlinkMessage::NewAddress(a) = add_address(3, Ipv4Addr::new(10, 200, 0, 2), 30)
        else {
            panic!()
        };
        assert_eq!(
            (a.header.index, a.header.prefix_len, a.header.family),
            (3, 30, AddressFamily::Inet)
        );
        assert!(a
            .attributes
            .contains(&AddressAttribute::Local("10.200.0.2".parse().unwrap())));
        let RouteNetlinkMessage::NewLink(l) = set_up(5) else {
            panic!()
        };
        assert_eq!(
            (l.header.index, l.header.flags, l.header.change_mask),
            (5, LinkFlags::Up, LinkFlags::Up)
        );
    }

    /// An NLMSG_ERROR message answering `seq` with `code` (0 is an ack).
    fn answer(seq: u32, code: i32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&36u32.to_ne_bytes()); // length: header + code + the request's header
        b.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
        b.extend_from_slice(&0u16.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&code.to_ne_bytes());
        b.extend_from_slice(&[0u8; 16]);
        b
    }

    /// A link as the kernel answers a get-link request with `seq`.
    fn link_answer(seq: u32, up: bool, attrs: Vec<LinkAttribute>) -> Vec<u8> {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        if up {
            m.header.flags = LinkFlags::Up;
        }
        m.attributes = attrs;
        let mut hdr = NetlinkHeader::default();
        hdr.sequence_number = seq;
        let mut nl =
            NetlinkMessage::new(hdr, NetlinkPayload::from(RouteNetlinkMessage::NewLink(m)));
        nl.finalize();
        let mut buf = vec![0; nl.buffer_len()];
        nl.serialize(&mut buf);
        buf
    }

    fn state_of(up: bool, attrs: Vec<LinkAttribute>) -> LinkState {
        let l = link_of(&link_answer(9, up, attrs), 9).unwrap().unwrap();
        LinkState::from_message(&l)
    }

    #[test]
    fn a_link_is_ready_only_up_with_carrier_and_a_transmitting_qdisc() {
        let all = || {
            vec![
                LinkAttribute::OperState(State::Up),
                LinkAttribute::Carrier(1),
                LinkAttribute::Qdisc("noqueue".into()),
            ]
        };
        let ready = state_of(true, all());
        assert!(ready.ready(), "{ready:?}");
        assert!(!state_of(false, all()).ready(), "not set up");
        // Each missing piece alone keeps it unready.
        let mut lower_down = all();
        lower_down[0] = LinkAttribute::OperState(State::LowerLayerDown);
        assert!(!state_of(true, lower_down).ready());
        let mut no_carrier = all();
        no_carrier[1] = LinkAttribute::Carrier(0);
        assert!(!state_of(true, no_carrier).ready());
        let mut noop = all();
        noop[2] = LinkAttribute::Qdisc("noop".into());
        assert!(!state_of(true, noop).ready(), "noop drops every packet");
        assert!(!state_of(true, all()[..2].to_vec()).ready(), "no qdisc");
    }

    #[test]
    fn a_link_answer_is_read_for_its_own_request() {
        assert!(link_of(&link_answer(3, true, vec![]), 4).is_none());
        assert_eq!(link_of(&answer(4, -19), 4), Some(Err(Errno::ENODEV)));
        assert_eq!(link_of(&answer(4, 0), 4), None, "a bare ack is no link");
        let two = [answer(3, 0), link_answer(4, true, vec![])].concat();
        assert_eq!(link_of(&two, 4).unwrap().unwrap().header.index, 7);
    }

    #[test]
    fn acks_and_errors_are_read_for_their_own_request() {
        assert_eq!(ack_of(&answer(4, 0), 4), Some(Ok(())));
        assert_eq!(ack_of(&answer(4, -17), 4), Some(Err(Errno::EEXIST)));
        assert_eq!(ack_of(&answer(3, 0), 4), None, "another request's answer");
        let two = [answer(3, 0), answer(4, -1)].concat();
        assert_eq!(ack_of(&two, 4), Some(Err(Errno::EPERM)));
        assert_eq!(ack_of(&[1, 2, 3], 4), None);
    }
}
