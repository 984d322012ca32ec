//! Hosts hold no policy: no HTTP status decides anything outside core, no host copies one of
//! core's defaults or converts a user's seconds to milliseconds by hand, and every default a
//! host's documentation states is one core really has.
//!
//! The hosts are the CLI, the bindings' Rust glue and the Python, TypeScript and JavaScript
//! sources around them. Servers are not hosts: the emulator (`crates/emulator`) and the test
//! servers answer with statuses by design, so they are not scanned, and neither are Rust test
//! modules (`#[cfg(test)]`, the end of each file). A finding names `file:line` and the rule.

mod common;

use gatepost_core::{gates, online, options};
use std::path::{Path, PathBuf};

/// A finding that must stay, with the reason. Matched on the file's path and the line's text.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "crates/node/src-ts/driver.ts",
        "'opaqueredirect' ? 302",
        "fetch hides a manual redirect's status (an opaque response reads 0): the driver reports \
         it as a redirect so core's reading of 3xx applies; it decides nothing itself",
    ),
    // Python's asyncio transport speaks HTTP/1.1 itself, so HTTP's own framing rules are in it,
    // as they are inside urllib and httpx for the other drivers. None decides a gate: every final
    // answer goes to core as it came.
    (
        "crates/py/python/gatepost/_transport_aio.py",
        "default = 443 if self.scheme == \"https\" else 80",
        "a URL without a port uses its scheme's port (RFC 9110 4.2)",
    ),
    (
        "crates/py/python/gatepost/_transport_aio.py",
        "while 100 <= status < 200 and status != 101:",
        "interim 1xx answers are read past to the final one (RFC 9110 15.2)",
    ),
    (
        "crates/py/python/gatepost/_transport_aio.py",
        "status in (101, 204, 304) or status < 200:",
        "which answers have no body (RFC 9112 6.3), so the connection can be reused",
    ),
    (
        "crates/py/python/gatepost/_transport_aio.py",
        "keep = keep and status != 101",
        "a switched-protocol connection is not HTTP any more, so it is not kept",
    ),
    (
        "crates/py/python/gatepost/_transport_aio.py",
        "if not 200 <= status < 300:",
        "a proxy opens a CONNECT tunnel only with a 2xx (RFC 9110 9.3.6); any other answer is \
         the proxy's refusal, reported as a connect error for core to judge",
    ),
];

