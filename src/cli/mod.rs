//! Layer 8, the top of the chain (sys -> model -> probe -> runtime -> host
//! -> suite -> report -> **cli**): it imports every layer, and only the
//! binary in src/bin imports it.
//!
//! The CLI: `run`, `list`, `bench`, and the report tools.
//!
//! Exit status of `run`: 0 every promise held (skips allowed), 1 a promise
//! was broken, 2 bad input or usage, 3 the harness itself failed; every
//! command's `--help` states its own (the `HELP_*` texts). `run` and `list`
//! choose cases with one `Selection`.

mod bench;
mod inspect;
mod sabotage;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::model::events::Sink;
use crate::model::host::HostFacts;
use crate::model::result::{Outcome, Report};
use crate::report::documents::{
    AuditBody, AuditDocument, Document, ListBody, ListedCase, ListedRequirement,
    AUDIT_SCHEMA_VERSION, DIFF_SCHEMA_VERSION, LIST_SCHEMA_VERSION,
};
use crate::report::{ConsoleSink, FileSink};
use crate::suite::case::{CaseId, Property};
use crate::suite::runner::{RunOptions, RunSettings, Runner};
use crate::suite::table;
use crate::sys::outdir::OutDir;

pub const EXIT_OK: u8 = 0;
pub const EXIT_BROKEN: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_HARNESS: u8 = 3;

/// The exit statuses of `run`, as its `--help` states them.
const HELP_RUN: &str = "Exit status:
  0    every promise held (skips allowed)
  1    a promise was broken (a fail)
  2    bad input or usage, found before anything runs
  3    the harness failed (an error), or a report could not be written
  129  stopped by SIGHUP (the terminal closed)
  130  stopped by SIGINT
  143  stopped by SIGTERM";
/// The exit statuses of `list`.
const HELP_LIST: &str = "Exit status:
  0    the cases were listed
  2    bad input or usage
  3    the harness failed
  129  stopped by SIGHUP while deciding (nothing listed)
  130  stopped by SIGINT while deciding (nothing listed)
  143  stopped by SIGTERM while deciding (nothing listed)";
/// The exit statuses of `bench`.
const HELP_BENCH: &str = "Exit status:
  0    measured (an absent peer is no failure)
  2    bad input or usage
  3    the harness failed, a peer ran but did not print the check's
       output, or the figures could not be written
  129  stopped by SIGHUP (nothing written, nothing left behind)
  130  stopped by SIGINT (nothing written, nothing left behind)
  143  stopped by SIGTERM (nothing written, nothing left behind)";
/// The exit statuses of `matrix`.
const HELP_MATRIX: &str = "Exit status:
  0    the matrix was written and shows no regression
  1    the matrix was written and shows a regression
  2    bad input or usage (a file that is not a report, an unusable --out)
  3    the matrix could not be written";
/// The exit statuses of `diff`.
const HELP_DIFF: &str = "Exit status:
  0    no regression and no lost coverage
  1    a regression or lost coverage
  2    bad input or usage";
/// The exit statuses of `audit`.
const HELP_AUDIT: &str = "Exit status:
  0    audited (with --strict: no feature absent, blocked or contradicted;
       with --for: every profile answered yes or unknown)
  1    with --strict: a feature is absent, blocked or contradicted; with
       --for: a profile is answered no
  2    bad input or usage
  3    the harness failed, or audit.json could not be written";
/// The exit statuses of `sabotage`.
const HELP_SABOTAGE: &str = "Exit status:
  0    every sabotage exercised was caught and every property is covered
  1    a sabotage was not caught, or a property is uncovered
  2    bad usage, or a binary built without the feature `sabotage`
  3    a run could not be made or read";
/// The exit statuses of `report`.
const HELP_REPORT: &str = "Exit status:
  0    answered
  2    bad input or usage (a file that is not a report)";
/// The exit statuses of `completions` and `man`.
const HELP_GENERATED: &str = "Exit status:
  0    written
  2    bad usage
  3    a file could not be written";
/// The exit statuses common to every command, for `isocheck --help`.
const HELP_TOP: &str = "Exit status: 0 success, 1 a promise broken or a regression (run, matrix,
diff, audit --strict, sabotage), 2 bad input or usage, 3 the harness
failed; run: 129, 130 or 143 when SIGHUP, SIGINT or SIGTERM stopped it.
Each command's --help lists its own.";

#[derive(Parser)]
#[command(
    name = "isocheck",
    version,
    about = "Conformance suite for the kernel features container isolation rests on",
    after_help = HELP_TOP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the suites against this host and write JSON and HTML reports.
    #[command(after_help = HELP_RUN)]
    Run(RunArgs),
    /// List every case with its requirements, without running anything.
    #[command(after_help = HELP_LIST)]
    List(ListArgs),
    /// Measure what a sandbox costs, next to the in-process floors and to
    /// unshare(1), crun and runc running the same check.
    #[command(after_help = HELP_BENCH)]
    Bench(bench::BenchArgs),
    /// One page (and JSON) of many reports: properties down, legs across,
    /// regressions highlighted. Exits 1 on a regression.
    #[command(after_help = HELP_MATRIX)]
    Matrix(MatrixArgs),
    /// Compare two reports: regressions, fixes, new and vanished cases.
    /// Exits 1 on a regression.
    #[command(after_help = HELP_DIFF)]
    Diff(DiffArgs),
    /// Host facts, and the kernel config and policy knobs checked against
    /// what probes observe.
    #[command(after_help = HELP_AUDIT)]
    Audit(AuditArgs),
    /// The sabotage catalogue (builds with the feature `sabotage` only):
    /// the suite once per injected runtime bug, each must be caught.
    #[command(after_help = HELP_SABOTAGE)]
    Sabotage(sabotage::SabotageArgs),
    /// Questions about one report file, for scripts (`report summary FILE`).
    #[command(after_help = HELP_REPORT)]
    Report(inspect::ReportArgs),
    /// Shell completions, generated from this command line's definition,
    /// on standard output (`isocheck completions bash > isocheck.bash`).
    #[command(after_help = HELP_GENERATED)]
    Completions(CompletionsArgs),
    /// Man pages, generated from this command line's definition:
    /// isocheck(1) on standard output, or one page per command in `--out`.
    #[command(after_help = HELP_GENERATED)]
    Man(ManArgs),
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Audit this kernel config instead of the running kernel's (e.g. a
    /// kernel before it is booted).
    #[arg(long, value_name = "FILE")]
    kconfig: Option<PathBuf>,
    /// Exit 1 when a feature is absent, blocked or contradicted.
    #[arg(long)]
    strict: bool,
    /// Where audit.json goes: `<out>/<kernel-release>/audit.json`.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Write no file.
    #[arg(long)]
    no_write: bool,
    /// Print JSON (facts and audit) instead of text.
    #[arg(long)]
    json: bool,
    /// Answer whether this container stack can run here, and what blocks
    /// it (repeatable): docker, rootless-podman, k8s-userns, bubblewrap.
    /// Exits 1 when one is answered no.
    #[arg(long = "for", value_name = "PROFILE", value_enum)]
    profiles: Vec<crate::suite::readiness::Profile>,
}

