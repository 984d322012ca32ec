//! What a host reads from its process environment, resolved by one set of rules for every host.
//!
//! The engine does no IO, so it never reads the environment itself: a host hands it over as a map
//! (Rust's `vars_os()`, `os.environ`, `process.env`, or nothing at all in a browser) and calls
//! [`defaults`] for the keys and site, and [`proxy_for`] for the proxy of each URL. The CLI and the
//! Python, Node and WebAssembly packages all call these two functions, so the same environment
//! means the same thing in every language (`tests/env/cases.json` is the shared proof).
//!
//! Rules for the keys and the site ([`defaults`]):
//!
//! - The API key is the first of `DATADOG_API_KEY`, `DD_API_KEY` that is set and not blank; the
//!   application key the first of `DATADOG_APP_KEY`, `DD_APP_KEY`, `DD_APPLICATION_KEY`; the site
//!   the first of `DATADOG_SITE`, `DD_SITE`. ([`API_KEY_VARS`], [`APP_KEY_VARS`], [`SITE_VARS`].)
//! - Values are trimmed: a key read from a mounted secret file usually ends in a newline, and no
//!   key, application key or site holds white space. A value that is empty or only white space
//!   counts as unset, so the next name is tried.
//! - A variable that is set but is not valid UTF-8 is an `invalid_options` error naming it (its
//!   value is not shown): going on without the key would send requests unauthenticated.
//!
//! Rules for proxies ([`proxy_for`]), as curl reads them:
//!
//! - An `https` URL uses `HTTPS_PROXY` (or `https_proxy`), an `http` URL `HTTP_PROXY` (or
//!   `http_proxy`); either falls back to `ALL_PROXY` (or `all_proxy`). A proxy without a scheme is
//!   `http://`.
//! - `NO_PROXY` (or `no_proxy`) is a list of hosts that go direct, separated by commas (or white
//!   space): `*` alone covers every host; a name covers itself and its subdomains (`example.com`,
//!   `.example.com` and `*.example.com` all cover `api.example.com`); an IP address covers that
//!   address, and `10.0.0.0/8` style entries cover a range; an entry with `:port` applies only to
//!   that port (the URL's port, or 443/80 by scheme).
//! - Loopback (`localhost`, `127.0.0.0/8`, `[::1]`) always goes direct: a local emulator is never
//!   reached through a proxy.

use crate::error::{Error, ErrorCode, Problem};
use core::net::IpAddr;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// The variables the API key is read from, first match wins.
pub const API_KEY_VARS: [&str; 2] = ["DATADOG_API_KEY", "DD_API_KEY"];
/// The variables the application key is read from, first match wins.
pub const APP_KEY_VARS: [&str; 3] = ["DATADOG_APP_KEY", "DD_APP_KEY", "DD_APPLICATION_KEY"];
/// The variables the site is read from, first match wins.
pub const SITE_VARS: [&str; 2] = ["DATADOG_SITE", "DD_SITE"];

/// One variable's value: text, or a value the host could not read as UTF-8 (kept so that the
/// error can name the variable instead of treating it as unset).
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    NotUnicode,
}

impl fmt::Debug for Value {
    // Values may be keys: never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(_) => f.write_str("Text(<redacted>)"),
            Value::NotUnicode => f.write_str("NotUnicode"),
        }
    }
}

/// A process environment, as the host hands it over. Names are case-sensitive, as on Unix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, Value>,
}

impl Environment {
    /// An empty environment (a browser, or a host that wants none of it read).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `name` to a text value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), Value::Text(value.into()));
    }

    /// Record that `name` is set to a value that is not valid UTF-8.
    pub fn set_not_unicode(&mut self, name: impl Into<String>) {
        self.vars.insert(name.into(), Value::NotUnicode);
    }

    /// The environment as the host's `vars_os()` lists it (or any such list): a name that is not
    /// UTF-8 is skipped (no rule reads it), a value that is not UTF-8 is kept as
    /// [`Value::NotUnicode`].
    pub fn from_os<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<std::ffi::OsString>,
        V: Into<std::ffi::OsString>,
    {
        let mut env = Environment::new();
        for (name, value) in vars {
            let Ok(name) = name.into().into_string() else {
                continue;
            };
            match value.into().into_string() {
                Ok(value) => env.set(name, value),
                Err(_) => env.set_not_unicode(name),
            }
        }
        env
    }

    /// The variable `name`, when set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// The first of `names` whose value is text and not blank, trimmed.
    fn first_text(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| match self.vars.get(*name) {
            Some(Value::Text(v)) if !v.trim().is_empty() => Some(v.trim().to_string()),
            _ => None,
        })
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut env = Environment::new();
        for (k, v) in iter {
            env.set(k, v);
        }
        env
    }
}

/// The keys and site the environment provides: the defaults for the options a user did not give.
/// `Debug` redacts the keys; serialises (for the bindings) as `{api_key, app_key, site}` with
/// absent values omitted.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Defaults {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

impl fmt::Debug for Defaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Defaults")
            .field("api_key", &shown(&self.api_key))
            .field("app_key", &shown(&self.app_key))
            .field("site", &self.site)
            .finish()
    }
}

