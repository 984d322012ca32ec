//! `gatepost gate` (and `gatepost deployment gate`): flags and environment into engine options,
//! an in-process emulator with `--emulator`, resuming from `--state-file`, and the report.

use crate::cli::{ApiArgs, GateArgs};
use crate::driver::{self, DriverConfig, StateTarget};
use crate::http::Client;
use crate::output::{Logger, human_duration, now_ms, write_github};
use crate::shared::{
    api_flags, base_url, engine_error, finish, link_policy, make_logger, print_report, read_config,
    required, resolve_keys, shell_quote, site, timing_ms, usage_errors,
};
use crate::state::{self, Loaded};
use gatepost_core::sanitize::{self, LinkPolicy};
use gatepost_core::{ConfigInput, Engine, ErrorCode, Options, Outcome};

/// `gatepost gate` (and `gatepost deployment gate`).
pub fn gate(args: &GateArgs) -> u8 {
    let mut logger = make_logger(&args.display);

    if let Some(reason) = skip_reason(args) {
        return skip(&reason, args, &mut logger);
    }

    let mut problems = Vec::new();
    let fips = args.fips || env_flag("DATADOG_FIPS");
    let fips_ignore = args.fips_ignore_error || env_flag("DATADOG_FIPS_IGNORE_ERROR");
    if fips && !fips_ignore {
        problems.push(
            "--fips: gatepost's TLS stack (rustls with ring) is not a FIPS 140 validated module, \
             so FIPS mode cannot be enabled; add --fips-ignore-error (DATADOG_FIPS_IGNORE_ERROR=true) \
             to go on without it"
                .to_string(),
        );
    }
    let service = required(&args.service, "--service", &mut problems);
    let env = required(&args.env, "--env", &mut problems);
    let timing = timing_ms(&args.timing, &mut problems);
    if let Some(scale) = args.time_scale
        && !(scale.is_finite() && scale > 0.0)
    {
        problems.push(format!(
            "--time-scale must be a positive number, not {scale}"
        ));
    }
    let config_text = args.config.as_ref().and_then(|path| {
        read_config(path)
            .map_err(|e| problems.push(format!("--config {}: {e}", path.display())))
            .ok()
    });
    if !problems.is_empty() {
        return usage_errors(&problems, &mut logger);
    }
    if fips {
        logger.warn(
            "--fips-ignore-error: FIPS mode is not available (rustls with ring is not FIPS 140 \
             validated); going on with the regular TLS stack",
        );
    }

    // Holds the in-process emulator (if any) until this function returns.
    let target = match target(args, timing.poll_interval_ms, &mut logger) {
        Ok(t) => t,
        Err(e) => return usage_errors(&[e], &mut logger),
    };
    let api = &target.api;
    let poll_interval_ms = target.poll_interval_ms;
    let keys = match resolve_keys(api, target.default_keys.as_ref()) {
        Ok(keys) => keys,
        Err(problems) => return usage_errors(&problems, &mut logger),
    };
    let client = match Client::new(api.ca_cert.as_deref(), base_url(api).as_deref()) {
        Ok(c) => c,
        Err(e) => return usage_errors(&[e], &mut logger),
    };
    let options = Options {
        service: service.clone(),
        env: env.clone(),
        identifier: args.identifier.clone(),
        version: args.version.clone(),
        primary_tag: args.primary_tag.clone(),
        config: config_text.map(ConfigInput::Text),
        monitors_query_variable: args.monitors_query_variable.clone(),
        site: site(api),
        api_url: api.api_url.clone(),
        allow_insecure_http: api.allow_insecure_http,
        api_key: keys.api_key.clone(),
        app_key: keys.app_key.clone(),
        timeout_ms: timing.timeout_ms,
        trigger_budget_ms: timing.trigger_budget_ms,
        poll_interval_ms,
        request_timeout_ms: timing.request_timeout_ms,
        max_body_bytes: None,
        fail_on_error: args.timing.fail_on_error,
        allow_unknown_keys: args.allow_unknown_keys,
        seed: args.seed.unwrap_or_else(|| now_ms() % (1 << 52)),
    };

    let now = now_ms();
    let engine = match start_engine(args, &options, now, &mut logger) {
        Ok(engine) => engine,
        Err(e) => return engine_error(&e, args.config.as_deref(), &mut logger),
    };
    print_parameters(args, &options, &engine, now, &mut logger);

    let state_file = args.state_file.as_ref().map(|path| StateTarget {
        path: path.clone(),
        service: service.clone(),
        env: env.clone(),
        identifier: args.identifier.clone(),
    });
    let config = DriverConfig {
        client,
        state_file,
        deadline_ms: Some(engine.deadline()),
    };
    let finished = match driver::run(engine, config, &mut logger) {
        Ok(f) => f,
        Err(e) => return engine_error(&e, None, &mut logger),
    };
    let code = finish(
        &finished,
        &args.display,
        &link_policy(api),
        &mut logger,
        |id| resume_hint(id, args, api),
    );
    drop(target);
    code
}

