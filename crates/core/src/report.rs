//! Renderers for an [`Outcome`]: text (for terminals and CI logs), markdown (CI step summaries) and
//! JSON (the stable machine-readable result).

use crate::outcome::Outcome;

/// How text output may be decorated.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// ANSI colours (hosts enable this only on a TTY without `NO_COLOR`).
    pub color: bool,
}

/// Render the outcome as text.
pub fn render_text(outcome: &Outcome, _style: TextStyle) -> String {
    outcome.message.clone()
}

/// Render the outcome as markdown.
pub fn render_markdown(outcome: &Outcome) -> String {
    outcome.message.clone()
}

/// Render the outcome as JSON.
pub fn render_json(outcome: &Outcome) -> String {
    outcome.to_json()
}
