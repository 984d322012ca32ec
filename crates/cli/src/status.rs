//! `gatepost status ID`: one read of an evaluation's result, printed as the engine reads it.

use crate::EXIT_USAGE;
use crate::cli::{OutputFormat, StatusArgs};
use crate::driver::{Machine, Next};
use crate::http::Client;
use crate::output::now_ms;
use crate::shared::{base_url, flag_problem, resolve_keys, site};
use gatepost_core::machine::ResultReply;
use gatepost_core::sanitize;
use gatepost_core::{Engine, ErrorCode, Input, Options, Problem};

/// `gatepost status ID`: one GET of the evaluation result, printed. With `--output json`, stdout
/// holds one JSON document on every exit: the API's result body, or
/// `{"error": {"code", "message", ...}, "exit_code": N}` (as `gate` prints for its errors).
pub fn status(args: &StatusArgs) -> u8 {
    let json = args.output == OutputFormat::Json;
    let id = args.evaluation_id.trim();
    let usage = |lines: Vec<String>, problems: Vec<Problem>| {
        for line in &lines {
            eprintln!("error: {line}");
        }
        if json {
            let error = gatepost_core::Error::with_problems(
                ErrorCode::InvalidOptions,
                format!("invalid options: {}", lines.join("; ")),
                problems,
            );
            println!(
                "{}",
                crate::output::error_document(&error, None, EXIT_USAGE)
            );
        }
        EXIT_USAGE
    };
    let keys = match resolve_keys(&args.api, None) {
        Ok(k) => k,
        Err(problems) => {
            let listed = problems
                .iter()
                .map(|p| Problem::new("", p.as_str()))
                .collect();
            return usage(problems, listed);
        }
    };
    let client = match Client::new(args.api.ca_cert.as_deref(), base_url(&args.api).as_deref()) {
        Ok(c) => c,
        Err(e) => return usage(vec![e.clone()], vec![Problem::new("ca_cert", e)]),
    };
    // The engine builds the request (URL, headers, the UUID check that keeps a hostile id out of
    // the path): attaching to an evaluation sends its first poll at once.
    let options = Options {
        service: "unknown".into(),
        env: "unknown".into(),
        site: site(&args.api),
        api_url: args.api.api_url.clone(),
        allow_insecure_http: args.api.allow_insecure_http,
        api_key: keys.api_key,
        app_key: keys.app_key,
        ..Options::default()
    };
    let now = now_ms();
    let mut engine = match Engine::attach(id, options, now) {
        Ok(engine) => engine,
        Err(e) => {
            let mut lines: Vec<String> = e.problems.iter().map(flag_problem).collect();
            if lines.is_empty() {
                lines.push(e.to_string());
            }
            for line in &lines {
                eprintln!("error: {line}");
            }
            if json {
                println!("{}", crate::output::error_document(&e, None, EXIT_USAGE));
            }
            return EXIT_USAGE;
        }
    };
    let Next::Send(request) = engine.next(now) else {
        unreachable!("attach polls at once")
    };
    let input = client.perform(&request);
    // A failure after the request: the sentence on stderr, and with --output json the same as a
    // document on stdout.
    let failed = |code: &str, message: String, extra: serde_json::Value| {
        eprintln!("error: {message}");
        if json {
            let mut error = serde_json::json!({"code": code, "message": message});
            if let (Some(error), serde_json::Value::Object(extra)) = (error.as_object_mut(), extra)
            {
                error.extend(extra);
            }
            let doc = serde_json::json!({"error": error, "exit_code": 1});
            println!("{}", sanitize::json(&doc.to_string()));
        }
        1
    };
    match input {
        // Which statuses are an answer, and what a refusal means, is the engine's reading.
        Input::Response { status, body, .. } => {
            match gatepost_core::machine::read_result_reply(id, status, &body) {
                ResultReply::Answered {
                    json: body_json,
                    result,
                } => {
                    if json {
                        // Re-serialised: the same data, with no raw control character from the
                        // server.
                        match body_json {
                            Some(value) => println!("{}", sanitize::json(&value.to_string())),
                            None => {
                                let why = result.err().unwrap_or_default();
                                return failed(
                                    "malformed_result",
                                    format!("evaluation {id}: {why}"),
                                    serde_json::json!({"status": status}),
                                );
                            }
                        }
                    } else {
                        println!("{}", describe_result(id, result, &body));
                    }
                    0
                }
                ResultReply::Refused { message, note } => {
                    let code = failed(
                        "api_error",
                        message,
                        serde_json::json!({"status": status, "note": note}),
                    );
                    if let Some(note) = note {
                        eprintln!("({note})");
                    }
                    code
                }
            }
        }
        Input::TransportError { kind, message, .. } => failed(
            "transport_error",
            format!(
                "request failed ({}): {}",
                kind.as_str(),
                sanitize::line(&message)
            ),
            serde_json::json!({"kind": kind.as_str()}),
        ),
        _ => failed(
            "transport_error",
            "the request ended without a response".into(),
            serde_json::Value::Null,
        ),
    }
}

/// A result body for people: status, URL and rules with reasons.
fn describe_result(
    id: &str,
    result: Result<gatepost_core::machine::EvaluationResult, String>,
    body: &str,
) -> String {
    // Read by the engine's own parser, so status shows exactly what a gate run would see.
    let result = match result {
        Ok(result) => result,
        Err(problem) => {
            return format!("evaluation {id}: {problem}:\n{}", sanitize::lines(body));
        }
    };
    let mode = |dry_run: bool| if dry_run { " (dry run)" } else { "" };
    let shown = sanitize::line;
    let mut out = vec![format!(
        "evaluation {id}: {}{}",
        shown(result.gate_status.as_deref().unwrap_or("?")),
        mode(result.dry_run)
    )];
    if let Some(url) = &result.evaluation_url {
        out.push(format!("  {}", shown(url)));
    }
    for rule in &result.rules {
        let mut line = format!(
            "  - {}: {}{}",
            shown(&rule.name),
            shown(&rule.status),
            mode(rule.dry_run)
        );
        if let Some(reason) = &rule.reason {
            line.push_str(&format!("\n      Reason: {}", shown(reason)));
        }
        out.push(line);
    }
    out.join("\n")
}
