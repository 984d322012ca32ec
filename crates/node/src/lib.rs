//! gatepost-node binding (work in progress).
