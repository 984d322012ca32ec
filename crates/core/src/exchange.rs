//! The request bookkeeping shared by the engine's smaller runs — the gates run
//! ([`crate::gates::Run`]) and the online check ([`crate::online::Check`]): one request in flight
//! at a time, ids that only grow, a clock that never goes back, and one reading of what the host
//! feeds back (a response, a transport error, a timeout, a cancel). What each run does with a
//! response or a failure is its own; how the input reaches it is decided here, once.

use crate::error::{Error, ErrorCode, Problem};
use crate::io::{Input, TransportErrorKind};
use crate::options::{DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT_MS};
use crate::site::{self, Endpoint};

/// The connection options a gates run and an online check share, as the host gave them.
pub(crate) struct ConnectionOptions<'a> {
    pub(crate) site: Option<&'a str>,
    pub(crate) api_url: Option<&'a str>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) api_key: Option<&'a str>,
    pub(crate) app_key: Option<&'a str>,
    pub(crate) request_timeout_ms: Option<u64>,
    pub(crate) max_body_bytes: Option<u64>,
}

/// The [`ConnectionOptions`] of a run's options struct (`GatesOptions`, `OnlineOptions`: the same
/// field names).
macro_rules! connection_options {
    ($options:expr) => {
        $crate::exchange::ConnectionOptions {
            site: $options.site.as_deref(),
            api_url: $options.api_url.as_deref(),
            allow_insecure_http: $options.allow_insecure_http,
            api_key: $options.api_key.as_deref(),
            app_key: $options.app_key.as_deref(),
            request_timeout_ms: $options.request_timeout_ms,
            max_body_bytes: $options.max_body_bytes,
        }
    };
}
pub(crate) use connection_options;

/// Where a run's requests go and their limits, once checked.
pub(crate) struct Connection {
    pub(crate) endpoint: Endpoint,
    pub(crate) request_timeout_ms: u64,
    pub(crate) max_body_bytes: u64,
}

/// Check a run's connection options, one way for every run: the site or API URL, the keys (never
/// shown), the request timeout and the body limit. Each problem goes to `problems` with the
/// option's name; `None` when there is any.
pub(crate) fn check_connection(
    options: &ConnectionOptions<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Connection> {
    let before = problems.len();
    let endpoint = match site::resolve(options.site, options.api_url, options.allow_insecure_http) {
        Ok(e) => Some(e),
        Err(p) => {
            problems.push(p);
            None
        }
    };
    for (name, key) in [("api_key", options.api_key), ("app_key", options.app_key)] {
        match key {
            Some(k) if k.is_empty() || k.bytes().any(|b| b.is_ascii_control()) => {
                problems.push(Problem::new(
                    name,
                    format!(
                        "{name} is empty or contains control characters (its value is not shown)"
                    ),
                ))
            }
            None if options.api_url.is_none() => problems.push(
                Problem::new(name, format!("{name} is required for a Datadog site")).with_hint(
                    "set DD_API_KEY / DD_APP_KEY, or use api_url for a proxy that adds the keys",
                ),
            ),
            _ => {}
        }
    }
    let request_timeout_ms = options
        .request_timeout_ms
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS);
    let max_body_bytes = options.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if request_timeout_ms == 0 {
        problems.push(Problem::new("request_timeout_ms", "must be at least 1"));
    }
    if max_body_bytes < 1024 {
        problems.push(Problem::new("max_body_bytes", "must be at least 1024"));
    }
    match (endpoint, problems.len() == before) {
        (Some(endpoint), true) => Some(Connection {
            endpoint,
            request_timeout_ms,
            max_body_bytes,
        }),
        _ => None,
    }
}

/// An error's message from its problems: the one problem, or how many.
pub(crate) fn summarize(what: &str, problems: &[Problem]) -> String {
    match problems.len() {
        1 => format!("{what}: {}", problems[0]),
        n => format!("{what}: {n} problems"),
    }
}

/// The request a run is waiting for.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) request_id: u64,
    /// When the run gives up on it.
    pub(crate) expires_at: u64,
}

/// What a run exposes so that [`handle`] can feed it.
pub(crate) trait Exchange {
    /// What the run is called in the error for a request id it never issued ("run", "check").
    const NOUN: &'static str;
    /// The id the next request will get (every id below it was issued).
    fn next_request_id(&self) -> u64;
    /// The run's clock (ms); [`handle`] only moves it forward.
    fn clock_mut(&mut self) -> &mut u64;
    fn in_flight_mut(&mut self) -> &mut Option<InFlight>;
    /// Whether the run has its report (a cancel then changes nothing).
    fn finished(&self) -> bool;
    fn finish(&mut self, error: Option<String>);
    /// The request failed: `status` for an HTTP answer, `error` a short description.
    fn on_failure(
        &mut self,
        status: Option<u16>,
        error: &str,
        headers: &[(String, String)],
        now: u64,
    );
    fn on_response(&mut self, status: u16, headers: &[(String, String)], body: &str, now: u64);
    /// The current step in words, for messages ("listing gates (page 2)").
    fn describe_step(&self) -> String;
}

