//! The suite table loader (`--suite FILE`): any text is refused with a
//! located error or loaded; it never panics or hangs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = isocheck::suite::table::parse("fuzz.toml", text);
    }
});
