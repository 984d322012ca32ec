//! Which evaluation request a snapshot belongs to, so a saved state is never resumed for another.
//!
//! A request is defined by where it goes (the site's API or the `api_url`) and everything the
//! trigger sends: service, env, identifier, version, primary tag, the monitors query variable and
//! the configuration as sent. [`Request::digest`] is a fingerprint of those fields in a fixed,
//! documented encoding, so it is the same on every host and in every language:
//!
//! ```text
//! "gatepost-request/1\n" + for each field in order: NAME "=" CANONICAL_JSON "\n"
//! ```
//!
//! where `CANONICAL_JSON` is the field's value as compact JSON with object keys sorted (absent
//! values are `null`; an absent identifier counts as `"default"`, as the server treats it), hashed
//! with 64-bit FNV-1a and written as `fnv1a64:` and 16 lowercase hex digits. The digest is a
//! fingerprint, not a signature: it detects a state file left over from another request or edited
//! by hand, not a forger who can write the file (keep state files where only the job writes).
//!
//! The policy (timeout and fail-on-error, plus the other timing options) is not part of the
//! request: on resume the current run's policy applies, and [`Difference`]s name what changed.

use serde_json::Value;
use std::fmt;

/// The fields that define an evaluation request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The API base URL the trigger goes to.
    pub api: &'a str,
    pub service: &'a str,
    pub env: &'a str,
    pub identifier: Option<&'a str>,
    pub version: Option<&'a str>,
    pub primary_tag: Option<&'a str>,
    pub monitors_query_variable: Option<&'a str>,
    pub configuration: Option<&'a Value>,
}

impl Request<'_> {
    /// `(name, canonical JSON)` for each field, in the digest's order.
    fn fields(&self) -> Vec<(&'static str, String)> {
        let text = |v: Option<&str>| canonical(&v.map_or(Value::Null, Value::from));
        vec![
            ("api", text(Some(self.api))),
            ("service", text(Some(self.service))),
            ("env", text(Some(self.env))),
            (
                "identifier",
                text(Some(self.identifier.unwrap_or("default"))),
            ),
            ("version", text(self.version)),
            ("primary_tag", text(self.primary_tag)),
            (
                "monitors_query_variable",
                text(self.monitors_query_variable),
            ),
            (
                "configuration",
                canonical(self.configuration.unwrap_or(&Value::Null)),
            ),
        ]
    }

    /// The request's fingerprint (see the module docs).
    pub fn digest(&self) -> String {
        let mut text = String::from("gatepost-request/1\n");
        for (name, value) in self.fields() {
            text.push_str(name);
            text.push('=');
            text.push_str(&value);
            text.push('\n');
        }
        format!("fnv1a64:{:016x}", fnv1a64(text.as_bytes()))
    }

    /// What differs between a saved request and the current one, field by field.
    pub fn differences(&self, current: &Request<'_>) -> Vec<Difference> {
        self.fields()
            .into_iter()
            .zip(current.fields())
            .filter(|((_, a), (_, b))| a != b)
            .map(|((name, saved), (_, now))| {
                // A whole configuration is too long to show: say that it changed.
                let (saved, now) = if name == "configuration" {
                    (summary(&saved), summary(&now))
                } else {
                    (saved, now)
                };
                Difference {
                    field: name.to_string(),
                    saved,
                    current: now,
                }
            })
            .collect()
    }
}

/// One field whose value in a snapshot differs from the current run's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The option's name (`version`, `configuration`, `fail_on_error`, ...).
    pub field: String,
    /// The snapshot's value, as JSON (a configuration as its digest).
    pub saved: String,
    /// The current run's value, as JSON.
    pub current: String,
}

impl fmt::Display for Difference {
    /// `version: "v1" in the snapshot, "v2" now`, made inert for display.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |s: &str| {
            let s = crate::sanitize::line(s);
            if s.chars().count() > 80 {
                format!("{}…", s.chars().take(80).collect::<String>())
            } else {
                s
            }
        };
        write!(
            f,
            "{}: {} in the snapshot, {} now",
            self.field,
            short(&self.saved),
            short(&self.current)
        )
    }
}

/// A configuration in a difference: `none`, or its own fingerprint.
fn summary(canonical_json: &str) -> String {
    if canonical_json == "null" {
        "none".to_string()
    } else {
        format!(
            "a configuration ({:016x})",
            fnv1a64(canonical_json.as_bytes())
        )
    }
}

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Compact JSON with object keys sorted, whatever order the map keeps.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(version: Option<&'a str>, configuration: Option<&'a Value>) -> Request<'a> {
        Request {
            api: "https://api.datadoghq.com",
            service: "checkout",
            env: "prod",
            identifier: None,
            version,
            primary_tag: None,
            monitors_query_variable: None,
            configuration,
        }
    }

    #[test]
    fn the_digest_is_stable_and_covers_every_field() {
        // Fixed here so a change of encoding is a deliberate, visible change (snapshots written
        // by another host or version must compare equal).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let base = request(Some("v1"), None);
        assert_eq!(base.digest(), request(Some("v1"), None).digest());
        assert!(base.digest().starts_with("fnv1a64:") && base.digest().len() == 24);
        let config_a = serde_json::json!({"rules": [{"name": "a", "type": "monitor"}]});
        let config_b = serde_json::json!({"rules": [{"type": "monitor", "name": "a"}]});
        let config_c = serde_json::json!({"rules": [{"type": "monitor", "name": "b"}]});
        // Key order does not matter; values do.
        assert_eq!(
            request(None, Some(&config_a)).digest(),
            request(None, Some(&config_b)).digest()
        );
        assert_ne!(
            request(None, Some(&config_a)).digest(),
            request(None, Some(&config_c)).digest()
        );
        let mut variants = vec![
            request(Some("v2"), None),
            request(None, None),
            request(Some("v1"), Some(&config_a)),
        ];
        let mut other = base;
        other.api = "http://127.0.0.1:9";
        variants.push(other);
        let mut other = base;
        other.identifier = Some("pre-deploy");
        variants.push(other);
        let mut other = base;
        other.primary_tag = Some("region:eu");
        variants.push(other);
        for v in &variants {
            assert_ne!(v.digest(), base.digest(), "{v:?}");
        }
        // An absent identifier is the server's `default`.
        let mut named = base;
        named.identifier = Some("default");
        assert_eq!(named.digest(), base.digest());
    }

    #[test]
    fn differences_name_each_field() {
        let config = serde_json::json!({"rules": []});
        let saved = request(Some("v1"), None);
        let current = request(Some("v2\n::warning::x"), Some(&config));
        let diffs = saved.differences(&current);
        let names: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(names, ["version", "configuration"]);
        let shown = diffs[0].to_string();
        assert!(
            shown.starts_with("version: \"v1\" in the snapshot, \"v2\\n::warning::x\" now"),
            "{shown}"
        );
        assert!(
            diffs[1]
                .to_string()
                .contains("none in the snapshot, a configuration (")
        );
    }
}
