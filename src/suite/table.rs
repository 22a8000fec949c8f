//! Suite tables: TOML files with one `[[property]]` row per isolation
//! property. Loading checks every row before anything runs; an error names
//! the file, the line, the row and the field.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use super::case::{Control, ModeDef, Property};
use super::catalog;
use super::expect::{contradiction, Expect, Written};
use super::knob::ControlKnob;
use super::policy;
use super::requirements::Requirement;
use crate::model::namespace::Namespace;
use crate::model::result::Mode;
use crate::model::spec::SandboxSpec;
use crate::probe::Probe;
use std::collections::BTreeMap;

/// One row as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    /// The promise, in one line. A row of a built-in property may leave it
    /// out (and `area`): it then reads the built-in row's.
    #[serde(default)]
    description: Option<String>,
    /// Where reports group it (one of [`catalog::AREAS`]); by default the
    /// id's first word.
    #[serde(default)]
    area: Option<String>,
    /// The sabotages that must break it: `NAME [MODE] [fail|error]`.
    #[serde(default)]
    broken_by: Vec<String>,
    #[serde(default = "rootful")]
    modes: Vec<Mode>,
    #[serde(default)]
    requires: Vec<String>,
    probe: Probe,
    #[serde(default)]
    sandbox: SandboxSpec,
    expect: Vec<Written>,
    control: RowControl,
    /// What the property is tied to in the kernel's history: `linux X.Y`,
    /// `commit <hex>`, `CVE-<year>-<number>` ([`crate::model::tag`]). A row
    /// of a built-in property that names none reads the built-in row's.
    #[serde(default)]
    tags: Vec<String>,
    /// What differs in rootless mode.
    #[serde(default)]
    rootless: Option<RowOverride>,
    /// Run with no other case at once: the probe measures time (CPU time
    /// against wall time), which other sandboxes would eat into.
    #[serde(default)]
    exclusive: bool,
}

/// A mode's replacements for the row's fields.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RowOverride {
    requires: Option<Vec<String>>,
    probe: Option<Probe>,
    sandbox: Option<SandboxSpec>,
    expect: Option<Vec<Written>>,
    control: Option<RowControl>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RowControl {
    off: String,
    expect: Vec<Written>,
}

fn rootful() -> Vec<Mode> {
    vec![Mode::Rootful]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    property: Vec<toml::Spanned<toml::Table>>,
}

/// A chunk of a table read straight into rows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypedFile {
    #[serde(default)]
    property: Vec<toml::Spanned<Row>>,
}

/// One row's span in the text and its parse, or the chunk's syntax error.
type ParsedRow = Result<(std::ops::Range<usize>, Parsed), TableError>;

/// One row checked: its id once the catalogue knows it (with the error a
/// second row of that id gets), and the property or the row's error.
struct Built {
    named: Option<(String, Option<TableError>)>,
    result: Result<Property, TableError>,
}

