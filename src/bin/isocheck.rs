//! The isocheck command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    // The helper must stay single-threaded and fast: it is dispatched
    // before anything else runs.
    if args
        .nth(1)
        .is_some_and(|a| a == isocheck::runtime::helper::HELPER_ARG)
    {
        return ExitCode::from(isocheck::runtime::helper::main() as u8);
    }
    isocheck::cli::main()
}
