//! Listening, TLS, and the connection layer: HTTP/1.1 over plain TCP or rustls, CORS around
//! every response, and real connection resets for the `reset` and `hang` faults.
//!
//! Safe to leave running as a CI service: a client gets [`Limits::header_timeout`] to send its
//! request line and headers (and to finish a TLS handshake; an idle keep-alive connection is
//! closed after as long) and [`Limits::body_timeout`] to send the body it announced; bodies are
//! capped at [`MAX_BODY_BYTES`]; at most [`Limits::max_connections`] connections are served at
//! once, and beyond that a new connection gets a quick 503 and is closed. Stalled connections
//! are cheap (one small task each), so a normal client is answered at once while thousands
//! exist, and accept errors (out of file descriptors) never stop the accept loop.

use crate::api::{self, ResetConnection};
use crate::cors::CorsPolicy;
use crate::state::Shared;
use crate::world::World;
use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
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
    /// Timeouts and the connection cap.
    pub limits: Limits,
    /// Origins whose pages may call the API from a browser (`https://app.example.com`, or `*`
    /// for every origin). Empty (the default): pages served from loopback only.
    pub cors_origins: Vec<String>,
}

/// How long a client may take and how many may be connected at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// To send the request line and headers, to finish a TLS handshake, and to start the next
    /// request on a keep-alive connection. Default 10 s.
    pub header_timeout: Duration,
    /// To send the whole body after the headers. Default 30 s; a late body gets 408.
    pub body_timeout: Duration,
    /// Connections served at once; beyond it, new connections get 503 and are closed. Default
    /// 20,000, lowered to what the open-file limit allows (less [`FD_RESERVE`]).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 20_000,
        }
    }
}

/// The largest request body read (a gate configuration is a few KiB); larger gets 413.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// File descriptors kept free for everything but connections (the listener, files, the runtime).
pub const FD_RESERVE: usize = 128;

impl EmulatorOptions {
    /// Loopback, a free port, real time, plain HTTP.
    pub fn new(world: World) -> Self {
        EmulatorOptions {
            world,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            time_scale: 1.0,
            tls: None,
            limits: Limits::default(),
            cors_origins: Vec::new(),
        }
    }
}

impl Default for EmulatorOptions {
    /// An empty, open world on loopback (nothing in it for a key to protect).
    fn default() -> Self {
        EmulatorOptions::new(World {
            open: true,
            ..World::default()
        })
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
    limits: Limits,
    cors: Arc<CorsPolicy>,
}

fn prepare(options: EmulatorOptions) -> io::Result<Prepared> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
    if !(options.time_scale.is_finite() && options.time_scale > 0.0) {
        return Err(invalid("the time scale must be a positive number".into()));
    }
    options
        .world
        .check_keys()
        .map_err(|e| invalid(format!("world: {e}")))?;
    let limits = options.limits;
    if limits.header_timeout.is_zero()
        || limits.body_timeout.is_zero()
        || limits.max_connections == 0
    {
        return Err(invalid(
            "the header and body timeouts and the connection cap must be above zero".into(),
        ));
    }
    let cors = CorsPolicy::from_origins(&options.cors_origins).map_err(invalid)?;
    let tls = options.tls.as_ref().map(load_tls).transpose()?;
    let listener = StdTcpListener::bind(options.bind)?;
    listener.set_nonblocking(true)?;
    #[cfg(unix)]
    {
        // A deep accept queue: a burst of connections waits there instead of being dropped
        // and retried by the client a second later (the kernel caps it at somaxconn).
        let _ = rustix::net::listen(&listener, 4096);
    }
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
        limits,
        cors: Arc::new(cors),
    })
}

/// The connection cap `limits` asks for, lowered to what the open-file limit allows.
fn connection_cap(wanted: usize) -> usize {
    match open_file_limit() {
        Some(limit) => wanted.min(limit.saturating_sub(FD_RESERVE).max(1)),
        None => wanted,
    }
}

/// The soft open-file limit (RLIMIT_NOFILE), when there is one.
#[cfg(unix)]
fn open_file_limit() -> Option<usize> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit
        .current
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<usize> {
    None
}

