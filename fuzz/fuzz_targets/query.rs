//! The monitor query parser and matcher: any text parses or gives an error whose column points
//! into the query; any parsed query can be matched against any monitor without a panic.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use gatepost_core::query::{self, GroupView, MonitorView};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Monitor {
    id: u64,
    name: String,
    message: String,
    monitor_type: String,
    tags: Vec<String>,
    scope: Vec<String>,
    groups: Vec<(String, u8)>,
    status: u8,
    muted: bool,
    creator: String,
}

fuzz_target!(|data: &[u8]| {
    // The query is the first line, so seeds can be plain query text.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..split]);
    let parsed = query::parse(&text);
    let query = match parsed {
        Ok(q) => q,
        Err(e) => {
            let len = text.chars().count();
            assert!(
                e.column >= 1 && e.column <= len.max(1) + 1,
                "column {} outside a query of {len} characters",
                e.column
            );
            return;
        }
    };
    assert_eq!(query.text(), text);
    let mut u = Unstructured::new(data.get(split + 1..).unwrap_or(&[]));
    let Ok(m) = Monitor::arbitrary(&mut u) else {
        return;
    };
    const STATUSES: [&str; 4] = ["OK", "Alert", "Warn", "No Data"];
    let status = STATUSES[usize::from(m.status % 4)];
    let groups: Vec<GroupView<'_>> = m
        .groups
        .iter()
        .map(|(name, s)| GroupView {
            name,
            status: STATUSES[usize::from(s % 4)],
        })
        .collect();
    let view = MonitorView {
        id: m.id,
        name: &m.name,
        message: &m.message,
        monitor_type: &m.monitor_type,
        tags: &m.tags,
        scope: &m.scope,
        groups: &groups,
        status,
        muted: m.muted,
        creator: &m.creator,
    };
    let _ = query.has_group_terms();
    // The selection is exactly the groups for which the query holds, and never empty for a
    // monitor with groups; the gate selection only adds muted:false.
    let selected = query.matching_groups(&view);
    match &selected {
        Some(indices) => {
            assert!(groups.is_empty() == indices.is_empty());
            for (i, _) in groups.iter().enumerate() {
                assert_eq!(indices.contains(&i), query.holds(&view, Some(i)));
            }
        }
        None if groups.is_empty() => assert!(!query.holds(&view, None)),
        None => assert!((0..groups.len()).all(|i| !query.holds(&view, Some(i)))),
    }
    assert_eq!(
        query.gate_selection(&view),
        if m.muted { None } else { selected }
    );
});
