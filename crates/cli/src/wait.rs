//! `gatepost wait ID`: poll an evaluation that already exists, to its verdict.

use crate::cli::WaitArgs;
use crate::driver::{self, DriverConfig};
use crate::http::Client;
use crate::output::now_ms;
use crate::shared::{
    api_flags, base_url, engine_error, finish, link_policy, make_logger, resolve_keys, shell_quote,
    site, timing_ms, usage_errors,
};
use gatepost_core::{Engine, Options};

/// `gatepost wait ID`: poll an evaluation that already exists.
pub fn wait(args: &WaitArgs) -> u8 {
    let mut logger = make_logger(&args.display);
    let mut problems = Vec::new();
    let timing = timing_ms(&args.timing, &mut problems);
    if !problems.is_empty() {
        return usage_errors(&problems, &mut logger);
    }
    let keys = match resolve_keys(&args.api, None) {
        Ok(keys) => keys,
        Err(problems) => return usage_errors(&problems, &mut logger),
    };
    let client = match Client::new(args.api.ca_cert.as_deref(), base_url(&args.api).as_deref()) {
        Ok(c) => c,
        Err(e) => return usage_errors(&[e], &mut logger),
    };
    let options = Options {
        service: args.service.clone().unwrap_or_else(|| "unknown".into()),
        env: args.env.clone().unwrap_or_else(|| "unknown".into()),
        site: site(&args.api),
        api_url: args.api.api_url.clone(),
        allow_insecure_http: args.api.allow_insecure_http,
        api_key: keys.api_key.clone(),
        app_key: keys.app_key.clone(),
        timeout_ms: timing.timeout_ms,
        trigger_budget_ms: timing.trigger_budget_ms,
        poll_interval_ms: timing.poll_interval_ms,
        request_timeout_ms: timing.request_timeout_ms,
        fail_on_error: args.timing.fail_on_error,
        seed: now_ms() % (1 << 52),
        ..Options::default()
    };
    let now = now_ms();
    let engine = match Engine::attach(&args.evaluation_id, options.clone(), now) {
        Ok(e) => e,
        Err(e) => return engine_error(&e, None, &mut logger),
    };
    logger.info(&format!("Waiting for evaluation {}", args.evaluation_id));
    let config = DriverConfig {
        client,
        state_file: None,
        deadline_ms: Some(engine.deadline()),
    };
    let finished = match driver::run(engine, config, &mut logger) {
        Ok(f) => f,
        Err(e) => return engine_error(&e, None, &mut logger),
    };
    finish(
        &finished,
        &args.display,
        &link_policy(&args.api),
        &mut logger,
        |id| {
            let mut cmd = format!("gatepost wait {id}");
            if let Some(s) = &args.service {
                cmd.push_str(&format!(" --service {}", shell_quote(s)));
            }
            if let Some(e) = &args.env {
                cmd.push_str(&format!(" --env {}", shell_quote(e)));
            }
            cmd.push_str(&api_flags(&args.api, args.timing.fail_on_error));
            cmd
        },
    )
}
