//! A scripted Deployment Gates API on loopback for fault tests whose exact timing matters: each
//! endpoint (trigger = POST, result = GET, the rule evaluations with failure details = GET
//! `/api/v2/deployment_gates/evaluations/rules`) replies from its own script, repeating the last
//! step; the details answer 404 when no script is set.
//! The emulator's fault plans cover the same ground from a world file; this server lets a test
//! pin one reply at a time.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const EVALUATION_ID: &str = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Status, extra headers, body.
    Http(u16, Vec<(&'static str, String)>, String),
    /// Close the connection without answering.
    Reset,
    /// Accept and never answer.
    Hang,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::Http(status, vec![], body.to_string())
    }

    /// The trigger's 202 with the evaluation id.
    pub fn accepted() -> Reply {
        Reply::json(
            202,
            serde_json::json!({"data": {"id": EVALUATION_ID, "type": "deployment_gates_evaluation_response",
                "attributes": {"evaluation_id": EVALUATION_ID}}}),
        )
    }

    /// A result with `gate_status` and rules `[(name, status, reason, dry_run)]`.
    pub fn result(
        gate_status: &str,
        dry_run: bool,
        rules: &[(&str, &str, Option<&str>, bool)],
    ) -> Reply {
        let rules: Vec<serde_json::Value> = rules
            .iter()
            .map(|(name, status, reason, dry)| {
                let mut r = serde_json::json!({"name": name, "status": status, "dry_run": dry});
                if let Some(reason) = reason {
                    r["reason"] = serde_json::Value::from(*reason);
                }
                r
            })
            .collect();
        Reply::json(
            200,
            serde_json::json!({"data": {"id": EVALUATION_ID, "type": "deployment_gates_evaluation_result_response",
                "attributes": {"dry_run": dry_run, "evaluation_id": EVALUATION_ID,
                    "evaluation_url": format!("https://app.datadoghq.com/ci/deployment-gates/evaluations?query={EVALUATION_ID}"),
                    "gate_id": "e140302e-0000-4000-8000-000000000001", "gate_status": gate_status,
                    "rules": rules}}}),
        )
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Scripts {
    trigger: Vec<Reply>,
    result: Vec<Reply>,
    details: Vec<Reply>,
    seen: Vec<Seen>,
}

/// The running server; it lives as long as the test process.
#[derive(Clone)]
pub struct FakeApi {
    pub port: u16,
    inner: Arc<Mutex<Scripts>>,
}

impl FakeApi {
    pub fn start(trigger: Vec<Reply>, result: Vec<Reply>) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner = Arc::new(Mutex::new(Scripts {
            trigger,
            result,
            details: Vec::new(),
            seen: Vec::new(),
        }));
        let shared = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, shared));
            }
        });
        FakeApi { port, inner }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// Replace the result script (e.g. the evaluation finishes while the job is interrupted).
    pub fn set_result(&self, result: Vec<Reply>) {
        self.inner.lock().unwrap().result = result;
    }

    /// Script the rule evaluations endpoint (the failure details of a failed gate).
    pub fn set_details(&self, details: Vec<Reply>) {
        self.inner.lock().unwrap().details = details;
    }

    pub fn triggers(&self) -> usize {
        self.seen().iter().filter(|s| s.method == "POST").count()
    }
}

fn next(script: &mut Vec<Reply>) -> Reply {
    if script.len() > 1 {
        script.remove(0)
    } else {
        script
            .first()
            .cloned()
            .unwrap_or(Reply::Http(500, vec![], "{}".into()))
    }
}

fn serve(mut stream: TcpStream, shared: Arc<Mutex<Scripts>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    let reply = {
        let mut s = shared.lock().unwrap();
        let reply = if method == "POST" {
            next(&mut s.trigger)
        } else if path.starts_with("/api/v2/deployment_gates/")
            && path.ends_with("/rules")
            && !path.starts_with("/api/v2/deployment_gates/evaluations/")
        {
            // A preconfigured gate's stored rules: none here (the engine keeps to its grid).
            Reply::json(
                404,
                serde_json::json!({"errors": ["Deployment gate not found"]}),
            )
        } else if path.starts_with("/api/v2/deployment_gates/evaluations/rules") {
            if s.details.is_empty() {
                Reply::json(404, serde_json::json!({"errors": ["Not Found"]}))
            } else {
                next(&mut s.details)
            }
        } else {
            next(&mut s.result)
        };
        s.seen.push(Seen {
            method,
            path,
            headers,
            body,
        });
        reply
    };
    match reply {
        Reply::Reset => drop(stream),
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(120));
            drop(stream);
        }
        Reply::Http(status, headers, body) => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (n, v) in headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&body);
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.flush();
        }
    }
}