/// Where `gate` sends requests: the flags as given, or, with `--emulator`, an emulator started in
/// this process (with the world's key as the default and a poll interval matched to its clock).
struct Target {
    api: ApiArgs,
    default_keys: Option<(String, String)>,
    poll_interval_ms: Option<u64>,
    #[cfg(feature = "emulator")]
    _emulator: Option<crate::emulator::InProcess>,
}

#[cfg(feature = "emulator")]
fn target(
    args: &GateArgs,
    poll_interval_ms: Option<u64>,
    logger: &mut Logger,
) -> Result<Target, String> {
    let Some(world) = &args.emulator else {
        return Ok(Target {
            api: args.api.clone(),
            default_keys: None,
            poll_interval_ms,
            _emulator: None,
        });
    };
    let scale = args.time_scale.unwrap_or(crate::cli::EMULATOR_TIME_SCALE);
    let running = crate::emulator::start_in_process(world, scale)?;
    logger.info(&format!(
        "Started the emulator for {} at {} (clock ×{scale})",
        world.display(),
        running.base_url()
    ));
    let mut api = args.api.clone();
    api.api_url = Some(running.base_url());
    api.site = None;
    Ok(Target {
        api,
        default_keys: Some(running.default_keys.clone()),
        // Rules run `scale` times faster, so poll that much more often (at most once a second)
        // unless the user chose an interval.
        poll_interval_ms: poll_interval_ms
            .or(Some(gatepost_core::options::scaled_poll_interval_ms(scale))),
        _emulator: Some(running),
    })
}

#[cfg(not(feature = "emulator"))]
fn target(
    args: &GateArgs,
    poll_interval_ms: Option<u64>,
    _logger: &mut Logger,
) -> Result<Target, String> {
    if args.emulator.is_some() {
        return Err(
            "--emulator: this gatepost was built without the emulator (cargo feature `emulator`)"
                .to_string(),
        );
    }
    Ok(Target {
        api: args.api.clone(),
        default_keys: None,
        poll_interval_ms,
    })
}

/// Start a new evaluation, or resume the one kept in `--state-file`. Core decides whether the
/// saved evaluation belongs to this request (`Engine::resume_for`): when it does not, it says why
/// (the engine's `snapshot_not_resumed` warning) and a new evaluation starts, replacing the file.
fn start_engine(
    args: &GateArgs,
    options: &Options,
    now: u64,
    logger: &mut Logger,
) -> Result<Engine, gatepost_core::Error> {
    if let Some(path) = &args.state_file {
        let shown = sanitize::line(&path.display().to_string());
        match state::load(path) {
            Loaded::Missing => {}
            Loaded::Resume(saved) => match Engine::resume_for(saved.snapshot, options.clone(), now)
            {
                Ok(engine) => {
                    if engine.resumed() {
                        logger.info(&format!(
                            "Resuming evaluation {} from the state file {shown} (no new trigger is sent)",
                            engine.evaluation_id().unwrap_or("(not yet started)"),
                        ));
                    }
                    return Ok(engine);
                }
                Err(e) if e.code == ErrorCode::InvalidSnapshot => logger.warn(&format!(
                    "the state file {shown} cannot be resumed ({}); starting a new evaluation",
                    e.message
                )),
                Err(e) => return Err(e),
            },
            Loaded::Unusable(why) => logger.warn(&format!(
                "ignoring the state file {shown}: {why}; starting a new evaluation"
            )),
        }
    }
    Engine::new(options.clone(), now)
}

