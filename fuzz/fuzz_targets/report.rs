//! The report reader `isocheck diff` and `isocheck matrix` use, and what
//! they do with a report it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(report) = isocheck::report::json::from_str(text, Path::new("fuzz.json")) else {
        return;
    };
    // The reader refuses a repeated case id, so a diff of what it
    // accepted always works.
    let d = isocheck::report::diff::diff(&report, &report).expect("ids are unique");
    assert!(d.is_empty());
    let _ = isocheck::report::diff::render_text(&d);
    let m = isocheck::report::matrix::Matrix::build(&[("fuzz".into(), report)]);
    let _ = isocheck::report::matrix::render_html(&m);
});
