//! The built-in suite tables (suites/*.toml), for `suite::table`: their
//! texts (`builtin_texts.rs`, `table::BUILTIN`), and each row converted to
//! JSON with its id (`builtin_rows.rs`, read at start-up: serde_json reads
//! a row in a fraction of the TOML parser's time, and the tables were most
//! of a `list`'s start-up). The TOML stays the source: its text is built
//! in, for errors that name a line and for
//! `table::tests::the_converted_rows_load_as_the_toml_does`.

use std::fmt::Write as _;
use std::path::Path;

/// The built-in tables, in the order they are loaded and listed.
const TABLES: &[&str] = &[
    "core", "pid", "cgroup", "security", "caps", "mount", "ipc", "time", "userns", "net", "cve",
];

fn main() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut texts = String::from("&[\n");
    let mut code = String::from("&[\n");
    for name in TABLES {
        let path = format!("suites/{name}.toml");
        println!("cargo:rerun-if-changed={path}");
        let _ = writeln!(
            texts,
            "    ({path:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{path}\"))),"
        );
        let text = std::fs::read_to_string(Path::new(&dir).join(&path))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        // A table that does not parse is left to the TOML reading, which
        // names its line: no rows here.
        let rows = match toml::from_str::<toml::Table>(&text) {
            Ok(t) => match t.get("property") {
                Some(toml::Value::Array(rows)) => rows.clone(),
                _ => Vec::new(),
            },
            Err(_) => Vec::new(),
        };
        let _ = writeln!(code, "    ({path:?}, &[");
        for row in &rows {
            let id = row.get("id").and_then(toml::Value::as_str).unwrap_or("");
            let json = json_of(row).unwrap_or_else(|e| panic!("{path}: row {id}: {e}"));
            let _ = writeln!(code, "        ({id:?}, {:?}),", json.to_string());
        }
        let _ = writeln!(code, "    ]),");
    }
    texts.push(']');
    code.push(']');
    std::fs::write(Path::new(&out).join("builtin_texts.rs"), texts).expect("writing OUT_DIR");
    std::fs::write(Path::new(&out).join("builtin_rows.rs"), code).expect("writing OUT_DIR");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The JSON of a TOML value; a date or a float JSON cannot write is
/// refused (no table has one, and a converted row must read as its TOML).
fn json_of(v: &toml::Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("the float {f} has no JSON form"))?,
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => return Err(format!("the date {d} has no JSON form")),
        toml::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(json_of).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => serde_json::Value::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), json_of(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
