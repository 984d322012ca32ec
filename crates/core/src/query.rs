//! The monitor search query syntax (see API.md): parser, AST with spans, and a matcher over a
//! monitor model. Used by config validation in every language and by the emulator.
//!
//! PLACEHOLDER: the public signatures below are the contract; the full parser replaces the bodies.

use std::fmt;

/// A syntax error, with the 1-based column (in characters) where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for QueryError {}

/// A monitor as the matcher sees it (the emulator builds these from its world file).
#[derive(Debug, Clone, Copy)]
pub struct MonitorView<'a> {
    pub id: u64,
    pub name: &'a str,
    pub message: &'a str,
    /// `metric alert`, `query alert`, `service check`, ...
    pub monitor_type: &'a str,
    /// The monitor's tags (`team:payment`, `use_deployment_gates`).
    pub tags: &'a [String],
    /// Tags in the monitor query's scope (`service:checkout`, `env:prod`).
    pub scope: &'a [String],
    /// Group names, each `k:v` or `k:v,k2:v2`.
    pub groups: &'a [String],
    /// Overall status: `OK`, `Alert`, `Warn`, `No Data`.
    pub status: &'a str,
    pub muted: bool,
    pub creator: &'a str,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    text: String,
}

/// Parse a monitor search query.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    if text.trim().is_empty() {
        return Err(QueryError {
            column: 1,
            message: "empty query".into(),
        });
    }
    Ok(Query {
        text: text.to_string(),
    })
}

impl Query {
    /// Whether the monitor matches the query (a `group:` term matches when any group does).
    pub fn matches(&self, _monitor: &MonitorView<'_>) -> bool {
        !self.text.is_empty()
    }

    /// Whether the query has `group:` terms (then only matching groups are evaluated).
    pub fn has_group_terms(&self) -> bool {
        false
    }

    /// Whether one group (`k:v` or `k:v,k2:v2`) satisfies the query's `group:` terms.
    pub fn group_matches(&self, _group: &str) -> bool {
        true
    }
}
