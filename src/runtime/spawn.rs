//! The runner side of one sandbox: a scratch directory and a cgroup made
//! for it, the helper process started and waited for with a timeout that
//! kills its whole process group, and everything removed afterwards, also
//! when the probe crashed or hung.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cgroups::{self, CgroupStats, SandboxCgroup};
use super::execcopy;
use super::helper::HELPER_ARG;
use super::protocol::RootlessPlan;
use super::protocol::{HelperReport, HelperRequest};
use super::workdir::WorkDir;
use super::zygote::Zygote;
use crate::model::cgroup::Layout;
use crate::model::namespace::Namespace;
use crate::model::scaffold::{ExecCopy, EXEC_COPY_NAME, MARKER_NAME};
use crate::model::spec::SandboxSpec;
use crate::probe::Probe;

/// Extra time the runner gives the helper past the sandbox's own timeout
/// before it kills the helper's whole process group.
pub const HELPER_GRACE: Duration = Duration::from_secs(5);

/// One owner of one file in the scratch directory, seen from the host.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FileOwner {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Rootless with subordinate ids only: the id of the rootless user
    /// namespace the owner stands for by /etc/subuid as read after the run
    /// (0: the rootless user itself), not by the map the runtime wrote;
    /// absent when the owner is neither that user nor in its first range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subuid_id: Option<u32>,
    /// The same for the group owner, by /etc/subgid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgid_id: Option<u32>,
}

/// What was seen outside the sandbox, after it ended.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Outside {
    pub hostname_before: String,
    pub hostname_after: String,
    /// Files in the scratch directory with their host owners.
    pub scratch: Vec<FileOwner>,
    pub cgroup: Option<CgroupStats>,
    /// What a process that joined the sandbox saw (spec `join`).
    pub joiner: Option<super::join::JoinView>,
    /// What the seccomp supervisor received (spec `seccomp_supervisor`).
    #[serde(default)]
    pub notify: Option<super::notify::NotifyView>,
    /// A signal the helper sent the sandbox's init through a pidfd (spec
    /// `pidfd_signal`).
    #[serde(default)]
    pub pidfd_signal: Option<super::scaffold::SignalView>,
    /// Mount points below the scratch directory that the helper saw in its
    /// own mount table after the sandbox ended (relative paths).
    #[serde(default)]
    pub scratch_mounts: Vec<String>,
    /// The task the probe left outside the sandbox's session, as the
    /// helper saw it once the main process had ended (spec `leftovers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escapee: Option<super::protocol::Escapee>,
}

/// Whose ids the sandbox's files get on the host.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct IdView {
    /// /proc/self/uid_map as the sandbox saw it, lines joined by `; `.
    pub uid_map: String,
    /// The host uid and gid the sandbox's root stands for.
    pub root_uid: u32,
    pub root_gid: u32,
    /// In rootless mode, the unprivileged user owning the user namespace.
    pub rootless_uid: Option<u32>,
}

