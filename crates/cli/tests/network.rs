//! Transport settings: HTTPS verified against the system roots (a self-signed emulator is refused
//! and never fails open), `--ca-cert` and `SSL_CERT_FILE` to trust it, and `HTTPS_PROXY`.

mod common;
use common::fake::{FakeApi, Reply};
use common::*;

/// HTTPS against `gatepost emulator --tls-cert/--tls-key`.
#[cfg(feature = "emulator")]
mod tls {
    use crate::common::*;
    use gatepost_testkit::Served;

    /// A self-signed certificate for 127.0.0.1 and localhost, and `gatepost emulator` serving HTTPS
    /// with it.
    fn serve_tls(dir: &tempfile::TempDir) -> (Served, std::path::PathBuf) {
        let certificate = gatepost_testkit::self_signed(dir.path());
        let mut cmd = gatepost();
        cmd.args(["emulator", "--port", "0", "--time-scale", "60", "--world"])
            .arg(gatepost_testkit::example_world_path("healthy.json"))
            .arg("--tls-cert")
            .arg(&certificate.cert)
            .arg("--tls-key")
            .arg(&certificate.key);
        (Served::spawn(cmd, "https"), certificate.cert)
    }

    fn gate_at(url: &str) -> std::process::Command {
        let mut cmd = checkout_gate();
        cmd.args([
            "--version",
            "v2",
            "--timeout",
            "60",
            "--poll-interval",
            "1",
            "--output",
            "json",
            "--api-url",
            url,
        ]);
        cmd
    }

    #[test]
    fn an_untrusted_certificate_is_a_client_error_never_fail_open() {
        let dir = tempfile::tempdir().unwrap();
        let (served, _cert) = serve_tls(&dir);
        let r = run(&mut gate_at(&served.url));
        assert_eq!(r.code, 1, "{r}");
        let v = r.json();
        assert_eq!(v["cause"], "client_error", "{r}");
        assert_eq!(v["fail_open"], false, "{r}");
    }

    #[test]
    fn ca_cert_and_ssl_cert_file_trust_a_private_ca() {
        let dir = tempfile::tempdir().unwrap();
        let (served, cert) = serve_tls(&dir);
        let r = run(gate_at(&served.url).arg("--ca-cert").arg(&cert));
        assert_eq!(r.code, 0, "{r}");
        assert_eq!(r.json()["cause"], "gate_passed", "{r}");
        let r = run(gate_at(&served.url).env("SSL_CERT_FILE", &cert));
        assert_eq!(r.code, 0, "{r}");
    }
}

#[test]
fn a_ca_cert_that_is_not_pem_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let r = run(gatepost_with_keys()
        .args(["gate", "--service", "s", "--env", "e", "--ca-cert"])
        .arg(&bad));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("--ca-cert"), "{r}");
}

#[test]
fn https_proxy_is_used() {
    // The scripted server plays the proxy: it records the CONNECT and refuses it.
    let proxy = FakeApi::start(vec![Reply::Reset], vec![Reply::Reset]);
    let r = run(gatepost_with_keys().env("HTTPS_PROXY", proxy.url()).args([
        "gate",
        "--service",
        "checkout",
        "--env",
        "prod",
        "--timeout",
        "3",
        "--trigger-budget",
        "1",
        "--output",
        "json",
        "--site",
        "datadoghq.eu",
    ]));
    assert_eq!(r.code, 0, "fail-open when the API cannot be reached:\n{r}");
    assert_eq!(r.json()["cause"], "api_unavailable", "{r}");
    let seen = proxy.seen();
    assert!(
        seen.iter()
            .any(|s| s.method == "CONNECT" && s.path == "api.datadoghq.eu:443"),
        "the request went through the proxy: {seen:?}"
    );
    // NO_PROXY matching (curl's rules) is core's, tested against tests/env/cases.json in every
    // host: a bypassed request would leave loopback, which tests never do.
}
