//! `gatepost status ID`: one read of an evaluation's result, printed as the engine reads it.

use crate::EXIT_USAGE;
use crate::cli::{OutputFormat, StatusArgs};
use crate::http::{Client, Request};
use crate::output::now_ms;
use crate::shared::{base_url, flag_problem, resolve_keys, site};
use gatepost_core::machine::ResultReply;
use gatepost_core::sanitize;
use gatepost_core::{Engine, Input, Options};
/// `gatepost status ID`: one GET of the evaluation result, printed.
pub fn status(args: &StatusArgs) -> u8 {
    let id = args.evaluation_id.trim();
    let keys = match resolve_keys(&args.api, None) {
        Ok(k) => k,
        Err(problems) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            return EXIT_USAGE;
        }
    };
    let client = match Client::new(args.api.ca_cert.as_deref(), base_url(&args.api).as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
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
            for problem in &e.problems {
                eprintln!("error: {}", flag_problem(problem));
            }
            if e.problems.is_empty() {
                eprintln!("error: {e}");
            }
            return EXIT_USAGE;
        }
    };
    let request = Request::from_action(engine.poll(now)).expect("attach polls at once");
    let input = client.perform(&request);
    match input {
        // Which statuses are an answer, and what a refusal means, is the engine's reading.
        Input::Response { status, body, .. } => {
            match gatepost_core::machine::read_result_reply(id, status, &body) {
                ResultReply::Answered { json, result } => {
                    if args.output == OutputFormat::Json {
                        // Re-serialised: the same data, with no raw control character from the
                        // server.
                        match json {
                            Some(value) => println!("{}", sanitize::json(&value.to_string())),
                            None => {
                                let why = result.err().unwrap_or_default();
                                eprintln!("error: evaluation {id}: {why}");
                                return 1;
                            }
                        }
                    } else {
                        println!("{}", describe_result(id, result, &body));
                    }
                    0
                }
                ResultReply::Refused { message, note } => {
                    eprintln!("error: {message}");
                    if let Some(note) = note {
                        eprintln!("({note})");
                    }
                    1
                }
            }
        }
        Input::TransportError { kind, message, .. } => {
            eprintln!(
                "error: request failed ({}): {}",
                kind.as_str(),
                sanitize::line(&message)
            );
            1
        }
        _ => 1,
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
