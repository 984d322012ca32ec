//! The HTTP transport: performs one `send_request` action and turns what happened into the
//! engine's `response` or `transport_error` input. No decisions are made here: every status code,
//! retry and timeout policy is the engine's.

use gatepost_core::{Input, TransportErrorKind};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// One request, as the engine asked for it.
#[derive(Debug, Clone)]
pub struct Request {
    pub request_id: u64,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: u64,
    pub max_body_bytes: u64,
}

/// A configured client. Cheap to clone (ureq agents share their pool).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    /// Build a client that verifies HTTPS with the platform's verifier (or the system roots plus
    /// `extra_ca`: see [`root_certs`]), never follows
    /// redirects (so keys never go to another host) and honours `HTTPS_PROXY`/`NO_PROXY` for
    /// `base_url` (the API every request of this client goes to). A loopback base URL (an emulator
    /// on this machine) is always reached directly.
    pub fn new(extra_ca: Option<&Path>, base_url: Option<&str>) -> Result<Client, String> {
        let roots = root_certs(extra_ca)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = TlsConfig::builder()
            .root_certs(roots)
            .unversioned_rustls_crypto_provider(provider)
            .build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .user_agent(format!("gatepost/{}", gatepost_core::VERSION))
            // The proxy is core's decision for the API's base URL (HTTPS_PROXY, ALL_PROXY,
            // NO_PROXY with curl's rules, loopback always direct), the same in every host.
            .proxy(base_url.and_then(proxy_for))
            .build();
        Ok(Client {
            agent: config.new_agent(),
        })
    }

    /// Perform the request and return the engine input describing the result.
    pub fn perform(&self, req: &Request) -> Input {
        match self.try_perform(req) {
            Ok(input) => input,
            Err(e) => {
                let (kind, message) = classify(&e);
                Input::TransportError {
                    request_id: req.request_id,
                    kind,
                    message,
                }
            }
        }
    }

    fn try_perform(&self, req: &Request) -> Result<Input, ureq::Error> {
        let timeout = Some(Duration::from_millis(req.timeout_ms.max(1)));
        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(req.url.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = req.body.clone().unwrap_or_default();
        let request = builder.body(body).map_err(ureq::Error::Http)?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(timeout)
            .build();
        let mut response = self.agent.run(request)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(req.max_body_bytes)
            .read_to_vec()?;
        Ok(Input::Response {
            request_id: req.request_id,
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

/// The proxy core chooses for `url` in this process's environment. A proxy URL ureq cannot use
/// (an unsupported scheme) means direct, as it did when ureq read the variables itself.
fn proxy_for(url: &str) -> Option<ureq::Proxy> {
    let env = crate::shared::environment();
    gatepost_core::environment::proxy_for(url, &env).and_then(|p| ureq::Proxy::new(&p).ok())
}

/// Map a ureq error onto the engine's transport error kinds. The message never contains headers,
/// so keys cannot leak through it.
fn classify(e: &ureq::Error) -> (TransportErrorKind, String) {
    use TransportErrorKind as K;
    let kind = match e {
        ureq::Error::Timeout(_) => K::Timeout,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => K::Connect,
        ureq::Error::BodyExceedsLimit(_) => K::BodyTooLarge,
        ureq::Error::Tls(_) | ureq::Error::Pem(_) | ureq::Error::Rustls(_) => K::Tls,
        ureq::Error::Io(io) => classify_io(io),
        _ => K::Other,
    };
    (kind, e.to_string())
}

fn classify_io(e: &io::Error) -> TransportErrorKind {
    use TransportErrorKind as K;
    // rustls reports certificate problems as InvalidData wrapping a rustls::Error.
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return K::Tls;
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::NotFound
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::NetworkDown => K::Connect,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => K::Reset,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => K::Timeout,
        _ => K::Other,
    }
}

/// The trusted roots. By default the platform's verifier (rustls-platform-verifier, the rustls
/// team's advice for clients: the OS's own certificate checks and store on macOS and Windows, the
/// system store on Linux), so a corporate CA installed on the runner works. With `--ca-cert`, or
/// with `SSL_CERT_FILE` / `SSL_CERT_DIR` set (which replace the system roots, as in OpenSSL, on
/// every OS), an explicit list: the system's (rustls-native-certs, which reads those variables)
/// plus every certificate in `extra_ca`.
fn root_certs(extra_ca: Option<&Path>) -> Result<RootCerts, String> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if extra_ca.is_none() && !set("SSL_CERT_FILE") && !set("SSL_CERT_DIR") {
        return Ok(RootCerts::PlatformVerifier);
    }
    let native = rustls_native_certs::load_native_certs();
    let mut certs: Vec<Certificate<'static>> = native
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    if let Some(path) = extra_ca {
        let pem = crate::files::read_bytes(path, crate::files::MAX_FILE_BYTES)
            .map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?;
        let before = certs.len();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "--ca-cert {} is not a PEM certificate bundle: {e}",
                        path.display()
                    ));
                }
            }
        }
        if certs.len() == before {
            return Err(format!(
                "--ca-cert {} holds no PEM certificate",
                path.display()
            ));
        }
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_connection_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = Client::new(None, None).unwrap();
        let input = client.perform(&Request {
            request_id: 3,
            method: "GET".into(),
            url: format!("http://127.0.0.1:{port}/x"),
            headers: vec![],
            body: None,
            timeout_ms: 2_000,
            max_body_bytes: 1000,
        });
        match input {
            Input::TransportError {
                request_id, kind, ..
            } => {
                assert_eq!(request_id, 3);
                assert_eq!(kind, TransportErrorKind::Connect);
            }
            other => panic!("expected a transport error, got {other:?}"),
        }
    }

    /// A one-shot server on loopback that answers the first connection with `reply` (or holds it
    /// open without answering when `reply` is empty).
    fn one_shot(reply: Vec<u8>) -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            if reply.is_empty() {
                std::thread::sleep(Duration::from_secs(30));
            } else {
                let _ = stream.write_all(&reply);
            }
        });
        port
    }

    fn get(port: u16, timeout_ms: u64, max_body_bytes: u64) -> Input {
        Client::new(None, None).unwrap().perform(&Request {
            request_id: 1,
            method: "GET".into(),
            url: format!("http://127.0.0.1:{port}/api/v2/deployments/gates/evaluation/x"),
            headers: vec![("DD-API-KEY".into(), "FAKEKEY-in-header-only".into())],
            body: None,
            timeout_ms,
            max_body_bytes,
        })
    }

    fn kind(input: &Input) -> Option<TransportErrorKind> {
        match input {
            Input::TransportError { kind, message, .. } => {
                assert!(!message.contains("FAKEKEY"), "{message}");
                Some(*kind)
            }
            _ => None,
        }
    }

    #[test]
    fn redirects_are_handed_over_not_followed() {
        let port = one_shot(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/steal\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        );
        match get(port, 5_000, 1_000) {
            Input::Response {
                status, headers, ..
            } => {
                assert_eq!(status, 302);
                assert!(
                    headers
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case("location"))
                );
            }
            other => panic!("expected the 302 itself, got {other:?}"),
        }
    }

    #[test]
    fn a_body_over_the_cap_is_body_too_large() {
        let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n".to_vec();
        reply.extend(std::iter::repeat_n(b'x', 2048));
        let port = one_shot(reply);
        assert_eq!(
            kind(&get(port, 5_000, 1_024)),
            Some(TransportErrorKind::BodyTooLarge)
        );
    }

    #[test]
    fn a_silent_server_is_a_timeout_after_timeout_ms() {
        let port = one_shot(Vec::new());
        let start = std::time::Instant::now();
        assert_eq!(
            kind(&get(port, 300, 1_024)),
            Some(TransportErrorKind::Timeout)
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let port = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\xffb".to_vec());
        match get(port, 5_000, 1_024) {
            Input::Response { body, .. } => assert_eq!(body, "a\u{fffd}b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn io_errors_map_to_engine_kinds() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_io(&reset), TransportErrorKind::Reset);
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(classify_io(&eof), TransportErrorKind::Reset);
        let tls = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(classify_io(&tls), TransportErrorKind::Tls);
    }
}
