//! Listening, TLS, and the connection layer: HTTP/1.1 over plain TCP or rustls, CORS around
//! every response, and real connection resets for the `reset` and `hang` faults.

use crate::api::{self, ResetConnection};
use crate::state::Shared;
use crate::world::World;
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tower::ServiceExt;

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    pub world: World,
    /// Where to listen; port 0 picks a free port. Default `127.0.0.1:0`.
    pub bind: SocketAddr,
    /// World seconds per real second (60: a 300 s rule finishes in 5 s). Default 1.
    pub time_scale: f64,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl EmulatorOptions {
    /// Loopback, a free port, real time, plain HTTP.
    pub fn new(world: World) -> Self {
        EmulatorOptions {
            world,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            time_scale: 1.0,
            tls: None,
        }
    }
}

impl Default for EmulatorOptions {
    /// An empty world on loopback.
    fn default() -> Self {
        EmulatorOptions::new(World::default())
    }
}

/// PEM files for TLS: the certificate chain (leaf first) and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// An emulator serving on its own thread. Dropping it shuts it down.
pub struct RunningEmulator {
    addr: SocketAddr,
    base_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningEmulator {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (or `https://…` with TLS): what to give a client as its API URL.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Stop serving and wait for the server thread to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Everything prepared before the runtime starts, so that errors (bad certificate, port in
/// use, bad time scale) come back to the caller instead of dying on a thread.
struct Prepared {
    listener: StdTcpListener,
    addr: SocketAddr,
    base_url: String,
    router: Router,
    tls: Option<TlsAcceptor>,
    /// One stderr line per request (`serve_blocking`; an in-process emulator stays quiet).
    access_log: bool,
}

fn prepare(options: EmulatorOptions) -> io::Result<Prepared> {
    if !(options.time_scale.is_finite() && options.time_scale > 0.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the time scale must be a positive number",
        ));
    }
    let tls = options.tls.as_ref().map(load_tls).transpose()?;
    let listener = StdTcpListener::bind(options.bind)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let shown_ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    let base_url = format!("{scheme}://{}", SocketAddr::new(shown_ip, addr.port()));
    let shared = Arc::new(Shared::new(
        options.world,
        options.time_scale,
        base_url.clone(),
        scheme,
        addr.ip().is_unspecified(),
    ));
    Ok(Prepared {
        listener,
        addr,
        base_url,
        router: api::router(shared),
        tls,
        access_log: false,
    })
}

fn load_tls(files: &TlsFiles) -> io::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |what: &str, path: &PathBuf, e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot read the TLS {what} {}: {e}", path.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid("certificate", &files.cert, &e))?;
    if certs.is_empty() {
        return Err(invalid("certificate", &files.cert, &"no certificate found"));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| invalid("key", &files.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("TLS: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gatepost-emulator")
        .enable_all()
        .build()
}

/// Start an emulator on a thread of its own (with its own Tokio runtime). Returns once it is
/// listening.
pub fn start(options: EmulatorOptions) -> io::Result<RunningEmulator> {
    let prepared = prepare(options)?;
    let rt = runtime()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let addr = prepared.addr;
    let base_url = prepared.base_url.clone();
    let thread = std::thread::Builder::new()
        .name("gatepost-emulator".into())
        .spawn(move || {
            rt.block_on(async move {
                let shutdown = async {
                    let _ = rx.await;
                };
                if let Err(e) = accept_loop(prepared, shutdown).await {
                    eprintln!("gatepost emulator stopped: {e}");
                }
            });
            // Dropping the runtime cancels connections still open (hung faults included).
            rt.shutdown_background();
        })?;
    Ok(RunningEmulator {
        addr,
        base_url,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

/// Serve on the current thread until SIGINT or SIGTERM. `on_ready` gets the listening address
/// (e.g. to print it) before the first request is accepted.
pub fn serve_blocking(
    options: EmulatorOptions,
    on_ready: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    let mut prepared = prepare(options)?;
    prepared.access_log = true;
    let rt = runtime()?;
    on_ready(prepared.addr);
    let result = rt.block_on(async move {
        let shutdown = async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = ctrl_c => {},
                            _ = term.recv() => {},
                        }
                    }
                    Err(_) => {
                        let _ = ctrl_c.await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        };
        accept_loop(prepared, shutdown).await
    });
    rt.shutdown_background();
    result
}

async fn accept_loop(
    prepared: Prepared,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(prepared.listener)?;
    let router = prepared.router;
    let tls = prepared.tls;
    let access_log = prepared.access_log;
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let reset = Arc::new(AtomicBool::new(false));
            let io = ResettableStream {
                inner: stream,
                reset: reset.clone(),
            };
            match tls {
                Some(acceptor) => {
                    if let Ok(tls_stream) = acceptor.accept(io).await {
                        serve_connection(tls_stream, router, reset, access_log).await;
                    }
                }
                None => serve_connection(io, router, reset, access_log).await,
            }
        });
    }
}

/// A request the connection layer refuses to answer: it resets the connection.
#[derive(Debug)]
struct ResetRequested;

impl std::fmt::Display for ResetRequested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by fault plan")
    }
}

impl std::error::Error for ResetRequested {}

async fn serve_connection<S>(io: S, router: Router, reset: Arc<AtomicBool>, access_log: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let reset = reset.clone();
        async move {
            if request.method() == hyper::Method::OPTIONS {
                return Ok(api::preflight(
                    request
                        .headers()
                        .get(hyper::header::ACCESS_CONTROL_REQUEST_HEADERS),
                ));
            }
            // Method and path only: keys travel in headers and are never logged.
            let line = access_log.then(|| format!("{} {}", request.method(), request.uri().path()));
            let started = std::time::Instant::now();
            let mut response = match router.oneshot(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let was_reset = response.extensions().get::<ResetConnection>().is_some();
            if let Some(line) = line {
                let outcome = if was_reset {
                    "reset".to_string()
                } else {
                    response.status().as_u16().to_string()
                };
                eprintln!(
                    "{line} -> {outcome} ({:.1} ms)",
                    started.elapsed().as_secs_f64() * 1000.0
                );
            }
            if was_reset {
                reset.store(true, Ordering::SeqCst);
                return Err(ResetRequested);
            }
            api::add_cors_headers(response.headers_mut());
            Ok(response)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// A TCP stream that closes with a reset (RST, via a zero linger) when a fault asks for it,
/// instead of an orderly FIN.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
