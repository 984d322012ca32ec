//! Retry timing: exponential backoff with seeded jitter, and the server's own hints.
