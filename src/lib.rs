//! Weir: a Kafka wire-protocol-compatible broker.
//!
//! Data flows one way: `net` (sockets, frames) → `protocol` (decode/encode, version table) → `handler`
//! (one file per API family) → `log` (partition logs), `group` (consumer groups), `cluster` (topic metadata)
//! → response encode → socket.

pub mod group;
pub mod handler;
pub mod log;
