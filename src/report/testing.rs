//! Small hand-made reports for the reporters' tests.
//!
//! [`sample_report`] covers all four outcomes, both modes, test and control
//! variants, a skip with a hint, and hostile strings (`<script>`, quotes,
//! ampersands) in details and observations. [`sample_report_newer`] is the
//! same suite on a later kernel, changed so that a diff or a matrix of the
//! two has one of everything: a regression, a fix, a skip change, a new and
//! a vanished case.

use serde_json::json;
use std::collections::BTreeMap;

use crate::model::cgroup::Layout;
use crate::model::host::{CgroupFacts, Credentials, Distro, HostFacts, Kernel};

use crate::model::events::{Event, Sink};
use crate::model::result::*;

/// A hostile string: markup, both quote kinds, an ampersand and an entity.
pub const HOSTILE: &str = r#"<script>alert("pwned" & 'x')</script> &amp; <b>"#;

pub fn sample_host() -> HostFacts {
    let mut extra = BTreeMap::new();
    extra.insert(
        "sysctl".to_string(),
        json!({"kernel.unprivileged_userns_clone": 1, "user.max_user_namespaces": 63704}),
    );
    HostFacts {
        kernel: Kernel {
            release: "6.1.0-43-amd64".into(),
            version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.162-1 (2026-01-20)".into(),
        },
        distro: Distro {
            id: "debian".into(),
            version_id: "12".into(),
            pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            ..Default::default()
        },
        arch: "x86_64".into(),
        cmdline: "BOOT_IMAGE=/vmlinuz-6.1.0-43-amd64 root=/dev/vda1 ro quiet".into(),
        lsms: vec![
            "lockdown".into(),
            "capability".into(),
            "landlock".into(),
            "apparmor".into(),
        ],
        cgroup: CgroupFacts {
            layout: Layout::Hybrid,
            v1_controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
            v2_controllers: vec![],
            ..Default::default()
        },
        runner: Credentials {
            uid: 0,
            gid: 0,
            effective_caps: vec!["CAP_CHOWN".into(), "CAP_SYS_ADMIN".into()],
            bounding_caps: vec!["CAP_CHOWN".into(), "CAP_SYS_ADMIN".into()],
            ..Default::default()
        },
        extra,
        ..Default::default()
    }
}

/// One case; `id` and `area` follow from the property, mode and variant.
pub fn case(
    property: &str,
    mode: Mode,
    variant: Variant,
    outcome: Outcome,
    reason: Option<Reason>,
) -> CaseResult {
    CaseResult {
        id: format!("{property}/{mode}/{variant}"),
        property: property.into(),
        area: property.split('.').next().unwrap_or(property).into(),
        mode,
        variant,
        outcome,
        reason,
        description: String::new(),
        tags: Vec::new(),
        expected: serde_json::Value::Null,
        observed: serde_json::Value::Null,
        requirements: Vec::new(),
        duration_ms: 1.25,
    }
}

fn with(
    mut c: CaseResult,
    description: &str,
    expected: serde_json::Value,
    observed: serde_json::Value,
) -> CaseResult {
    c.description = description.into();
    c.expected = expected;
    c.observed = observed;
    c
}

/// Sets a case's tags.
trait Tagged {
    fn tagged(self, tags: &[&str]) -> Self;
}

impl Tagged for CaseResult {
    fn tagged(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }
}

fn report_of(host: HostFacts, cases: Vec<CaseResult>) -> Report {
    let mut labels = BTreeMap::new();
    labels.insert(
        "layout".to_string(),
        host.cgroup.layout.as_str().to_string(),
    );
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "isocheck".into(),
            version: "0.1.0".into(),
        },
        host,
        started_at: "2026-11-23T19:26:32Z".into(),
        duration_ms: 1534.5,
        summary: Summary::of(&cases),
        cases,
        labels,
        audit: None,
        interrupted: None,
    }
}

