//! The isocheck command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let first = args.get(1).and_then(|a| a.to_str());
    // A setuid or file-capability copy of this binary (made for exec
    // probes) runs the exec'd sub-probe and nothing else.
    if first == Some(isocheck::probe::exec::EXEC_PROBE_ARG) {
        let rest: Vec<String> = args[2..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return ExitCode::from(isocheck::probe::exec::exec_probe_main(&rest) as u8);
    }
    if isocheck::sys::at_secure() {
        // Secure-execution mode: the exec gave privileges its caller did
        // not have (a setuid bit, file capabilities) or the caller's real
        // and effective ids differ. Either way no command runs with
        // privileges it was not given whole.
        let (r, e) = (nix::unistd::getuid(), nix::unistd::geteuid());
        let (rg, eg) = (nix::unistd::getgid(), nix::unistd::getegid());
        if r != e || rg != eg {
            eprintln!(
                "isocheck: started with real uid {r} and gid {rg} but effective uid {e} and gid {eg} (secure-execution mode): run it with one set of ids, as root or as an unprivileged user"
            );
        } else {
            eprintln!(
                "isocheck: this copy was started with privileges its file grants (a setuid bit or file capabilities); such a copy runs only `{}`",
                isocheck::probe::exec::EXEC_PROBE_ARG
            );
        }
        return ExitCode::from(2);
    }
    // Neither the caller's umask, nor an ignored SIGCHLD, nor its values
    // for the variables the runtime sets for sandboxes reach a verdict.
    isocheck::sys::reset_inherited_state(&isocheck::model::names::SANDBOX_VARIABLES);
    // A hard limit on the stack too low for the main thread (the soft one
    // is raised as far as it allows) is said, not met as an abort.
    if let Some(have) = isocheck::sys::stack_limit().filter(|&s| s < isocheck::sys::MIN_STACK) {
        eprintln!(
            "isocheck: the hard limit on the stack (RLIMIT_STACK) is {} KiB; isocheck needs at least {} KiB: raise it (`ulimit -Hs`, `prlimit --stack`)",
            have >> 10,
            isocheck::sys::MIN_STACK >> 10
        );
        return ExitCode::from(3);
    }
    // The helper must stay single-threaded and fast: it is dispatched
    // before anything else runs.
    if first == Some(isocheck::runtime::helper::HELPER_ARG) {
        return ExitCode::from(isocheck::runtime::helper::main() as u8);
    }
    if first == Some(isocheck::runtime::zygote::ZYGOTE_ARG) {
        return ExitCode::from(isocheck::runtime::zygote::main() as u8);
    }
    if first == Some(isocheck::runtime::workdir::WORKNS_ARG) {
        let rest: Vec<String> = args[2..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return ExitCode::from(isocheck::runtime::workdir::holder_main(&rest) as u8);
    }
    // The commands a person runs: nothing the caller left open goes on to
    // the helpers and sandboxes.
    isocheck::sys::close_inherited_on_exec();
    // Whatever outlives the process it came from (a task that left its
    // sandbox's session, when the zygote serving that sandbox is killed) is
    // given to this process instead of init, and ended as it exits: by
    // then every child it started has been reaped, and any left is such.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let code = isocheck::cli::main();
    isocheck::runtime::helper::sweep();
    code
}
