//! The driver loop: the host side of the engine's contract.
//!
//! At start and after each input the engine is polled until it says `wait` or `done`. A
//! `send_request` is performed on a worker thread, so the main thread can wait on one channel for
//! whichever comes first: the response, the `until` of the wait, a signal, or the next tick of the
//! live status line. A signal feeds `cancel`; a wait that ends with nothing else feeds `timeout`.
//! The engine makes every decision; this loop only moves data and time.

use crate::http::{Client, Request};
use crate::output::{Logger, human_duration, now_ms};
use crate::state::{self, StateFile};
use gatepost_core::event::{Event, EventKind};
use gatepost_core::gates::{self, GatesAction};
use gatepost_core::online::{self, OnlineAction};
use gatepost_core::{Action, Engine, Input, Outcome};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// What wakes the main thread.
enum Wake {
    /// A request finished (or failed); the input to feed.
    Http(Input, Duration),
    /// SIGINT or SIGTERM.
    Signal(i32),
}

/// What the loop needs besides the engine.
pub struct DriverConfig {
    pub client: Client,
    /// Where to keep the snapshot after every step, and what gate it belongs to.
    pub state_file: Option<StateTarget>,
    /// For the live status line: when the evaluation must end, in epoch ms.
    pub deadline_ms: Option<u64>,
}

/// The state file and the gate it is kept for.
pub struct StateTarget {
    pub path: PathBuf,
    pub service: String,
    pub env: String,
    pub identifier: Option<String>,
}

/// How the loop ended.
pub struct Finished {
    pub outcome: Outcome,
    /// The signal that cancelled the evaluation, if one did.
    pub signal: Option<i32>,
}

/// SIGINT's number (Ctrl-C).
pub const SIGINT: i32 = 2;
/// SIGTERM's number (what CI systems send to a cancelled job).
pub const SIGTERM: i32 = 15;

