//! Event messages are the sentence alone: the event's kind says it is a warning, and each host
//! labels it in its own way (the CLI's `warning: `, Python's logging level), so a message that
//! carried its own prefix would print twice (`warning: warning: ...`).

use gatepost_core::event::EventKind;
use gatepost_core::{Engine, Options};

#[test]
fn warnings_carry_no_level_prefix_of_their_own() {
    let options = Options {
        service: "checkout".into(),
        env: "prod".into(),
        // A REGION.datadoghq.com site gatepost does not know yet: allowed, with a warning.
        site: Some("us9.datadoghq.com".into()),
        api_key: Some("k".into()),
        app_key: Some("a".into()),
        config: Some(gatepost_core::ConfigInput::Text(
            r#"{"rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod", "newer_option": 1}}]}"#
                .into(),
        )),
        allow_unknown_keys: true,
        seed: 1,
        ..Options::default()
    };
    let mut engine = Engine::new(options, 0).expect("valid options");
    let warnings: Vec<_> = engine
        .drain_events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::Warning { .. }))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    for w in &warnings {
        let lower = w.message.to_ascii_lowercase();
        assert!(
            !lower.starts_with("warning") && !lower.contains("config warning"),
            "{}",
            w.message
        );
    }
}