/// The keys and site from `env` (see the module documentation for the rules). Errors with
/// `invalid_options` when a variable that would be read is set but not valid UTF-8.
pub fn defaults(env: &Environment) -> Result<Defaults, Error> {
    let mut problems = Vec::new();
    let mut pick = |names: &[&str]| -> Option<String> {
        for name in names {
            match env.get(name) {
                Some(Value::Text(v)) if !v.trim().is_empty() => return Some(v.trim().to_string()),
                Some(Value::NotUnicode) => {
                    problems.push(Problem::new(
                        *name,
                        format!(
                            "{name} is set but is not valid UTF-8 (its value is not shown); set it \
                             to the value itself"
                        ),
                    ));
                    return None;
                }
                _ => {}
            }
        }
        None
    };
    let found = Defaults {
        api_key: pick(&API_KEY_VARS),
        app_key: pick(&APP_KEY_VARS),
        site: pick(&SITE_VARS),
    };
    if problems.is_empty() {
        return Ok(found);
    }
    let message = problems
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Err(Error::with_problems(
        ErrorCode::InvalidOptions,
        format!("invalid options: {message}"),
        problems,
    ))
}

/// The proxy to send a request for `url` through, or `None` to go direct (see the module
/// documentation for the rules). A URL that does not parse goes direct.
pub fn proxy_for(url: &str, env: &Environment) -> Option<String> {
    let target = Target::parse(url)?;
    let proxy = match target.scheme.as_str() {
        "https" => env.first_text(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
        "http" => env.first_text(&["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]),
        _ => None,
    }?;
    if crate::site::is_loopback(&target.authority()) {
        return None;
    }
    let no_proxy = env
        .first_text(&["NO_PROXY", "no_proxy"])
        .unwrap_or_default();
    if no_proxy_matches(&target, &no_proxy) {
        return None;
    }
    Some(if proxy.contains("://") {
        proxy
    } else {
        format!("http://{proxy}")
    })
}

/// The parts of a URL the proxy decision reads.
struct Target {
    scheme: String,
    /// Lower case, without IPv6 brackets or a trailing dot.
    host: String,
    port: u16,
}

impl Target {
    fn parse(url: &str) -> Option<Target> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = split_host_port(authority);
        let port = match port {
            Some(p) => p.parse().ok()?,
            None if scheme == "https" => 443,
            None if scheme == "http" => 80,
            None => return None,
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(Target { scheme, host, port })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `host[:port]`, `[v6][:port]` or a bare IPv6 address into the host and the port text.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').filter(|p| !p.is_empty()));
    }
    match authority.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 address, no port.
        Some((host, _)) if host.contains(':') => (authority, None),
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (authority, None),
    }
}

/// Whether a `NO_PROXY` list sends `target` direct.
fn no_proxy_matches(target: &Target, list: &str) -> bool {
    let host_ip = target.host.parse::<IpAddr>().ok();
    list.split([',', ' ', '\t', '\n', '\r'])
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let (name, port) = split_host_port(&entry);
            if let Some(port) = port
                && port.parse::<u16>().ok() != Some(target.port)
            {
                return false;
            }
            let name = name
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.');
            if name.is_empty() {
                return false;
            }
            if let Some((net, bits)) = name.split_once('/') {
                return match (host_ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_network(ip, net, bits),
                    _ => false,
                };
            }
            if let (Some(ip), Ok(entry_ip)) = (host_ip, name.parse::<IpAddr>()) {
                return ip == entry_ip;
            }
            target.host == name
                || target
                    .host
                    .strip_suffix(name)
                    .is_some_and(|head| head.ends_with('.'))
        })
}

