//! The query parser never panics, and every error points inside the query.

use gatepost_core::query::{self, GroupView, MonitorView};
use proptest::prelude::*;

/// Fragments that exercise the grammar's corners far more often than random characters would.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just("\"".to_string()),
        Just(" ".to_string()),
        Just("-".to_string()),
        Just(":".to_string()),
        Just("AND".to_string()),
        Just("OR".to_string()),
        Just("NOT".to_string()),
        Just("service:".to_string()),
        Just("group:".to_string()),
        Just("status:".to_string()),
        Just("triggered:".to_string()),
        Just("*".to_string()),
        Just("\\".to_string()),
        Just("42".to_string()),
        Just("é".to_string()),
        "[a-z]{1,4}",
        any::<char>().prop_map(String::from),
    ]
}

fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(fragment(), 0..24).prop_map(|v| v.concat()),
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn parse_never_panics_and_errors_point_inside(text in query_text()) {
        let chars = text.chars().count();
        match query::parse(&text) {
            Ok(q) => {
                prop_assert_eq!(q.text(), text.as_str());
                let span = q.expr().span;
                prop_assert!(span.start >= 1 && span.start < span.end && span.end <= chars + 1);
                // Matching never panics either.
                let tags = vec!["service:a".to_string(), "x".to_string()];
                let groups = [
                    GroupView { name: "k:v,k2:v2", status: "Alert" },
                    GroupView { name: "k:w", status: "OK" },
                ];
                let view = MonitorView {
                    id: 42, name: "n", message: "m @h", monitor_type: "metric alert",
                    tags: &tags, scope: &tags, groups: &groups, status: "OK", muted: false,
                    creator: "c",
                };
                let selected = q.matching_groups(&view).unwrap_or_default();
                // The negation selects exactly the other groups: NOT composes per group.
                if let Ok(not) = query::parse(&format!("NOT ({text})")) {
                    let others = not.matching_groups(&view).unwrap_or_default();
                    let mut all: Vec<usize> = selected.iter().chain(&others).copied().collect();
                    all.sort_unstable();
                    prop_assert_eq!(all, vec![0, 1], "{} / NOT", text);
                }
            }
            Err(e) => {
                prop_assert!(e.column >= 1, "column {} in {:?}", e.column, text);
                prop_assert!(e.column <= chars.max(1), "column {} past the end of {:?}", e.column, text);
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
