//! Deterministic power-loss simulation of the log store (test builds only): a simulated disk behind
//! `log::fs` and a seeded random workload that cuts the power and checks what recovery brings back.

pub mod disk;
pub mod rng;
#[cfg(test)]
mod workload;