/// Where host code lives, and which files there are sources.
const HOST_SOURCES: &[(&str, &[&str])] = &[
    ("crates/cli/src", &["rs"]),
    ("crates/py/src", &["rs"]),
    ("crates/node/src", &["rs"]),
    ("crates/wasm/src", &["rs"]),
    ("crates/py/python/gatepost", &["py", "pyi"]),
    ("crates/node/src-ts", &["ts"]),
    ("crates/wasm/js", &["js", "ts"]),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Lang {
    Rust,
    Python,
    Script,
}

fn lang(path: &Path) -> Lang {
    match path.extension().and_then(|e| e.to_str()) {
        Some("rs") => Lang::Rust,
        Some("py" | "pyi") => Lang::Python,
        _ => Lang::Script,
    }
}

/// Core's defaults as a user reads them: seconds for durations, plain counts otherwise.
fn documented_defaults() -> Vec<f64> {
    let secs = |ms: u64| ms as f64 / 1000.0;
    vec![
        secs(options::DEFAULT_TIMEOUT_MS),
        secs(options::DEFAULT_TRIGGER_BUDGET_MS),
        secs(options::DEFAULT_POLL_INTERVAL_MS),
        secs(options::DEFAULT_REQUEST_TIMEOUT_MS),
        secs(online::DEFAULT_TIMEOUT_MS),
        f64::from(gates::DEFAULT_MAX_RETRIES),
    ]
}

/// Core's defaults as code would copy them (milliseconds, bytes). The minimum poll interval
/// (1000) is left out: it is also the factor of every ms-to-seconds timer conversion.
fn code_defaults() -> Vec<u64> {
    vec![
        options::DEFAULT_TIMEOUT_MS,
        options::DEFAULT_TRIGGER_BUDGET_MS,
        options::DEFAULT_POLL_INTERVAL_MS,
        options::DEFAULT_REQUEST_TIMEOUT_MS,
        options::DEFAULT_MAX_BODY_BYTES,
        online::DEFAULT_TIMEOUT_MS,
    ]
}

/// The code of a line, without its comment (a comment marker inside a string is kept: the
/// marker counts only after an even number of double quotes).
fn code_part(line: &str, lang: Lang) -> &str {
    let trimmed = line.trim_start();
    if lang == Lang::Script && (trimmed.starts_with('*') || trimmed.starts_with("/*")) {
        return "";
    }
    let marker = if lang == Lang::Python { "#" } else { "//" };
    let mut from = 0;
    while let Some(i) = line[from..].find(marker) {
        let at = from + i;
        if line[..at].matches('"').count().is_multiple_of(2) {
            return &line[..at];
        }
        from = at + marker.len();
    }
    line
}

/// Numbers in `text` as (start, end, digits without `_`), skipping those glued to a name.
fn numbers(text: &str) -> Vec<(usize, usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                i += 1;
            }
            let glued = start > 0
                && (bytes[start - 1].is_ascii_alphanumeric()
                    || bytes[start - 1] == b'_'
                    || (bytes[start - 1] == b'.'
                        && start > 1
                        && bytes[start - 2].is_ascii_digit()));
            let after_glued = i < bytes.len() && bytes[i].is_ascii_alphabetic();
            if !glued && !after_glued {
                out.push((start, i, text[start..i].replace('_', "")));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every rule `line` breaks, as a short description.
fn findings(line: &str, lang: Lang, in_cli: bool) -> Vec<String> {
    let mut found = Vec::new();
    let code = code_part(line, lang);
    let defaults = code_defaults();
    for (start, end, digits) in numbers(code) {
        let Ok(value) = digits.parse::<u64>() else {
            continue;
        };
        let before = code[..start].trim_end();
        let after = code[end..].trim_start();
        if (100..=599).contains(&value) && digits.len() == 3 {
            let compared_before = ["==", "!=", ">=", "<=", "<", ">", "..", "..=", "?", "/"]
                .iter()
                .any(|op| before.ends_with(op))
                || before.ends_with("case")
                || before.ends_with("in (")
                || before.ends_with("in [")
                || before.ends_with("range(");
            let compared_after = ["==", "!=", ">=", "<=", "<", ">", "..", "=>"]
                .iter()
                .any(|op| after.starts_with(op));
            if compared_before || compared_after {
                found.push(format!("HTTP status {value} decided outside core"));
            }
        }
        if defaults.contains(&value) {
            found.push(format!("{value} copies a core default"));
        }
        if value == 1000
            && (before.ends_with('*') || after.starts_with('*'))
            && !before.ends_with("**")
        {
            found.push("seconds converted to ms by hand (core's seconds_to_ms does it)".into());
        }
    }
    // Stated defaults, comments and help included.
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("default") {
        let at = from + i;
        from = at + "default".len();
        let rest = lower[from..].trim_start_matches([' ', ':', '=']);
        let stated: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
            .collect();
        let stated = stated.trim_end_matches('.').replace('_', "");
        let Ok(n) = stated.parse::<f64>() else {
            continue;
        };
        if in_cli && lang == Lang::Rust {
            found.push(format!(
                "\"default {stated}\" written by hand (the CLI's help takes core's constants)"
            ));
        } else if !documented_defaults().contains(&n) {
            found.push(format!(
                "\"default {stated}\" is not one of core's defaults"
            ));
        }
    }
    for (start, _, digits) in numbers(&lower) {
        if lower[start..].contains("by default")
            && lower[start + digits.len()..]
                .trim_start()
                .trim_start_matches('s')
                .trim_start()
                .starts_with("by default")
        {
            let n: f64 = digits.parse().unwrap_or(-1.0);
            if !documented_defaults().contains(&n) {
                found.push(format!(
                    "\"{digits} ... by default\" is not one of core's defaults"
                ));
            }
        }
    }
    found
}

fn sources(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (dir, exts) in HOST_SOURCES {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if path.is_file() && exts.contains(&ext) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn hosts_hold_no_status_codes_defaults_or_hand_conversions() {
    let root = common::repo_root();
    let files = sources(&root);
    assert!(
        files.len() > 20,
        "the host sources were not found under {}",
        root.display()
    );
    let mut problems = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).unwrap();
        let lang = lang(path);
        for (n, line) in text.lines().enumerate() {
            if lang == Lang::Rust && line.trim() == "#[cfg(test)]" {
                break;
            }
            for finding in findings(line, lang, rel.starts_with("crates/cli/")) {
                match ALLOWED
                    .iter()
                    .position(|(file, text, _)| rel == *file && line.contains(text))
                {
                    Some(i) => used[i] = true,
                    None => problems.push(format!("{rel}:{}: {finding}: {}", n + 1, line.trim())),
                }
            }
        }
    }
    for (i, (file, text, _)) in ALLOWED.iter().enumerate() {
        if !used[i] {
            problems.push(format!(
                "allowlist entry no longer needed: {file}: {text:?}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "policy outside core:\n{}",
        problems.join("\n")
    );
}

/// The scan itself catches what it is for, so a pass above means something.
#[test]
fn the_scan_catches_each_kind_of_policy() {
    let caught = |line: &str, lang: Lang| !findings(line, lang, false).is_empty();
    for (line, lang) in [
        ("if status == 404 {", Lang::Rust),
        ("Some(s) if (200..300).contains(&s) => {}", Lang::Rust),
        ("404 => Refused,", Lang::Rust),
        ("if response.status >= 500: retry()", Lang::Python),
        ("if status // 100 == 2:", Lang::Python),
        ("if (res.status === 429) backoff();", Lang::Script),
        ("case 404: return null;", Lang::Script),
        ("poll_interval_ms: 15_000,", Lang::Rust),
        ("const POLL = 15000;", Lang::Script),
        ("opts['timeout_ms'] = round(timeout * 1000)", Lang::Python),
        ("Math.round(options.timeout * 1000)", Lang::Script),
        ("Some((secs * 1000.0).round() as u64)", Lang::Rust),
        ("``timeout`` (seconds, default 17)", Lang::Python),
        ("budget (45 s by default)", Lang::Python),
    ] {
        assert!(caught(line, lang), "not caught: {line}");
    }
    assert!(!findings("/// Timeout (default 30).", Lang::Rust, true).is_empty());
    for (line, lang) in [
        ("let status = response.status().as_u16();", Lang::Rust),
        (
            "timeout_s = max(action['timeout_ms'], 1) / 1000",
            Lang::Python,
        ),
        ("const MAX_TIMER_MS = 2 ** 31 - 1;", Lang::Script),
        ("// a 404 here means the gate is unknown", Lang::Rust),
        ("``timeout`` (seconds, default 120)", Lang::Python),
        ("retries (default 5)", Lang::Script),
        ("(words[0]! & 0x1fffff) * 2 ** 32 + words[1]!", Lang::Script),
    ] {
        assert!(!caught(line, lang), "caught by mistake: {line}");
    }
}
