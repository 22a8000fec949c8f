//! `isocheck report`: questions about report files, answered for scripts
//! (the kernel matrix asks them of the reports its legs wrote), and
//! reports converted for other systems (`report kcidb`).
//!
//! The file is read by the same checked reader as `diff` and `matrix`
//! ([`crate::report::json`]): a file that is not an isocheck report of this
//! schema is refused with its path and the JSON path of the value that
//! does not fit, and exits 2. The summary is counted from the cases, never
//! taken from the file.

use std::path::PathBuf;

use crate::model::result::Summary;
use crate::report::json::{read_report_with, Detail};

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    question: Question,
}

#[derive(clap::Subcommand)]
enum Question {
    /// The outcome counts of a report, counted from its cases:
    /// `total=N pass=N fail=N skip=N error=N` on one line.
    Summary {
        #[arg(value_name = "REPORT.json")]
        file: PathBuf,
        /// Print the counts as a JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// The reports as one KernelCI KCIDB I/O document (schema 4.5) on
    /// stdout: checkouts and builds per kernel, a test per case and leg;
    /// `fail` is FAIL, `error` ERROR (MISS when a stopped run never ran
    /// it), `skip` SKIP.
    Kcidb {
        #[arg(required = true, value_name = "REPORT.json")]
        files: Vec<PathBuf>,
    },
}

/// The counts as one line of `key=value` words, in a fixed order.
fn summary_line(s: &Summary) -> String {
    format!(
        "total={} pass={} fail={} skip={} error={}\n",
        s.total, s.pass, s.fail, s.skip, s.error
    )
}

pub fn run(a: ReportArgs) -> u8 {
    match a.question {
        Question::Summary { file, json } => {
            let report = match read_report_with(&file, Detail::Outcomes) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("isocheck: {e}");
                    return super::EXIT_USAGE;
                }
            };
            let text = if json {
                serde_json::to_string_pretty(&report.summary).unwrap_or_default() + "\n"
            } else {
                summary_line(&report.summary)
            };
            super::say(&text);
            super::EXIT_OK
        }
        Question::Kcidb { files } => {
            let mut reports = Vec::with_capacity(files.len());
            for file in &files {
                match read_report_with(file, Detail::Full) {
                    Ok(r) => reports.push(r),
                    Err(e) => {
                        eprintln!("isocheck: {e}");
                        return super::EXIT_USAGE;
                    }
                }
            }
            let doc = crate::report::kcidb::render(&reports);
            super::say(&(serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"));
            super::EXIT_OK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_names_every_count_in_order() {
        let s = Summary {
            total: 9,
            pass: 5,
            fail: 1,
            skip: 2,
            error: 1,
        };
        assert_eq!(summary_line(&s), "total=9 pass=5 fail=1 skip=2 error=1\n");
    }
}
