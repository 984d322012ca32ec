//! Options parsing: any JSON text gives options or an `invalid_options` error, never a panic, and
//! keys never appear in the error; options that parse build an engine or a clear error.
#![no_main]

use gatepost_core::{Action, Engine, Options};
use libfuzzer_sys::fuzz_target;

const API_KEY: &str = "fuzz-secret-api-0d1e";
const APP_KEY: &str = "fuzz-secret-app-7f2c";

fuzz_target!(|data: &[u8]| {
    let Some((&now_sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    // Seeds use placeholders for the keys so a leak is recognisable.
    let text = text
        .replace("$API_KEY", API_KEY)
        .replace("$APP_KEY", APP_KEY);
    let now = match now_sel % 4 {
        0 => 0,
        1 => 1_700_000_000_000,
        2 => (1 << 52) - 1,
        _ => u64::MAX,
    };
    // A key the user put somewhere other than the key options may be echoed by a type error
    // ("invalid type: string ..., expected u64"); only keys given where keys go must never show.
    let value: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let placed = |secret: &str, names: [&str; 2]| {
        text.matches(secret).count() <= 1
            && value.as_ref().is_some_and(|v| {
                names
                    .iter()
                    .any(|n| v.get(n).and_then(|k| k.as_str()) == Some(secret))
                    || !text.contains(secret)
            })
    };
    let check = placed(API_KEY, ["api_key", "apiKey"]) && placed(APP_KEY, ["app_key", "appKey"]);
    let leaks = |shown: &str| check && (shown.contains(API_KEY) || shown.contains(APP_KEY));
    for parsed in [Options::from_host_json(&text), Options::from_json(&text)] {
        let options = match parsed {
            Ok(o) => o,
            Err(e) => {
                assert_eq!(e.code.as_str(), "invalid_options");
                let shown = format!("{e} {e:?}");
                assert!(!leaks(&shown), "{shown}");
                continue;
            }
        };
        let debug = format!("{options:?}");
        assert!(!leaks(&debug), "{debug}");
        match Engine::new(options, now) {
            Ok(mut engine) => {
                for _ in 0..4 {
                    match engine.poll(now) {
                        Action::SendRequest { timeout_ms, .. } => assert!(timeout_ms >= 1),
                        Action::Wait { until, .. } => assert!(until >= now),
                        Action::Done { .. } => break,
                    }
                }
                let snapshot = engine.snapshot().to_string();
                assert!(!leaks(&snapshot), "{snapshot}");
            }
            Err(e) => {
                assert!(matches!(
                    e.code.as_str(),
                    "invalid_options" | "invalid_config"
                ));
                let shown = format!("{e} {e:?}");
                assert!(!leaks(&shown), "{shown}");
            }
        }
    }
});
