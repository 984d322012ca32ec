//! The config validator never panics, and a config given as text and the same config given as a
//! value produce the same problems, the text ones always with a position inside the text.

use gatepost_core::config::{self, ValidateContext};
use gatepost_core::{Action, ConfigInput, Engine, Options, Problem};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

#[path = "support/api_schemas.rs"]
mod api_schemas;

/// The trigger body the engine builds for a config it accepts fits the published API's
/// trigger-request schema (`schemas/api/`). A config the engine refuses sends nothing.
fn trigger_body_fits(doc: &Value, version: bool) -> Result<(), String> {
    let mut options = json!({"service": "web", "env": "prod", "api_key": "k", "app_key": "a",
        "config": doc});
    if version {
        options["version"] = json!("v1");
    }
    let Ok(mut engine) = Options::from_host_value(options).and_then(|o| Engine::new(o, 0)) else {
        return Ok(());
    };
    let Action::SendRequest { body, .. } = engine.poll(0) else {
        return Err("the engine did not send the trigger first".into());
    };
    let body: Value = serde_json::from_str(&body.unwrap_or_default()).map_err(|e| e.to_string())?;
    api_schemas::schemas().validate("trigger-request", &body)
}

/// Keys the validator knows (in both spellings), near-misses, and strangers.
const KEYS: &[&str] = &[
    "rules",
    "dryRun",
    "dry_run",
    "dryrun",
    "type",
    "name",
    "options",
    "query",
    "duration",
    "warmup",
    "failOnNoData",
    "fail_on_no_groups_found",
    "monitorIds",
    "monitor_ids",
    "id",
    "groups",
    "excludedResources",
    "excluded_resources",
    "includedResources",
    "allowed_resources",
    "allowedResources",
    "service",
    "$schema",
    "a b",
    "é",
];

const STRINGS: &[&str] = &[
    "monitor",
    "faulty_deployment_detection",
    "moniyor",
    "",
    "service:web env:prod",
    "service:\"web",
    "(a OR b",
    "status:nope",
    "GET /health",
    "m",
    "x\"y\\z\u{e9}\u{1F600}",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(300),
            Just(7200),
            Just(7201),
            Just(-1),
            any::<i64>()
        ]
        .prop_map(Value::from),
        prop_oneof![Just(1.5f64), Just(300.0), Just(-0.5)].prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kvs| {
                Value::Object(
                    kvs.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// A rule that is valid more often than not, in either spelling, so the success path (the
/// translation) is exercised as much as the problem path.
fn plausible_rule() -> impl Strategy<Value = Value> {
    let dry = (
        prop::sample::select(&["dryRun", "dry_run"][..]),
        any::<bool>(),
    );
    let duration = prop::option::of(prop::sample::select(&[0u64, 300, 900, 7200, 7201][..]));
    let monitor = (
        prop::sample::select(
            &[
                "service:web env:prod",
                "tag:\"x\" (team:a OR -team:b)",
                "(a OR b",
            ][..],
        ),
        duration.clone(),
        prop::option::of(0u64..100),
        prop::option::of((
            prop::sample::select(&["failOnNoData", "fail_on_no_data"][..]),
            any::<bool>(),
        )),
        prop::option::of(prop::sample::select(&["futureKnob", "durration"][..])),
        dry.clone(),
    )
        .prop_map(
            |(query, duration, warmup, flag, unknown, (dry_key, dry_val))| {
                let mut options = Map::new();
                options.insert("query".into(), json!(query));
                if let Some(d) = duration {
                    options.insert("duration".into(), json!(d));
                }
                if let Some(w) = warmup {
                    options.insert("warmup".into(), json!(w));
                }
                if let Some((k, v)) = flag {
                    options.insert(k.into(), json!(v));
                }
                if let Some(k) = unknown {
                    options.insert(k.into(), json!([1, {"a": null}]));
                }
                json!({"type": "monitor", dry_key: dry_val, "options": options})
            },
        );
    let fdd = (
        duration,
        prop::option::of(prop::sample::select(
            &[
                "excludedResources",
                "excluded_resources",
                "includedResources",
                "allowed_resources",
            ][..],
        )),
        dry,
    )
        .prop_map(|(duration, list, (dry_key, dry_val))| {
            let mut options = Map::new();
            if let Some(d) = duration {
                options.insert("duration".into(), json!(d));
            }
            if let Some(k) = list {
                options.insert(k.into(), json!(["GET /a", "POST /b"]));
            }
            json!({"type": "faulty_deployment_detection", dry_key: dry_val, "options": options})
        });
    prop_oneof![monitor, fdd]
}

/// Mostly config-shaped documents, so validation gets deep, plus arbitrary values.
fn config() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (prop::collection::vec(plausible_rule(), 1..4), any::<bool>(), any::<bool>()).prop_map(
            |(mut rules, same_names, top_dry)| {
                for (i, rule) in rules.iter_mut().enumerate() {
                    let name = if same_names { "same".to_string() } else { format!("rule {i}") };
                    rule["name"] = json!(name);
                }
                json!({"dryRun": top_dry, "rules": rules})
            }
        ),
        3 => prop::collection::vec(value(), 1..4).prop_map(|rules| json!({"rules": rules})),
        3 => (prop::sample::select(STRINGS), value(), value()).prop_map(|(t, name, options)| {
            json!({"rules": [{"type": t, "name": name, "options": options}]})
        }),
        1 => value(),
    ]
}

