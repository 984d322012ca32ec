//! The emulator as a service left running in CI: read timeouts, the connection cap, the body
//! cap, keys (required unless the world is open, on the API and the pages) and CORS. Timeouts
//! here are short (a few hundred ms) so the tests wait on the server's answer, never on a sleep.

use base64::Engine as _;
use gatepost_emulator::{EmulatorOptions, Limits, RunningEmulator, TlsFiles, World, start};
use gatepost_testkit::http::{self, header_of as header, status_of as status};
use serde_json::{Value, json};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const API_KEY: &str = "svc-api-key-5d2c81f0a9e3";
const APP_KEY: &str = "svc-app-key-0b7e44c6d1f8";
const SHORT: Duration = Duration::from_millis(300);

fn world(value: Value) -> World {
    gatepost_testkit::world(&value)
}

fn serve(value: Value, limits: Limits, cors: &[&str]) -> RunningEmulator {
    let mut options = EmulatorOptions::new(world(value));
    options.limits = limits;
    options.cors_origins = cors.iter().map(|s| s.to_string()).collect();
    start(options).unwrap()
}

fn open() -> Value {
    json!({"open": true})
}

fn keyed() -> Value {
    json!({"api_keys": [API_KEY], "app_keys": [APP_KEY]})
}

fn short_limits() -> Limits {
    Limits {
        header_timeout: SHORT,
        body_timeout: SHORT,
        ..Limits::default()
    }
}

/// Write `request`, then read until the server closes: what it answered, and how long that took.
fn exchange(emu: &RunningEmulator, request: &[u8]) -> (String, Duration) {
    http::exchange(emu.addr(), request)
}

fn get(emu: &RunningEmulator, path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    exchange(emu, request.as_bytes()).0
}

#[test]
fn a_client_that_never_finishes_its_headers_is_dropped() {
    let emu = serve(open(), short_limits(), &[]);
    let (reply, took) = exchange(
        &emu,
        b"GET /api/v2/deployment_gates HTTP/1.1\r\nHost: x\r\nX-Sl",
    );
    assert!(!reply.starts_with("HTTP/1.1 2"), "{reply}");
    assert!(took >= SHORT - Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    // A client that connects and says nothing is dropped after as long.
    let (reply, took) = exchange(&emu, b"");
    assert!(
        reply.is_empty() || !reply.starts_with("HTTP/1.1 2"),
        "{reply}"
    );
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}

#[test]
fn a_body_that_never_arrives_gets_408_and_the_connection_closes() {
    let emu = serve(open(), short_limits(), &[]);
    let (reply, took) = exchange(
        &emu,
        b"POST /api/v2/deployment_gates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n{\"data\":",
    );
    assert_eq!(status(&reply), 408, "{reply}");
    assert_eq!(header(&reply, "connection"), Some("close"));
    assert!(reply.contains("did not arrive within 0.3 s"), "{reply}");
    assert!(took >= SHORT - Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_body_over_the_cap_is_refused_before_it_is_read() {
    let emu = serve(open(), Limits::default(), &[]);
    let (reply, took) = exchange(
        &emu,
        b"POST /api/v2/deployment_gates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100000000\r\n\r\n{",
    );
    assert_eq!(status(&reply), 413, "{reply}");
    assert!(
        took < Duration::from_secs(5),
        "not waiting for the body: {took:?}"
    );
}

#[test]
fn beyond_the_connection_cap_new_clients_get_503_until_a_slot_frees() {
    let limits = Limits {
        header_timeout: Duration::from_millis(800),
        max_connections: 2,
        ..Limits::default()
    };
    let emu = serve(open(), limits, &[]);
    let stalled: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(emu.addr()).unwrap())
        .collect();
    // Both slots are taken once the server has accepted them; the next client is refused fast.
    let mut refused = String::new();
    for _ in 0..50 {
        let (reply, took) = exchange(
            &emu,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if status(&reply) == 503 {
            assert!(took < Duration::from_secs(2), "{took:?}");
            refused = reply;
            break;
        }
    }
    assert_eq!(status(&refused), 503, "{refused}");
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    // The stalled ones time out and free their slots.
    let started = Instant::now();
    loop {
        let reply = get(&emu, "/healthz", &[]);
        if status(&reply) == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still refused: {reply}"
        );
    }
    drop(stalled);
}

#[test]
fn a_world_without_keys_must_say_it_is_open() {
    let err = start(EmulatorOptions::new(world(json!({})))).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("api_keys") && text.contains("\"open\": true"),
        "{text}"
    );
    assert!(start(EmulatorOptions::new(world(open()))).is_ok());
    assert!(
        start(EmulatorOptions::default()).is_ok(),
        "the empty world is open"
    );
}

#[test]
fn pages_need_the_keys_the_api_needs() {
    let emu = serve(keyed(), Limits::default(), &[]);
    for path in ["/", "/evaluations", "/evaluations/x", "/monitors/1"] {
        let reply = get(&emu, path, &[]);
        assert_eq!(status(&reply), 401, "{path}: {reply}");
        assert!(
            header(&reply, "www-authenticate").is_some_and(|v| v.starts_with("Basic ")),
            "{reply}"
        );
    }
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let good = basic(API_KEY, APP_KEY);
    let reply = get(&emu, "/", &[("Authorization", &good)]);
    assert_eq!(status(&reply), 200, "{reply}");
    assert!(reply.contains("Deployment Gates evaluations"));
    for bad in [
        basic(API_KEY, "wrong"),
        basic("wrong", APP_KEY),
        basic(APP_KEY, API_KEY),
        "Bearer x".to_string(),
        "Basic !!!".to_string(),
    ] {
        let reply = get(&emu, "/", &[("Authorization", &bad)]);
        assert_eq!(status(&reply), 401, "{bad}: {reply}");
        assert!(!reply.contains(API_KEY) && !reply.contains(APP_KEY));
    }
    let headers = [("DD-API-KEY", API_KEY), ("DD-APPLICATION-KEY", APP_KEY)];
    assert_eq!(status(&get(&emu, "/", &headers)), 200);
    assert_eq!(
        status(&get(&emu, "/healthz", &[])),
        200,
        "health stays open"
    );
    assert_eq!(status(&get(&emu, "/api/v2/deployment_gates", &[])), 403);

    // An open world's pages need nothing.
    let open = serve(open(), Limits::default(), &[]);
    assert_eq!(status(&get(&open, "/", &[])), 200);
}

fn preflight(emu: &RunningEmulator, origin: &str) -> String {
    get_with_method(
        emu,
        "OPTIONS",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "dd-api-key, content-type, x-custom-trace",
            ),
        ],
    )
}

