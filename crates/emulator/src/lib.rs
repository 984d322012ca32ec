//! gatepost-emulator: a local Deployment Gates API (work in progress).
