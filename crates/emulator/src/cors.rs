//! CORS: which web pages may call the API from a browser. By default only pages served from
//! this machine (`http(s)://localhost`, `127.x.x.x`, `[::1]`, any port) — enough for a browser
//! demo or test next to the emulator; `--cors-origin` lists others, `*` allows every origin.
//! Only the methods and headers the API uses are allowed; requested headers are never echoed.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

/// The methods the API serves.
const ALLOWED_METHODS: &str = "GET, POST, PUT, DELETE";
/// The request headers gatepost's clients send (besides the CORS-safelisted ones).
const ALLOWED_HEADERS: &str = "accept, content-type, dd-api-key, dd-application-key, user-agent";
/// The response headers a browser client reads: rate limits, and `Date` for an HTTP-date
/// `Retry-After`.
const EXPOSED_HEADERS: &str = "x-ratelimit-limit, x-ratelimit-period, x-ratelimit-remaining, \
                               x-ratelimit-reset, x-ratelimit-name, retry-after, date";

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CorsPolicy {
    /// Pages served from loopback only (the default).
    Loopback,
    /// Every origin (`*`).
    Any,
    /// These origins exactly (`scheme://host[:port]`, lowercase).
    Listed(Vec<String>),
}

impl CorsPolicy {
    /// From the configured origins: none gives the loopback default, `*` allows every origin,
    /// anything else must be an origin (`https://app.example.com`, `http://localhost:8080`).
    pub(crate) fn from_origins(origins: &[String]) -> Result<CorsPolicy, String> {
        if origins.is_empty() {
            return Ok(CorsPolicy::Loopback);
        }
        if origins.iter().any(|o| o.trim() == "*") {
            return Ok(CorsPolicy::Any);
        }
        let mut listed = Vec::new();
        for origin in origins {
            let normal = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            let Some((scheme, host)) = normal.split_once("://") else {
                return Err(format!(
                    "CORS origin {origin:?} is not an origin like https://app.example.com"
                ));
            };
            if !matches!(scheme, "http" | "https")
                || host.is_empty()
                || host.contains(['/', '?', '#', '@', ' '])
            {
                return Err(format!(
                    "CORS origin {origin:?} is not an origin like https://app.example.com \
                     (scheme http or https, a host, an optional port, nothing else)"
                ));
            }
            listed.push(normal);
        }
        Ok(CorsPolicy::Listed(listed))
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, when it is allowed.
    fn allow_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin?;
        let text = origin.to_str().ok()?;
        let allowed = match self {
            CorsPolicy::Any => return Some(HeaderValue::from_static("*")),
            CorsPolicy::Loopback => is_loopback_origin(text),
            CorsPolicy::Listed(list) => list.iter().any(|o| o.eq_ignore_ascii_case(text)),
        };
        allowed.then(|| origin.clone())
    }

    /// CORS headers on an answer to a request from `origin` (none for other origins).
    pub(crate) fn add_headers(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        if *self != CorsPolicy::Any {
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        if let Some(allow) = self.allow_origin(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
    }

    /// The answer to `OPTIONS` (which carries no keys and never meets faults): for an allowed
    /// origin, the API's methods and headers; for another origin, 403 without CORS headers.
    pub(crate) fn preflight(&self, origin: Option<&HeaderValue>) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        if origin.is_none() {
            // Not a browser preflight: say what the API serves.
            headers.insert(
                header::ALLOW,
                HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
            );
            return response;
        }
        self.add_headers(origin, headers);
        if self.allow_origin(origin).is_none() {
            *response.status_mut() = StatusCode::FORBIDDEN;
            return response;
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        response
    }
}

/// `http(s)://localhost`, `http(s)://127.x.x.x` or `http(s)://[::1]`, with any port.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, port)) if port.is_empty() || is_port(port) => host,
            _ => return false,
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return false,
            None => rest,
        }
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn is_port(text: &str) -> bool {
    text.strip_prefix(':')
        .unwrap_or(text)
        .parse::<u16>()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_are_recognised_and_lookalikes_are_not() {
        for good in [
            "http://localhost",
            "http://localhost:8080",
            "https://127.0.0.1:3000",
            "http://127.1.2.3",
            "http://[::1]:5173",
            "http://[::1]",
        ] {
            assert!(is_loopback_origin(good), "{good}");
        }
        for bad in [
            "null",
            "http://localhost.evil.test",
            "http://evil.test:80",
            "http://127.0.0.1.evil.test",
            "http://localhost:99999",
            "http://localhost:80/path",
            "file://localhost",
            "http://[::2]",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn configured_origins_are_checked_and_matched_exactly() {
        let policy = CorsPolicy::from_origins(&["https://App.example.com/".into()]).unwrap();
        assert_eq!(
            policy,
            CorsPolicy::Listed(vec!["https://app.example.com".into()])
        );
        let ok = HeaderValue::from_static("https://app.example.com");
        assert!(policy.allow_origin(Some(&ok)).is_some());
        let other = HeaderValue::from_static("http://localhost:8080");
        assert!(policy.allow_origin(Some(&other)).is_none());
        assert!(CorsPolicy::from_origins(&["app.example.com".into()]).is_err());
        assert!(CorsPolicy::from_origins(&["https://a.test/path".into()]).is_err());
        assert_eq!(
            CorsPolicy::from_origins(&["*".into()]).unwrap(),
            CorsPolicy::Any
        );
    }
}
