//! The committed JSON Schemas in `schemas/` must match the Rust types. Run with `UPDATE_SCHEMAS=1`
//! to rewrite them after a deliberate change.

#![allow(clippy::disallowed_methods)] // tests read the committed corpus and schemas from disk

use std::path::PathBuf;

#[test]
fn committed_schemas_match_the_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, schema) in gatepost_core::json_schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        let expected = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &expected).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas (run `UPDATE_SCHEMAS=1 cargo test -p gatepost-core --test schemas`): {stale:?}"
    );
}
