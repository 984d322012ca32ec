//! Making untrusted text inert before a person (or a CI runner) reads it.
//!
//! Rule names, reasons, evaluation URLs, error details and statuses come from the server; service,
//! env, version, file names and skip reasons come from the user. Any of them may hold bytes that
//! mean something to whatever displays them: a newline followed by `::warning::` or `::add-mask::`
//! is a GitHub Actions workflow command in a job log; `ESC [ 2 K` rewrites a terminal line; an OSC 8
//! sequence makes a link; a bidi override reorders what is shown; `)` or a newline in a markdown
//! link breaks out of a table. Every host shows such text only through the functions here:
//!
//! - [`line`]: one line of plain text. Control characters (C0, DEL, C1, including ESC), bidi
//!   controls and invisible format characters are shown as `\u{1b}`-style escapes; newlines (and
//!   U+2028/U+2029) are folded into a visible `⏎`; text that would start a line as a workflow command
//!   (`::name` or `##[name`, after any blanks) gets its first character escaped.
//! - [`lines`]: the same for a block whose own newlines are meant (a host's multi-line message):
//!   each line is made inert on its own.
//! - [`markdown`]: [`line`], then every ASCII punctuation character backslash-escaped, so no link,
//!   image, autolink, HTML tag, emphasis, heading or table cell boundary can come from the text.
//! - [`markdown_link`]: a link only for an `https://` URL on an origin the request itself uses (the
//!   Datadog app of its site, or the origin of its `api_url`); anything else is inert text.
//! - [`json`]: JSON text with the same characters written as `\uXXXX` escapes (JSON already escapes
//!   C0; this adds DEL, C1, bidi and line separators), so a JSON log line or report holds the same
//!   data but no raw control character.
//!
//! The functions are pure and total: they never fail and never drop information (an escape names
//! the character it replaces).

use crate::site::{Endpoint, SITES};

/// Shown in place of a line break inside a value that must stay on one line.
pub const NEWLINE_MARK: char = '⏎';

/// Whether `c` must not reach a display raw: control characters (C0 except tab, DEL, C1), bidi
/// controls, zero-width and other invisible format characters.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}'                 // Arabic letter mark
        | '\u{200b}'..='\u{200f}'   // zero-width space/joiners, LRM, RLM
        | '\u{202a}'..='\u{202e}'   // LRE, RLE, PDF, LRO, RLO
        | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'   // LRI, RLI, FSI, PDI
        | '\u{feff}'                // zero-width no-break space
        | '\u{fff9}'..='\u{fffb}'   // interlinear annotation controls
    )
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

fn escape_char(out: &mut String, c: char) {
    out.push_str(&format!("\\u{{{:x}}}", c as u32));
}

/// One line of inert text (see the module docs).
pub fn line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_break(c) {
            // `\r\n` is one break.
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push(NEWLINE_MARK);
        } else if c == '\t' {
            out.push(' ');
        } else if is_unsafe(c) {
            escape_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    defuse_command(out)
}

/// A block of text whose line breaks are kept; each line is made inert as by [`line`].
pub fn lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&line(part.strip_suffix('\r').unwrap_or(part)));
    }
    out
}

/// Escape the first character of a line that a CI runner would read as a command: GitHub Actions
/// reads `::name ...::` and the older `##[name]` at the start of a line after leading blanks.
fn defuse_command(text: String) -> String {
    let body = text.trim_start();
    if body.starts_with("::") || body.starts_with("##[") {
        let blanks = &text[..text.len() - body.len()];
        let first = body.chars().next().expect("starts with a prefix");
        let mut out = blanks.to_string();
        escape_char(&mut out, first);
        out.push_str(&body[first.len_utf8()..]);
        out
    } else {
        text
    }
}

/// Whether a line of output could be read as a workflow command (what [`line`] prevents). For
/// tests and hosts that check their own output.
pub fn starts_command(output_line: &str) -> bool {
    let body = output_line.trim_start();
    body.starts_with("::") || body.starts_with("##[")
}

