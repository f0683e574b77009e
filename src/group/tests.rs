//! Unit tests of the coordinator with paused tokio time.
