//! The built-in tables against the table policy with a small host: no
//! row relies on a large one. (The tables are the suite's data; the policy
//! is the rule they load under, so the check lives above both.)

use isocheck::suite::policy;
use isocheck::suite::table::builtin;

#[test]
fn every_builtin_row_passes_in_every_mode() {
    // `table::builtin` applies the policy with this host's RAM; here
    // the check is repeated with a small host, so no row relies on a
    // large one.
    let small = policy::Host { ram: 1 << 30 };
    for p in builtin().unwrap() {
        for (mode, d) in &p.defs {
            if let Err((f, m)) = policy::check(&d.probe, &d.sandbox, &d.control.knob, &small) {
                panic!("{} ({mode}): {f}: {m}", p.id);
            }
        }
    }
}