/// `f` over `items` on every CPU, results in order; small inputs stay on
/// the calling thread.
fn par_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    // Small inputs first: asking for the CPU count reads the cgroup's CPU
    // quota files, which costs more than a small table's rows.
    if items.len() < 1024 {
        return items.into_iter().map(f).collect();
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut it = items.into_iter();
    loop {
        let g: Vec<T> = it.by_ref().take(per).collect();
        if g.is_empty() {
            break;
        }
        groups.push(g);
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|g| s.spawn(move || g.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// A row as parsed: typed, or (when it did not deserialize) plain TOML
/// to be read again for the field at fault.
enum Parsed {
    Typed(Box<Row>),
    Raw(toml::Table),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {place}{message}")]
pub struct TableError {
    pub file: String,
    pub line: usize,
    /// `property #2 (pid.pid1), field `sandbox.mounts[0].kind`: ` or empty.
    pub place: String,
    pub message: String,
}

/// Line numbers by byte offset, found by binary search over the offsets
/// of the newlines (so loading stays linear in the table's size).
struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        Lines {
            newlines: text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The 1-based line holding `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset) + 1
    }

    /// The byte offset where 1-based `line` starts.
    fn start_of(&self, line: usize) -> usize {
        if line <= 1 {
            0
        } else {
            self.newlines.get(line - 2).map_or(usize::MAX, |n| n + 1)
        }
    }
}

/// Loads a table file.
pub fn load_file(path: &Path) -> Result<Vec<Property>, TableError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| TableError {
        file: file.clone(),
        line: 0,
        place: String::new(),
        message: format!("cannot read the table: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        TableError {
            file: file.clone(),
            line: bytes[..good].iter().filter(|b| **b == b'\n').count() + 1,
            place: String::new(),
            message: format!(
                "not UTF-8: byte {:#04x} at offset {good} does not start a valid character; a table is UTF-8 text",
                bytes[good]
            ),
        }
    })?;
    parse(&file, &text)
}

/// Where a TOML syntax or value error lies: the row (by the last
/// `[[property]]` before it) and the dotted key whose value it is, read
/// from the text: the `[property.<table>]` header it is under, the key
/// that opens its line (or the multi-line array it continues), and the
/// inline tables open before it on its line.
fn place_of_syntax_error(text: &str, lines: &Lines, offset: usize) -> String {
    let offset = offset.min(text.len());
    let row_start = text[..offset].rfind("[[property]]");
    let Some(row_start) = row_start else {
        return String::new();
    };
    let row = text[..offset].matches("[[property]]").count();
    let id = text[row_start..]
        .lines()
        .find_map(|l| {
            let l = l
                .trim_start()
                .strip_prefix("id")?
                .trim_start()
                .strip_prefix('=')?;
            Some(l.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "?".into());
    let ident = |t: &str| {
        let t = t.trim_end();
        // After the last character that cannot be in a bare key (which may
        // be wider than one byte).
        let k = &t[t
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8())..];
        (!k.is_empty()).then(|| k.to_string())
    };
    let line = lines.line_of(offset);
    let mut keys: Vec<String> = Vec::new();
    // The table header and the top-level key above, for a line that
    // continues a multi-line array.
    let mut top: Option<String> = None;
    let mut l = line;
    while l > 1 && lines.start_of(l) > row_start {
        l -= 1;
        let from = lines.start_of(l);
        let to = lines.start_of(l + 1).saturating_sub(1).min(text.len());
        let t = &text[from..to];
        if let Some(h) = t.trim().strip_prefix("[property.") {
            keys.push(h.trim_end_matches(']').to_string());
            break;
        }
        if top.is_none() && !t.starts_with([' ', '\t', '#']) {
            if let Some(eq) = t.find('=') {
                top = ident(&t[..eq]);
            }
        }
    }
    let here = &text[lines.start_of(line).min(offset)..offset];
    let mut stack: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    let (mut quoted, mut i) = (false, 0);
    let b = here.as_bytes();
    while i < b.len() {
        match b[i] {
            b'"' => quoted = !quoted,
            b'=' if !quoted => last = ident(&here[..i]),
            b'{' if !quoted => stack.extend(last.take()),
            b'}' if !quoted => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    let line_starts_a_key = here
        .trim_start()
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic());
    if !line_starts_a_key {
        keys.extend(top);
    }
    keys.extend(stack);
    keys.extend(last);
    if keys.is_empty() {
        format!("property #{row} ({id}): ")
    } else {
        format!("property #{row} ({id}), field `{}`: ", keys.join("."))
    }
}

/// Parses a table's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Property>, TableError> {
    parse_with(file, text, &policy::Host::this())
}

/// Parses a table's text under the policy for `host`.
pub fn parse_with(
    file: &str,
    text: &str,
    host: &policy::Host,
) -> Result<Vec<Property>, TableError> {
    parse_rows(file, text, host, false, &|_| true)
}

/// Which property ids of the built-in tables to load.
pub type Keep<'a> = dyn Fn(&str) -> bool + Sync + 'a;

/// The id a row's text gives on its first `id = "..."` line, read without
/// parsing the row; `None` when it is not written that way (the text
/// before the first row, say). Every built-in row gives its own id so
/// (`table::tests::each_built_in_row_is_found_by_its_id`).
fn quick_id(chunk: &str) -> Option<&str> {
    chunk.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix("id")?.trim_start();
        rest.strip_prefix('=')?
            .trim()
            .strip_prefix('"')?
            .split('"')
            .next()
    })
}

/// [`parse_with`]; `built_in`: the text is one of [`BUILTIN`], whose rows
/// are each their own [`known`] row (so that loading the built-in tables
/// does not parse them all a second time to find them).
fn parse_rows(
    file: &str,
    text: &str,
    host: &policy::Host,
    built_in: bool,
    keep: &Keep<'_>,
) -> Result<Vec<Property>, TableError> {
    let err = |line: usize, place: String, message: String| TableError {
        file: file.into(),
        line,
        place,
        message,
    };
    let lines = Lines::new(text);
    // Each row is parsed on its own, from its `[[property]]` header (at
    // the start of a line) to the next: memory stays that of one row, and
    // every offset is the chunk's plus the chunk's start.
    let headers: Vec<usize> = text
        .match_indices("[[property]]")
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n')
        .collect();
    let mut bounds: Vec<usize> = vec![0];
    bounds.extend(headers.iter().copied().filter(|&h| h > 0));
    bounds.push(text.len());
    let all = bounds.len() - 1;
    // A built-in row whose id is not kept is never parsed (a run of one
    // check parses one row); a table of the operator's is read whole.
    let windows: Vec<(usize, usize)> = bounds
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|&(base, end)| !built_in || quick_id(&text[base..end]).is_none_or(keep))
        .collect();
    if windows.len() < all
        && windows
            .iter()
            .all(|&(b, e)| quick_id(&text[b..e]).is_none())
    {
        return Ok(Vec::new());
    }
    let parse_chunk = |(base, end): (usize, usize)| {
        let chunk = &text[base..end];
        // The rows straight into their types; only a chunk that does not
        // deserialize is read again as plain TOML, to find the field at fault.
        if let Ok(f) = toml::from_str::<TypedFile>(chunk) {
            return f
                .property
                .into_iter()
                .map(|r| {
                    let span = r.span();
                    Ok((
                        base + span.start..base + span.end,
                        Parsed::Typed(Box::new(r.into_inner())),
                    ))
                })
                .collect::<Vec<_>>();
        }
        match toml::from_str::<File>(chunk) {
            Ok(f) => f
                .property
                .into_iter()
                .map(|r| {
                    let span = r.span();
                    Ok((
                        base + span.start..base + span.end,
                        Parsed::Raw(r.into_inner()),
                    ))
                })
                .collect::<Vec<_>>(),
            Err(e) => {
                let (line, place) = e.span().map_or((0, String::new()), |s| {
                    (
                        lines.line_of(base + s.start),
                        place_of_syntax_error(text, &lines, base + s.start),
                    )
                });
                vec![Err(err(line, place, e.message().trim().to_string()))]
            }
        }
    };
    // Checks row `i`; `exact` also makes the error a second row of its id
    // would get (its line and field cost a scan of the row's text).
    let build = |(i, row): (usize, ParsedRow), exact: bool| -> Built {
        let mut named: Option<(String, Option<TableError>)> = None;
        let result = (|| -> Result<Property, TableError> {
            let (span, parsed) = row?;
            // The span covers the `[[property]]` header; the row runs to the next one.
            let row_end = headers
                .get(headers.partition_point(|&h| h < span.end))
                .copied()
                .unwrap_or(text.len());
            let row_line = lines.line_of(span.start);
            let id = match &parsed {
                Parsed::Typed(row) => row.id.clone(),
                Parsed::Raw(table) => table
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_string(),
            };
            let here = |field: &str| {
                if field.is_empty() {
                    format!("property #{} ({id}): ", i + 1)
                } else {
                    format!("property #{} ({id}), field `{field}`: ", i + 1)
                }
            };
            let row_text =
                &text[span.start.min(text.len())..row_end.max(span.start).min(text.len())];
            // The line of the field inside this row: its first key's line (or
            // its `[property.key]` table's), then each further key found at or
            // below that; else the row's line.
            let field_line = |field: &str| {
                let field = field.strip_prefix("(rootless) ").unwrap_or(field);
                let keys: Vec<&str> = field
                    .split('.')
                    .map(|k| k.split('[').next().unwrap_or(""))
                    .filter(|k| !k.is_empty())
                    .collect();
                let Some(first) = keys.first() else {
                    return row_line;
                };
                let row_lines: Vec<&str> = row_text.lines().collect();
                let is_key = |l: &str, k: &str| {
                    let t = l.trim_start();
                    t.starts_with(&format!("{k} "))
                        || t.starts_with(&format!("{k}="))
                        || t.starts_with(&format!("[property.{k}"))
                };
                let Some(mut at) = row_lines.iter().position(|l| is_key(l, first)) else {
                    return row_line;
                };
                for k in &keys[1..] {
                    let inline = |l: &str| {
                        l.contains(&format!("{k} ="))
                            || l.contains(&format!("{k}="))
                            || is_key(l, k)
                            || l.contains(&format!(".{k}]"))
                    };
                    match row_lines[at..].iter().position(|l| inline(l)) {
                        Some(p) => at += p,
                        None => break,
                    }
                }
                row_line + at
            };
            let row: Row = match parsed {
                Parsed::Typed(row) => *row,
                Parsed::Raw(table) => serde_path_to_error::deserialize(toml::Value::Table(table))
                    .map_err(|e| {
                    let field = e.path().to_string();
                    let field = if field == "." { String::new() } else { field };
                    err(field_line(&field), here(&field), e.into_inner().to_string())
                })?,
            };
            let fail = |field: &str, msg: String| err(field_line(field), here(field), msg);
            let source = Source {
                file,
                host,
                built_in,
                checks: Checks::All,
            };
            build_row(row, source, &fail, &mut named, exact)
        })();
        Built { named, result }
    };
    // Rows are independent until their ids are compared: each chunk is
    // parsed and checked on one of every CPU's threads, so a row's parsed
    // form is freed as soon as its property is built, and the properties
    // are then taken in order. A row's number (`property #N`) is known only
    // once every chunk before it is counted, so on any error or repeated id
    // the table is read again the exact way below, for the error to name
    // the right row, line and field.
    let fast = par_map(windows.clone(), |w| {
        parse_chunk(w)
            .into_iter()
            .map(|row| build((0, row), false))
            .collect::<Vec<_>>()
    });
    let mut out: Vec<Property> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut clean = true;
    'rows: for built in fast.into_iter().flatten() {
        if let Some((id, _)) = built.named {
            if !seen.insert(id) {
                clean = false;
                break 'rows;
            }
        }
        match built.result {
            Ok(p) => out.push(p),
            Err(_) => {
                clean = false;
                break 'rows;
            }
        }
    }
    if clean {
        if out.is_empty() {
            return Err(err(1, String::new(), "no [[property]] rows".into()));
        }
        return Ok(out);
    }
    drop(out);
    let rows: Vec<(usize, ParsedRow)> = par_map(windows, parse_chunk)
        .into_iter()
        .flatten()
        .enumerate()
        .collect();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for built in par_map(rows, |row| build(row, true)) {
        if let Some((id, twice)) = built.named {
            if !seen.insert(id.clone()) {
                return Err(twice.unwrap_or_else(|| {
                    err(0, String::new(), format!("property `{id}` appears twice"))
                }));
            }
        }
        built.result?;
    }
    // Unreachable in practice: the fast reading failed, the exact one must too.
    Err(err(
        0,
        String::new(),
        "the table was refused on a first reading but not on a second".into(),
    ))
}

/// Checks a row and builds its property; `fail` makes the error for a
/// field. `named` gets the row's id once the checks that precede an id's
/// use have passed, with (when `exact`) the error a second row of that id
/// gets; `built_in`: the row is one of [`BUILTIN`]'s, its own [`known`] row.
fn build_row(
    row: Row,
    Source {
        file,
        host,
        built_in,
        checks,
    }: Source<'_>,
    fail: &dyn Fn(&str, String) -> TableError,
    named: &mut Option<(String, Option<TableError>)>,
    exact: bool,
) -> Result<Property, TableError> {
    let custom = row
        .id
        .strip_prefix("custom.")
        .is_some_and(|r| !r.is_empty());
    let own;
    let builtin = if built_in {
        own = Known {
            id: row.id.clone(),
            description: row.description.clone(),
            area: row.area.clone(),
            tags: row.tags.clone(),
            control: None,
            rootless: None,
        };
        Some(&own)
    } else {
        known().iter().find(|k| k.id == row.id)
    };
    if !custom && builtin.is_none() {
        let known: Vec<&str> = known().iter().map(|k| k.id.as_str()).collect();
        return Err(fail(
            "id",
            format!(
                "unknown property `{}`; known: {}, or your own as `custom.<name>`",
                row.id,
                known.join(", ")
            ),
        ));
    }
    let area = row
        .area
        .clone()
        .or_else(|| builtin.and_then(|k| k.area.clone()))
        .unwrap_or_else(|| catalog::default_area(&row.id).to_string());
    if !catalog::AREAS.contains(&area.as_str()) {
        return Err(fail(
            "area",
            format!(
                "unknown area `{area}`; areas: {}",
                catalog::AREAS.join(", ")
            ),
        ));
    }
    let promise = row
        .description
        .clone()
        .or_else(|| builtin.and_then(|k| k.description.clone()))
        .unwrap_or_default();
    let mut broken_by: Vec<super::case::BrokenBy> = Vec::new();
    for (j, item) in row.broken_by.iter().enumerate() {
        for b in catalog::parse_broken_by(item, &row.modes)
            .map_err(|e| fail(&format!("broken_by[{j}]"), e))?
        {
            if broken_by
                .iter()
                .any(|o| o.sabotage.id == b.sabotage.id && o.mode == b.mode)
            {
                return Err(fail(
                    &format!("broken_by[{j}]"),
                    format!("`{}` {} is named twice", b.sabotage.name, b.mode),
                ));
            }
            broken_by.push(b);
        }
    }
    for (j, t) in row.tags.iter().enumerate() {
        crate::model::tag::Tag::parse(t).map_err(|e| fail(&format!("tags[{j}]"), e))?;
        if row.tags[..j].contains(t) {
            return Err(fail(&format!("tags[{j}]"), format!("`{t}` is named twice")));
        }
    }
    let tags = if row.tags.is_empty() {
        builtin.map(|k| k.tags.clone()).unwrap_or_default()
    } else {
        row.tags.clone()
    };
    *named = Some((
        row.id.clone(),
        exact.then(|| fail("id", format!("property `{}` appears twice", row.id))),
    ));
    if row.modes.is_empty() {
        return Err(fail("modes", "must list at least one mode".into()));
    }
    let mut defs = BTreeMap::new();
    let rootful = ModeInput {
        requires: &row.requires,
        probe: &row.probe,
        sandbox: &row.sandbox,
        expect: &row.expect,
        control: &row.control,
    };
    if row.rootless.is_some() && !row.modes.contains(&Mode::Rootless) {
        return Err(fail(
            "rootless",
            "a rootless override needs `modes` to include \"rootless\"".into(),
        ));
    }
    for mode in &row.modes {
        let def = match mode {
            Mode::Rootful => {
                build_def(&rootful, *mode, "", host, checks).map_err(|(f, m)| fail(&f, m))?
            }
            // A row for rootless mode alone is written as it runs there.
            Mode::Rootless if !row.modes.contains(&Mode::Rootful) && row.rootless.is_none() => {
                build_def(&rootful, *mode, "", host, checks).map_err(|(f, m)| fail(&f, m))?
            }
            Mode::Rootless => rootless_def(&rootful, row.rootless.as_ref(), host, checks)
                .map_err(|(f, m)| fail(&f, m))?,
        };
        // A row of a table of one's own that names a built-in property
        // keeps the knob its promise is about: with another (pid.pid1 with
        // no PID namespace, its control turning pivot_root off to show the
        // host's /proc) the test passes and the control sees a leak of
        // another kind, under the built-in's id and promise.
        if !built_in {
            if let Some(want) = builtin.and_then(|k| k.knob(*mode)) {
                let same = want
                    .parse::<ControlKnob>()
                    .is_ok_and(|k| k == def.control.knob);
                if !same {
                    let field = if *mode == Mode::Rootless && row.rootless.is_some() {
                        "rootless.control.off"
                    } else {
                        "control.off"
                    };
                    return Err(fail(
                        field,
                        format!(
                            "`{}` is a built-in property whose {} control turns off `{want}`; a row that names it keeps that knob, the one its promise is about (this one turns off `{}`): name a row of your own `custom.<name>`",
                            row.id,
                            mode.as_str(),
                            def.control.knob
                        ),
                    ));
                }
            }
        }
        defs.insert(*mode, Box::new(def));
    }
    Ok(Property {
        id: row.id,
        area,
        description: promise,
        broken_by,
        defs,
        tags,
        source: PathBuf::from(file),
        exclusive: row.exclusive,
    })
}

/// One mode's definition as written, before validation.
struct ModeInput<'a> {
    requires: &'a [String],
    probe: &'a Probe,
    sandbox: &'a SandboxSpec,
    expect: &'a [Written],
    control: &'a RowControl,
}

type FieldError = (String, String);

/// Where a row comes from, for [`build_row`].
#[derive(Clone, Copy)]
struct Source<'a> {
    /// The table's name, for errors and the property's `source`.
    file: &'a str,
    host: &'a policy::Host,
    /// One of [`BUILTIN`]'s tables.
    built_in: bool,
    checks: Checks,
}

/// Which of a row's checks [`build_def`] makes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Every one: a table read from its TOML.
    All,
    /// Only those whose answer depends on the host (the sandbox policy)
    /// or that the definition is built from: a built-in row read from its
    /// conversion ([`from_converted`]). What an expectation may read and
    /// whether the lists can hold and fail depend on the row's text alone,
    /// the same on every host; `the_converted_rows_load_as_the_toml_does`
    /// checks them for every built-in row, and a debug build makes them
    /// at every start.
    Host,
}

