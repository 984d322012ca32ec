//! # gatepost-core: the sans-IO Deployment Gates engine
//!
//! Every gatepost host (the CLI, the Python, Node and WebAssembly packages) drives this one engine,
//! so every language makes the same decision for the same server behaviour. The engine does no IO:
//! it has no clock, no threads, no sockets and no OS randomness. The host performs the HTTP requests
//! the engine asks for, sleeps when it is told to wait, and feeds back what happened.
//!
//! ## The run loop
//!
//! ```text
//! let mut engine = Engine::new(options, now)?;
//! loop {
//!     match engine.poll(now) {
//!         Action::SendRequest { .. } => { /* start the request; keep polling */ }
//!         Action::Wait { until, .. } => { /* sleep until `until` or until a response arrives,
//!                                           then engine.handle(input, now) */ }
//!         Action::Done { outcome } => break outcome,
//!     }
//! }
//! ```
//!
//! Contract: at start and after each [`Engine::handle`], call [`Engine::poll`] until it returns
//! [`Action::Wait`] or [`Action::Done`]. When a wait ends without a response, feed
//! [`Input::Timeout`]. Time is milliseconds as a `u64`; the shipped drivers pass Unix-epoch
//! milliseconds so that a [snapshot](Engine::snapshot) taken in one process means the same in
//! another.
//!
//! Modules, one concept each: [`options`] (what the host passes in), [`config`] (the pipeline config
//! file and its validation), [`query`] (the monitor search syntax), [`site`] (where requests go),
//! [`environment`] (keys, site and proxy from the host's environment), [`machine`] (the state
//! machine and the decision policy), [`online`] (`validate --online`: rules checked against the
//! monitors that exist), [`backoff`] (retry timing),
//! [`outcome`] (the result), [`event`] (progress and log lines), [`report`] (text, markdown and
//! JSON renderers), [`sanitize`] (untrusted text made inert for people and CI logs), [`error`] (usage and config errors with stable codes).

pub mod backoff;
pub mod config;
pub mod environment;
pub mod error;
pub mod event;
mod exchange;
pub mod gates;
pub mod io;
pub mod machine;
pub mod online;
pub mod options;
pub mod outcome;
pub mod query;
pub mod report;
pub mod request;
pub mod sanitize;
pub mod site;

pub use error::{Error, ErrorCode, Problem};
pub use event::{Event, EventKind};
pub use exchange::Polled;
pub use io::{Action, Input, TransportErrorKind, WaitReason};
pub use machine::Engine;
pub use options::{ConfigInput, Options};
pub use outcome::{Cause, Outcome, RuleResult, Verdict};

/// The version of the engine, reported in the `User-Agent` header and in `gatepost --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use machine::{Validation, validate};

/// The JSON Schemas of the engine's wire types, as committed in `schemas/` (`NAME.schema.json`).
/// The JavaScript packages generate their TypeScript types from them.
pub fn json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    fn schema<T: schemars::JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(T)).expect("schemas serialise")
    }
    vec![
        ("options", schema::<Options>()),
        ("input", schema::<Input>()),
        ("action", schema::<Action>()),
        ("event", schema::<Event>()),
        ("outcome", schema::<Outcome>()),
        ("validation", schema::<Validation>()),
    ]
}
