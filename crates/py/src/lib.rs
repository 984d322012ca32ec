//! gatepost-py binding (work in progress).