#[derive(clap::Args)]
struct MatrixArgs {
    /// isocheck report.json files, from any machines.
    #[arg(required = true, value_name = "REPORT.json")]
    reports: Vec<PathBuf>,
    /// Where matrix.html and matrix.json go.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
}

#[derive(clap::Args)]
struct DiffArgs {
    #[arg(value_name = "BASE.json")]
    base: PathBuf,
    #[arg(value_name = "NEW.json")]
    new: PathBuf,
    /// Print the diff as JSON.
    #[arg(long)]
    json: bool,
    /// A skip reason kind the new report may introduce without it counting
    /// as lost coverage, e.g. `sysctl-policy` (repeatable).
    #[arg(long = "allow-skip", value_name = "KIND")]
    allow_skip: Vec<crate::model::result::ReasonKind>,
}

#[derive(clap::Args, Default)]
struct SuiteArgs {
    /// A suite table to run instead of the built-in suites (repeatable).
    #[arg(long = "suite", value_name = "FILE")]
    suites: Vec<PathBuf>,
    /// Only cases whose id (`property/mode/variant`) contains one of these;
    /// several filters are an OR (the same as repeated `--filter`).
    #[arg(value_name = "FILTER")]
    positional: Vec<String>,
    /// Only cases whose id (`property/mode/variant`) contains this
    /// (repeatable: several filters are an OR, a case matching any one is
    /// selected).
    #[arg(long = "filter", value_name = "TEXT")]
    filters: Vec<String>,
    /// Leave out the cases whose id contains this (repeatable; wins over
    /// the filters).
    #[arg(long = "skip", value_name = "TEXT")]
    skips: Vec<String>,
    /// Filters and `--skip` match a whole case id or a whole property id
    /// exactly, instead of any part of the case id.
    #[arg(long)]
    exact: bool,
}

impl SuiteArgs {
    /// Which cases the command line selects: one rule for `run` and
    /// `list`.
    fn selection(&self) -> Selection {
        Selection {
            filters: self
                .filters
                .iter()
                .chain(&self.positional)
                .cloned()
                .collect(),
            skips: self.skips.clone(),
            exact: self.exact,
        }
    }
}

/// The cases a command line selects: any filter matches (or there is no
/// filter) and no skip does.
#[derive(Debug, Default, Clone, PartialEq)]
struct Selection {
    /// `--filter` and the positional filters, an OR.
    filters: Vec<String>,
    /// `--skip`: any one leaves a case out.
    skips: Vec<String>,
    /// Match whole case ids or property ids instead of substrings.
    exact: bool,
}

/// When a run audits the host (`run --audit`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum AuditWhen {
    /// A run of every case audits; a narrowed run does not.
    #[default]
    Auto,
    Always,
    Never,
}

impl AuditWhen {
    fn wanted(self, selection: &Selection) -> bool {
        match self {
            AuditWhen::Always => true,
            AuditWhen::Never => false,
            AuditWhen::Auto => selection.filters.is_empty() && selection.skips.is_empty(),
        }
    }
}

impl Selection {
    /// Whether `pattern` matches the case `id` (as `text`).
    fn hits(&self, pattern: &str, id: &CaseId, text: &str) -> bool {
        if self.exact {
            text == pattern || id.property == pattern
        } else {
            text.contains(pattern)
        }
    }

    /// Whether the case is selected.
    fn selects(&self, id: &CaseId) -> bool {
        let text = id.to_string();
        (self.filters.is_empty() || self.filters.iter().any(|f| self.hits(f, id, &text)))
            && !self.skips.iter().any(|s| self.hits(s, id, &text))
    }
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Run the sandboxes in this root file system tree (an Alpine
    /// minirootfs, a debootstrap tree) instead of the built-in skeleton.
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,
    /// Where reports go: `<out>/<kernel-release>[-<layout label>]/`.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Write no report files.
    #[arg(long)]
    no_write: bool,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the results as KTAP version 1 (the kernel's TAP) here.
    #[arg(long, value_name = "FILE")]
    ktap: Option<PathBuf>,
    /// Label the run, e.g. `layout=v1` (repeatable). A `layout` label is
    /// appended to the report directory's name.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    /// Pairs of cases run at once (1 to 64).
    #[arg(long, default_value_t = 2, value_parser = parse_jobs)]
    jobs: usize,
    /// Audit the host into the report: `auto` (the default) audits a run
    /// of every case and leaves it out of a run narrowed by filters or
    /// `--skip` (a single check then costs only its own sandboxes);
    /// `always` and `never` override.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    audit: AuditWhen,
    /// Colour the outcome words: `auto` (the default) colours on a
    /// terminal unless `NO_COLOR` is set, or when `CLICOLOR_FORCE` is;
    /// `always` and `never` override both. `--color` alone is `always`.
    #[arg(
        long,
        value_name = "WHEN",
        value_enum,
        default_value_t = ColorChoice::Auto,
        num_args = 0..=1,
        default_missing_value = "always"
    )]
    color: ColorChoice,
    /// Print no line per case: only failed and errored cases and the
    /// summary.
    #[arg(short, long)]
    quiet: bool,
    /// Print the selected cases, as `list` does, and run nothing.
    #[arg(long)]
    list: bool,
    /// What standard output shows: `pretty` (a line per case), `terse` (a
    /// character per case, then the failures), `json` (JSON lines as the
    /// run goes, schemas/run-stream.schema.json) or `ktap` (KTAP at the
    /// end). Messages go to standard error with json and ktap.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Format::Pretty)]
    format: Format,
}

/// What `run` prints on standard output.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Pretty,
    Terse,
    Json,
    Ktap,
}

/// Whether `run` keeps a live progress line: only when both standard
/// output and standard error are terminals, never under CI (`CI` set, as
/// GitHub Actions and GitLab set it) and never for a machine's format.
fn use_progress(format: Format, ci: Option<&std::ffi::OsStr>, terminals: bool) -> bool {
    matches!(format, Format::Pretty | Format::Terse) && terminals && ci.is_none_or(|v| v.is_empty())
}

/// When the console colours its outcome words.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` says no or `CLICOLOR_FORCE` yes.
    Auto,
    Always,
    Never,
}

/// Whether to colour: `--color always|never` decides; `auto` takes a
/// non-empty `NO_COLOR` as no, then a `CLICOLOR_FORCE` that is neither
/// empty nor `0` as yes, else colours on a terminal only.
fn use_color(
    choice: ColorChoice,
    no_color: Option<&std::ffi::OsStr>,
    clicolor_force: Option<&std::ffi::OsStr>,
    is_terminal: bool,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if no_color.is_some_and(|v| !v.is_empty()) {
                false
            } else if clicolor_force.is_some_and(|v| !v.is_empty() && v != "0") {
                true
            } else {
                is_terminal
            }
        }
    }
}

#[derive(clap::Args)]
struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
struct ManArgs {
    /// Write isocheck.1 and isocheck-<command>.1 into this directory
    /// instead of isocheck.1 on standard output.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn completions(a: CompletionsArgs) -> u8 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics on a write error, and a
    // reader that stops early (`| head`) is no error of ours.
    let mut text = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "isocheck", &mut text);
    say(&String::from_utf8_lossy(&text));
    EXIT_OK
}

