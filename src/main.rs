//! The `weir` binary: parses the command line and runs the broker.

fn main() {}