/// Everything observed about one sandbox run: what expectations read.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub probe: Option<serde_json::Value>,
    pub exit: Option<super::protocol::ExitInfo>,
    pub timed_out: bool,
    pub setup: Option<super::init::SetupRecord>,
    pub setup_error: Option<crate::model::error::StepError>,
    pub outside: Outside,
    pub ids: IdView,
    /// Processes left behind by the sandbox that the helper killed.
    pub swept: usize,
    pub sandbox_us: u64,
    /// Sabotages whose steps ran with their bug for this sandbox (feature
    /// `sabotage`): in the runner, the helper, the worker and the sandbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sabotage_fired: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("invalid sandbox spec: {0}")]
    Spec(String),
    #[error("failed to prepare {what} at {path}: {source}")]
    Prepare {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Cgroup(#[from] cgroups::CgroupError),
    #[error("failed to start the helper {path}: {source}")]
    Start {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The helper (or the zygote serving the sandbox in place) had not
    /// answered by its `deadline`; it was ended `after` that long, a
    /// little later when a zygote was first asked to end its sandbox.
    #[error("the helper outlived its deadline of {deadline:?} and was killed after {:.1} s", after.as_secs_f64())]
    HelperTimeout { deadline: Duration, after: Duration },
    /// The zygote that served the sandbox did not report how its helper
    /// ended (it died, or stayed stopped).
    #[error("the zygote serving the sandbox did not report its end: {0}")]
    ZygoteSilent(String),
    #[error("the helper failed (status {status}): {stderr}")]
    Helper { status: String, stderr: String },
    #[error("the helper's report is not valid: {0}")]
    Protocol(String),
    #[error(transparent)]
    Work(#[from] super::workdir::WorkError),
    #[error("the run was interrupted")]
    Interrupted,
}

/// Where sandboxes are run from: the helper binary and the run's work
/// directory (the new roots' mount point and the scratch directories; a
/// private tmpfs as root, see [`super::workdir`]), removed on drop.
pub struct Launcher {
    pub helper: PathBuf,
    pub layout: Layout,
    /// The work directory as the runner reaches it.
    work: PathBuf,
    /// Below `work`, reachable by root only: the exec copies (setuid and
    /// file-capability copies of isocheck) and the rootful scratch
    /// directories they are linked into.
    private: PathBuf,
    counter: AtomicU64,
    /// Exec copies made so far, by [`execcopy::key`].
    exec_copies: Mutex<std::collections::HashMap<String, PathBuf>>,
    /// The signal that interrupted the run, 0 while none did.
    interrupted: Arc<AtomicI32>,
    /// What serves each sandbox running now, for an interrupt to stop.
    live: Mutex<HashSet<Serving>>,
    /// Idle helper zygotes ([`super::zygote`]); `None` when every helper is
    /// started anew (the launcher was made with [`Launcher::one_shot`], or
    /// the binary did not answer as a zygote). Ended before the work
    /// directory goes.
    zygotes: Mutex<Option<Vec<Zygote>>>,
    /// Dropped last: the work directory and the run's identity.
    dir: WorkDir,
}

impl Drop for Launcher {
    /// Ends the idle zygotes together, and the work namespace while they
    /// exit (a zygote's exit unmaps a copy of the runner: a millisecond or
    /// more each, here); the run's lock cgroup goes only after every zygote
    /// is reaped.
    fn drop(&mut self) {
        let pool = self
            .zygotes
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut pool = pool.unwrap_or_default();
        super::zygote::kill_all(&mut pool);
        self.dir.end_namespace();
        // Each drop reaps its zygote.
        drop(pool);
    }
}

impl Launcher {
    /// A launcher that forks helpers from zygotes of `helper` (falling
    /// back to starting `helper` for each sandbox when it does not answer
    /// as one).
    pub fn new(helper: impl Into<PathBuf>) -> Result<Launcher, SpawnError> {
        let l = Launcher::one_shot(helper)?;
        *l.zygotes.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
        Ok(l)
    }

    /// A launcher that starts `helper` anew for every sandbox.
    pub fn one_shot(helper: impl Into<PathBuf>) -> Result<Launcher, SpawnError> {
        let helper = helper.into();
        let layout = cgroups::detect_layout();
        let dir = WorkDir::new(&helper, layout)?;
        let work = dir.here.clone();
        let private = work.join("private");
        if !private.exists() {
            // A plain work directory (no root): made here.
            std::fs::create_dir(work.join("root"))
                .and_then(|()| std::fs::create_dir(&private))
                .and_then(|()| {
                    std::fs::set_permissions(
                        &private,
                        std::os::unix::fs::PermissionsExt::from_mode(0o700),
                    )
                })
                .map_err(|source| SpawnError::Prepare {
                    what: "private work directory",
                    path: private.clone(),
                    source,
                })?;
        }
        Ok(Launcher {
            helper,
            layout,
            work,
            private,
            counter: AtomicU64::new(0),
            exec_copies: Mutex::new(Default::default()),
            interrupted: Arc::new(AtomicI32::new(0)),
            live: Mutex::new(HashSet::new()),
            zygotes: Mutex::new(None),
            dir,
        })
    }

    /// The run's tag: it names the work directory and every cgroup made.
    pub fn tag(&self) -> &str {
        &self.dir.tag
    }

    /// The empty directory of the work directory that sandboxes mount
    /// their new roots on, as they see it. Each mounts on it in its own
    /// mount namespace: a mount there is seen by no other sandbox, nor by
    /// the host.
    pub fn root_dir(&self) -> PathBuf {
        self.dir.there.join("root")
    }

    /// Stops the run: every helper running now is killed with its process
    /// group (the sandboxes die with it), every zygote serving in place is
    /// told to end its sandbox, and no helper starts from now on
    /// ([`SpawnError::Interrupted`]). `signal` is the one that asked.
    pub fn interrupt(&self, signal: i32) {
        self.interrupted.store(signal.max(1), Ordering::SeqCst);
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        for serving in live.iter() {
            serving.stop();
        }
    }

    /// The signal that interrupted the run, if one did.
    pub fn interrupted(&self) -> Option<i32> {
        match self.interrupted.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Runs `probe` in a sandbox built from `spec` (rootful). `name`
    /// labels the cgroup.
    /// The exec copy `copy` asks for, made on first use (a copy of a large
    /// binary takes tens of milliseconds: [`Launcher::prepare`] makes them
    /// before the cases run, so no case's time includes it).
    fn exec_copy(&self, copy: &ExecCopy) -> Result<PathBuf, SpawnError> {
        let key = execcopy::key(copy);
        let mut made = self.exec_copies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = made.get(&key) {
            return Ok(p.clone());
        }
        let path = self.private.join(&key);
        execcopy::make(&self.helper, &path, copy).map_err(|source| SpawnError::Prepare {
            what: "exec copy of isocheck",
            path: path.clone(),
            source,
        })?;
        made.insert(key, path.clone());
        Ok(path)
    }

    /// Makes what these sandboxes will need ahead of their runs.
    pub fn prepare<'a>(
        &self,
        specs: impl IntoIterator<Item = &'a SandboxSpec>,
    ) -> Result<(), SpawnError> {
        for spec in specs {
            if let Some(copy) = &spec.scaffold.exec_copy {
                self.exec_copy(copy)?;
            }
        }
        Ok(())
    }

    /// Runs `probe` in a sandbox built from `spec`. `name` labels the cgroup.
    pub fn run(
        &self,
        name: &str,
        spec: &SandboxSpec,
        probe: &Probe,
    ) -> Result<Observation, SpawnError> {
        self.run_as(name, spec, probe, None)
    }

    /// Runs `probe` in a sandbox built from `spec`; with a rootless plan,
    /// from inside a user namespace owned by the plan's unprivileged uid.
    pub fn run_as(
        &self,
        name: &str,
        spec: &SandboxSpec,
        probe: &Probe,
        rootless: Option<&RootlessPlan>,
    ) -> Result<Observation, SpawnError> {
        let result = self.run_as_inner(name, spec, probe, rootless);
        if result.is_err() {
            // Sabotage records of a run that produced no observation must
            // not be counted for the next one on this thread.
            super::sabotage::take_fired();
        }
        result
    }

    fn run_as_inner(
        &self,
        name: &str,
        spec: &SandboxSpec,
        probe: &Probe,
        rootless: Option<&RootlessPlan>,
    ) -> Result<Observation, SpawnError> {
        spec.validate().map_err(SpawnError::Spec)?;
        if self.interrupted().is_some() {
            return Err(SpawnError::Interrupted);
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // A user namespace's root must reach its scratch directory through
        // the host path; a rootful sandbox binds it as root.
        let parent = if spec.has(Namespace::User) || rootless.is_some() {
            &self.work
        } else {
            &self.private
        };
        let scratch = (spec.uses_scratch() || probe.uses_scratch())
            .then(|| parent.join(format!("scratch-{n}")));
        // The scratch directory belongs to whoever is root in the sandbox.
        let root_ids = sandbox_root(spec, rootless);
        let owner = (Some(root_ids.0), Some(root_ids.1));
        let _scratch_guard = match &scratch {
            Some(dir) => Some(ScratchDir::create(dir, owner)?),
            None => None,
        };
        if let Some(dir) = &scratch {
            let prepare = |what: &'static str, path: PathBuf, r: std::io::Result<()>| {
                r.map_err(|source| SpawnError::Prepare { what, path, source })
            };
            if spec.scaffold.scratch_marker {
                let m = dir.join(MARKER_NAME);
                prepare("scratch marker", m.clone(), std::fs::write(&m, b"isocheck"))?;
            }
            if let Some(copy) = &spec.scaffold.exec_copy {
                let src = self.exec_copy(copy)?;
                let dst = dir.join(EXEC_COPY_NAME);
                prepare(
                    "exec copy link",
                    dst.clone(),
                    std::fs::hard_link(&src, &dst),
                )?;
            }
        }
        let probe = match &scratch {
            Some(dir) => probe.with_scratch(&self.dir.there_of(dir)),
            None => probe.clone(),
        };
        let mut cgroup: Option<Box<dyn SandboxCgroup>> = if spec.cgroup.is_empty() {
            None
        } else {
            let cg_name = format!("{}-{n}-{}", self.dir.tag, sanitize(name));
            Some(cgroups::create(
                Path::new(cgroups::CGROUP_ROOT),
                self.layout,
                &cg_name,
                &spec.cgroup,
            )?)
        };
        // The cgroup the sandbox is moved into: none when it is to stay
        // outside the cgroup made for it (`unjoined`).
        let joined = cgroup.as_ref().filter(|_| !spec.cgroup.unjoined);
        let mut plan = rootless.cloned();
        if let (Some(p), Some(cg)) = (plan.as_mut(), joined) {
            if nix::unistd::geteuid().is_root() {
                cg.delegate(p.uid, p.gid)?;
                p.join_cgroup = cg.procs_files();
            }
        }
        let req = HelperRequest {
            spec: spec.clone(),
            probe,
            root_dir: self.root_dir(),
            scratch: scratch.as_deref().map(|d| self.dir.there_of(d)),
            cgroup_procs: joined.map(|c| c.procs_files()).unwrap_or_default(),
            deny_setgroups: !nix::unistd::geteuid().is_root(),
            rootless: plan,
        };
        let deadline = Duration::from_millis(spec.timeout_ms) + HELPER_GRACE;
        let result = self.call_helper(&req, deadline);
        let mut stats = cgroup.as_ref().map(|c| c.stats());
        if let Some(cg) = cgroup.as_mut() {
            cg.remove()?;
        }
        let mut rep = result?;
        if let Some(st) = stats.as_mut() {
            st.join = rep.cgroup_join.take();
        }
        super::sabotage::merge(&mut rep.sabotage_fired, super::sabotage::take_fired());
        Ok(Observation {
            probe: rep.probe,
            exit: rep.exit,
            timed_out: rep.timed_out,
            setup: rep.setup,
            setup_error: rep.setup_error,
            outside: Outside {
                hostname_before: rep.hostname_before,
                hostname_after: rep.hostname_after,
                scratch: scratch
                    .as_deref()
                    .map(|d| {
                        let mut owners = list_owners(d);
                        if let Some(p) = rootless.filter(|p| p.tools.is_some()) {
                            subid_ids(&mut owners, p.uid, p.gid);
                        }
                        owners
                    })
                    .unwrap_or_default(),
                cgroup: stats,
                scratch_mounts: rep.scratch_mounts,
                joiner: rep.joiner,
                notify: rep.notify,
                pidfd_signal: rep.pidfd_signal,
                escapee: rep.escapee,
            },
            ids: IdView {
                uid_map: rep.uid_map,
                root_uid: root_ids.0,
                root_gid: root_ids.1,
                rootless_uid: rootless.map(|p| p.uid),
            },
            swept: rep.swept,
            sandbox_us: rep.sandbox_us,
            sabotage_fired: rep.sabotage_fired,
        })
    }

    /// An idle zygote, started if none is; `None` when helpers are
    /// started anew (then for the rest of the run, if a zygote could not
    /// be started).
    fn zygote(&self) -> Option<Zygote> {
        if let Some(z) = self.pool().as_mut()?.pop() {
            return Some(z);
        }
        // Started outside the lock: other sandboxes need not wait for it.
        match Zygote::start(&self.helper, &self.dir, self.interrupted.clone()) {
            Ok(z) => Some(z),
            Err(_) => {
                // Not a binary that answers as a zygote (a stand-in
                // helper): every helper is started anew from now on.
                *self.pool() = None;
                None
            }
        }
    }

    /// Forks zygotes until `n` are idle, while this process has a single
    /// thread (a zygote forked is far cheaper than one started from the
    /// binary; a process with threads starts them from the binary, as
    /// needed). Nothing when helpers are started anew.
    pub fn prefork(&self, n: usize) {
        let mut pool = self.pool();
        let Some(pool) = pool.as_mut() else {
            return;
        };
        // All forked first, then each one's `ready` read: their start-ups
        // overlap each other and the forks.
        let mut forked = Vec::new();
        while pool.len() + forked.len() < n {
            let Ok(one) = crate::sys::single_threaded() else {
                break;
            };
            match Zygote::fork_unready(&self.dir, one, self.interrupted.clone()) {
                Ok(z) => forked.push(z),
                // Left to a zygote started from the binary when needed.
                Err(_) => break,
            }
        }
        // One that does not get ready is ended; its work is left to one
        // started from the binary, as a fork that failed leaves it.
        pool.extend(forked.into_iter().filter_map(|z| z.ready().ok()));
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Option<Vec<Zygote>>> {
        self.zygotes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn call_helper(
        &self,
        req: &HelperRequest,
        deadline: Duration,
    ) -> Result<HelperReport, SpawnError> {
        let body = serde_json::to_vec(req).map_err(|e| SpawnError::Protocol(e.to_string()))?;
        if let Some(z) = self.zygote() {
            return self.call_zygote(z, &body, deadline, false);
        }
        let mut cmd = Command::new(&self.helper);
        self.dir.pass_to(&mut cmd);
        let mut child = cmd
            .arg(HELPER_ARG)
            .env(
                super::helper::RUNNER_PID_ENV,
                std::process::id().to_string(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills it and all it made.
            .process_group(0)
            .spawn()
            .map_err(|source| SpawnError::Start {
                path: self.helper.clone(),
                source,
            })?;
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _live = LiveGroup::new(self, Serving::Group(pgid.as_raw()));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let _ = stdin.write_all(&body);
        drop(stdin);
        let mut streams = Streams::new(stdout, stderr);
        let start = Instant::now();
        if !streams.stdout_by(deadline) {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let after = start.elapsed();
            let _ = child.wait();
            return Err(SpawnError::HelperTimeout { deadline, after });
        }
        // Not reaped yet: the pid is still the helper's.
        if let Ok(exited) = crate::sys::pidfd_open(pgid) {
            use std::os::fd::AsFd;
            streams.stderr_until(exited.as_fd(), None);
        }
        let status = child.wait().map_err(|source| SpawnError::Start {
            path: self.helper.clone(),
            source,
        })?;
        // Nothing of this helper's group may outlive it.
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let stderr = streams.stderr_to_end();
        if self.interrupted().is_some() {
            return Err(SpawnError::Interrupted);
        }
        finish(status, &stderr, &streams.stdout)
    }

    /// [`Launcher::call_helper`] through a zygote: the same pipes, the same
    /// deadline and process-group kill, the status from the zygote. The
    /// zygote goes back to the pool unless it failed to answer.
    fn call_zygote(
        &self,
        mut z: Zygote,
        body: &[u8],
        deadline: Duration,
        retried: bool,
    ) -> Result<HelperReport, SpawnError> {
        let start_error = |e: String| SpawnError::Start {
            path: self.helper.clone(),
            source: std::io::Error::other(format!("through its zygote: {e}")),
        };
        let pipe = || {
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SpawnError::Start {
                path: self.helper.clone(),
                source: e.into(),
            })
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let served = match z.fork_helper(body, out_w, err_w) {
            Ok(s) => s,
            // An idle zygote that died (killed from outside, say) or did
            // not answer (stopped) started nothing: a fresh one takes the
            // request, once. Said on stderr: a silent zygote has made the
            // run wait up to ANSWER_WITHIN.
            Err(e) if !retried && self.interrupted().is_none() => {
                // Not `eprintln!`, which panics when stderr is gone.
                let _ = writeln!(
                    std::io::stderr(),
                    "isocheck: a zygote (pid {}) did not take a request ({e}); a fresh one takes it",
                    z.pid()
                );
                drop(z);
                let fresh = Zygote::start(&self.helper, &self.dir, self.interrupted.clone())
                    .map_err(start_error)?;
                return self.call_zygote(fresh, body, deadline, true);
            }
            Err(e) => return Err(start_error(e)),
        };
        let pgid = served.group();
        // Unlisted before the zygote goes back to the pool, where another
        // request may end it and its descriptor.
        let live = LiveGroup::new(
            self,
            match served {
                super::zygote::Served::Forked(_) => Serving::Group(pgid.as_raw()),
                super::zygote::Served::InPlace(_) => {
                    Serving::InPlace(std::os::fd::AsRawFd::as_raw_fd(&z.answer_fd()))
                }
            },
        );
        let mut streams = Streams::new(out_r, err_r);
        let kill = || {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        };
        let start = Instant::now();
        let in_place = matches!(served, super::zygote::Served::InPlace(_)).then(|| z.pid());
        let waited = self.stdout_unless_interrupted(&mut streams, deadline, in_place);
        if waited == Waited::ZygoteStopped {
            // Nothing can end or report the sandbox but the zygote: its
            // group is killed, and the zygote with it (not given back).
            kill();
            drop(live);
            drop(z);
            if self.interrupted().is_some() {
                return Err(SpawnError::Interrupted);
            }
            return Err(SpawnError::ZygoteSilent(format!(
                "it was stopped (SIGSTOP) for {} s while it served the sandbox in place; the sandbox was killed after {:.1} s",
                STOPPED_GIVEN_UP.as_secs(),
                start.elapsed().as_secs_f64()
            )));
        }
        if waited == Waited::Late {
            // Served in place, the zygote is asked first, so that it ends
            // its sandbox and sweeps what it left; killed (if it does not
            // answer), it could not, and its answer fails: it is not given
            // back.
            let asked = matches!(served, super::zygote::Served::InPlace(_))
                && live.stop_and_wait(&mut streams, STOP_WITHIN);
            if !asked {
                kill();
            }
            let after = start.elapsed();
            // What serves the sandbox was ended (killed, or asked and it
            // answered): a zygote that does not report it within
            // STOP_WITHIN is stopped or lost, and is not given back.
            let status = z.helper_status_within(STOP_WITHIN);
            drop(live);
            if status.is_ok() {
                self.give_back(z);
            }
            if self.interrupted().is_some() {
                return Err(SpawnError::Interrupted);
            }
            return Err(SpawnError::HelperTimeout { deadline, after });
        }
        streams.stderr_until(z.answer_fd(), Some(super::zygote::ANSWER_WITHIN));
        // Given up 2 s after an interrupt (`Zygote::next`) when the zygote
        // is silent (stopped by SIGSTOP, say).
        let status = z.helper_status();
        // Nothing of this helper's group may outlive it. A zygote that
        // served in place swept what its sandbox left (it was their
        // subreaper) before it answered, and stays; one that did not
        // answer is killed with what it serves, never given back.
        if matches!(served, super::zygote::Served::Forked(_)) || status.is_err() {
            kill();
        }
        drop(live);
        if status.is_ok() {
            self.give_back(z);
        } else {
            drop(z);
        }
        let stderr = streams.stderr_to_end();
        if self.interrupted().is_some() {
            return Err(SpawnError::Interrupted);
        }
        finish(
            status.map_err(SpawnError::ZygoteSilent)?,
            &stderr,
            &streams.stdout,
        )
    }

    /// [`Streams::stdout_by`], looking at the run's interrupt every
    /// [`INTERRUPT_SEEN_WITHIN`]: `false` once it is interrupted and the
    /// stream has not ended. An interrupt stops what serves the sandbox,
    /// which ends the stream at once; one that does not answer (a zygote
    /// stopped by SIGSTOP) then keeps the run at most [`STOP_WITHIN`] more,
    /// not until the sandbox's deadline. With `in_place`, the zygote that
    /// serves the sandbox itself: once it has stayed stopped for
    /// [`STOPPED_GIVEN_UP`], nothing ends or reports the sandbox, and the
    /// wait ends with [`Waited::ZygoteStopped`].
    fn stdout_unless_interrupted(
        &self,
        streams: &mut Streams,
        within: Duration,
        in_place: Option<i32>,
    ) -> Waited {
        let deadline = Instant::now() + within;
        let mut stopped = in_place.map(super::zygote::StopWatch::new);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Waited::Late;
            }
            if streams.stdout_by(left.min(INTERRUPT_SEEN_WITHIN)) {
                return Waited::Ended;
            }
            if self.interrupted().is_some() {
                return Waited::Late;
            }
            if stopped.as_mut().is_some_and(|w| w.given_up()) {
                return Waited::ZygoteStopped;
            }
        }
    }

    /// Returns an idle zygote to the pool (or ends it, once helpers are
    /// started anew).
    fn give_back(&self, z: Zygote) {
        if let Some(pool) = self.pool().as_mut() {
            pool.push(z);
        }
    }
}

use super::zygote::{INTERRUPT_SEEN_WITHIN, STOPPED_GIVEN_UP, STOP_WITHIN};

/// How a wait for a helper's report ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Waited {
    /// The report stream ended: the helper or sandbox is done.
    Ended,
    /// The deadline passed, or the run was interrupted.
    Late,
    /// The zygote serving the sandbox in place stayed stopped (SIGSTOP).
    ZygoteStopped,
}

/// How long the rest of a helper's stderr is read once its process group
/// is gone: the pipe holds all it wrote, unless a process that left the
/// group keeps it open.
const STDERR_AFTER_END: Duration = Duration::from_secs(1);

/// A helper's stdout and stderr, read on the calling thread: no thread of
/// their own to start and end for every sandbox.
struct Streams {
    out: Option<std::os::fd::OwnedFd>,
    err: Option<std::os::fd::OwnedFd>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Streams {
    fn new(out: impl Into<std::os::fd::OwnedFd>, err: impl Into<std::os::fd::OwnedFd>) -> Streams {
        Streams {
            out: Some(out.into()),
            err: Some(err.into()),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Reads both until stdout ends: `false` when `within` passed first.
    /// What stderr gave meanwhile is kept.
    fn stdout_by(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.out.is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.step(Some(left)) {
                return false;
            }
        }
        true
    }

    /// Reads stderr until `ended` is readable (the helper has exited, or
    /// its status is there to read) or `within` has passed: a helper that
    /// writes to stderr after its report must not be left blocked on a
    /// full pipe while its status is waited for.
    fn stderr_until(&mut self, ended: std::os::fd::BorrowedFd<'_>, within: Option<Duration>) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let deadline = within.map(|w| Instant::now() + w);
        while let Some(err) = &self.err {
            let timeout = deadline.map_or(PollTimeout::NONE, |d| {
                PollTimeout::try_from(d.saturating_duration_since(Instant::now()))
                    .unwrap_or(PollTimeout::MAX)
            });
            let mut fds = [
                PollFd::new(ended, PollFlags::POLLIN),
                PollFd::new(err.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Ok(0) => return,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
            let [end, err_ready] = fds.map(|f| f.revents().is_some_and(|r| !r.is_empty()));
            if end {
                return;
            }
            if err_ready {
                read_once(&mut self.err, &mut self.stderr);
            }
        }
    }

    /// Reads stderr to its end (the helper's group is gone by then, so
    /// what it wrote is all in the pipe), or for at most
    /// [`STDERR_AFTER_END`]: a process that left the group (its own
    /// session) may hold the pipe open for as long as it lives, and the
    /// runner does not wait for it.
    fn stderr_to_end(&mut self) -> String {
        self.out = None;
        let deadline = Instant::now() + STDERR_AFTER_END;
        while self.err.is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.step(Some(left)) {
                break;
            }
        }
        self.err = None;
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// One wait for either stream, then one read of each that is ready;
    /// a stream ends at EOF or on an error. `false` when nothing became
    /// ready within `left`, or the wait itself failed.
    fn step(&mut self, left: Option<Duration>) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let timeout = left.map_or(PollTimeout::NONE, |l| {
            PollTimeout::try_from(l).unwrap_or(PollTimeout::MAX)
        });
        let mut fds: Vec<PollFd<'_>> = [&self.out, &self.err]
            .into_iter()
            .flatten()
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, timeout) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return true,
            Err(_) => return false,
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut ready = ready.into_iter();
        for (fd, buf) in [
            (&mut self.out, &mut self.stdout),
            (&mut self.err, &mut self.stderr),
        ] {
            if fd.is_some() && ready.next().unwrap_or(false) {
                read_once(fd, buf);
            }
        }
        true
    }
}

/// One read of a stream into `buf`; the stream ends (`None`) at EOF or on
/// an error.
fn read_once(fd: &mut Option<std::os::fd::OwnedFd>, buf: &mut Vec<u8>) {
    let Some(open) = fd else { return };
    let mut chunk = [0u8; 16 * 1024];
    match nix::unistd::read(&*open, &mut chunk) {
        Ok(0) => *fd = None,
        Ok(n) => buf.extend_from_slice(&chunk[..n]),
        Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
        Err(_) => *fd = None,
    }
}

/// The helper's report from its exit status, stderr and stdout.
fn finish(
    status: std::process::ExitStatus,
    stderr: &str,
    out: &[u8],
) -> Result<HelperReport, SpawnError> {
    if !status.success() {
        return Err(SpawnError::Helper {
            status: status.to_string(),
            stderr: stderr.trim().to_string(),
        });
    }
    serde_json::from_slice(out)
        .map_err(|e| SpawnError::Protocol(format!("{e}: {:?}", String::from_utf8_lossy(out))))
}

/// What serves a sandbox now, as an interrupt stops it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Serving {
    /// A helper: its process group, killed (the sandbox dies with it; the
    /// zygote that forked it sweeps what left the group).
    Group(i32),
    /// A zygote serving in place: the runner's end of its socket, shut
    /// down. The zygote then ends the sandbox and sweeps what it left, as
    /// when the runner is gone; killed, it could not sweep.
    InPlace(std::os::fd::RawFd),
}

impl Serving {
    fn stop(self) {
        match self {
            Serving::Group(pgid) => {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            Serving::InPlace(sock) => {
                // The descriptor is open while it is listed: the zygote
                // that owns it outlives its `LiveGroup`.
                let _ = nix::sys::socket::shutdown(sock, nix::sys::socket::Shutdown::Both);
            }
        }
    }
}

/// What serves a sandbox, listed while it runs so that an interrupt can
/// stop it; one started after the interrupt is stopped here.
struct LiveGroup<'a> {
    launcher: &'a Launcher,
    serving: Serving,
}

impl<'a> LiveGroup<'a> {
    fn new(launcher: &'a Launcher, serving: Serving) -> LiveGroup<'a> {
        launcher
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(serving);
        // Listed before the flag is read: either the interrupt saw this
        // one, or this sees the flag.
        if launcher.interrupted().is_some() {
            serving.stop();
        }
        LiveGroup { launcher, serving }
    }

    /// Stops what serves the sandbox and reads its streams to their end
    /// for at most `within`; `true` when they ended.
    fn stop_and_wait(&self, streams: &mut Streams, within: Duration) -> bool {
        self.serving.stop();
        streams.stdout_by(within)
    }
}

impl Drop for LiveGroup<'_> {
    fn drop(&mut self) {
        self.launcher
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.serving);
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The scratch directory: owned by the host id the sandbox's root maps to,
/// so the sandbox can write into it; removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create(
        dir: &Path,
        (uid, gid): (Option<u32>, Option<u32>),
    ) -> Result<ScratchDir, SpawnError> {
        std::fs::create_dir(dir).map_err(|source| SpawnError::Prepare {
            what: "scratch directory",
            path: dir.into(),
            source,
        })?;
        let guard = ScratchDir(dir.into());
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(dir, uid, gid).map_err(|source| SpawnError::Prepare {
                what: "scratch directory owner",
                path: dir.into(),
                source,
            })?;
        }
        Ok(guard)
    }
}

/// Where `id` lands one level out through `maps`; ids outside every
/// range are returned unchanged (no map: the same namespace).
fn map_out(maps: &[crate::model::spec::IdMap], id: u32) -> u32 {
    if maps.is_empty() {
        return id;
    }
    maps.iter()
        .find(|m| id >= m.inside && (id - m.inside) < m.count)
        .map_or(id, |m| m.outside + (id - m.inside))
}

/// The host uid and gid the sandbox's root stands for: through the
/// sandbox's own maps, then through the rootless namespace's.
pub fn sandbox_root(spec: &SandboxSpec, rootless: Option<&RootlessPlan>) -> (u32, u32) {
    let (mut uid, mut gid) = (map_out(&spec.uid_map, 0), map_out(&spec.gid_map, 0));
    if let Some(p) = rootless {
        uid = map_out(&p.uid_map, uid);
        gid = map_out(&p.gid_map, gid);
    }
    (uid, gid)
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn list_owners(dir: &Path) -> Vec<FileOwner> {
    let mut v: Vec<FileOwner> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| {
                let e = e.ok()?;
                let m = e.metadata().ok()?;
                Some(FileOwner {
                    name: e.file_name().to_string_lossy().into_owned(),
                    uid: m.uid(),
                    gid: m.gid(),
                    subuid_id: None,
                    subgid_id: None,
                })
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The first range of a subordinate id file (`name:start:count` lines)
/// granted to the user `name` or `id`.
fn first_subid_range(text: &str, name: Option<&str>, id: u32) -> Option<(u64, u64)> {
    text.lines().find_map(|l| {
        let mut f = l.trim().split(':');
        let who = f.next()?;
        let start: u64 = f.next()?.trim().parse().ok()?;
        let count: u64 = f.next()?.trim().parse().ok()?;
        (Some(who) == name || who == id.to_string()).then_some((start, count))
    })
}

/// Fills in which id of the rootless namespace each owner stands for, read
/// from /etc/passwd, /etc/subuid and /etc/subgid as they are now: the
/// rootless user is 0, its first subordinate range begins at 1.
fn subid_ids(owners: &mut [FileOwner], uid: u32, gid: u32) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let name = crate::sys::passwd::passwd_name(&read("/etc/passwd"), uid);
    let (subuid, subgid) = (read("/etc/subuid"), read("/etc/subgid"));
    let uid_range = first_subid_range(&subuid, name.as_deref(), uid);
    let gid_range = first_subid_range(&subgid, name.as_deref(), gid);
    let stands_for = |host: u32, own: u32, range: Option<(u64, u64)>| -> Option<u32> {
        if host == own {
            return Some(0);
        }
        let (start, count) = range?;
        let h = u64::from(host);
        (h >= start && h - start < count).then(|| (h - start + 1) as u32)
    };
    for o in owners {
        o.subuid_id = stands_for(o.uid, uid, uid_range);
        o.subgid_id = stands_for(o.gid, gid, gid_range);
    }
}

/// Times a full round trip, for benchmarks.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_range_of_the_user_by_name_or_id() {
        let text = "# c\nother:100000:10\nrl:200000:65536\nrl:300000:5\n";
        assert_eq!(
            first_subid_range(text, Some("rl"), 7),
            Some((200000, 65536))
        );
        assert_eq!(
            first_subid_range("7:400000:2\n", Some("rl"), 7),
            Some((400000, 2))
        );
        assert_eq!(first_subid_range(text, Some("nobody"), 8), None);
    }

    fn map(inside: u32, outside: u32, count: u32) -> crate::model::spec::IdMap {
        crate::model::spec::IdMap {
            inside,
            outside,
            count,
        }
    }

    #[test]
    fn a_subid_line_needs_three_fields_and_numbers() {
        let text = "# comment\nrl\nrl:x:5\nrl:5\nrl:7:y\n\n  rl:10:20  \n";
        assert_eq!(first_subid_range(text, Some("rl"), 1), Some((10, 20)));
        // Fields are split as they are: a padded name is another name.
        assert_eq!(first_subid_range("rl :1:2\n", Some("rl"), 9), None);
        assert_eq!(
            first_subid_range("rl: 1 : 2\n", Some("rl"), 9),
            Some((1, 2))
        );
        // No name: by id only; the id written as the name.
        assert_eq!(
            first_subid_range("rl:1:2\n1000:3:4\n", None, 1000),
            Some((3, 4))
        );
        assert_eq!(first_subid_range("rl:1:2\n", None, 1000), None);
        assert_eq!(first_subid_range("", Some("rl"), 0), None);
        // Ranges beyond 32 bits are read as they are.
        assert_eq!(
            first_subid_range("rl:4294967296:1\n", Some("rl"), 0),
            Some((4294967296, 1))
        );
    }

    #[test]
    fn map_out_follows_the_range_holding_the_id() {
        assert_eq!(map_out(&[], 42), 42, "no map: the same namespace");
        let maps = [map(0, 100000, 1), map(1, 100001, 65536)];
        assert_eq!(map_out(&maps, 0), 100000);
        assert_eq!(map_out(&maps, 1), 100001);
        assert_eq!(map_out(&maps, 65536), 165536, "the last id of a range");
        assert_eq!(map_out(&maps, 65537), 65537, "outside every range");
        assert_eq!(
            map_out(&[map(10, 500, 0)], 10),
            10,
            "an empty range maps nothing"
        );
        // The first range that holds the id wins.
        assert_eq!(map_out(&[map(0, 7, 5), map(0, 9, 5)], 2), 9);
    }

    #[test]
    fn the_sandbox_root_is_mapped_through_both_namespaces() {
        assert_eq!(sandbox_root(&SandboxSpec::default(), None), (0, 0));
        let spec = SandboxSpec {
            uid_map: vec![map(0, 1000, 1)],
            gid_map: vec![map(0, 2000, 1)],
            ..SandboxSpec::default()
        };
        assert_eq!(sandbox_root(&spec, None), (1000, 2000));
        let plan = RootlessPlan {
            uid: 100000,
            gid: 100000,
            uid_map: vec![map(0, 100000, 1), map(1, 100001, 65536)],
            gid_map: vec![map(0, 100000, 1), map(1, 100001, 65536)],
            join_cgroup: Vec::new(),
            tools: None,
        };
        // 1000 in the rootless namespace is subordinate id 1000 - 1 + 100001.
        assert_eq!(sandbox_root(&spec, Some(&plan)), (101000, 102000));
        // Without maps of its own the sandbox's root is the rootless user.
        assert_eq!(
            sandbox_root(&SandboxSpec::default(), Some(&plan)),
            (100000, 100000)
        );
    }

    #[test]
    fn a_cgroup_name_keeps_only_safe_characters() {
        assert_eq!(sanitize("pid.pid1/rootful/test"), "pid.pid1_rootful_test");
        assert_eq!(sanitize("a b\n../c"), "a_b_.._c");
        assert_eq!(sanitize("Net-9.x"), "Net-9.x");
        assert_eq!(sanitize("é"), "_", "one mark a character");
        assert_eq!(sanitize(""), "");
    }

    #[test]
    fn the_scratch_owners_are_listed_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b", "a", "c"] {
            std::fs::write(dir.path().join(f), f).unwrap();
        }
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let owners = list_owners(dir.path());
        let names: Vec<&str> = owners.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        assert!(owners.iter().all(|o| o.uid == uid
            && o.gid == gid
            && o.subuid_id.is_none()
            && o.subgid_id.is_none()));
        assert!(list_owners(&dir.path().join("absent")).is_empty());
    }

    #[test]
    fn timed_returns_the_value_and_the_time_it_took() {
        let (v, d) = timed(|| {
            std::thread::sleep(Duration::from_millis(20));
            7
        });
        assert_eq!(v, 7);
        assert!(d >= Duration::from_millis(20), "{d:?}");
    }

    #[test]
    fn spawn_errors_say_what_failed() {
        assert_eq!(
            SpawnError::HelperTimeout {
                deadline: Duration::from_millis(5500),
                after: Duration::from_millis(7512)
            }
            .to_string(),
            "the helper outlived its deadline of 5.5s and was killed after 7.5 s"
        );
        assert_eq!(
            SpawnError::Helper {
                status: "exit status: 3".into(),
                stderr: "isocheck helper: bad request".into()
            }
            .to_string(),
            "the helper failed (status exit status: 3): isocheck helper: bad request"
        );
        assert_eq!(
            SpawnError::Prepare {
                what: "scratch directory",
                path: "/w/scratch-1".into(),
                source: std::io::Error::from_raw_os_error(libc::EEXIST),
            }
            .to_string(),
            "failed to prepare scratch directory at /w/scratch-1: File exists (os error 17)"
        );
        assert_eq!(
            SpawnError::Interrupted.to_string(),
            "the run was interrupted"
        );
    }

    #[test]
    fn an_observation_round_trips_and_leaves_out_what_is_empty() {
        let o = Observation {
            timed_out: true,
            swept: 2,
            outside: Outside {
                hostname_before: "host".into(),
                hostname_after: "host".into(),
                scratch: vec![FileOwner {
                    name: "f".into(),
                    uid: 101000,
                    gid: 101000,
                    subuid_id: Some(1000),
                    subgid_id: None,
                }],
                ..Outside::default()
            },
            ..Observation::default()
        };
        let v = serde_json::to_value(&o).unwrap();
        assert!(v.get("sabotage_fired").is_none());
        assert!(v["outside"]["scratch"][0].get("subgid_id").is_none());
        assert_eq!(v["outside"]["scratch"][0]["subuid_id"], 1000);
        assert_eq!(serde_json::from_value::<Observation>(v.clone()).unwrap(), o);
        // Older observations without the later fields still read.
        let mut old = v;
        old["outside"]
            .as_object_mut()
            .unwrap()
            .remove("scratch_mounts");
        assert_eq!(serde_json::from_value::<Observation>(old).unwrap(), o);
    }
}
