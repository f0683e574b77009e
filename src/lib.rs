//! Weir: a Kafka wire-protocol-compatible broker.
//!
//! Data flows one way: `net` (sockets, frames, sessions) → `protocol` (decode/encode, the version table) →
//! `handler` (one file per API family) → `cluster` (topic metadata), `log` (partition logs), `group`
//! (consumer groups) → response
//! encode → socket. `broker` wires them together; `config` holds the settings. `client` is a small Kafka
//! client (the second user of kafka-protocol, outside the broker's data flow) behind the `cli` tools.

mod alloc_guard;
pub mod broker;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod console;
pub mod group;
pub mod group_store;
pub mod handler;
pub mod log;
pub mod metrics;
pub mod net;
pub mod protocol;

pub use broker::Broker;
pub use config::Config;

/// See `alloc_guard`: decoders may reserve huge, never-touched capacities from hostile lengths.
#[global_allocator]
static GLOBAL: alloc_guard::GuardedAlloc = alloc_guard::GuardedAlloc;