/// Validates one mode's definition; errors name the field under `prefix`.
fn build_def(
    m: &ModeInput<'_>,
    mode: Mode,
    prefix: &str,
    host: &policy::Host,
    checks: Checks,
) -> Result<ModeDef, FieldError> {
    let f = |field: &str| format!("{prefix}{field}");
    let requires = m
        .requires
        .iter()
        .enumerate()
        .map(|(j, r)| {
            r.parse::<Requirement>()
                .map_err(|e| (f(&format!("requires[{j}]")), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let requires = with_mode_implied(requires, mode);
    let requires = with_namespaces_made(requires, m.sandbox, m.probe);
    crate::runtime::spec::check(m.sandbox).map_err(|e| (f("sandbox"), e))?;
    if m.expect.is_empty() {
        return Err((f("expect"), "a test needs at least one expectation".into()));
    }
    let expect = typed(m.expect, &f("expect"))?;
    let knob: ControlKnob = m.control.off.parse().map_err(|e| (f("control.off"), e))?;
    knob.check_on(m.sandbox)
        .map_err(|e| (f("control.off"), e))?;
    let control_spec = knob.turn_off(m.sandbox);
    crate::runtime::spec::check(&control_spec).map_err(|e| {
        (
            f("control.off"),
            format!("the control's sandbox is invalid: {e}"),
        )
    })?;
    if m.control.expect.is_empty() {
        return Err((
            f("control.expect"),
            "a control needs at least one expectation: what the leak looks like".into(),
        ));
    }
    let control_expect = typed(&m.control.expect, &f("control.expect"))?;
    policy::check(m.probe, m.sandbox, &knob, host).map_err(|(field, e)| (f(&field), e))?;
    let def = |expect, control_expect| ModeDef {
        requires,
        probe: m.probe.clone(),
        sandbox: m.sandbox.clone(),
        expect,
        control: Control {
            knob: knob.clone(),
            expect: control_expect,
        },
    };
    if checks == Checks::Host {
        return Ok(def(expect, control_expect));
    }
    // Every expectation reads a path the observation has, and can both
    // hold and fail; each list can pass; the control looks for something
    // the test does not ask for.
    // The probe's own paths are the same in both sandboxes: listed once
    // (what `Probe::fields` gives, in two steps).
    let probe_fields = m.probe.probe_fields();
    for (name, list, spec) in [
        ("expect", &expect[..], m.sandbox),
        ("control.expect", &control_expect[..], &control_spec),
    ] {
        let runner_fields = crate::probe::schema::runner_fields(spec);
        let mut fields = Vec::with_capacity(probe_fields.len() + runner_fields.len());
        fields.extend_from_slice(&probe_fields);
        fields.extend(runner_fields);
        for (j, e) in list.iter().enumerate() {
            e.check_against(&fields)
                .map_err(|e| (f(&format!("{name}[{j}]")), e))?;
        }
        if let Some((j, why)) = contradiction(list) {
            return Err((f(&format!("{name}[{j}]")), why));
        }
        if list.iter().all(|e| e.pre) {
            return Err((
                f(name),
                "every expectation is a precondition (`pre = true`): nothing states the promise or the leak".into(),
            ));
        }
    }
    let promised: Vec<&Expect> = control_expect.iter().filter(|e| !e.pre).collect();
    if promised.iter().all(|c| expect.iter().any(|t| t.same_as(c))) {
        let what: Vec<String> = promised.iter().map(|e| e.describe()).collect();
        return Err((
            f("control.expect"),
            format!(
                "the control expects only what the test expects ({}): no difference `{knob}` could make would show",
                what.join(", ")
            ),
        ));
    }
    Ok(def(expect, control_expect))
}

/// A mode's own requirement is one of every case in it, written in the row
/// or not: a rootful sandbox needs `root` (else a runner without it would
/// try the sandbox and see the kernel refuse, an error, or fall to the
/// rootless stand-in's reason), a rootless one `userns`. It comes first,
/// so an unmet one is the reason the cases give.
fn with_mode_implied(mut requires: Vec<Requirement>, mode: Mode) -> Vec<Requirement> {
    let own = match mode {
        Mode::Rootful => Requirement::Root,
        Mode::Rootless => Requirement::Userns,
    };
    if !requires.contains(&own) {
        requires.insert(0, own);
    }
    requires
}

/// The namespaces a case's sandbox and probe make are requirements of the
/// case, written in the row or not: a refusal of one (a seccomp filter
/// around isocheck, a security module) is then decided before the case
/// runs, as a skip or an error of its own, and never read as the promise
/// broken. Only the kinds a root runner tries with a bare clone are
/// added, after the row's own (user and time namespaces have requirements
/// of their own: `userns`, `namespace user`, `kernel-feature time-ns`).
fn with_namespaces_made(
    mut requires: Vec<Requirement>,
    sandbox: &SandboxSpec,
    probe: &Probe,
) -> Vec<Requirement> {
    use crate::model::namespace::Namespace;
    let made = sandbox
        .namespaces
        .iter()
        .chain(&sandbox.outer)
        .copied()
        .chain(probe.namespaces_made());
    for ns in made.filter(|n| !matches!(n, Namespace::User | Namespace::Time)) {
        let r = Requirement::Namespace(ns);
        if !requires.contains(&r) {
            requires.push(r);
        }
    }
    requires
}

/// A list of expectations as written, each checked for its shape (a path
/// and one operator) and typed; an error names `field[j]`.
fn typed(written: &[Written], field: &str) -> Result<Vec<Expect>, FieldError> {
    written
        .iter()
        .enumerate()
        .map(|(j, w)| Expect::try_from(w.clone()).map_err(|e| (format!("{field}[{j}]"), e)))
        .collect()
}

/// The rootless definition: the row's `rootless` overrides where given,
/// else the rootful one with the user namespace it would make left to the
/// rootless namespace the sandbox already lives in, and `root` replaced
/// by `userns`.
fn rootless_def(
    rootful: &ModeInput<'_>,
    over: Option<&RowOverride>,
    host: &policy::Host,
    checks: Checks,
) -> Result<ModeDef, FieldError> {
    let default_requires: Vec<String> = rootful
        .requires
        .iter()
        .map(|r| {
            if r == "root" {
                "userns".to_string()
            } else {
                r.clone()
            }
        })
        .collect();
    let mut default_sandbox = rootful.sandbox.clone();
    default_sandbox.namespaces.remove(&Namespace::User);
    default_sandbox.uid_map.clear();
    default_sandbox.gid_map.clear();
    let o = over;
    let input = ModeInput {
        requires: o
            .and_then(|o| o.requires.as_deref())
            .unwrap_or(&default_requires),
        probe: o.and_then(|o| o.probe.as_ref()).unwrap_or(rootful.probe),
        sandbox: o
            .and_then(|o| o.sandbox.as_ref())
            .unwrap_or(&default_sandbox),
        expect: o
            .and_then(|o| o.expect.as_deref())
            .unwrap_or(rootful.expect),
        control: o
            .and_then(|o| o.control.as_ref())
            .unwrap_or(rootful.control),
    };
    build_def(
        &input,
        Mode::Rootless,
        if o.is_some() {
            "rootless."
        } else {
            "(rootless) "
        },
        host,
        checks,
    )
}

/// The suites built into isocheck, by file name, in the order they are
/// loaded: build.rs lists them (and converts their rows, [`CONVERTED`]).
pub const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_texts.rs"));

/// What a built-in row says of its property as a whole.
#[derive(Deserialize)]
struct Known {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// The knob its control turns off (none for a row's own).
    #[serde(default)]
    control: Option<KnownControl>,
    #[serde(default)]
    rootless: Option<KnownRootless>,
}

#[derive(Deserialize)]
struct KnownControl {
    off: String,
}

#[derive(Deserialize)]
struct KnownRootless {
    #[serde(default)]
    control: Option<KnownControl>,
}

impl Known {
    /// The knob the built-in control of `mode` turns off.
    fn knob(&self, mode: Mode) -> Option<&str> {
        let rootless = match mode {
            Mode::Rootless => self.rootless.as_ref().and_then(|r| r.control.as_ref()),
            Mode::Rootful => None,
        };
        rootless.or(self.control.as_ref()).map(|c| c.off.as_str())
    }
}

/// The properties the built-in suites define, in their order: the ids a
/// table may name besides `custom.*`, with their promise and area.
fn known() -> &'static [Known] {
    #[derive(Deserialize)]
    struct Rows {
        #[serde(default)]
        property: Vec<Known>,
    }
    static KNOWN: std::sync::OnceLock<Vec<Known>> = std::sync::OnceLock::new();
    KNOWN.get_or_init(|| {
        BUILTIN
            .iter()
            .flat_map(|(name, text)| match converted(name) {
                Some(rows) => rows
                    .iter()
                    .filter_map(|(_, json)| serde_json::from_str::<Known>(json).ok())
                    .collect(),
                None => toml::from_str::<Rows>(text).map_or_else(|_| Vec::new(), |r| r.property),
            })
            .collect()
    })
}

/// The built-in tables' rows, each as its id and its JSON, converted from
/// [`BUILTIN`]'s TOML by build.rs when isocheck was built: serde_json reads
/// them in a fraction of the TOML parser's time (`list` parsed the tables
/// for 3.8-4.4 ms of its start-up).
const CONVERTED: &[(&str, &[(&str, &str)])] =
    include!(concat!(env!("OUT_DIR"), "/builtin_rows.rs"));

/// The converted rows of built-in table `file`; `None` when it has none.
fn converted(file: &str) -> Option<&'static [(&'static str, &'static str)]> {
    CONVERTED
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, rows)| *rows)
        .filter(|rows| !rows.is_empty())
}