fn man(a: ManArgs) -> u8 {
    let cmd = <Cli as clap::CommandFactory>::command();
    let page = |cmd: clap::Command| {
        let mut text = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut text).map(|()| text)
    };
    let Some(dir) = a.out else {
        return match page(cmd) {
            Ok(text) => {
                say(&String::from_utf8_lossy(&text));
                EXIT_OK
            }
            Err(e) => {
                eprintln!("isocheck: man: {e}");
                EXIT_HARNESS
            }
        };
    };
    let mut pages = vec![("isocheck.1".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        let name = format!("isocheck-{}", sub.get_name());
        pages.push((format!("{name}.1"), sub.clone().name(name)));
    }
    let out = match OutDir::open(&dir, true) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("isocheck: man --out {}: {e}", dir.display());
            return EXIT_USAGE;
        }
    };
    for (file, cmd) in pages {
        let written = page(cmd).and_then(|text| out.write(std::ffi::OsStr::new(&file), &text));
        if let Err(e) = written {
            eprintln!("isocheck: {}: {e}", dir.join(&file).display());
            return EXIT_HARNESS;
        }
    }
    EXIT_OK
}

#[derive(clap::Args)]
struct ListArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    if k.is_empty()
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("label key `{k}` must be letters, digits, - or _"));
    }
    if k.len() > 64 {
        return Err(format!("label key `{k}` is longer than 64 bytes"));
    }
    if v.len() > 256 || v.chars().any(char::is_control) {
        return Err(format!(
            "label `{k}`: the value must be at most 256 bytes without control characters"
        ));
    }
    // The layout label names the report directory: one plain name.
    if k == "layout"
        && (v.is_empty()
            || v.len() > 64
            || v.starts_with(['.', '-'])
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')))
    {
        return Err(format!(
            "label `layout={v}`: a layout names the report directory, so it must be 1 to 64 letters, digits, '.', '_', '-' or '+', not starting with '.' or '-'"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=64) => Ok(n),
        _ => Err(format!("`{s}`: --jobs takes a number from 1 to 64")),
    }
}

/// Prints to stdout, ignoring a reader that went away (`| head`): the run
/// and its reports do not depend on the console.
fn say(text: &str) {
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    match crate::runtime::sabotage::check_env() {
        Ok(None) => {}
        Ok(Some(e)) => eprintln!("isocheck: sabotage `{}` is active: {}", e.name, e.bug),
        Err(e) => {
            eprintln!("isocheck: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let code = match cli.command {
        Command::Run(a) => run(a),
        Command::List(a) => list(a),
        Command::Bench(a) => bench::run(a),
        Command::Matrix(a) => matrix(a),
        Command::Diff(a) => diff(a),
        Command::Audit(a) => audit(a),
        Command::Sabotage(a) => sabotage::run(a),
        Command::Report(a) => inspect::run(a),
        Command::Completions(a) => completions(a),
        Command::Man(a) => man(a),
    };
    // `isocheck bench` measures a runner's own peak memory this way.
    bench::write_peak_rss_if_asked();
    ExitCode::from(code)
}

fn load(args: &SuiteArgs) -> Result<Vec<Property>, String> {
    let props = if args.suites.is_empty() {
        // Only the built-in properties a case of which the selection could
        // take are parsed: a run of one check reads one row.
        let selection = args.selection();
        let could_select = |id: &str| {
            use crate::model::result::{Mode, Variant};
            [Mode::Rootful, Mode::Rootless].into_iter().any(|m| {
                [Variant::Test, Variant::Control]
                    .into_iter()
                    .any(|v| selection.selects(&CaseId::new(id, m, v)))
            })
        };
        table::builtin_where(&could_select).map_err(|e| e.to_string())?
    } else {
        let mut all: Vec<Property> = Vec::new();
        // Each id's table, to refuse a second definition (in linear time).
        let mut seen: std::collections::HashMap<String, PathBuf> = Default::default();
        for f in &args.suites {
            for p in table::load_file(f).map_err(|e| e.to_string())? {
                if let Some(prev) = seen.insert(p.id.clone(), p.source.clone()) {
                    return Err(format!(
                        "{}: property `{}` is also defined in {}",
                        f.display(),
                        p.id,
                        prev.display()
                    ));
                }
                all.push(p);
            }
        }
        all
    };
    Ok(props)
}

fn selector(selection: &Selection) -> impl Fn(&CaseId) -> bool + Sync + '_ {
    move |id: &CaseId| selection.selects(id)
}

/// A runner with isocheck's own binary as the helper; the error is the
/// exit status, already explained on stderr.
fn make_runner(rootfs: Option<PathBuf>, jobs: usize, host: HostFacts) -> Result<Runner, u8> {
    if let Err(e) = crate::runtime::workdir::check_env() {
        eprintln!("isocheck: {e}");
        return Err(EXIT_USAGE);
    }
    // A hard limit on descriptors too low for the run is said once, before
    // anything runs, instead of as an error in every case.
    let need = crate::suite::runner::descriptors_needed(jobs);
    if let Err((hard, open)) = crate::sys::room_for_descriptors(need) {
        eprintln!(
            "isocheck: it needs up to {need} open descriptors beside the {open} open now ({jobs} case(s) at once, requirements decided four at once), and the hard limit on open descriptors (RLIMIT_NOFILE) is {hard}: raise it (`ulimit -Hn`, `prlimit --nofile`){}",
            if jobs > 4 { " or run fewer --jobs" } else { "" }
        );
        return Err(EXIT_HARNESS);
    }
    let helper = std::env::current_exe().map_err(|e| {
        eprintln!("isocheck: cannot find its own binary to run as the helper: {e}");
        EXIT_HARNESS
    })?;
    Runner::new(
        RunOptions {
            helper,
            rootfs,
            jobs,
            zygote: true,
        },
        host,
    )
    .map_err(|e| {
        eprintln!("isocheck: {e}");
        EXIT_HARNESS
    })
}

/// The exit status for an output path that cannot be used: the operator's
/// mistake (usage), unless the machine ran out of something, which is the
/// environment's fault and never the command line's.
fn out_status(e: &std::io::Error) -> u8 {
    if crate::sys::outdir::exhausted(e) {
        EXIT_HARNESS
    } else {
        EXIT_USAGE
    }
}

/// The report directory of a run: `<release>[-<layout label>]`.
pub fn leg_dir(out: &Path, report: &Report) -> PathBuf {
    out.join(crate::report::matrix::leg_name(report))
}

fn audit(a: AuditArgs) -> u8 {
    let opts = crate::host::ProbeOptions {
        kconfig: a.kconfig.clone(),
        ..Default::default()
    };
    let host = match HostFacts::probe_with(&opts) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("isocheck: {e}");
            return EXIT_USAGE;
        }
    };
    // Where audit.json goes, checked before anything is probed.
    let out = if a.no_write {
        None
    } else {
        let release = if host.kernel.release.is_empty() {
            "unknown-kernel"
        } else {
            &host.kernel.release
        };
        let dir = OutDir::open(&a.out, true)
            .and_then(|d| d.child(std::ffi::OsStr::new(release), true))
            .and_then(|d| {
                d.check_writable(std::ffi::OsStr::new(AUDIT_JSON))
                    .map(|()| d)
            });
        match dir {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("isocheck: --out {}: {e}", a.out.display());
                return out_status(&e);
            }
        }
    };
    let runner = match make_runner(None, 1, host) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let audit = runner.audit();
    let readiness: Vec<_> = a
        .profiles
        .iter()
        .map(|p| crate::suite::readiness::answer(*p, &runner.host, &audit))
        .collect();
    let document = AuditDocument::new(
        AUDIT_SCHEMA_VERSION,
        AuditBody {
            host: runner.host.clone(),
            audit,
            readiness,
        },
    );
    let audit = &document.body.audit;
    let readiness = &document.body.readiness;
    let text = if a.json {
        document.to_json()
    } else {
        let mut text = format!(
            "{}\n== config against behaviour\n\n{}",
            crate::host::render_text(&runner.host),
            crate::suite::audit::render_text(audit)
        );
        if !readiness.is_empty() {
            text.push_str("\n== can it run here\n\n");
            text.push_str(&crate::suite::readiness::render_text(readiness));
        }
        text
    };
    say(&text);
    if let Some(dir) = out {
        let body = document.to_json();
        let path = dir.path().join(AUDIT_JSON);
        if let Err(e) = dir.write(std::ffi::OsStr::new(AUDIT_JSON), body.as_bytes()) {
            eprintln!("isocheck: writing {}: {e}", path.display());
            return EXIT_HARNESS;
        }
        eprintln!("audit: {}", path.display());
    }
    let refused = readiness
        .iter()
        .any(|r| r.answer == crate::suite::readiness::Answer::No);
    if (a.strict && audit.problems().next().is_some()) || refused {
        EXIT_BROKEN
    } else {
        EXIT_OK
    }
}

