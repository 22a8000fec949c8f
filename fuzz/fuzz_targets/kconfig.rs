//! The kernel config parser: plain text or gzip, as /proc/config.gz and
//! /boot/config-* come.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(cfg) = isocheck::host::KernelConfig::from_bytes(data, Path::new("fuzz-config")) {
        let _ = cfg.get("CONFIG_USER_NS");
        let _ = cfg.warnings();
    }
});