fn base_cases() -> Vec<CaseResult> {
    use Mode::*;
    use Outcome::*;
    use Variant::*;
    let pid1 = "The sandbox's first process sees itself as pid 1";
    let host_name = "A hostname set inside does not change the host's";
    vec![
        with(
            case("pid.pid1", Rootful, Test, Pass, None),
            pid1,
            json!({"pid": 1}),
            json!({"pid": 1, "host_pid": 48213}),
        ),
        with(
            case("pid.pid1", Rootful, Control, Pass, None),
            pid1,
            json!({"pid": {"not": 1}}),
            json!({"pid": 48214, "host_pid": 48214}),
        ),
        with(
            case("pid.pid1", Rootless, Test, Pass, None),
            pid1,
            json!({"pid": 1}),
            json!({"pid": 1, "host_pid": 48220}),
        ),
        with(
            case("pid.pid1", Rootless, Control, Pass, None),
            pid1,
            json!({"pid": {"not": 1}}),
            json!({"pid": 48221, "host_pid": 48221}),
        ),
        with(
            case(
                "uts.hostname",
                Rootful,
                Test,
                Fail,
                Some(Reason::new(
                    ReasonKind::PromiseBroken,
                    format!("host hostname became {HOSTILE}"),
                )),
            ),
            host_name,
            json!({"host_hostname": "unchanged"}),
            json!({"host_hostname": HOSTILE, "inside": "sandbox & \"friends\""}),
        )
        .tagged(&["linux 2.6", "CVE-2099-0001"]),
        with(
            case("uts.hostname", Rootful, Control, Pass, None),
            host_name,
            json!({"host_hostname": "changed"}),
            json!({"host_hostname": "sandbox"}),
        )
        .tagged(&["linux 2.6", "CVE-2099-0001"]),
        {
            let mut c = with(
                case(
                    "net.empty",
                    Rootless,
                    Test,
                    Skip,
                    Some(
                        Reason::new(
                            ReasonKind::SysctlPolicy,
                            "kernel.unprivileged_userns_clone = 0",
                        )
                        .with_hint("sysctl -w kernel.unprivileged_userns_clone=1"),
                    ),
                ),
                "A new network namespace has only a loopback device, down",
                json!({"links": ["lo"]}),
                serde_json::Value::Null,
            );
            c.requirements.push(RequirementCheck {
                requirement: "userns".into(),
                met: false,
                probe: "sysctl kernel.unprivileged_userns_clone".into(),
                observed: "0".into(),
            });
            c.duration_ms = 0.0;
            c
        },
        with(
            case(
                "cgroup.memory_oom",
                Rootful,
                Test,
                Error,
                Some(Reason::new(
                    ReasonKind::ControlErrored,
                    "the control timed out, so the test proves nothing",
                )),
            ),
            "A hog over its memory cap is killed by the OOM killer",
            json!({"oom_kill": {"at_least": 1}, "signal": "SIGKILL"}),
            json!({"oom_kill": 1, "signal": "SIGKILL", "evidence": "memory.oom_control & memory.events"}),
        ),
        with(
            case(
                "cgroup.memory_oom",
                Rootful,
                Control,
                Error,
                Some(Reason::new(ReasonKind::Timeout, "killed after 10000 ms")),
            ),
            "A hog over its memory cap is killed by the OOM killer",
            json!({"oom_kill": 0}),
            serde_json::Value::Null,
        ),
        with(
            case("mount.ro_bind", Rootful, Test, Pass, None),
            "A read-only bind mount cannot be written",
            json!({"write": "EROFS"}),
            json!({"write": "EROFS", "mountinfo": "/ro ro,nosuid - ext4 <dev> rw 'x' & \"y\""}),
        ),
        with(
            case("mount.ro_bind", Rootful, Control, Pass, None),
            "A read-only bind mount cannot be written",
            json!({"write": "ok"}),
            json!({"write": "ok"}),
        ),
        with(
            case(
                "mount.ro_bind",
                Rootless,
                Test,
                Fail,
                Some(Reason::new(
                    ReasonKind::PromiseBroken,
                    "write to /ro succeeded",
                )),
            ),
            "A read-only bind mount cannot be written",
            json!({"write": "EROFS"}),
            json!({"write": "ok"}),
        ),
    ]
}

/// One run on a 6.1 kernel with a hybrid cgroup layout.
pub fn sample_report() -> Report {
    report_of(sample_host(), base_cases())
}

/// The same suite on a 6.12 kernel with a unified layout: `pid.pid1`
/// rootful test regressed, `uts.hostname` rootful test fixed, the
/// `net.empty` skip changed its reason, `cgroup.memory_oom` rootful control
/// vanished and `time.offsets` is new.
pub fn sample_report_newer() -> Report {
    use Mode::*;
    use Outcome::*;
    use Variant::*;
    let mut host = sample_host();
    host.kernel = Kernel {
        release: "6.12.57+deb12-amd64".into(),
        version: "#1 SMP PREEMPT_DYNAMIC Debian 6.12.57-1~bpo12+1 (2026-02-02)".into(),
    };
    host.cgroup = CgroupFacts {
        layout: Layout::Unified,
        v1_controllers: vec![],
        v2_controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
        ..Default::default()
    };
    let mut cases = base_cases();
    cases.retain(|c| c.id != "cgroup.memory_oom/rootful/control");
    for c in &mut cases {
        match c.id.as_str() {
            "pid.pid1/rootful/test" => {
                c.outcome = Fail;
                c.reason = Some(Reason::new(
                    ReasonKind::PromiseBroken,
                    "saw pid 48213, want 1",
                ));
                c.observed = json!({"pid": 48213, "host_pid": 48213});
            }
            "uts.hostname/rootful/test" => {
                c.outcome = Pass;
                c.reason = None;
                c.observed = json!({"host_hostname": "unchanged"});
            }
            "net.empty/rootless/test" => {
                c.reason = Some(
                    Reason::new(ReasonKind::LsmDenied, "apparmor denied userns_create")
                        .with_hint("set kernel.apparmor_restrict_unprivileged_userns=0"),
                );
            }
            _ => {}
        }
    }
    cases.push(with(
        case("time.offsets", Rootless, Test, Pass, None),
        "A time namespace's monotonic offset is seen inside only",
        json!({"offset_s": 86400}),
        json!({"offset_s": 86400}),
    ));
    report_of(host, cases)
}

/// Plays a report back as the event stream its run would have sent: the
/// plan is the report's cases, each finishing in its place.
pub fn replay(report: &Report, sink: &mut dyn Sink) {
    let plan: Vec<String> = report.cases.iter().map(|c| c.id.clone()).collect();
    sink.event(&Event::RunStarted {
        host: &report.host,
        started_at: &report.started_at,
        labels: &report.labels,
        plan: &plan,
        planned: report.cases.len(),
    })
    .unwrap();
    for (index, case) in report.cases.iter().enumerate() {
        sink.event(&Event::CaseStarted {
            index,
            id: &case.id,
        })
        .unwrap();
    }
    for (index, case) in report.cases.iter().enumerate() {
        sink.event(&Event::CaseFinished { index, case }).unwrap();
    }
    if let Some(audit) = &report.audit {
        sink.event(&Event::AuditFinished(audit)).unwrap();
    }
    sink.event(&Event::RunFinished {
        summary: &report.summary,
        duration_ms: report.duration_ms,
        interrupted: report.interrupted.as_deref(),
    })
    .unwrap();
}