fn get_with_method(emu: &RunningEmulator, method: &str, headers: &[(&str, &str)]) -> String {
    let mut request = format!(
        "{method} /api/v2/deployments/gates/evaluation HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    exchange(emu, request.as_bytes()).0
}

#[test]
fn cors_allows_loopback_pages_by_default_and_nothing_else() {
    let emu = serve(keyed(), Limits::default(), &[]);
    let reply = preflight(&emu, "http://localhost:8080");
    assert_eq!(status(&reply), 204, "{reply}");
    assert_eq!(
        header(&reply, "access-control-allow-origin"),
        Some("http://localhost:8080")
    );
    assert_eq!(
        header(&reply, "access-control-allow-methods"),
        Some("GET, POST, PUT, DELETE")
    );
    let allowed = header(&reply, "access-control-allow-headers").unwrap();
    assert!(allowed.contains("dd-api-key") && allowed.contains("dd-application-key"));
    assert!(
        !allowed.contains("x-custom-trace"),
        "requested headers are not echoed: {allowed}"
    );
    assert_eq!(header(&reply, "vary"), Some("origin"));

    let evil = preflight(&emu, "https://evil.example");
    assert_eq!(status(&evil), 403, "{evil}");
    assert_eq!(header(&evil, "access-control-allow-origin"), None);
    assert_eq!(header(&evil, "access-control-allow-methods"), None);

    // Actual requests: the header only for an allowed origin (a 403 for missing keys included).
    let forbidden = get(
        &emu,
        "/api/v2/deployment_gates",
        &[("Origin", "http://127.0.0.1:5173")],
    );
    assert_eq!(status(&forbidden), 403);
    assert_eq!(
        header(&forbidden, "access-control-allow-origin"),
        Some("http://127.0.0.1:5173")
    );
    assert!(
        header(&forbidden, "access-control-expose-headers")
            .is_some_and(|v| v.contains("x-ratelimit-remaining"))
    );
    let other = get(
        &emu,
        "/api/v2/deployment_gates",
        &[("Origin", "http://localhost.evil.example")],
    );
    assert_eq!(header(&other, "access-control-allow-origin"), None);
}

#[test]
fn cors_origins_can_be_listed_or_opened_to_all() {
    let emu = serve(open(), Limits::default(), &["https://dash.example.com"]);
    let reply = preflight(&emu, "https://dash.example.com");
    assert_eq!(status(&reply), 204);
    assert_eq!(
        header(&reply, "access-control-allow-origin"),
        Some("https://dash.example.com")
    );
    assert_eq!(status(&preflight(&emu, "http://localhost:8080")), 403);

    let any = serve(open(), Limits::default(), &["*"]);
    let reply = preflight(&any, "https://anywhere.example");
    assert_eq!(header(&reply, "access-control-allow-origin"), Some("*"));

    let mut bad = EmulatorOptions::new(world(open()));
    bad.cors_origins = vec!["dash.example.com".into()];
    let err = start(bad).unwrap_err().to_string();
    assert!(err.contains("dash.example.com"), "{err}");
}

#[test]
fn a_stalled_tls_handshake_is_dropped() {
    let dir = std::env::temp_dir().join(format!("gatepost-service-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let mut options = EmulatorOptions::new(world(open()));
    options.limits = short_limits();
    options.tls = Some(TlsFiles {
        cert: cert_path,
        key: key_path,
    });
    let emu = start(options).unwrap();
    // The first bytes of a ClientHello, then nothing.
    let (reply, took) = exchange(&emu, &[0x16, 0x03, 0x01, 0x02, 0x00]);
    assert!(reply.is_empty(), "{reply}");
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
