//! The monitor query parser and matcher: any text parses or gives an error whose column points
//! into the query; any parsed query can be matched against any monitor without a panic.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use gatepost_core::query::{self, MonitorView};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Monitor {
    id: u64,
    name: String,
    message: String,
    monitor_type: String,
    tags: Vec<String>,
    scope: Vec<String>,
    groups: Vec<String>,
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
    let status = ["OK", "Alert", "Warn", "No Data"][usize::from(m.status % 4)];
    let view = MonitorView {
        id: m.id,
        name: &m.name,
        message: &m.message,
        monitor_type: &m.monitor_type,
        tags: &m.tags,
        scope: &m.scope,
        groups: &m.groups,
        status,
        muted: m.muted,
        creator: &m.creator,
    };
    let whole = query.matches(&view);
    let _ = query.has_group_terms();
    for group in &m.groups {
        let exact = query.matches_group(&view, group);
        // The three-valued group filter never drops a group the exact matcher keeps.
        if exact {
            assert!(query.group_matches(group), "group filter dropped {group:?}");
        }
    }
    let _ = whole;
});