/// Installs the SIGINT/SIGTERM handlers and forwards signals into the wake channel, so a sleep
/// (or a request in flight) ends at once when the user presses Ctrl-C or the CI system stops the
/// job.
#[cfg(unix)]
fn forward_signals(tx: Sender<Wake>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("gatepost-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if tx.send(Wake::Signal(signal)).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// On Windows, Ctrl-C, Ctrl-Break and closing the console window (the `ctrlc` crate with its
/// `termination` feature) take the same path as SIGINT: the run is cancelled, the state file keeps
/// the evaluation and the resume command is printed. The handler cannot tell the events apart, so
/// all of them count as SIGINT (exit 130). Windows ends a process shortly after a console-close
/// handler returns, so on a closed window the output may be cut short; `--state-file` still holds
/// the last step.
#[cfg(windows)]
fn forward_signals(tx: Sender<Wake>) -> std::io::Result<()> {
    ctrlc::set_handler(move || {
        let _ = tx.send(Wake::Signal(SIGINT));
    })
    .map_err(std::io::Error::other)
}

/// Elsewhere Ctrl-C keeps its default behaviour (the process ends; `--state-file` still holds the
/// last step, so the next run resumes).
#[cfg(not(any(unix, windows)))]
fn forward_signals(_tx: Sender<Wake>) -> std::io::Result<()> {
    Ok(())
}

/// What the loop drives: the evaluation [`Engine`] or a gates run. Both follow one contract
/// (poll until wait or done; feed responses, timeouts and cancels).
pub trait Machine {
    type Done;
    fn next(&mut self, now: u64) -> Next<Self::Done>;
    fn feed(&mut self, input: Input, now: u64) -> Result<(), gatepost_core::Error>;
    fn events(&mut self) -> Vec<Event>;
}

/// A machine's next action.
pub enum Next<D> {
    Send(Request),
    Wait(u64),
    Done(D),
}

/// The engine, a gates run and an online check: each has its own action enum, with the same
/// `send_request` and `wait` variants, so one implementation serves all three (`$action` names the
/// enum, `$field: $done` what its `done` variant carries).
macro_rules! machine {
    ($machine:ty, $action:ident, $field:ident: $done:ty) => {
        impl Machine for $machine {
            type Done = $done;
            fn next(&mut self, now: u64) -> Next<$done> {
                match self.poll(now) {
                    $action::SendRequest {
                        request_id,
                        method,
                        url,
                        headers,
                        body,
                        timeout_ms,
                        max_body_bytes,
                    } => Next::Send(Request {
                        request_id,
                        method,
                        url,
                        headers,
                        body,
                        timeout_ms,
                        max_body_bytes,
                    }),
                    $action::Wait { until, .. } => Next::Wait(until),
                    $action::Done { $field } => Next::Done($field),
                }
            }
            fn feed(&mut self, input: Input, now: u64) -> Result<(), gatepost_core::Error> {
                self.handle(input, now)
            }
            fn events(&mut self) -> Vec<Event> {
                self.drain_events()
            }
        }
    };
}

machine!(Engine, Action, outcome: Outcome);
machine!(gates::Run, GatesAction, report: gates::Report);
machine!(online::Check, OnlineAction, report: online::OnlineReport);

/// Run a gates export, plan or apply, or a `validate --online` check, to its end (Ctrl-C
/// cancels it).
pub fn run_machine<M: Machine>(
    mut run: M,
    client: Client,
    logger: &mut Logger,
) -> Result<M::Done, gatepost_core::Error> {
    let config = DriverConfig {
        client,
        state_file: None,
        deadline_ms: None,
    };
    let mut driver = Driver::new(config, logger);
    let report = driver.drive(&mut run, logger, |_, _, _| {})?;
    logger.clear_status();
    Ok(report)
}

/// Run the engine to its outcome.
pub fn run(
    mut engine: Engine,
    config: DriverConfig,
    logger: &mut Logger,
) -> Result<Finished, gatepost_core::Error> {
    let mut driver = Driver::new(config, logger);
    let outcome = driver.drive(&mut engine, logger, |driver, engine, logger| {
        driver.save_state(engine, logger)
    })?;
    logger.clear_status();
    driver.finish_state(&engine, &outcome, logger);
    Ok(Finished {
        outcome,
        signal: driver.signal,
    })
}

impl Driver {
    fn new(config: DriverConfig, logger: &mut Logger) -> Driver {
        let (tx, rx) = mpsc::channel::<Wake>();
        if let Err(e) = forward_signals(tx.clone()) {
            logger.warn(&format!(
            "cannot handle SIGINT/SIGTERM ({e}); an interrupted run will not print how to resume"
        ));
        }
        Driver {
            config,
            tx,
            rx,
            started: Instant::now(),
            progress: None,
            signal: None,
            in_flight: false,
            retry_note: None,
            last_heartbeat: Instant::now(),
        }
    }
}

struct Driver {
    config: DriverConfig,
    tx: Sender<Wake>,
    rx: Receiver<Wake>,
    started: Instant,
    /// The last `progress` event: (completed, total).
    progress: Option<(u32, u32)>,
    signal: Option<i32>,
    /// A request is being performed (the status line says "waiting for the API").
    in_flight: bool,
    /// Shown in the status line while a retry is pending (`retrying: HTTP 503`).
    retry_note: Option<String>,
    /// When the last "still waiting" line was printed (outside a terminal).
    last_heartbeat: Instant,
}

/// How often a "still waiting" line is printed outside a terminal.
const HEARTBEAT: Duration = Duration::from_secs(300);

impl Driver {
    /// The loop: `checkpoint` runs before each wait (the engine's state file).
    fn drive<M: Machine>(
        &mut self,
        engine: &mut M,
        logger: &mut Logger,
        checkpoint: impl Fn(&Self, &M, &mut Logger),
    ) -> Result<M::Done, gatepost_core::Error> {
        loop {
            let action = engine.next(now_ms());
            self.drain(engine.events(), logger);
            match action {
                Next::Send(request) => {
                    logger.debug(&format!(
                        "→ {} {} (request {}, timeout {} ms)",
                        request.method, request.url, request.request_id, request.timeout_ms
                    ));
                    self.in_flight = true;
                    self.spawn_request(request);
                }
                Next::Wait(until) => {
                    checkpoint(self, engine, logger);
                    let input = self.wait(until, logger);
                    engine.feed(input, now_ms())?;
                }
                Next::Done(done) => return Ok(done),
            }
        }
    }

    /// Print queued events and track progress for the status line.
    fn drain(&mut self, events: Vec<Event>, logger: &mut Logger) {
        for event in events {
            match &event.kind {
                EventKind::Retrying {
                    phase,
                    attempt,
                    status,
                    error,
                    ..
                } => {
                    let why = match (error, status) {
                        (Some(error), _) => error.clone(),
                        (None, Some(status)) => format!("HTTP {status}"),
                        (None, None) => "an error".to_string(),
                    };
                    let phase = match phase {
                        gatepost_core::event::Phase::Trigger => "trigger",
                        gatepost_core::event::Phase::Poll => "poll",
                    };
                    self.retry_note = Some(format!("{phase} attempt {attempt} next ({why})"));
                }
                EventKind::Started { .. } | EventKind::Progress { .. } => self.retry_note = None,
                _ => {}
            }
            if let EventKind::Progress { completed, total } = event.kind {
                let changed = self.progress != Some((completed, total));
                self.progress = Some((completed, total));
                // In CI logs a progress line is printed when it changes; on a terminal the live
                // status line shows it.
                if changed && !logger.live() {
                    logger.event(&event);
                }
                continue;
            }
            if matches!(event.kind, EventKind::Finished { .. }) {
                // The report says it in full.
                logger.log(crate::output::Level::Debug, &event.message, Some(&event));
                continue;
            }
            logger.event(&event);
        }
    }

    fn spawn_request(&self, request: Request) {
        let client = self.config.client.clone();
        let tx = self.tx.clone();
        let request_id = request.request_id;
        let spawned = std::thread::Builder::new()
            .name(format!("gatepost-request-{}", request.request_id))
            .spawn(move || {
                let start = Instant::now();
                let input = client.perform(&request);
                let _ = tx.send(Wake::Http(input, start.elapsed()));
            });
        if let Err(e) = spawned {
            let _ = self.tx.send(Wake::Http(
                Input::TransportError {
                    request_id,
                    kind: gatepost_core::TransportErrorKind::Other,
                    message: format!("cannot start a thread for the request: {e}"),
                },
                Duration::ZERO,
            ));
        }
    }

    /// Wait until `until` (epoch ms), a response or a signal, whichever comes first, and return the
    /// input to feed. On a terminal the status line is redrawn every second meanwhile.
    fn wait(&mut self, until: u64, logger: &mut Logger) -> Input {
        loop {
            let now = now_ms();
            if now >= until {
                return Input::Timeout;
            }
            let mut sleep = Duration::from_millis(until - now);
            if logger.live() {
                self.draw_status(logger);
                sleep = sleep.min(Duration::from_millis(1000 - (now % 1000).min(999)));
            } else {
                // In CI logs, a line every few minutes shows the job is alive (some CI systems
                // stop jobs that print nothing for ten minutes).
                let since = self.last_heartbeat.elapsed();
                if since >= HEARTBEAT {
                    logger.info(&format!("still waiting: {}", self.status_text()));
                    self.last_heartbeat = Instant::now();
                } else {
                    sleep = sleep.min(HEARTBEAT - since);
                }
            }
            match self.rx.recv_timeout(sleep) {
                Ok(Wake::Http(input, took)) => {
                    self.log_input(&input, took, logger);
                    return input;
                }
                Ok(Wake::Signal(signal)) => {
                    self.signal = Some(signal);
                    logger.clear_status();
                    let name = if signal == SIGTERM {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    };
                    logger.warn(&format!("{name} received: stopping"));
                    return Input::Cancel;
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Input::Timeout,
            }
        }
    }

    fn log_input(&mut self, input: &Input, took: Duration, logger: &mut Logger) {
        self.in_flight = false;
        if !logger.verbose() {
            return;
        }
        let what = match input {
            Input::Response {
                request_id,
                status,
                body,
                ..
            } => format!("← {status} (request {request_id}, {} bytes", body.len()),
            Input::TransportError {
                request_id,
                kind,
                message,
            } => format!("← {} error (request {request_id}: {message}", kind.as_str()),
            _ => return,
        };
        logger.debug(&format!("{what}, {} ms)", took.as_millis()));
    }

    fn draw_status(&self, logger: &mut Logger) {
        logger.status(&self.status_text());
    }

    /// `42s elapsed · 2h59m18s left · 1/2 rules completed`.
    fn status_text(&self) -> String {
        let elapsed = self.started.elapsed().as_millis() as u64;
        let mut text = format!("{} elapsed", human_duration(elapsed));
        if let Some(deadline) = self.config.deadline_ms {
            text.push_str(&format!(
                " · {} left",
                human_duration(deadline.saturating_sub(now_ms()))
            ));
        }
        match self.progress {
            Some((completed, total)) => {
                text.push_str(&format!(" · {completed}/{total} rules completed"));
            }
            None if self.in_flight => text.push_str(" · waiting for the API"),
            None => {}
        }
        if let Some(note) = &self.retry_note {
            text.push_str(&format!(" · {note}"));
        }
        text
    }

    fn save_state(&self, engine: &Engine, logger: &mut Logger) {
        let Some(target) = &self.config.state_file else {
            return;
        };
        let state = StateFile::new(
            &target.service,
            &target.env,
            target.identifier.as_deref(),
            engine.evaluation_id(),
            engine.snapshot(),
        );
        if let Err(e) = state::save(&target.path, &state) {
            logger.warn(&format!(
                "cannot write the state file {}: {e}",
                target.path.display()
            ));
        }
    }

    /// A cancelled evaluation keeps its state file (so the next run resumes it); a finished one
    /// removes it (so the next run evaluates anew).
    fn finish_state(&self, engine: &Engine, outcome: &Outcome, logger: &mut Logger) {
        let Some(target) = &self.config.state_file else {
            return;
        };
        if outcome.cause == gatepost_core::Cause::Cancelled {
            self.save_state(engine, logger);
        } else if let Err(e) = state::remove(&target.path) {
            logger.warn(&format!(
                "cannot remove the state file {}: {e}",
                target.path.display()
            ));
        }
    }
}
