//! The shared environment cases (`tests/env/cases.json`), run through core's own functions. The
//! Python, Node and wasm bindings run the same file through theirs: equal results are the proof
//! that every host reads the environment the same way.

use gatepost_core::environment::{Environment, defaults, proxy_for};
use serde_json::Value;

fn cases() -> Value {
    serde_json::from_str(include_str!("../../../tests/env/cases.json")).unwrap()
}

fn environment(case: &Value) -> Environment {
    case["env"]
        .as_object()
        .expect("env is an object")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().expect("values are strings").to_string(),
            )
        })
        .collect()
}

#[test]
fn defaults_cases() {
    let cases = cases();
    let list = cases["defaults"].as_array().unwrap();
    assert!(list.len() >= 10);
    for case in list {
        let got = serde_json::to_value(defaults(&environment(case)).unwrap()).unwrap();
        assert_eq!(got, case["expect"], "{}", case["name"]);
    }
}

#[test]
fn proxy_cases() {
    let cases = cases();
    let list = cases["proxy"].as_array().unwrap();
    assert!(list.len() >= 20);
    for case in list {
        let got = proxy_for(case["url"].as_str().unwrap(), &environment(case));
        assert_eq!(got.as_deref(), case["expect"].as_str(), "{}", case["name"]);
    }
}