/// A service process may use every file descriptor it is allowed: raise the soft open-file
/// limit to the hard one (often 1024 → much more), so the connection cap is not the OS default.
#[cfg(unix)]
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        );
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit() {}

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
    raise_open_file_limit();
    let mut prepared = prepare(options)?;
    prepared.access_log = true;
    let cap = connection_cap(prepared.limits.max_connections);
    // Said only when it matters (an open-file limit far below the cap), not for the reserve.
    if cap + FD_RESERVE < prepared.limits.max_connections {
        eprintln!(
            "gatepost emulator: serving at most {cap} connections at once (the open-file limit \
             allows no more)"
        );
    }
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
    let limits = prepared.limits;
    let slots = Arc::new(Semaphore::new(connection_cap(limits.max_connections)));
    let connection = Connection {
        router: prepared.router,
        access_log: prepared.access_log,
        limits,
        cors: prepared.cors,
    };
    let tls = prepared.tls;
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: keep serving the connections we have,
                // and accept again shortly (the connection waits in the accept queue).
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = connection.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let reset = Arc::new(AtomicBool::new(false));
            let io = ResettableStream {
                inner: stream,
                reset: reset.clone(),
            };
            match tls {
                Some(acceptor) => {
                    // The handshake gets the header timeout too: a stalled one ends here.
                    let handshake =
                        tokio::time::timeout(connection.limits.header_timeout, acceptor.accept(io));
                    if let Ok(Ok(tls_stream)) = handshake.await {
                        connection.serve(tls_stream, reset).await;
                    }
                }
                None => connection.serve(io, reset).await,
            }
            drop(slot);
        });
    }
}

/// Over the connection cap: a short 503 (bounded in time), then close.
async fn refuse(mut stream: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
        Retry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: 34\r\n\r\n\
        too many connections, retry later\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(BUSY).await?;
        stream.shutdown().await
    })
    .await;
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

/// What every connection shares: the routes and how to serve them.
#[derive(Clone)]
struct Connection {
    router: Router,
    access_log: bool,
    limits: Limits,
    cors: Arc<CorsPolicy>,
}

impl Connection {
    async fn serve<S>(self, io: S, reset: Arc<AtomicBool>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let header_timeout = self.limits.header_timeout;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let connection = self.clone();
            let reset = reset.clone();
            async move { connection.answer(request, &reset).await }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service)
            .await;
    }

    async fn answer(
        &self,
        request: hyper::Request<Incoming>,
        reset: &AtomicBool,
    ) -> Result<hyper::Response<Body>, ResetRequested> {
        let origin = request.headers().get(hyper::header::ORIGIN).cloned();
        if request.method() == hyper::Method::OPTIONS {
            return Ok(self.cors.preflight(origin.as_ref()));
        }
        // Method and path only: keys travel in headers and are never logged.
        let line = self
            .access_log
            .then(|| format!("{} {}", request.method(), request.uri().path()));
        let started = std::time::Instant::now();
        let mut response = match self.read_body(request).await {
            Ok(request) => match self.router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Err(refusal) => refusal,
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
        self.cors
            .add_headers(origin.as_ref(), response.headers_mut());
        Ok(response)
    }

    /// The request with its whole body read, within the body timeout and the size cap; or the
    /// answer that refuses it (408, 413), after which the connection is closed.
    async fn read_body(
        &self,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Request<Body>, hyper::Response<Body>> {
        use hyper::body::Body as _;
        let (parts, body) = request.into_parts();
        let too_large = || {
            closing(api::api_error(
                hyper::StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is larger than {} MiB",
                    MAX_BODY_BYTES >> 20
                ),
            ))
        };
        if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
            return Err(too_large());
        }
        let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
        match tokio::time::timeout(self.limits.body_timeout, limited.collect()).await {
            Ok(Ok(collected)) => Ok(hyper::Request::from_parts(
                parts,
                Body::from(collected.to_bytes()),
            )),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            // The client went away mid-body: nobody reads the answer.
            Ok(Err(_)) => Err(closing(api::api_error(
                hyper::StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ))),
            Err(_) => Err(closing(api::api_error(
                hyper::StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    self.limits.body_timeout.as_secs_f64()
                ),
            ))),
        }
    }
}

/// An answer after which the connection is closed (the rest of the request is not read).
fn closing(mut response: hyper::Response<Body>) -> hyper::Response<Body> {
    response.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
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
