//! Where requests go: Datadog site → API base URL, or an explicit base URL.

use crate::error::Problem;

/// The sites that serve Deployment Gates.
pub const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
];

/// Government sites, where Deployment Gates are not available.
pub const GOV_SITES: &[&str] = &["ddog-gov.com", "us2.ddog-gov.com"];

/// The resolved API endpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// `https://api.datadoghq.com`, or the explicit base URL without a trailing slash.
    pub base_url: String,
    /// The site, when the endpoint came from one (used for evaluation page links).
    pub site: Option<String>,
}

impl Endpoint {
    pub fn trigger_url(&self) -> String {
        format!("{}/api/v2/deployments/gates/evaluation", self.base_url)
    }

    /// The result URL. `evaluation_id` must already be checked to be a UUID.
    pub fn result_url(&self, evaluation_id: &str) -> String {
        format!(
            "{}/api/v2/deployments/gates/evaluation/{evaluation_id}",
            self.base_url
        )
    }

    /// The Datadog app page of an evaluation, for a known site.
    pub fn evaluation_page(&self, evaluation_id: &str) -> Option<String> {
        let site = self.site.as_deref()?;
        Some(format!(
            "https://app.{site}/ci/deployment-gates/evaluations?index=cdgates&query=level%3Agate+%40evaluation_id%3A{evaluation_id}"
        ))
    }
}

/// Resolve `site` / `api_url` into an endpoint, or say what is wrong with them.
pub fn resolve(
    site: Option<&str>,
    api_url: Option<&str>,
    allow_insecure_http: bool,
) -> Result<Endpoint, Problem> {
    match (site, api_url) {
        (Some(_), Some(_)) => Err(Problem::new(
            "api_url",
            "give either site or api_url, not both",
        )),
        (_, Some(url)) => resolve_url(url, allow_insecure_http),
        (site, None) => {
            let site = site
                .unwrap_or("datadoghq.com")
                .trim()
                .trim_end_matches('/')
                .to_ascii_lowercase();
            let site = site.strip_prefix("https://").unwrap_or(&site);
            let site = site
                .strip_prefix("app.")
                .or_else(|| site.strip_prefix("api."))
                .unwrap_or(site);
            if GOV_SITES.contains(&site) {
                return Err(Problem::new(
                    "site",
                    format!("Deployment Gates are not available on {site} (a US government site)"),
                ));
            }
            if !SITES.contains(&site) {
                return Err(
                    Problem::new("site", format!("unknown Datadog site {site:?}")).with_hint(
                        format!(
                            "use one of {}, or api_url for a proxy or emulator",
                            SITES.join(", ")
                        ),
                    ),
                );
            }
            Ok(Endpoint {
                base_url: format!("https://api.{site}"),
                site: Some(site.to_string()),
            })
        }
    }
}

fn resolve_url(url: &str, allow_insecure_http: bool) -> Result<Endpoint, Problem> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        Problem::new(
            "api_url",
            format!("{url:?} is not a URL (expected https://host[:port])"),
        )
    })?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || rest.contains(['?', '#']) {
        return Err(Problem::new(
            "api_url",
            format!(
                "{url:?} must be scheme://host[:port][/path] without credentials, query or fragment"
            ),
        ));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(authority) => {}
        "http" => {
            return Err(Problem::new(
                "api_url",
                format!("plain http to {authority} would send keys unencrypted"),
            )
            .with_hint(
                "use https, or allow_insecure_http (--allow-insecure-http) if you really mean it",
            ));
        }
        other => {
            return Err(Problem::new(
                "api_url",
                format!("unsupported scheme {other:?}"),
            ));
        }
    }
    Ok(Endpoint {
        base_url: url.to_string(),
        site: None,
    })
}

/// Whether a `host[:port]` names the loopback interface: `localhost`, `127.0.0.0/8` or `[::1]`.
/// Other `*.localhost` names are not: a resolver may send them to DNS, so plain HTTP to them needs
/// `allow_insecure_http` like any other name.
pub fn is_loopback(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host == "::1"
        || host
            .parse::<core::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}
