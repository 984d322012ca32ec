//! gatepost-wasm binding (work in progress).