/// Feed what happened to the run's last request (or `timeout` / `cancel`). A response or error
/// for a request that is no longer in flight is ignored; one for an id never issued is an error.
pub(crate) fn handle<E: Exchange>(run: &mut E, input: Input, now: u64) -> Result<(), Error> {
    if let Input::Response { request_id, .. } | Input::TransportError { request_id, .. } = &input
        && (*request_id == 0 || *request_id >= run.next_request_id())
    {
        return Err(Error::new(
            ErrorCode::UnknownRequest,
            format!(
                "request id {request_id} was never issued by this {}",
                E::NOUN
            ),
        ));
    }
    let clock = run.clock_mut();
    *clock = (*clock).max(now);
    let now = *clock;
    // Takes the request out of flight when `id` is the one in flight.
    let land = |run: &mut E, id: u64| {
        let current = run
            .in_flight_mut()
            .as_ref()
            .is_some_and(|f| f.request_id == id);
        if current {
            *run.in_flight_mut() = None;
        }
        current
    };
    match input {
        Input::Cancel => {
            if !run.finished() {
                *run.in_flight_mut() = None;
                run.finish(Some("cancelled".into()));
            }
        }
        Input::Timeout => {
            if run
                .in_flight_mut()
                .as_ref()
                .is_some_and(|f| now >= f.expires_at)
            {
                *run.in_flight_mut() = None;
                run.on_failure(None, "timeout", &[], now);
            }
        }
        Input::Response {
            request_id,
            status,
            headers,
            body,
        } => {
            if land(run, request_id) {
                run.on_response(status, &headers, &body, now);
            }
        }
        Input::TransportError {
            request_id,
            kind,
            message,
        } => {
            if !land(run, request_id) {
                return Ok(());
            }
            if kind == TransportErrorKind::Tls {
                let m = format!("{}: TLS failure: {message}", run.describe_step());
                run.finish(Some(m));
            } else if message.is_empty() {
                run.on_failure(None, kind.as_str(), &[], now);
            } else {
                run.on_failure(None, &format!("{}: {message}", kind.as_str()), &[], now);
            }
        }
    }
    Ok(())
}

/// A run a host drives by polling besides the engine: a [gates run](crate::gates::Run) or an
/// [online check](crate::online::Check). Bindings hold one generic wrapper over it instead of a
/// copy per run: [`Polled::from_json`] builds one from the host's JSON (durations in seconds
/// converted by core, every error an `invalid_options` naming the part), and the rest is the
/// run's own `handle` / `poll` / `drain_events`.
pub trait Polled: Sized {
    /// The options object (site, keys, timeouts, ...).
    type Options: serde::de::DeserializeOwned;
    /// What the run works on: the gates task, the online check's source.
    type Subject: serde::de::DeserializeOwned;
    /// What `poll` answers.
    type Action: serde::Serialize;
    /// The subject's name in errors (`task`, `source`).
    const SUBJECT: &'static str;
    fn start(options: Self::Options, subject: Self::Subject, now: u64) -> Result<Self, Error>;
    fn handle(&mut self, input: Input, now: u64) -> Result<(), Error>;
    fn poll(&mut self, now: u64) -> Self::Action;
    fn drain_events(&mut self) -> Vec<crate::Event>;

    /// Build a run from the host's JSON: the options (durations the user gave in seconds, such
    /// as `request_timeout`, converted through [`host_seconds`](crate::options::host_seconds))
    /// and the subject. A value that does not parse is an `invalid_options` error naming which.
    fn from_json(
        options: serde_json::Value,
        subject: serde_json::Value,
        now: u64,
    ) -> Result<Self, Error> {
        let invalid = |what: &str, e: serde_json::Error| {
            Error::new(ErrorCode::InvalidOptions, format!("invalid {what}: {e}"))
        };
        let options = crate::options::host_seconds(options)?;
        let options = serde_json::from_value(options).map_err(|e| invalid("options", e))?;
        let subject = serde_json::from_value(subject).map_err(|e| invalid(Self::SUBJECT, e))?;
        Self::start(options, subject, now)
    }
}

impl Polled for crate::gates::Run {
    type Options = crate::gates::GatesOptions;
    type Subject = crate::gates::Task;
    type Action = crate::gates::GatesAction;
    const SUBJECT: &'static str = "task";
    fn start(options: Self::Options, subject: Self::Subject, now: u64) -> Result<Self, Error> {
        Self::new(options, subject, now)
    }
    fn handle(&mut self, input: Input, now: u64) -> Result<(), Error> {
        crate::gates::Run::handle(self, input, now)
    }
    fn poll(&mut self, now: u64) -> Self::Action {
        crate::gates::Run::poll(self, now)
    }
    fn drain_events(&mut self) -> Vec<crate::Event> {
        crate::gates::Run::drain_events(self)
    }
}

impl Polled for crate::online::Check {
    type Options = crate::online::OnlineOptions;
    type Subject = crate::online::Source;
    type Action = crate::online::OnlineAction;
    const SUBJECT: &'static str = "source";
    fn start(options: Self::Options, subject: Self::Subject, now: u64) -> Result<Self, Error> {
        Self::new(options, subject, now)
    }
    fn handle(&mut self, input: Input, now: u64) -> Result<(), Error> {
        crate::online::Check::handle(self, input, now)
    }
    fn poll(&mut self, now: u64) -> Self::Action {
        crate::online::Check::poll(self, now)
    }
    fn drain_events(&mut self) -> Vec<crate::Event> {
        crate::online::Check::drain_events(self)
    }
}