const AUDIT_JSON: &str = "audit.json";

fn matrix(a: MatrixArgs) -> u8 {
    let out = match OutDir::open(&a.out, true).and_then(|d| {
        d.check_writable(std::ffi::OsStr::new("matrix.html"))?;
        d.check_writable(std::ffi::OsStr::new("matrix.json"))?;
        Ok(d)
    }) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("isocheck: --out {}: {e}", a.out.display());
            return out_status(&e);
        }
    };
    let mut legs = Vec::new();
    for p in &a.reports {
        match crate::report::json::read_report_with(p, crate::report::json::Detail::Outcomes) {
            Ok(r) => legs.push((String::new(), r)),
            Err(e) => {
                eprintln!("isocheck: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let mut m = crate::report::Matrix::build(&legs);
    // Each leg links to the report.html beside its report.json, when there
    // is one, relative to the page.
    let page_dir = std::fs::canonicalize(out.path()).ok();
    for (leg, p) in m.legs.iter_mut().zip(&a.reports) {
        let html = p
            .parent()
            .unwrap_or(Path::new(""))
            .join(crate::report::sink::REPORT_HTML);
        if let (Some(from), Ok(to)) = (&page_dir, std::fs::canonicalize(&html)) {
            leg.report = crate::report::matrix::relative_href(from, &to);
        }
    }
    for (name, body) in [
        ("matrix.html", crate::report::matrix::render_html(&m)),
        ("matrix.json", crate::report::matrix::render_json(&m)),
    ] {
        if let Err(e) = out.write(std::ffi::OsStr::new(name), body.as_bytes()) {
            eprintln!("isocheck: writing {}: {e}", out.path().join(name).display());
            return EXIT_HARNESS;
        }
    }
    let regressions = m.regressions().count();
    say(&format!(
        "matrix of {} legs, {} rows, {regressions} regressions: {} and {}\n",
        m.legs.len(),
        m.rows.len(),
        out.path().join("matrix.html").display(),
        out.path().join("matrix.json").display()
    ));
    if regressions > 0 {
        EXIT_BROKEN
    } else {
        EXIT_OK
    }
}

fn diff(a: DiffArgs) -> u8 {
    let read = |p: &Path| {
        crate::report::json::read_report_with(p, crate::report::json::Detail::Outcomes)
            .map_err(|e| e.to_string())
    };
    let (base, new) = match (read(&a.base), read(&a.new)) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("isocheck: {e}");
            return EXIT_USAGE;
        }
    };
    let opts = crate::report::diff::DiffOptions {
        allowed_skips: a.allow_skip.clone(),
    };
    let d = match crate::report::diff::diff_with(&base, &new, &opts) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("isocheck: {e}");
            return EXIT_USAGE;
        }
    };
    let text = if a.json {
        Document::new(DIFF_SCHEMA_VERSION, &d).to_json()
    } else {
        crate::report::diff::render_text(&d)
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    if d.is_worse() {
        EXIT_BROKEN
    } else {
        EXIT_OK
    }
}

/// The exit status a finished run earns.
pub fn exit_status(report: &Report) -> u8 {
    if report.cases.iter().any(|c| c.outcome == Outcome::Fail) {
        EXIT_BROKEN
    } else if report.cases.iter().any(|c| c.outcome == Outcome::Error) {
        EXIT_HARNESS
    } else {
        EXIT_OK
    }
}

/// Where a run's files go, opened and checked before the run starts.
struct Outputs {
    /// `<out>/<leg>/`, for report.json and report.html.
    leg: Option<OutDir>,
    /// The JUnit file's directory and name.
    junit: Option<(OutDir, std::ffi::OsString)>,
    /// The KTAP file's directory and name.
    ktap: Option<(OutDir, std::ffi::OsString)>,
}

impl Outputs {
    fn prepare(
        a: &RunArgs,
        host: &HostFacts,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<Outputs, (String, u8)> {
        let leg = if a.no_write {
            None
        } else {
            let name = crate::report::matrix::leg_name_of(&host.kernel.release, labels);
            let out = OutDir::open(&a.out, true)
                .map_err(|e| (format!("--out {}: {e}", a.out.display()), out_status(&e)))?;
            let leg = out.child(std::ffi::OsStr::new(&name), true).map_err(|e| {
                (
                    format!("--out {}: report directory {name:?}: {e}", a.out.display()),
                    out_status(&e),
                )
            })?;
            for f in [
                crate::report::sink::REPORT_JSON,
                crate::report::sink::REPORT_HTML,
            ] {
                leg.check_writable(std::ffi::OsStr::new(f))
                    .map_err(|e| (format!("--out {}: {e}", a.out.display()), out_status(&e)))?;
            }
            Some(leg)
        };
        let file = |option: &str, path: &Option<PathBuf>| match path {
            Some(p) => crate::sys::outdir::prepare_file(p)
                .map(Some)
                .map_err(|e| (format!("{option} {}: {e}", p.display()), out_status(&e))),
            None => Ok(None),
        };
        let junit = file("--junit", &a.junit)?;
        let ktap = file("--ktap", &a.ktap)?;
        Ok(Outputs { leg, junit, ktap })
    }
}

/// Exit status of a run stopped by SIGHUP (128 + 1): its terminal closed.
pub const EXIT_SIGHUP: u8 = 129;
/// Exit status of a run stopped by SIGINT (128 + 2).
pub const EXIT_SIGINT: u8 = 130;
/// Exit status of a run stopped by SIGTERM (128 + 15).
pub const EXIT_SIGTERM: u8 = 143;

/// Ends the signal watcher's wait when dropped, also when the work beside
/// it panics: the scope that holds the watcher joins it, and a watcher
/// left waiting for signals would turn the panic into a process that never
/// ends.
struct CloseWatcher(signal_hook::iterator::Handle);

impl Drop for CloseWatcher {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Holds SIGINT, SIGTERM and SIGHUP back from the runner's making (its
/// work directory, lock cgroup, holder and zygotes) until they are caught
/// ([`release_stop_signals`]): one sent meanwhile is then an interrupt,
/// which removes all of it, instead of ending the process with it half
/// made. The helpers forked meanwhile empty their mask
/// (`plumbing::fork_group`); a child started from a binary gets an empty
/// one from the standard library.
fn hold_stop_signals() {
    let _ = stop_signals().thread_block();
}

/// Lets SIGINT, SIGTERM and SIGHUP in again, once they are caught: one
/// held back is delivered now.
fn release_stop_signals() {
    let _ = stop_signals().thread_unblock();
}

fn stop_signals() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGINT);
    set.add(nix::sys::signal::Signal::SIGTERM);
    set.add(nix::sys::signal::Signal::SIGHUP);
    set
}