/// Whether `ip` lies in `net/bits` (both of the same family).
fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn keys_are_trimmed_and_blank_values_skipped() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (&[("DD_API_KEY", "key\n")], Some("key")),
            (&[("DD_API_KEY", "  key\t")], Some("key")),
            (&[("DATADOG_API_KEY", "a"), ("DD_API_KEY", "b")], Some("a")),
            (&[("DATADOG_API_KEY", ""), ("DD_API_KEY", "b")], Some("b")),
            (
                &[("DATADOG_API_KEY", " \n"), ("DD_API_KEY", "b")],
                Some("b"),
            ),
            (&[("DATADOG_API_KEY", " \n")], None),
            (&[("dd_api_key", "lower")], None),
            (&[], None),
        ];
        for (pairs, want) in cases {
            let got = defaults(&env(pairs)).unwrap().api_key;
            assert_eq!(got.as_deref(), *want, "{pairs:?}");
        }
    }

    #[test]
    fn app_key_and_site_follow_the_same_rules() {
        let d = defaults(&env(&[
            ("DD_APPLICATION_KEY", "third"),
            ("DD_APP_KEY", " \n"),
            ("DD_SITE", " datadoghq.eu\n"),
            ("DATADOG_SITE", ""),
        ]))
        .unwrap();
        assert_eq!(d.app_key.as_deref(), Some("third"));
        assert_eq!(d.site.as_deref(), Some("datadoghq.eu"));
        let d = defaults(&env(&[
            ("DD_APP_KEY", "two"),
            ("DD_APPLICATION_KEY", "three"),
        ]))
        .unwrap();
        assert_eq!(d.app_key.as_deref(), Some("two"));
    }

    #[test]
    fn a_key_that_is_not_utf8_is_an_error_naming_it_without_its_value() {
        let mut e = env(&[("DD_API_KEY", "fallback-must-not-be-used")]);
        e.set_not_unicode("DATADOG_API_KEY");
        let err = defaults(&e).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidOptions);
        assert_eq!(err.problems[0].path, "DATADOG_API_KEY");
        assert!(
            err.message
                .contains("DATADOG_API_KEY is set but is not valid UTF-8")
        );
        // A variable no rule reaches is not an error.
        let mut e = env(&[("DATADOG_API_KEY", "k")]);
        e.set_not_unicode("DD_API_KEY");
        assert_eq!(defaults(&e).unwrap().api_key.as_deref(), Some("k"));
    }

    #[test]
    fn debug_never_shows_keys() {
        let d = defaults(&env(&[
            ("DD_API_KEY", "secret-api"),
            ("DD_APP_KEY", "secret-app"),
        ]));
        let text = format!("{d:?} {:?}", env(&[("DD_API_KEY", "secret-api")]));
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn from_os_keeps_values_that_are_not_utf8_as_such() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let bad = std::ffi::OsString::from_vec(vec![0xff, 0xfe]);
            let e = Environment::from_os([
                (std::ffi::OsString::from("DD_API_KEY"), bad),
                ("DD_SITE".into(), "datadoghq.eu".into()),
            ]);
            assert_eq!(e.get("DD_API_KEY"), Some(&Value::NotUnicode));
            assert!(defaults(&e).is_err());
        }
    }

    #[test]
    fn proxy_decisions_follow_curl() {
        let base = [
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("http_proxy", "plain:8080"),
            (
                "NO_PROXY",
                "internal.example, .corp.example:443 *.star.example,10.0.0.1,192.168.0.0/16,[fd00::1]",
            ),
        ];
        let e = env(&base);
        let p = Some("http://proxy:3128");
        let cases: &[(&str, Option<&str>)] = &[
            ("https://api.datadoghq.com/api/v2/x", p),
            ("http://api.example/x", Some("http://plain:8080")),
            ("https://internal.example/x", None),
            ("https://INTERNAL.example./x", None),
            ("https://api.internal.example/x", None),
            ("https://notinternal.example/x", p),
            ("https://a.corp.example/x", None),
            ("https://corp.example/x", None),
            ("https://a.corp.example:8443/x", p),
            ("https://a.star.example/x", None),
            ("https://star.example/x", None),
            ("http://10.0.0.1/x", None),
            ("http://10.0.0.12/x", Some("http://plain:8080")),
            ("https://192.168.4.5:8443/x", None),
            ("https://[fd00::1]/x", None),
            ("https://[fd00::2]/x", p),
            ("http://127.0.0.1:8126/x", None),
            ("http://127.9.9.9/x", None),
            ("http://localhost:8126/x", None),
            ("http://[::1]:8126/x", None),
            ("ftp://example.com/x", None),
            ("not a url", None),
        ];
        for (url, want) in cases {
            assert_eq!(proxy_for(url, &e).as_deref(), *want, "{url}");
        }
    }

    #[test]
    fn proxy_variables_and_fallbacks() {
        let url = "https://api.datadoghq.eu/x";
        let all = env(&[("ALL_PROXY", "http://all:1")]);
        assert_eq!(proxy_for(url, &all).as_deref(), Some("http://all:1"));
        let both = env(&[("ALL_PROXY", "http://all:1"), ("https_proxy", "http://s:2")]);
        assert_eq!(proxy_for(url, &both).as_deref(), Some("http://s:2"));
        let blank = env(&[("HTTPS_PROXY", " "), ("https_proxy", "http://s:2\n")]);
        assert_eq!(proxy_for(url, &blank).as_deref(), Some("http://s:2"));
        let star = env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")]);
        assert_eq!(proxy_for(url, &star), None);
        // `*` only counts alone: as a prefix it is a suffix match.
        let star_eu = env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "*.eu")]);
        assert_eq!(proxy_for(url, &star_eu), None);
        let port = env(&[
            ("HTTPS_PROXY", "http://p:1"),
            ("NO_PROXY", "datadoghq.eu:80"),
        ]);
        assert_eq!(proxy_for(url, &port).as_deref(), Some("http://p:1"));
        let port = env(&[
            ("HTTPS_PROXY", "http://p:1"),
            ("NO_PROXY", "datadoghq.eu:443"),
        ]);
        assert_eq!(proxy_for(url, &port), None);
        let suffix = env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "ghq.eu")]);
        assert_eq!(proxy_for(url, &suffix).as_deref(), Some("http://p:1"));
        assert_eq!(proxy_for(url, &Environment::new()), None);
        assert_eq!(
            proxy_for("http://x.example/", &env(&[("HTTPS_PROXY", "http://p:1")])),
            None
        );
    }
}
