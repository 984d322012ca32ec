//! The committed `schemas/world.schema.json` must match `world::json_schema()`. Run with
//! `UPDATE_SCHEMAS=1` to rewrite it after a deliberate change.

use gatepost_emulator::world;
use std::path::PathBuf;

fn committed_path() -> PathBuf {
    gatepost_testkit::repo_root().join("schemas/world.schema.json")
}

#[test]
fn committed_world_schema_matches_the_types() {
    let path = committed_path();
    let expected = serde_json::to_string_pretty(&world::json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is stale: run `UPDATE_SCHEMAS=1 cargo test -p gatepost-emulator --test world_schema`",
        path.display()
    );
}

#[test]
fn schema_describes_the_parts_world_authors_use() {
    let text = world::json_schema().to_string();
    for key in [
        "monitors",
        "timeline",
        "groups",
        "muted",
        "apm",
        "history",
        "live",
        "gates",
        "api_keys",
        "open",
        "rate_limits",
        "faults",
        "result_not_found_for",
        "result_late_by",
        "rate_limited",
        "hang",
        "garbage",
        "No Data",
    ] {
        assert!(text.contains(&format!("\"{key}\"")), "schema lacks {key}");
    }
}

#[test]
fn every_example_world_loads() {
    let dir = gatepost_testkit::repo_root().join("examples/worlds");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let world =
                gatepost_emulator::World::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
            world
                .check_keys()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let gate = &world.gates[0];
            assert_eq!(
                (gate.service.as_str(), gate.env.as_str()),
                ("checkout", "prod")
            );
            count += 1;
        }
    }
    assert!(
        count >= 4,
        "expected the four example worlds, found {count}"
    );
}