fn key(p: &Problem) -> (String, String, Option<String>) {
    (p.path.clone(), p.message.clone(), p.hint.clone())
}

fn sorted(mut v: Vec<(String, String, Option<String>)>) -> Vec<(String, String, Option<String>)> {
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn text_and_value_agree_and_never_panic(doc in config(), strict in any::<bool>(), version in any::<bool>()) {
        let ctx = ValidateContext { version: version.then_some("v1"), strict_queries: strict, allow_unknown_keys: false };
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let from_text = config::parse(&ConfigInput::Text(text.clone()), &ctx);
        let from_value = config::parse(&ConfigInput::Value(doc.clone()), &ctx);
        match (&from_text, &from_value) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(&a.configuration, &b.configuration);
                prop_assert_eq!(&a.rules, &b.rules);
                prop_assert_eq!(
                    sorted(a.warnings.iter().map(key).collect()),
                    sorted(b.warnings.iter().map(key).collect())
                );
                // What is sent is a configuration the API can read.
                prop_assert!(trigger_body_fits(&doc, version).is_ok(), "{:?}", trigger_body_fits(&doc, version));
                // `dry_run` only as written: a boolean when the file sets it, else absent.
                prop_assert!(a.configuration.get("dry_run").is_none_or(Value::is_boolean));
                prop_assert!(!a.configuration["rules"].as_array().unwrap().is_empty());
            }
            (Err(a), Err(b)) => {
                prop_assert!(!a.is_empty());
                prop_assert_eq!(
                    sorted(a.iter().map(key).collect()),
                    sorted(b.iter().map(key).collect())
                );
                let lines: Vec<&str> = text.split('\n').collect();
                for p in a {
                    let (Some(line), Some(column)) = (p.line, p.column) else {
                        return Err(TestCaseError::fail(format!("no position: {p:?}")));
                    };
                    let line_len = lines[line as usize - 1].chars().count() as u32;
                    prop_assert!(column >= 1 && column <= line_len + 1, "{:?} in {}", p, text);
                }
                prop_assert!(b.iter().all(|p| p.line.is_none() && p.column.is_none()));
            }
            _ => prop_assert!(false, "text and value disagree: {:?} vs {:?}", from_text, from_value),
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,80}") {
        let ctx = ValidateContext { version: None, strict_queries: true, allow_unknown_keys: false };
        if let Err(problems) = config::parse(&ConfigInput::Text(text), &ctx) {
            prop_assert!(!problems.is_empty());
        }
    }
}
