//! HTTPS with a given certificate and key: a client that trusts only that certificate gets the
//! API, and `base_url` says `https`.

use gatepost_emulator::{EmulatorOptions, TlsFiles, World, start};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use tokio_rustls::rustls;

#[test]
fn serves_https_with_the_given_certificate() {
    let temp = gatepost_testkit::temp_dir();
    let dir = temp.path();
    let gatepost_testkit::SelfSigned {
        certified: cert,
        cert: cert_path,
        key: key_path,
    } = gatepost_testkit::self_signed(dir);

    let mut options = EmulatorOptions::new(World::from_json(r#"{"open": true}"#).unwrap());
    options.tls = Some(TlsFiles {
        cert: cert_path.clone(),
        key: key_path.clone(),
    });
    let emu = start(options).unwrap();
    assert!(emu.base_url().starts_with("https://127.0.0.1:"));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(emu.addr()).unwrap());
    tls.write_all(
        b"GET /api/v2/deployment_gates HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut response = Vec::new();
    // The server may close without close_notify after Connection: close; what was read counts.
    let _ = tls.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"data\":[]"), "{text}");
    emu.shutdown();

    let mut bad = EmulatorOptions::new(World::from_json(r#"{"open": true}"#).unwrap());
    bad.tls = Some(TlsFiles {
        cert: key_path,
        key: dir.join("missing.pem"),
    });
    let err = start(bad).unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
}