/// The properties of built-in table `file` that `keep` takes, built from
/// their converted rows; `None` when it has none or any row does not read
/// or build, or an id is repeated: its TOML is then read, as any table is,
/// and the error names the line and field.
fn from_converted(file: &str, host: &policy::Host, keep: &Keep<'_>) -> Option<Vec<Property>> {
    build_converted(file, converted(file)?, host, keep)
}

/// [`from_converted`] over these rows.
fn build_converted(
    file: &str,
    rows: &[(&str, &str)],
    host: &policy::Host,
    keep: &Keep<'_>,
) -> Option<Vec<Property>> {
    let mut out: Vec<Property> = Vec::new();
    for (id, json) in rows.iter().filter(|(id, _)| keep(id)) {
        let row: Row = serde_json::from_str(json).ok()?;
        if out.iter().any(|p| p.id == row.id) || row.id != *id {
            return None;
        }
        let fail = |field: &str, message: String| TableError {
            file: file.into(),
            line: 0,
            place: field.into(),
            message,
        };
        let source = Source {
            file,
            host,
            built_in: true,
            // A debug build (a developer's, editing the tables) makes
            // every check, so that a row made wrong is refused at once.
            checks: if cfg!(debug_assertions) {
                Checks::All
            } else {
                Checks::Host
            },
        };
        out.push(build_row(row, source, &fail, &mut None, false).ok()?);
    }
    Some(out)
}

