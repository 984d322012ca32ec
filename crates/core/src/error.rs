//! Errors: "you used me wrong" (a usage error, state untouched) and "your options or config are
//! invalid" (a config error listing *every* problem). What the server does is never an error: it
//! ends in an [`Outcome`](crate::Outcome).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable error codes. Bindings expose them as `err.code` (JS) and `exc.code` (Python); the
/// strings never change meaning once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The pipeline config file is invalid; `problems` lists each problem with its JSON path.
    InvalidConfig,
    /// The engine options are invalid (missing service, bad site or URL, ...); see `problems`.
    InvalidOptions,
    /// An input could not be understood (bad JSON, a field of the wrong type).
    InvalidInput,
    /// A response or transport error names a request id the engine never issued.
    UnknownRequest,
    /// A snapshot could not be read (corrupt, or from an incompatible schema version).
    InvalidSnapshot,
}

impl ErrorCode {
    /// The stable string form (`invalid_config`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::InvalidOptions => "invalid_options",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::UnknownRequest => "unknown_request",
            ErrorCode::InvalidSnapshot => "invalid_snapshot",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in options or in a config file.
///
/// `path` is a JSON path into the user's input (`rules[1].options.duration`, or `""` for the
/// document itself); `line` and `column` (1-based) are given when the config came as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Problem {
    pub path: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
            hint: None,
            line: None,
            column: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The problem with the options its hint names in a host's spelling
    /// ([`crate::options::spell_hint`]).
    pub fn spelled(mut self, spelling: crate::options::Spelling) -> Self {
        self.hint = self.hint.map(|h| crate::options::spell_hint(&h, spelling));
        self
    }
}

impl fmt::Display for Problem {
    /// `rules[1].options.duration (line 7, column 20): 9000 is above the maximum 7200; hint: ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str("(document)")?;
        } else {
            f.write_str(&self.path)?;
        }
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})")?,
            (Some(l), None) => write!(f, " (line {l})")?,
            _ => {}
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// An error with a stable [`ErrorCode`], a message, and for config/options errors every problem.
///
/// Messages never contain API or application keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

impl Error {
    /// The error with the options its problems' hints name in a host's spelling.
    pub fn spelled(mut self, spelling: crate::options::Spelling) -> Self {
        self.problems = self
            .problems
            .into_iter()
            .map(|p| p.spelled(spelling))
            .collect();
        self
    }

    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub fn with_problems(
        code: ErrorCode,
        message: impl Into<String>,
        problems: Vec<Problem>,
    ) -> Self {
        Error {
            code,
            message: message.into(),
            problems,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