/// The exact command that picks up an interrupted `gate`.
fn resume_hint(id: &str, args: &GateArgs, api: &ApiArgs) -> String {
    let mut cmd = format!("gatepost wait {id}");
    if let Some(s) = &args.service {
        cmd.push_str(&format!(" --service {}", shell_quote(s)));
    }
    if let Some(e) = &args.env {
        cmd.push_str(&format!(" --env {}", shell_quote(e)));
    }
    cmd.push_str(&api_flags(api, args.timing.fail_on_error));
    if let Some(path) = &args.state_file {
        cmd.push_str(&format!(
            "\n  (or run the same gate command again: it resumes from --state-file {})",
            path.display()
        ));
    }
    cmd
}

/// The parameters, printed first like datadog-ci does (so a log shows what was asked).
fn print_parameters(
    args: &GateArgs,
    options: &Options,
    engine: &Engine,
    now: u64,
    logger: &mut Logger,
) {
    let endpoint = gatepost_core::site::resolve(
        options.site.as_deref(),
        options.api_url.as_deref(),
        options.allow_insecure_http,
    )
    .map(|e| e.base_url)
    .unwrap_or_default();
    let mut lines = vec!["Evaluating deployment gate:".to_string()];
    let shown = sanitize::line;
    lines.push(format!("  service      {}", shown(&options.service)));
    lines.push(format!("  env          {}", shown(&options.env)));
    lines.push(format!(
        "  identifier   {}",
        shown(options.identifier.as_deref().unwrap_or("default"))
    ));
    if let Some(v) = &options.version {
        lines.push(format!("  version      {}", shown(v)));
    }
    if let Some(t) = &options.primary_tag {
        lines.push(format!("  primary tag  {}", shown(t)));
    }
    match &args.config {
        Some(path) => lines.push(format!(
            "  rules        inline, from {}",
            shown(&path.display().to_string())
        )),
        None => lines.push("  rules        preconfigured in Datadog".to_string()),
    }
    lines.push(format!("  api          {}", shown(&endpoint)));
    // The engine's own values: a resumed evaluation keeps the timeout it started with.
    let left = engine.deadline().saturating_sub(now);
    let timeout = if left < engine.timeout_ms() {
        format!(
            "{} from the first run, {} left",
            human_duration(engine.timeout_ms()),
            human_duration(left)
        )
    } else {
        human_duration(engine.timeout_ms())
    };
    lines.push(format!(
        "  timeout      {timeout}, {}",
        if engine.fail_on_error() {
            "fail on errors (--fail-on-error)"
        } else {
            "pass on API errors and timeout (fail-open; --fail-on-error to fail)"
        }
    ));
    logger.info(&lines.join("\n"));
}

/// `--skip REASON` / `GATEPOST_SKIP_REASON`: no evaluation, exit 0, loudly reported.
fn skip(reason: &str, args: &GateArgs, logger: &mut Logger) -> u8 {
    logger.warn(&format!(
        "GATE SKIPPED ON PURPOSE, nothing was evaluated: {} (service {}, env {})",
        sanitize::line(reason),
        sanitize::line(args.service.as_deref().unwrap_or("?")),
        sanitize::line(args.env.as_deref().unwrap_or("?"))
    ));
    let outcome = Outcome::skipped(reason);
    print_report(&outcome, &args.display);
    write_github(&outcome, &LinkPolicy::none(), logger);
    0
}

fn skip_reason(args: &GateArgs) -> Option<String> {
    args.skip
        .clone()
        .or_else(|| std::env::var("GATEPOST_SKIP_REASON").ok())
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}
