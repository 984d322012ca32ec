//! The config parser and translator: any text (or any JSON value) gives a translation or a list of
//! problems, never a panic; a valid config translates to an object the engine accepts.
#![no_main]

use gatepost_core::config::{self, ValidateContext};
use gatepost_core::{ConfigInput, Engine, Options, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let version = (mode & 1 == 1).then_some("v1.2.3");
    let input = if mode & 2 == 0 {
        ConfigInput::Text(text)
    } else {
        match serde_json::from_str(&text) {
            Ok(value) => ConfigInput::Value(value),
            Err(_) => return,
        }
    };
    let validation = validate(&input, version);
    assert_eq!(validation.valid, validation.problems.is_empty());
    assert_eq!(validation.valid, validation.configuration.is_some());
    let lax = ValidateContext {
        version,
        strict_queries: false,
    };
    let parsed = config::parse(&input, &lax);
    if validation.valid {
        // Strict validation accepting a config means the lax one accepts it too.
        let lax = parsed
            .as_ref()
            .expect("lax parse accepts what strict validate accepts");
        assert_eq!(Some(&lax.configuration), validation.configuration.as_ref());
        assert!(lax.configuration.get("rules").is_some_and(|r| r.is_array()));
    }
    if let Err(problems) = &parsed {
        assert!(
            !problems.is_empty(),
            "a refused config names at least one problem"
        );
    }
    // The engine takes the same config the same way.
    let options = Options {
        service: "svc".into(),
        env: "prod".into(),
        version: version.map(str::to_string),
        config: Some(input),
        api_key: Some("fuzz-api-key".into()),
        app_key: Some("fuzz-app-key".into()),
        ..Options::default()
    };
    match Engine::new(options, 1_700_000_000_000) {
        Ok(mut engine) => {
            assert!(
                parsed.is_ok(),
                "the engine accepted a config the parser refused"
            );
            let _ = engine.poll(1_700_000_000_000);
        }
        Err(e) => assert_eq!(e.code.as_str(), "invalid_config"),
    }
});