/// The exit status of a run stopped by `signal`.
pub(crate) fn interrupted_status(signal: &str) -> u8 {
    match signal {
        "SIGHUP" => EXIT_SIGHUP,
        "SIGINT" => EXIT_SIGINT,
        _ => EXIT_SIGTERM,
    }
}

fn run(a: RunArgs) -> u8 {
    let (props, host) = load_with_host(&a.suite);
    let props = match props {
        Ok(p) => p,
        Err(e) => {
            eprintln!("isocheck: {e}");
            return EXIT_USAGE;
        }
    };
    let selection = a.suite.selection();
    let select = selector(&selection);
    if let Err(e) = some_case_matches(&props, &selection) {
        eprintln!("isocheck: {e}");
        return EXIT_USAGE;
    }
    if a.list {
        return list_cases(&props, &selection, a.format == Format::Json, host);
    }
    if let Some(dir) = &a.rootfs {
        let why = match std::fs::read_dir(dir) {
            Ok(mut entries) => entries
                .next()
                .is_none()
                .then(|| "an empty directory: give a root file system tree".to_string()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                Some("not a directory".to_string())
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = why {
            eprintln!("isocheck: --rootfs {}: {why}", dir.display());
            return EXIT_USAGE;
        }
    }
    let rootfs = match a.rootfs.as_deref().map(std::fs::canonicalize).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("isocheck: --rootfs: {e}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = crate::runtime::workdir::check_env() {
        eprintln!("isocheck: {e}");
        return EXIT_USAGE;
    }
    let labels: std::collections::BTreeMap<String, String> = a.labels.iter().cloned().collect();
    let outputs = match Outputs::prepare(&a, &host, &labels) {
        Ok(o) => o,
        Err((e, code)) => {
            eprintln!("isocheck: {e}");
            return code;
        }
    };
    hold_stop_signals();
    let runner = match make_runner(rootfs, a.jobs, host) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // Before the signal watcher's thread and any other.
    runner.prestart(
        &crate::suite::runner::selected_pairs(&props, &select),
        a.jobs,
    );
    let mut signals =
        match signal_hook::iterator::Signals::new(stop_signals().iter().map(|s| s as i32)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("isocheck: catching SIGINT, SIGTERM and SIGHUP: {e}");
                return EXIT_HARNESS;
            }
        };
    release_stop_signals();
    let signal_handle = signals.handle();
    let stdout = std::io::stdout();
    let color = use_color(
        a.color,
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("CLICOLOR_FORCE").as_deref(),
        std::io::IsTerminal::is_terminal(&stdout),
    );
    let progress = use_progress(
        a.format,
        std::env::var_os("CI").as_deref(),
        std::io::IsTerminal::is_terminal(&stdout)
            && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    let mut console: Box<dyn Sink> = match a.format {
        Format::Pretty | Format::Terse => Box::new(
            ConsoleSink::new(stdout.lock())
                .with_color(color)
                .with_quiet(a.quiet)
                .with_style(if a.format == Format::Terse {
                    crate::report::console::Style::Terse
                } else {
                    crate::report::console::Style::Pretty
                })
                .with_progress(progress),
        ),
        Format::Json => Box::new(crate::report::stream::JsonLinesSink::new(stdout.lock())),
        Format::Ktap => Box::new(crate::report::stream::KtapStreamSink::new(stdout.lock())),
    };
    let machine = matches!(a.format, Format::Json | Format::Ktap);
    let leg = outputs.leg.map(std::sync::Arc::new);
    let mut json = leg.clone().map(FileSink::json);
    let mut html = leg.map(FileSink::html);
    let mut junit = outputs.junit.map(|(dir, name)| FileSink::junit(dir, name));
    let mut ktap = outputs.ktap.map(|(dir, name)| FileSink::ktap(dir, name));
    let settings = RunSettings {
        labels,
        audit: a.audit.wanted(&selection),
    };
    let report: std::io::Result<_> = std::thread::scope(|s| {
        let runner = &runner;
        let watcher = std::thread::Builder::new().spawn_scoped(s, move || {
            for sig in signals.forever() {
                runner.interrupt(sig);
            }
        });
        // A run that could not be stopped cleanly does not start.
        watcher?;
        let _close = CloseWatcher(signal_handle.clone());
        let mut sinks: Vec<&mut dyn Sink> = vec![console.as_mut()];
        for file in [&mut json, &mut html, &mut junit, &mut ktap]
            .into_iter()
            .flatten()
        {
            sinks.push(file);
        }
        Ok(runner.run(&props, &select, &settings, &mut sinks))
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("isocheck: cannot start the thread that watches for SIGINT, SIGTERM and SIGHUP: {e}");
            return EXIT_HARNESS;
        }
    };
    drop(console);
    if let Some(sig) = &report.interrupted {
        eprintln!(
            "isocheck: stopped by {sig}; the report lists the cases that did not finish as interrupted"
        );
    }
    // The work directory and the run's cgroups go before the files are
    // written: nothing of the run is left once the reports are there.
    drop(runner);
    if let (Some(json), Some(html)) = (&mut json, &mut html) {
        for file in [&mut *json, &mut *html] {
            if let Err(e) = file.finish() {
                eprintln!("isocheck: {e}");
                return EXIT_HARNESS;
            }
        }
        let where_ = format!(
            "reports: {} and {}",
            json.path().display(),
            html.path().display()
        );
        // A machine's format keeps standard output to itself.
        if machine {
            eprintln!("{where_}");
        } else {
            say(&format!("{where_}\n"));
        }
    }
    for file in [&mut junit, &mut ktap].into_iter().flatten() {
        if let Err(e) = file.finish() {
            eprintln!("isocheck: {e}");
            return EXIT_HARNESS;
        }
    }
    match &report.interrupted {
        Some(sig) => interrupted_status(sig),
        None => exit_status(&report),
    }
}

fn list(a: ListArgs) -> u8 {
    let (props, host) = load_with_host(&a.suite);
    let props = match props {
        Ok(p) => p,
        Err(e) => {
            eprintln!("isocheck: {e}");
            return EXIT_USAGE;
        }
    };
    let selection = a.suite.selection();
    // A mistyped filter is said, as `run` says it, not listed as nothing.
    if let Err(e) = some_case_matches(&props, &selection) {
        eprintln!("isocheck: {e}");
        return EXIT_USAGE;
    }
    list_cases(&props, &selection, a.json, host)
}

/// `Err` naming the filters when `selection` takes no case of `props`.
fn some_case_matches(props: &[Property], selection: &Selection) -> Result<(), String> {
    let select = selector(selection);
    if props.iter().any(|p| p.cases().iter().any(&select)) {
        return Ok(());
    }
    Err(format!(
        "no case matches the filters {:?} (skipping {:?}{})",
        selection.filters,
        selection.skips,
        if selection.exact { ", exact" } else { "" }
    ))
}

/// The tables, loaded while the host's facts are read: neither needs the
/// other, and together they are most of the start-up.
fn load_with_host(args: &SuiteArgs) -> (Result<Vec<Property>, String>, HostFacts) {
    let (props, host) = std::thread::scope(|s| {
        match std::thread::Builder::new().spawn_scoped(s, HostFacts::probe) {
            Ok(host) => {
                let props = load(args);
                (props, host.join())
            }
            // No thread to spare (a pids limit, say): one after the other.
            Err(_) => (load(args), Ok(HostFacts::probe())),
        }
    });
    match host {
        Ok(h) => (props, h),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Prints the selected cases of `props` with their requirements, as a
/// table or JSON: `list`, and `run --list`.
fn list_cases(props: &[Property], selection: &Selection, json: bool, host: HostFacts) -> u8 {
    let select = selector(selection);
    // The runner decides requirements by trying them, as a run would.
    hold_stop_signals();
    let runner = match make_runner(None, 1, host) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let pairs: Vec<(&Property, crate::model::result::Mode)> = props
        .iter()
        .flat_map(|p| {
            p.cases()
                .into_iter()
                .filter(|c| select(c))
                .map(move |c| (p, c.mode))
        })
        .collect();
    runner.prestart(&pairs, 1);
    // Stopped by SIGINT, SIGTERM or SIGHUP, `list` ends its sandboxes and
    // its work directory as a run does, and lists nothing: a decision cut
    // short is no answer.
    let mut signals =
        match signal_hook::iterator::Signals::new(stop_signals().iter().map(|s| s as i32)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("isocheck: catching SIGINT, SIGTERM and SIGHUP: {e}");
                return EXIT_HARNESS;
            }
        };
    release_stop_signals();
    let signal_handle = signals.handle();
    let decided = std::thread::scope(|s| {
        let runner = &runner;
        std::thread::Builder::new()
            .spawn_scoped(s, move || {
                for sig in signals.forever() {
                    runner.interrupt(sig);
                }
            })
            .map(|_| {
                let _close = CloseWatcher(signal_handle.clone());
                runner.decide_ahead(&pairs);
            })
    });
    if let Err(e) = decided {
        eprintln!(
            "isocheck: cannot start the thread that watches for SIGINT, SIGTERM and SIGHUP: {e}"
        );
        return EXIT_HARNESS;
    }
    if let Some(sig) = runner.interrupted() {
        let name = crate::suite::runner::signal_name(sig);
        eprintln!("isocheck: stopped by {name}; nothing is listed");
        return interrupted_status(&name);
    }
    let mut rows = Vec::new();
    for p in props {
        for id in p.cases().into_iter().filter(|c| select(c)) {
            let def = p.def(id.mode);
            let decisions = runner.decide_all(p, id.mode);
            rows.push(ListedCase {
                id: id.to_string(),
                property: p.id.clone(),
                area: p.area.clone(),
                mode: id.mode,
                variant: id.variant,
                description: p.description.clone(),
                tags: p.tags.clone(),
                control_off: def.control.knob.to_string(),
                runnable: decisions.iter().all(|d| d.check.met),
                // A requirement the harness could not decide is an error,
                // never a skip.
                undecided: decisions.iter().any(|d| d.harness_failed()),
                requirements: decisions
                    .into_iter()
                    .map(|d| ListedRequirement {
                        check: d.check,
                        reason: d.reason,
                    })
                    .collect(),
            });
        }
    }
    if json {
        say(&Document::new(LIST_SCHEMA_VERSION, ListBody { cases: rows }).to_json());
        return EXIT_OK;
    }
    // The id column is as wide as the longest id, at least 40.
    let width = rows
        .iter()
        .map(|r| r.id.chars().count())
        .fold(40, usize::max);
    // One write for the whole table, not one for each line (stdout is
    // line-buffered).
    let mut table = String::new();
    for r in &rows {
        let reqs: Vec<String> = r
            .requirements
            .iter()
            .map(|q| {
                format!(
                    "{}{}",
                    q.check.requirement,
                    if q.check.met { "" } else { " (unmet)" }
                )
            })
            .collect();
        table.push_str(&format!(
            "{:<width$} {:<9} {}\n",
            r.id,
            if r.runnable {
                "runnable"
            } else if r.undecided {
                "error"
            } else {
                "skip"
            },
            reqs.join(", ")
        ));
    }
    say(&table);
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::result::{Mode, ReasonKind, Variant};
    use crate::report::testing::sample_report;
    use clap::CommandFactory;

    #[test]
    fn a_panic_beside_the_signal_watcher_ends_its_scope() {
        // The scope around a run joins the watcher: without the guard, a
        // panic in the run left the process waiting for it forever.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut signals =
                signal_hook::iterator::Signals::new([signal_hook::consts::SIGUSR2]).unwrap();
            let handle = signals.handle();
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                std::thread::scope(|s| {
                    s.spawn(move || for _ in signals.forever() {});
                    let _close = CloseWatcher(handle);
                    panic!("a bug in the run");
                })
            }));
            let _ = tx.send(ended.is_err());
        });
        let ended = rx.recv_timeout(std::time::Duration::from_secs(20));
        assert_eq!(ended, Ok(true), "the scope never ended");
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("isocheck").chain(args.iter().copied()))
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(&[&["run"], args].concat()) {
            Ok(Cli {
                command: Command::Run(a),
            }) => a,
            Ok(_) => panic!("not a run"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_label_is_key_equals_value() {
        assert_eq!(parse_label("layout=v1"), Ok(("layout".into(), "v1".into())));
        // The value may hold '=' and be empty (except a layout's).
        assert_eq!(parse_label("note=a=b"), Ok(("note".into(), "a=b".into())));
        assert_eq!(
            parse_label("ci_run-2="),
            Ok(("ci_run-2".into(), String::new()))
        );
        assert_eq!(
            parse_label("layout=6.12-v2+nomemcg_x"),
            Ok(("layout".into(), "6.12-v2+nomemcg_x".into()))
        );
    }

    #[rstest::rstest]
    #[case::no_equals("layout", "is not KEY=VALUE")]
    #[case::empty_key("=v1", "must be letters, digits")]
    #[case::dotted_key("a.b=1", "must be letters, digits")]
    #[case::long_key(&format!("{}=1", "k".repeat(65)), "longer than 64 bytes")]
    #[case::control_char("note=a\tb", "without control characters")]
    #[case::long_value(&format!("note={}", "v".repeat(257)), "at most 256 bytes")]
    #[case::empty_layout("layout=", "names the report directory")]
    #[case::layout_path("layout=../up", "names the report directory")]
    #[case::layout_slash("layout=a/b", "names the report directory")]
    #[case::layout_dash("layout=-v1", "names the report directory")]
    #[case::long_layout(&format!("layout={}", "v".repeat(65)), "names the report directory")]
    fn a_bad_label_is_refused_with_the_rule(#[case] label: &str, #[case] rule: &str) {
        let e = parse_label(label).unwrap_err();
        assert!(e.contains(rule), "{label:?}: {e}");
    }

    #[test]
    fn the_longest_allowed_label_parts_pass() {
        let key = "k".repeat(64);
        assert!(parse_label(&format!("{key}={}", "v".repeat(256))).is_ok());
        assert!(parse_label(&format!("layout={}", "v".repeat(64))).is_ok());
    }

    #[test]
    fn jobs_run_from_1_to_64() {
        assert_eq!(parse_jobs("1"), Ok(1));
        assert_eq!(parse_jobs("64"), Ok(64));
        for bad in ["0", "65", "-1", "two", "", " 2"] {
            let e = parse_jobs(bad).unwrap_err();
            assert!(e.contains("from 1 to 64"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn run_defaults_and_repeated_options() {
        let a = run_args(&[]);
        assert_eq!(a.out, PathBuf::from("reports"));
        assert_eq!(a.jobs, 2);
        assert!(!a.no_write && !a.quiet && !a.list && !a.suite.exact);
        assert_eq!(a.color, ColorChoice::Auto);
        assert!(a.suite.suites.is_empty() && a.suite.filters.is_empty());
        let a = run_args(&[
            "--filter",
            "pid.",
            "--filter",
            "/rootless/",
            "--label",
            "layout=v1",
            "--label",
            "ci=yes",
            "--jobs",
            "8",
            "--suite",
            "a.toml",
            "--suite",
            "b.toml",
        ]);
        assert_eq!(a.suite.filters, ["pid.", "/rootless/"]);
        assert_eq!(
            a.labels,
            [
                ("layout".to_string(), "v1".to_string()),
                ("ci".to_string(), "yes".to_string())
            ]
        );
        assert_eq!(a.jobs, 8);
        assert_eq!(
            a.suite.suites,
            [PathBuf::from("a.toml"), PathBuf::from("b.toml")]
        );
    }

    #[rstest::rstest]
    #[case::jobs_zero(&["run", "--jobs", "0"])]
    #[case::bad_color(&["run", "--color", "sometimes"])]
    #[case::bad_label(&["run", "--label", "layout=../x"])]
    #[case::no_command(&[])]
    #[case::unknown_command(&["frobnicate"])]
    #[case::diff_needs_two(&["diff", "a.json"])]
    #[case::matrix_needs_one(&["matrix"])]
    #[case::unknown_skip_kind(&["diff", "a.json", "b.json", "--allow-skip", "no-such-kind"])]
    fn bad_usage_is_an_error_on_stderr(#[case] args: &[&str]) {
        let e = parse(args).err().expect("refused");
        // main() maps an error printed on stderr to the usage exit status.
        assert!(e.use_stderr(), "{args:?}: {e}");
    }

    #[test]
    fn help_and_version_are_not_usage_errors() {
        for args in [&["--help"][..], &["--version"], &["run", "--help"]] {
            let e = parse(args).err().expect("clap answers them itself");
            assert!(!e.use_stderr(), "{args:?}");
        }
    }

    #[test]
    fn diff_takes_allowed_skip_kinds() {
        let Ok(Cli {
            command: Command::Diff(d),
        }) = parse(&[
            "diff",
            "base.json",
            "new.json",
            "--allow-skip",
            "sysctl-policy",
            "--json",
        ])
        else {
            panic!("not a diff");
        };
        assert_eq!(
            (d.base, d.new, d.json),
            ("base.json".into(), "new.json".into(), true)
        );
        assert_eq!(d.allow_skip, [ReasonKind::SysctlPolicy]);
    }

    fn filters(f: &[&str]) -> Selection {
        Selection {
            filters: f.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_selector_matches_any_filter_as_a_substring_of_the_id() {
        let id = CaseId::new("pid.pid1", Mode::Rootless, Variant::Control);
        assert!(selector(&filters(&[]))(&id), "no filter selects everything");
        for hit in ["pid.pid1/rootless/control", "pid1/root", "/control"] {
            assert!(selector(&filters(&[hit]))(&id), "{hit}");
        }
        assert!(!selector(&filters(&["uts."]))(&id));
        assert!(!selector(&filters(&["PID.PID1"]))(&id), "case matters");
        assert!(selector(&filters(&["uts.", "rootless"]))(&id));
    }

    #[test]
    fn exact_filters_match_a_whole_case_id_or_property_id() {
        let id = CaseId::new("pid.pid1", Mode::Rootless, Variant::Control);
        let exact = |f: &[&str]| Selection {
            exact: true,
            ..filters(f)
        };
        assert!(exact(&["pid.pid1"]).selects(&id));
        assert!(exact(&["pid.pid1/rootless/control"]).selects(&id));
        for miss in [
            "pid.pid",
            "pid1",
            "pid.pid1/rootless",
            "rootless",
            "/control",
        ] {
            assert!(!exact(&[miss]).selects(&id), "{miss}");
            assert!(filters(&[miss]).selects(&id), "{miss} is a substring");
        }
        assert!(exact(&["uts.hostname", "pid.pid1"]).selects(&id), "an OR");
    }

    #[test]
    fn a_skip_leaves_out_what_it_matches_whatever_the_filters() {
        let test = CaseId::new("pid.pid1", Mode::Rootful, Variant::Test);
        let control = CaseId::new("pid.pid1", Mode::Rootful, Variant::Control);
        let s = Selection {
            skips: vec!["/control".into()],
            ..filters(&["pid."])
        };
        assert!(s.selects(&test) && !s.selects(&control));
        let s = Selection {
            skips: vec!["pid.pid1".into()],
            ..Default::default()
        };
        assert!(!s.selects(&test), "a skip without filters");
        let s = Selection {
            skips: vec!["pid.pid".into()],
            exact: true,
            ..Default::default()
        };
        assert!(s.selects(&test), "an exact skip needs a whole id");
    }

    #[test]
    fn positional_filters_join_the_repeated_filter_option() {
        let a = run_args(&[
            "pid.pid1", "--filter", "net", "uts", "--skip", "x", "--exact",
        ]);
        let s = a.suite.selection();
        assert_eq!(s.filters, ["net", "pid.pid1", "uts"]);
        assert_eq!((s.skips, s.exact), (vec!["x".to_string()], true));
        let Ok(Cli {
            command: Command::List(l),
        }) = parse(&["list", "pid.pid1", "net", "--skip", "/control"])
        else {
            panic!("not a list");
        };
        assert_eq!(
            l.suite.selection(),
            Selection {
                filters: vec!["pid.pid1".into(), "net".into()],
                skips: vec!["/control".into()],
                exact: false,
            }
        );
        let a = run_args(&["-q", "--list", "--color", "never"]);
        assert!(a.quiet && a.list);
        assert_eq!(a.color, ColorChoice::Never);
        assert_eq!(run_args(&["--color"]).color, ColorChoice::Always);
        assert!(run_args(&["--quiet"]).quiet);
    }

    #[rstest::rstest]
    #[case::auto_terminal(ColorChoice::Auto, None, None, true, true)]
    #[case::auto_pipe(ColorChoice::Auto, None, None, false, false)]
    #[case::no_color(ColorChoice::Auto, Some("1"), None, true, false)]
    #[case::no_color_empty(ColorChoice::Auto, Some(""), None, true, true)]
    #[case::force(ColorChoice::Auto, None, Some("1"), false, true)]
    #[case::force_zero(ColorChoice::Auto, None, Some("0"), false, false)]
    #[case::force_empty(ColorChoice::Auto, None, Some(""), false, false)]
    #[case::no_color_wins_over_force(ColorChoice::Auto, Some("1"), Some("1"), true, false)]
    #[case::always_over_no_color(ColorChoice::Always, Some("1"), None, false, true)]
    #[case::never_over_force(ColorChoice::Never, None, Some("1"), true, false)]
    fn the_colour_decision(
        #[case] choice: ColorChoice,
        #[case] no_color: Option<&str>,
        #[case] force: Option<&str>,
        #[case] terminal: bool,
        #[case] expected: bool,
    ) {
        let os = |v: Option<&str>| v.map(std::ffi::OsString::from);
        assert_eq!(
            use_color(
                choice,
                os(no_color).as_deref(),
                os(force).as_deref(),
                terminal
            ),
            expected
        );
    }

    #[test]
    fn every_commands_help_states_its_exit_codes() {
        let top = Cli::command().render_long_help().to_string();
        assert!(top.contains("Exit status:"), "{top}");
        for sub in Cli::command().get_subcommands_mut() {
            let name = sub.get_name().to_string();
            let help = sub.render_long_help().to_string();
            assert!(help.contains("Exit status:"), "{name}: {help}");
            for code in ["0", "2"] {
                assert!(help.contains(&format!("\n  {code}  ")), "{name}: {code}");
            }
        }
        let run = Cli::command()
            .find_subcommand_mut("run")
            .unwrap()
            .render_long_help()
            .to_string();
        for code in [
            EXIT_OK,
            EXIT_BROKEN,
            EXIT_USAGE,
            EXIT_HARNESS,
            EXIT_SIGHUP,
            EXIT_SIGINT,
            EXIT_SIGTERM,
        ] {
            assert!(run.contains(&format!("\n  {code:<3}  ")), "run: {code}");
        }
        let matrix = Cli::command()
            .find_subcommand_mut("matrix")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(matrix.contains("1    the matrix was written and shows a regression"));
    }

    #[test]
    fn a_broken_promise_outranks_a_harness_error() {
        let mut r = sample_report();
        let outcomes: Vec<Outcome> = r.cases.iter().map(|c| c.outcome).collect();
        assert!(outcomes.contains(&Outcome::Fail) && outcomes.contains(&Outcome::Error));
        assert_eq!(exit_status(&r), EXIT_BROKEN);
        r.cases.retain(|c| c.outcome != Outcome::Fail);
        assert_eq!(exit_status(&r), EXIT_HARNESS);
        r.cases.retain(|c| c.outcome != Outcome::Error);
        assert!(r.cases.iter().any(|c| c.outcome == Outcome::Skip));
        assert_eq!(exit_status(&r), EXIT_OK, "skips are allowed");
        r.cases.clear();
        assert_eq!(exit_status(&r), EXIT_OK);
    }

    #[test]
    fn an_interrupted_run_exits_128_plus_the_signal() {
        assert_eq!(interrupted_status("SIGINT"), 130);
        assert_eq!(interrupted_status("SIGTERM"), 143);
        assert_eq!(interrupted_status("SIGHUP"), 129);
        assert_eq!(interrupted_status("SIGUSR1"), EXIT_SIGTERM);
    }

    #[test]
    fn an_output_path_fails_as_usage_unless_the_machine_ran_out() {
        let os = std::io::Error::from_raw_os_error;
        for e in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOMEM,
            libc::ENOSPC,
            libc::EDQUOT,
        ] {
            assert_eq!(out_status(&os(e)), EXIT_HARNESS, "errno {e}");
        }
        for e in [
            libc::EACCES,
            libc::ENOENT,
            libc::ENOTDIR,
            libc::EROFS,
            libc::ELOOP,
        ] {
            assert_eq!(out_status(&os(e)), EXIT_USAGE, "errno {e}");
        }
    }

    #[test]
    fn the_leg_directory_is_the_release_and_the_layout_label() {
        let mut r = sample_report();
        r.labels.clear();
        assert_eq!(
            leg_dir(Path::new("out"), &r),
            Path::new("out/6.1.0-43-amd64")
        );
        r.labels.insert("layout".into(), "v1".into());
        r.labels.insert("ci".into(), "yes".into());
        assert_eq!(
            leg_dir(Path::new("out"), &r),
            Path::new("out/6.1.0-43-amd64-v1")
        );
        r.host.kernel.release.clear();
        assert_eq!(
            leg_dir(Path::new("/r"), &r),
            Path::new("/r/unknown-kernel-v1")
        );
    }

    #[test]
    fn the_built_in_suites_load_without_a_suite_argument() {
        let props = load(&SuiteArgs {
            suites: Vec::new(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(props.len(), table::builtin().unwrap().len());
        assert!(props.iter().any(|p| p.id == "pid.pid1"));
    }

    #[test]
    fn a_property_defined_in_two_tables_is_refused_naming_both() {
        let selftest =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/suites/selftest.toml");
        let one = load(&SuiteArgs {
            suites: vec![selftest.clone()],
            ..Default::default()
        })
        .unwrap();
        assert!(!one.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.toml");
        std::fs::copy(&selftest, &copy).unwrap();
        let e = load(&SuiteArgs {
            suites: vec![selftest.clone(), copy.clone()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.starts_with(&format!("{}: property `{}`", copy.display(), one[0].id))
                && e.ends_with(&format!("is also defined in {}", selftest.display())),
            "{e}"
        );
    }

    #[test]
    fn a_missing_suite_file_is_an_error() {
        let e = load(&SuiteArgs {
            suites: vec!["/nonexistent/isocheck-suite.toml".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("/nonexistent/isocheck-suite.toml"), "{e}");
    }

    #[test]
    fn progress_only_on_terminals_outside_ci_for_a_person_s_format() {
        let ci = Some(std::ffi::OsStr::new("true"));
        let empty = Some(std::ffi::OsStr::new(""));
        // (format, CI, both terminals, progress)
        let table = [
            (Format::Pretty, None, true, true),
            (Format::Terse, None, true, true),
            (Format::Pretty, empty, true, true),
            (Format::Pretty, ci, true, false),
            (Format::Pretty, None, false, false),
            (Format::Json, None, true, false),
            (Format::Ktap, None, true, false),
        ];
        for (format, env, terminals, want) in table {
            assert_eq!(
                use_progress(format, env, terminals),
                want,
                "{format:?} CI={env:?} terminals={terminals}"
            );
        }
        assert_eq!(run_args(&[]).format, Format::Pretty);
        assert_eq!(run_args(&["--format", "terse"]).format, Format::Terse);
        assert_eq!(run_args(&["--format", "json"]).format, Format::Json);
        assert_eq!(run_args(&["--format", "ktap"]).format, Format::Ktap);
    }
}
