//! Where requests go: Datadog site → API base URL, or an explicit base URL.

use crate::error::Problem;

/// The sites that serve Deployment Gates, as the published API lists them.
pub const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
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

    /// The rule evaluations of one gate evaluation (with their failure details).
    /// `evaluation_id` must already be checked to be a UUID.
    pub fn rule_evaluations_url(&self, evaluation_id: &str) -> String {
        format!(
            "{}/api/v2/deployment_gates/evaluations/rules?filter%5Bgate_evaluation_id%5D={evaluation_id}",
            self.base_url
        )
    }

    /// A preconfigured gate's stored rules (`GET /api/v2/deployment_gates/{gate_id}/rules`).
    /// `gate_id` must already be checked to be a UUID.
    pub fn gate_rules_url(&self, gate_id: &str) -> String {
        format!("{}/api/v2/deployment_gates/{gate_id}/rules", self.base_url)
    }

    /// The Datadog app page of an evaluation, for a known site.
    pub fn evaluation_page(&self, evaluation_id: &str) -> Option<String> {
        let site = self.site.as_deref()?;
        Some(format!(
            "https://app.{site}/ci/deployment-gates/evaluations?index=cdgates&query=level%3Agate+%40evaluation_id%3A{evaluation_id}"
        ))
    }
}

/// Whether `site` is shaped like a Datadog site: one label (lowercase letters, digits, `-`) in
/// front of `datadoghq.com` or `datadoghq.eu`, as every regional site is (`us3.`, `ap1.`, `uk1.`).
/// New sites appear over time, so such a site is accepted with a warning rather than refused;
/// anything else (a typo such as `datadoghq.co`) is refused, so keys never go to a domain that is
/// not Datadog's.
pub fn looks_like_datadog_site(site: &str) -> bool {
    let Some(label) = site
        .strip_suffix(".datadoghq.com")
        .or_else(|| site.strip_suffix(".datadoghq.eu"))
    else {
        return false;
    };
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A resolved endpoint, and a warning when the site is not one gatepost knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub endpoint: Endpoint,
    pub warning: Option<Problem>,
}

/// Resolve `site` / `api_url` into an endpoint, or say what is wrong with them.
pub fn resolve(
    site: Option<&str>,
    api_url: Option<&str>,
    allow_insecure_http: bool,
) -> Result<Endpoint, Problem> {
    resolve_checked(site, api_url, allow_insecure_http).map(|r| r.endpoint)
}

/// [`resolve`], keeping the warning about a site that is not in [`SITES`] but looks like a
/// Datadog site (the request goes to `api.<site>` anyway, as datadog-ci does with any `DD_SITE`).
pub fn resolve_checked(
    site: Option<&str>,
    api_url: Option<&str>,
    allow_insecure_http: bool,
) -> Result<Resolved, Problem> {
    match (site, api_url) {
        (Some(_), Some(_)) => Err(Problem::new(
            "api_url",
            "give either site or api_url, not both",
        )),
        (_, Some(url)) => resolve_url(url, allow_insecure_http).map(|endpoint| Resolved {
            endpoint,
            warning: None,
        }),
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
            if GOV_SITES.contains(&site) || site.ends_with(".ddog-gov.com") {
                return Err(Problem::new(
                    "site",
                    format!("Deployment Gates are not available on {site} (a US government site)"),
                ));
            }
            let warning = if SITES.contains(&site) {
                None
            } else if looks_like_datadog_site(site) {
                Some(
                    Problem::new(
                        "site",
                        format!(
                            "{site:?} is not a Datadog site gatepost knows; sending to https://api.{site} anyway"
                        ),
                    )
                    .with_hint(format!("the known sites are {}", SITES.join(", "))),
                )
            } else {
                return Err(
                    Problem::new("site", format!("unknown Datadog site {site:?}")).with_hint(
                        format!(
                            "use one of {}, or api_url for a proxy or emulator",
                            SITES.join(", ")
                        ),
                    ),
                );
            };
            Ok(Resolved {
                endpoint: Endpoint {
                    base_url: format!("https://api.{site}"),
                    site: Some(site.to_string()),
                },
                warning,
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
