//! Weir: a Kafka wire-protocol-compatible broker.
//!
//! Data flows one way: `net` (sockets, frames, sessions) → `protocol` (decode/encode) → `handler` (one
//! file per API family, one list of handlers in `handler/list.rs`) → `cluster` (the metadata image,
//! replicated through the controller quorum), `log` (partition logs), `group` (consumer groups), `txn`
//! (transactions) → response encode → socket. `group` and `txn` run on `coordinator`, the shared
//! coordinator runtime. `broker` wires them together; `config` holds the settings; `dev_cluster` runs a
//! local multi-node cluster.
//! `client` is a small Kafka client (the second user of kafka-protocol, outside the broker's data flow)
//! behind the `cli` tools, `metrics` the Prometheus endpoint and `console` the web console (both served
//! by the small HTTP server in `http`; `weir console` serves the console alone for any Kafka cluster).
// Nothing derived from a request or from disk may panic the broker: failures are typed errors. A site
// that is infallible by a local invariant says so with a scoped `#[allow]` and a comment. Tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod broker;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod console;
pub mod coordinator;
pub mod dev_cluster;
pub mod group;
pub mod group_store;
pub mod handler;
pub mod http;
pub mod log;
pub mod metrics;
pub mod net;
pub mod protocol;
pub mod txn;

pub use broker::Broker;
pub use config::Config;
