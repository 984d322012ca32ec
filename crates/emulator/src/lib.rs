//! # gatepost-emulator: a local Deployment Gates API
//!
//! A stand-in for Datadog's Deployment Gates API that evaluates rules *for real* against a
//! [`World`] (monitors with state timelines, APM traffic per version and resource, preconfigured
//! gates, keys, rate limits and fault plans). It serves the endpoints of the published Deployment
//! Gates API (`docs/wire-protocol.md`, held to `schemas/api/` by its tests) with the real status codes and payloads, an
//! Evaluations page at `/`, CORS for browser demos on loopback, and a time scale so a 300 s rule
//! finishes in seconds. Keys are required unless the world says `"open": true`; slow clients time
//! out and connections are capped ([`Limits`]), so it can be left running as a CI service.
//!
//! ```no_run
//! let world = gatepost_emulator::World::from_path("examples/worlds/healthy.json".as_ref())?;
//! let mut options = gatepost_emulator::EmulatorOptions::new(world);
//! options.time_scale = 60.0;
//! let emulator = gatepost_emulator::start(options)?;
//! println!("API at {}", emulator.base_url());
//! emulator.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: [`world`] (the world file and its schema), [`rules`] (rule validation), [`eval`]
//! (pure evaluation on a virtual clock), [`stats`] (the FDD test), and the HTTP layers (`api`,
//! `auth`, `cors`, `page`, `server`).

mod api;
mod auth;
mod cors;
pub mod eval;
mod page;
pub mod rules;
mod server;
mod state;
pub mod stats;
pub mod world;

pub use server::{
    EmulatorOptions, FD_RESERVE, Limits, MAX_BODY_BYTES, RunningEmulator, TlsFiles, serve_blocking,
    start,
};
pub use world::{World, WorldError};

/// How many method + path combinations the emulator serves: the API under both `/api/v2` and
/// `/api/unstable`, the monitor search under `/api/v1`, the spans search under `/api/v2`, plus the
/// pages.
pub const ENDPOINT_COUNT: usize = 2 * api::API_OPERATIONS_PER_PREFIX
    + api::V1_OPERATIONS
    + api::OTHER_V2_OPERATIONS
    + page::PAGE_ROUTES;