/// Text for markdown (a table cell or a paragraph): [`line`], then ASCII punctuation
/// backslash-escaped (CommonMark and GitHub's markdown show `\x` as `x` for any ASCII
/// punctuation), so nothing in it can form a link, an image, an autolink (`:` and `.` are
/// escaped), HTML, an entity, emphasis, code, math, a mention or a cell boundary. Only `-,/'"%?;=`
/// are left as written, which mean nothing inline; the first character is always escaped when it
/// is punctuation, so the text cannot start a list, a heading or a quote either.
pub fn markdown(text: &str) -> String {
    let safe = line(text);
    let mut out = String::with_capacity(safe.len() + safe.len() / 4);
    for (i, c) in safe.chars().enumerate() {
        if c.is_ascii_punctuation() && (i == 0 || !"-,/'\"%?;=".contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Which URLs a markdown report may turn into links: `https://` URLs on these origins only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPolicy {
    /// `https://host[:port]`, lowercase.
    origins: Vec<String>,
}

impl LinkPolicy {
    /// The origins a request to `endpoint` uses: the Datadog app of its site
    /// (`https://app.<site>`), or the origin of its `api_url` when that is `https`.
    pub fn for_endpoint(endpoint: &Endpoint) -> LinkPolicy {
        let origins = match &endpoint.site {
            Some(site) => vec![format!("https://app.{site}")],
            None => origin(&endpoint.base_url)
                .filter(|o| o.starts_with("https://"))
                .into_iter()
                .collect(),
        };
        LinkPolicy { origins }
    }

    /// For a report rendered without its request at hand: the Datadog apps of the known sites.
    pub fn datadog_apps() -> LinkPolicy {
        LinkPolicy {
            origins: SITES.iter().map(|s| format!("https://app.{s}")).collect(),
        }
    }

    /// No links at all.
    pub fn none() -> LinkPolicy {
        LinkPolicy {
            origins: Vec::new(),
        }
    }

    /// Whether `url` may be a link.
    pub fn allows(&self, url: &str) -> bool {
        url.starts_with("https://")
            && origin(url).is_some_and(|o| self.origins.contains(&o))
            && !url.chars().any(|c| is_unsafe(c) || is_break(c))
    }
}

/// `scheme://host[:port]` of a URL, lowercase, or `None` when it has no host or carries
/// credentials.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// `[label](url)` when `policy` allows the URL (with every character that could end the
/// destination percent-encoded), else the label and the URL as inert text. `label` is markdown the
/// caller has already made safe (e.g. with [`markdown`]); the URL is escaped here.
pub fn markdown_link(label: &str, url: &str, policy: &LinkPolicy) -> String {
    if policy.allows(url) {
        let mut dest = String::with_capacity(url.len());
        for c in url.chars() {
            if c.is_ascii_alphanumeric() || "-._~:/?#@!$&'*+,;=%".contains(c) {
                dest.push(c);
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    dest.push_str(&format!("%{b:02X}"));
                }
            }
        }
        format!("[{label}]({dest})")
    } else {
        format!("{label} ({})", markdown(url))
    }
}

/// JSON text with every character [`is_unsafe`] flags, and U+2028/U+2029, written as a `\uXXXX`
/// escape. Such characters can only occur inside JSON strings, where the escape means the same
/// character, so the value is unchanged; the text just holds no raw control character.
pub fn json(text: &str) -> String {
    if !text.chars().any(|c| is_unsafe(c) || is_break(c)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        // Raw `\n` between JSON tokens (pretty printing) is layout, not data: keep it.
        if c != '\n' && c != '\r' && (is_unsafe(c) || is_break(c)) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn raw_unsafe(s: &str) -> bool {
        s.chars().any(|c| is_unsafe(c) || c == '\u{1b}')
    }

    #[test]
    fn control_and_bidi_characters_become_visible_escapes() {
        let hostile = "ok\u{1b}[2K\u{1b}[1A Gate passed \u{9b}31m \u{202e}evil\u{2066} \u{7f}\u{0}";
        let shown = line(hostile);
        assert!(!raw_unsafe(&shown), "{shown:?}");
        assert_eq!(
            shown,
            "ok\\u{1b}[2K\\u{1b}[1A Gate passed \\u{9b}31m \\u{202e}evil\\u{2066} \\u{7f}\\u{0}"
        );
        // OSC 8 hyperlinks lose their ESC and BEL.
        let osc = line("\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}");
        assert!(!raw_unsafe(&osc) && osc.contains("\\u{1b}]8;;"), "{osc}");
        // Ordinary text, including non-ASCII letters and emoji, is untouched.
        assert_eq!(
            line("Ünïcode ✅ monitors | prod"),
            "Ünïcode ✅ monitors | prod"
        );
    }

    #[test]
    fn newlines_fold_and_no_line_starts_a_workflow_command() {
        for hostile in [
            "reason\n::warning title=forged::pwned",
            "::add-mask::secret",
            "   ::error::x",
            "##[error]legacy",
            "a\r\n::set-output name=x::y",
            "a\u{2028}::notice::b",
        ] {
            let shown = line(hostile);
            assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
            assert!(!starts_command(&shown), "{shown:?}");
            assert!(!shown.contains("\n::"), "{shown:?}");
        }
        assert_eq!(line("a\nb\r\nc"), "a⏎b⏎c");
        assert_eq!(line("::add-mask::x"), "\\u{3a}:add-mask::x");
        assert_eq!(line("  ##[group]x"), "  \\u{23}#[group]x");
        // `::` elsewhere (IPv6, C++ names) stays as written.
        assert_eq!(line("http://[::1]:80 a::b"), "http://[::1]:80 a::b");
        let block = lines("Evaluating:\n  service ::warning::x\n::error::y");
        assert_eq!(block.lines().count(), 3);
        assert!(block.lines().all(|l| !starts_command(l)), "{block}");
    }

    /// Whether `needle` occurs in `md` without a backslash before it.
    pub(crate) fn has_unescaped(md: &str, needle: &str) -> bool {
        md.match_indices(needle)
            .any(|(i, _)| !md[..i].ends_with('\\'))
    }

    #[test]
    fn markdown_text_cannot_break_out() {
        let hostile = "x | y\n\n# Heading\n![img](https://evil.example/p.png) [a](javascript:alert(1)) <img src=x> `code` https://evil.example www.evil.example";
        let md = markdown(hostile);
        assert!(!md.contains('\n'));
        for needle in ["|", "!", "[", "(", "<", "`", ":", "www.", "#"] {
            assert!(!has_unescaped(&md, needle), "{needle} in {md}");
        }
        assert_eq!(markdown("a|b"), "a\\|b");
    }

    #[test]
    fn links_only_to_the_requests_own_origins() {
        let site = Endpoint {
            base_url: "https://api.datadoghq.eu".into(),
            site: Some("datadoghq.eu".into()),
        };
        let policy = LinkPolicy::for_endpoint(&site);
        let own = "https://app.datadoghq.eu/ci/deployment-gates/evaluations?query=a b)";
        let link = markdown_link("id", own, &policy);
        assert_eq!(
            link,
            "[id](https://app.datadoghq.eu/ci/deployment-gates/evaluations?query=a%20b%29)"
        );
        for other in [
            "https://app.datadoghq.com/x",
            "http://app.datadoghq.eu/x",
            "https://app.datadoghq.eu.evil.example/x",
            "https://user@app.datadoghq.eu/x",
            "javascript:alert(1)",
            "https://app.datadoghq.eu/x\n# heading",
        ] {
            let shown = markdown_link("id", other, &policy);
            assert!(!shown.contains("]("), "{other} -> {shown}");
            assert!(!shown.contains('\n'), "{shown}");
        }
        let proxy = Endpoint {
            base_url: "https://gates.internal:8443/prefix".into(),
            site: None,
        };
        let policy = LinkPolicy::for_endpoint(&proxy);
        assert!(policy.allows("https://gates.internal:8443/evaluations/1"));
        assert!(!policy.allows("https://gates.internal/evaluations/1"));
        let plain = Endpoint {
            base_url: "http://127.0.0.1:8080".into(),
            site: None,
        };
        assert!(!LinkPolicy::for_endpoint(&plain).allows("http://127.0.0.1:8080/x"));
        assert!(LinkPolicy::datadog_apps().allows("https://app.datadoghq.com/x"));
        assert!(!LinkPolicy::none().allows("https://app.datadoghq.com/x"));
    }

    #[test]
    fn json_keeps_the_value_and_drops_raw_controls() {
        let value = serde_json::json!({"reason": "a\u{1b}[2K\u{85}\u{202e}b\u{2028}c\nd"});
        let text = json(&value.to_string());
        assert!(!raw_unsafe(&text) && !text.contains('\u{2028}'), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
        let pretty = json(&serde_json::to_string_pretty(&value).unwrap());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pretty).unwrap(),
            value
        );
    }
}