/// Loads the built-in suites.
pub fn builtin() -> Result<Vec<Property>, TableError> {
    builtin_where(&|_| true)
}

/// Loads the built-in properties whose ids `keep` takes (the others are
/// not parsed at all), in table order.
pub fn builtin_where(keep: &Keep<'_>) -> Result<Vec<Property>, TableError> {
    let mut all: Vec<Property> = Vec::new();
    let host = policy::Host::this();
    for (name, text) in BUILTIN {
        let props = match from_converted(name, &host, keep) {
            Some(props) => props,
            None => parse_rows(name, text, &host, true, keep)?,
        };
        for p in props {
            if let Some(prev) = all.iter().find(|q| q.id == p.id) {
                return Err(TableError {
                    file: name.to_string(),
                    line: 0,
                    place: String::new(),
                    message: format!(
                        "property `{}` is also defined in {}",
                        p.id,
                        prev.source.display()
                    ),
                });
            }
            all.push(p);
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const GOOD: &str = r#"
[[property]]
id = "pid.pid1"
requires = ["root", "namespace pid"]
probe = { kind = "pid-view" }
sandbox = { namespaces = ["pid", "mount"], mounts = [{ kind = "proc", target = "/proc" }] }
expect = [{ path = "probe.self_pid", eq = 1 }]
control = { off = "namespace pid", expect = [{ path = "probe.self_pid", ne = 1 }] }
"#;

    /// Each built-in row names its own id on its first `id` line, so that
    /// a run narrowed to some ids can skip the others unparsed; and loading
    /// only some gives exactly those, as the whole load gives them.
    #[test]
    fn each_built_in_row_is_found_by_its_id() {
        let all = builtin().unwrap();
        let mut found = Vec::new();
        for (_, text) in BUILTIN {
            for chunk in text.split("\n[[property]]").skip(1) {
                found.push(quick_id(chunk).expect("a row with an id line").to_string());
            }
        }
        let ids: Vec<String> = all.iter().map(|p| p.id.clone()).collect();
        assert_eq!(found, ids);
        for want in [&ids[0], &ids[ids.len() / 2], &ids[ids.len() - 1]] {
            let some = builtin_where(&|id| id == want.as_str()).unwrap();
            assert_eq!(some.len(), 1);
            let whole = all.iter().find(|p| &p.id == want).unwrap();
            assert_eq!(format!("{:?}", some[0]), format!("{whole:?}"));
        }
        assert!(builtin_where(&|_| false).unwrap().is_empty());
    }

    /// The rows build.rs converted build to the same properties as their
    /// TOML, read with every check.
    #[test]
    fn the_converted_rows_load_as_the_toml_does() {
        let host = policy::Host::this();
        for (name, text) in BUILTIN {
            let from_toml = parse_rows(name, text, &host, true, &|_| true).unwrap();
            let from_json = from_converted(name, &host, &|_| true).expect("converted rows");
            assert!(!from_json.is_empty());
            assert_eq!(format!("{from_json:?}"), format!("{from_toml:?}"), "{name}");
        }
    }

    /// A converted row that does not read or build, or a repeated id, is
    /// no answer: the table's TOML is read instead, for its error.
    #[test]
    fn a_converted_row_that_does_not_build_is_left_to_the_toml() {
        let host = policy::Host::this();
        let (_, rows) = CONVERTED[0];
        let all = |_: &str| true;
        assert!(build_converted("x", rows, &host, &all).is_some());
        let (id, json) = rows[0];
        let bad_json = [(id, "{")];
        assert!(build_converted("x", &bad_json, &host, &all).is_none());
        let unknown_field = json.replacen('{', r#"{"nonsense":1,"#, 1);
        assert!(build_converted("x", &[(id, unknown_field.as_str())], &host, &all).is_none());
        let mut no_modes: serde_json::Value = serde_json::from_str(json).unwrap();
        no_modes["modes"] = serde_json::json!([]);
        let bad_mode = no_modes.to_string();
        assert!(build_converted("x", &[(id, bad_mode.as_str())], &host, &all).is_none());
        assert!(build_converted("x", &[rows[0], rows[0]], &host, &all).is_none());
        assert!(build_converted("x", &[("other.id", json)], &host, &all).is_none());
        assert_eq!(
            build_converted("x", rows, &host, &|_| false).map(|p| p.len()),
            Some(0)
        );
    }

    /// Every namespace a case's sandbox or probe makes (but user and time)
    /// is one of its requirements, after the row's own.
    #[test]
    fn the_namespaces_a_case_makes_are_required() {
        use crate::model::namespace::Namespace;
        let props = builtin().unwrap();
        for p in &props {
            for (mode, def) in &p.defs {
                let made = def
                    .sandbox
                    .namespaces
                    .iter()
                    .chain(&def.sandbox.outer)
                    .copied()
                    .chain(def.probe.namespaces_made())
                    .filter(|n| !matches!(n, Namespace::User | Namespace::Time));
                for ns in made {
                    assert!(
                        def.requires.contains(&Requirement::Namespace(ns)),
                        "{} {mode:?}: makes a {ns} namespace without requiring it",
                        p.id
                    );
                }
            }
        }
        // The probe's own: a row that names none of them.
        let row = r#"
[[property]]
id = "userns.unprivileged_needs_userns"
requires = ["root", "userns"]
probe = { kind = "try-unshare", namespaces = ["net", "uts"] }
sandbox = { rootfs = { kind = "host" }, user = { uid = 1000, gid = 1000 } }
expect = [{ path = "probe.without_userns", eq = "EPERM" }]
control = { off = "user", expect = [{ path = "probe.without_userns", eq = "ok" }] }
"#;
        let props = parse_rows("t.toml", row, &policy::Host::this(), false, &|_| true).unwrap();
        let shown: Vec<String> = props[0]
            .def(crate::model::result::Mode::Rootful)
            .requires
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(shown, ["root", "userns", "namespace net", "namespace uts"]);
    }

    /// A rootful case requires `root` and a rootless one `userns`, first,
    /// whether or not the row says so: a custom row with no requirements
    /// is skipped for the mode's own reason by a runner that lacks it, not
    /// tried by the kernel (which refused an unprivileged runner's rootful
    /// sandbox: an error) nor given another mode's reason.
    #[test]
    fn a_mode_requires_its_own_privilege() {
        use crate::model::result::Mode;
        let row = r#"
[[property]]
id = "pid.proc_mount_needed"
modes = ["rootful", "rootless"]
requires = ["namespace pid"]
probe = { kind = "pid-view" }
sandbox = { namespaces = ["pid", "mount"], mounts = [{ kind = "proc", target = "/proc" }] }
expect = [{ path = "probe.visible_pids", eq = [1] }]
control = { off = "fresh-proc", expect = [{ path = "probe.foreign_pid1_visible", eq = true }] }
"#;
        let shown = |props: &[Property], mode| -> Vec<String> {
            props[0]
                .def(mode)
                .requires
                .iter()
                .map(|r| r.to_string())
                .collect()
        };
        let host = policy::Host::this();
        let props = parse_rows("t.toml", row, &host, false, &|_| true).unwrap();
        assert_eq!(
            shown(&props, Mode::Rootful),
            ["root", "namespace pid", "namespace mount"]
        );
        assert_eq!(
            shown(&props, Mode::Rootless),
            ["userns", "namespace pid", "namespace mount"]
        );
        // Written, it stays where the row puts it, once.
        let written = row.replace(r#"["namespace pid"]"#, r#"["namespace pid", "root"]"#);
        let props = parse_rows("t.toml", &written, &host, false, &|_| true).unwrap();
        assert_eq!(
            shown(&props, Mode::Rootful),
            ["namespace pid", "root", "namespace mount"]
        );
        // A row for rootless mode alone.
        let alone = row.replace(r#"["rootful", "rootless"]"#, r#"["rootless"]"#);
        let props = parse_rows("t.toml", &alone, &host, false, &|_| true).unwrap();
        assert_eq!(
            shown(&props, Mode::Rootless),
            ["userns", "namespace pid", "namespace mount"]
        );
    }

    #[test]
    fn the_builtin_suites_load() {
        let props = builtin().unwrap();
        let ids: Vec<&str> = props.iter().map(|p| p.id.as_str()).collect();
        for k in known() {
            assert!(ids.contains(&k.id.as_str()), "{} did not load", k.id);
        }
        assert_eq!(ids.len(), known().len());
        for p in &props {
            for t in &p.tags {
                crate::model::tag::Tag::parse(t).unwrap();
            }
            assert!(!p.description.is_empty(), "{} states no promise", p.id);
            assert!(!p.broken_by.is_empty(), "no sabotage breaks {}", p.id);
        }
    }

    #[test]
    fn a_good_row_loads_with_the_catalogue_promise() {
        let props = parse("t.toml", GOOD).unwrap();
        assert_eq!(props.len(), 1);
        assert_eq!(props[0].area, "pid");
        assert!(props[0].description.contains("PID 1"));
        assert_eq!(props[0].cases().len(), 2);
    }

    /// (what to replace in GOOD, with what, expected line, text the error must hold)
    #[rstest]
    #[case::unknown_probe(
        "kind = \"pid-view\"",
        "kind = \"pid-veiw\"",
        5,
        "field `probe.kind`: unknown variant `pid-veiw`"
    )]
    #[case::unknown_property(
        "id = \"pid.pid1\"",
        "id = \"pid.pid2\"",
        3,
        "unknown property `pid.pid2`"
    )]
    #[case::wrong_type(
        "mounts = [{ kind = \"proc\", target = \"/proc\" }]",
        "mounts = 3",
        6,
        "field `sandbox.mounts`"
    )]
    #[case::missing_field(
        "expect = [{ path = \"probe.self_pid\", eq = 1 }]\n",
        "",
        2,
        "missing field `expect`"
    )]
    #[case::unknown_field("requires =", "requirez =", 4, "unknown field `requirez`")]
    #[case::bad_requirement(
        "\"namespace pid\"]",
        "\"namespace pidd\"]",
        4,
        "field `requires[1]`: unknown namespace `pidd`"
    )]
    #[case::bad_knob(
        "off = \"namespace pid\"",
        "off = \"namespace net\"",
        8,
        "does not turn on"
    )]
    #[case::unknown_knob("off = \"namespace pid\"", "off = \"pid\"", 8, "unknown knob `pid`")]
    #[case::bad_expectation(
        "eq = 1 }]\ncontrol",
        "equals = 1 }]\ncontrol",
        7,
        "unknown field `equals`"
    )]
    #[case::no_operator("eq = 1 }]\ncontrol", "}]\ncontrol", 7, "no operator")]
    #[case::bad_sandbox(
        "mounts = [",
        "hostname = \"x\", mounts = [",
        6,
        "needs a new UTS namespace"
    )]
    #[case::rootless_override_without_the_mode(
        "requires =",
        "rootless = { requires = [\"userns\"] }\nrequires =",
        4,
        "needs `modes` to include \"rootless\""
    )]
    #[case::rootless_override_checked(
        "requires =",
        "modes = [\"rootless\"]\nrootless = { requires = [\"rooot\"] }\nrequires =",
        5,
        "field `rootless.requires[0]`: unknown requirement"
    )]
    #[case::unknown_syscall(
        "mounts = [",
        "seccomp = { deny = [\"nosuchcall\"] }, mounts = [",
        6,
        "seccomp: deny [\"nosuchcall\"]"
    )]
    #[case::knob_off_in_the_test(
        "off = \"namespace pid\"",
        "off = \"seccomp\"",
        8,
        "the control turns off `seccomp`, which the test's sandbox does not turn on"
    )]
    #[case::bad_tag(
        "requires =",
        "tags = [\"linux 5.14\", \"CVE-22-1\"]\nrequires =",
        4,
        "field `tags[1]`: tag `CVE-22-1` is none of"
    )]
    #[case::tag_twice(
        "requires =",
        "tags = [\"linux 5.14\", \"linux 5.14\"]\nrequires =",
        4,
        "field `tags[1]`: `linux 5.14` is named twice"
    )]
    fn bad_rows_name_file_line_row_and_field(
        #[case] from: &str,
        #[case] to: &str,
        #[case] line: usize,
        #[case] msg: &str,
    ) {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "the case did not change the table");
        let err = parse("suites/mine.toml", &text).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("suites/mine.toml:{line}: ")),
            "{shown}"
        );
        assert!(shown.contains(msg), "{shown}");
        if !msg.starts_with("missing") {
            assert!(shown.contains("property #1 (pid.pid"), "{shown}");
        }
    }

    /// Rows refused at load for what their expectations or sandboxes say:
    /// (what to replace in GOOD, with what, expected line, text the error must hold)
    #[rstest]
    #[case::unknown_path(
        "probe.self_pid\", eq = 1 }]\ncontrol",
        "probe.self_pidd\", eq = 1 }]\ncontrol",
        7,
        "field `expect[0]`: no observation of this probe and sandbox has `probe.self_pidd`"
    )]
    #[case::unknown_control_path(
        "\"probe.self_pid\", ne = 1",
        "\"probe.pid\", ne = 1",
        8,
        "field `control.expect[0]`: no observation"
    )]
    #[case::ne_impossible_value(
        "\"probe.self_pid\", ne = 1",
        "\"probe.self_pid\", ne = \"one\"",
        8,
        "is always true, so it proves nothing"
    )]
    #[case::contradiction(
        "eq = 1 }]\ncontrol",
        "eq = 1 }, { path = \"probe.self_pid\", eq = 2 }]\ncontrol",
        7,
        "field `expect[1]`: `probe.self_pid eq 2` contradicts `probe.self_pid eq 1`"
    )]
    #[case::len_ge_zero(
        "eq = 1 }]\ncontrol",
        "eq = 1 }, { path = \"probe.visible_pids\", len_ge = 0 }]\ncontrol",
        7,
        "every length is at least 0"
    )]
    #[case::control_expects_what_the_test_does(
        "\"probe.self_pid\", ne = 1",
        "\"probe.self_pid\", eq = 1",
        8,
        "field `control.expect`: the control expects only what the test expects (probe.self_pid eq 1)"
    )]
    #[case::only_preconditions(
        "eq = 1 }]\ncontrol",
        "eq = 1, pre = true }]\ncontrol",
        7,
        "field `expect`: every expectation is a precondition"
    )]
    #[case::policy_hostname(
        "namespaces = [\"pid\", \"mount\"]",
        "namespaces = [\"pid\", \"mount\", \"uts\"], hostname = \"a\\u0000b\"",
        6,
        "field `sandbox.hostname`: must not contain a NUL byte"
    )]
    fn unsound_rows_are_refused_naming_the_field(
        #[case] from: &str,
        #[case] to: &str,
        #[case] line: usize,
        #[case] msg: &str,
    ) {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "the case did not change the table");
        let shown = parse("suites/mine.toml", &text).unwrap_err().to_string();
        assert!(
            shown.starts_with(&format!("suites/mine.toml:{line}: property #1 (pid.pid1)")),
            "{shown}"
        );
        assert!(shown.contains(msg), "{shown}");
    }

    #[test]
    fn a_control_whose_leak_would_reach_the_host_is_refused() {
        let text = GOOD
            .replacen(
                "probe = { kind = \"pid-view\" }",
                "probe = { kind = \"write-file\", dir = \"/etc\" }",
                1,
            )
            .replacen("off = \"namespace pid\"", "off = \"namespace mount\"", 1);
        let shown = parse("t.toml", &text).unwrap_err().to_string();
        assert!(
            shown.starts_with("t.toml:8: property #1 (pid.pid1), field `control.off`: the control's sandbox (`namespace mount` off) is refused: `probe.dir`: probe `write-file` writes \"/etc\", which lies on the host's root file system"),
            "{shown}"
        );
    }

    #[test]
    fn a_writing_probe_without_a_new_root_names_the_probe_field() {
        // The test's own sandbox keeps the host's root: the probe's field
        // is named (the control, with the PID namespace off, would be too).
        let text = GOOD
            .replacen(
                "probe = { kind = \"pid-view\" }",
                "probe = { kind = \"write-file\", dir = \"/etc\" }",
                1,
            )
            .replacen(
                "sandbox = { namespaces",
                "sandbox = { rootfs = { kind = \"host\" }, namespaces",
                1,
            );
        let shown = parse("t.toml", &text).unwrap_err().to_string();
        assert!(
            shown.starts_with("t.toml:5: property #1 (pid.pid1), field `probe.dir`: probe `write-file` writes \"/etc\""),
            "{shown}"
        );
    }

    #[test]
    fn a_value_too_large_for_its_type_names_its_field() {
        let text = GOOD.replacen(
            "mounts = [",
            "cgroup = { memory_max = 9223372036854775808 }, mounts = [",
            1,
        );
        let shown = parse("t.toml", &text).unwrap_err().to_string();
        assert!(
            shown.starts_with(
                "t.toml:6: property #1 (pid.pid1), field `sandbox.cgroup.memory_max`: "
            ),
            "{shown}"
        );
        // In a multi-line array, the key the array opens with.
        let text = GOOD.replacen(
            "expect = [{ path = \"probe.self_pid\", eq = 1 }]",
            "expect = [\n  { path = \"probe.self_pid\", eq = 99999999999999999999 },\n]",
            1,
        );
        let shown = parse("t.toml", &text).unwrap_err().to_string();
        assert!(
            shown.starts_with("t.toml:8: property #1 (pid.pid1), field `expect.eq`: "),
            "{shown}"
        );
    }

    #[test]
    fn a_table_that_is_not_utf8_gives_the_line_of_the_bad_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        let mut bytes = GOOD.as_bytes().to_vec();
        let at = GOOD.find("probe = ").unwrap();
        bytes.splice(at..at, b"# caf\xe9\n".iter().copied());
        std::fs::write(&path, bytes).unwrap();
        let err = load_file(&path).unwrap_err();
        assert_eq!(err.line, 5, "{err}");
        assert!(err.message.contains("not UTF-8: byte 0xe9"), "{err}");
    }

    /// A table of `n` rows, each its own custom property.
    fn many_rows(n: usize) -> String {
        (0..n)
            .map(|i| GOOD.replacen("id = \"pid.pid1\"", &format!("id = \"custom.row{i}\""), 1))
            .collect()
    }

    #[test]
    fn loading_is_linear_in_the_rows() {
        // Quadratic loading took 4.3 s for 10,000 rows and 22.6 s for
        // 20,000 (release). Ten times the rows must take about ten times
        // the time, not a hundred; the absolute bound is for a debug build
        // on a busy machine.
        let small = many_rows(1_000);
        let big = many_rows(10_000);
        let t = std::time::Instant::now();
        assert_eq!(parse("s.toml", &small).unwrap().len(), 1_000);
        let t_small = t.elapsed();
        let t = std::time::Instant::now();
        let props = parse("b.toml", &big).unwrap();
        let t_big = t.elapsed();
        assert_eq!(props.len(), 10_000);
        assert!(
            t_big < std::time::Duration::from_secs(60),
            "10,000 rows took {t_big:?}"
        );
        assert!(
            t_big < t_small * 30 + std::time::Duration::from_millis(500),
            "1,000 rows {t_small:?}, 10,000 rows {t_big:?}: not linear"
        );
        // Errors deep in a big table still find their line.
        let bad = format!(
            "{big}{}",
            GOOD.replacen("eq = 1 }]\ncontrol", "eq = \"x\" }]\ncontrol", 1)
        );
        let err = parse("b.toml", &bad).unwrap_err();
        assert_eq!(err.line, 10_000 * 8 + 7, "{err}");
        // Rows are checked on several threads; a second row of an id is
        // still the one refused, at its line.
        let twice = format!("{big}{}", many_rows(1));
        let err = parse("b.toml", &twice).unwrap_err();
        assert_eq!(err.line, 10_000 * 8 + 3, "{err}");
        assert!(
            err.to_string().contains(
                "property #10001 (custom.row0), field `id`: property `custom.row0` appears twice"
            ),
            "{err}"
        );
    }

    #[test]
    fn rootless_mode_leaves_the_user_namespace_to_the_rootless_one() {
        let text = GOOD.replacen(
            "requires =",
            "modes = [\"rootful\", \"rootless\"]\nrequires =",
            1,
        );
        let p = &parse("t.toml", &text).unwrap()[0];
        let rootless = p.def(Mode::Rootless);
        assert_eq!(
            rootless.requires[0],
            Requirement::Userns,
            "root becomes userns"
        );
        assert_eq!(p.cases().len(), 4);
        let text = text
            .replace(
                "namespaces = [\"pid\", \"mount\"]",
                "namespaces = [\"user\", \"pid\", \"mount\"]",
            )
            .replace("namespace pid\", expect", "namespace user\", expect")
            // A row of one's own: a built-in's keeps its knob.
            .replace("id = \"pid.pid1\"", "id = \"custom.pid1\"");
        let err = parse("t.toml", &text).unwrap_err().to_string();
        assert!(
            err.contains("(rootless) control.off") && err.contains("does not turn on"),
            "{err}"
        );
    }

    #[test]
    fn exclusive_rows_are_marked_and_others_are_not() {
        assert!(!parse("t.toml", GOOD).unwrap()[0].exclusive);
        let text = GOOD.replacen("requires =", "exclusive = true\nrequires =", 1);
        assert!(parse("t.toml", &text).unwrap()[0].exclusive);
        // The busy loop is judged against its quota, not against the CPU
        // it gets: it shares the host with the other sandboxes.
        let props = builtin().unwrap();
        let cpu = props.iter().find(|p| p.id == "cgroup.cpu_max").unwrap();
        assert!(!cpu.exclusive);
    }

    #[test]
    fn toml_syntax_errors_give_the_line() {
        let err = parse("x.toml", "[[property]]\nid = \"pid.pid1\nprobe = 1\n").unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("x.toml", 2), "{err}");
    }

    #[test]
    fn a_syntax_error_after_a_wide_character_in_a_key_is_located() {
        // A line above the error, inside a multi-line string, looks like a
        // key ending in a character wider than one byte before `=`: the
        // name is cut after that character, never inside it.
        for key in ["é", "xé", "é.x", "\u{1F600}"] {
            let text = format!(
                "[[property]]\nid = \"pid.pid1\"\nexpect = [ \"\"\"\n{key}= x\n\"\"\",\n  1 2\n]\n"
            );
            let err = parse("x.toml", &text).unwrap_err();
            assert_eq!(err.line, 6, "{key}: {err}");
        }
    }

    #[test]
    fn duplicate_and_empty_tables_are_refused() {
        let twice = format!("{GOOD}\n{GOOD}");
        assert!(parse("t.toml", &twice)
            .unwrap_err()
            .to_string()
            .contains("appears twice"));
        assert!(parse("t.toml", "# nothing\n")
            .unwrap_err()
            .to_string()
            .contains("no [[property]] rows"));
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let err = load_file(Path::new("/nonexistent/suite.toml")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("/nonexistent/suite.toml:0: cannot read the table"));
    }
}
