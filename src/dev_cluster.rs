//! `weir dev-cluster`: a local cluster for trying things out — N node processes of this same binary on
//! loopback ports, every node a voter, stopped together on Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};

/// Ports of node `i` (1-based): Kafka at `base + 100·(i-1)`, its controller listener one above (its admin
/// listener two above).
pub fn ports(base: u16, node: u16) -> (u16, u16) {
    let kafka = base + 100 * (node - 1);
    (kafka, kafka + 1)
}

/// The `controller.quorum.voters` value for `nodes` nodes.
pub fn voters(base: u16, nodes: u16) -> String {
    (1..=nodes)
        .map(|i| format!("{i}@127.0.0.1:{}", ports(base, i).1))
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts the nodes, prints their addresses, waits for Ctrl-C or SIGTERM, then stops them (SIGTERM:
/// controlled shutdown) and waits for each.
pub async fn run(nodes: u16, base_port: u16, data_dir: &Path, extra: &[String]) -> ExitCode {
    if nodes == 0 || u32::from(base_port) + 100 * u32::from(nodes) > u32::from(u16::MAX) {
        eprintln!("weir dev-cluster: --nodes must be >= 1 and the ports must fit below 65536");
        return ExitCode::from(2);
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("weir dev-cluster: cannot find this binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    let voters = voters(base_port, nodes);
    let mut children: Vec<(u16, Child)> = Vec::new();
    for i in 1..=nodes {
        let (kafka, controller) = ports(base_port, i);
        let dir: PathBuf = data_dir.join(format!("node{i}"));
        let log = dir.with_extension("log");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("weir dev-cluster: cannot create {}: {e}", dir.display());
            stop(&mut children);
            return ExitCode::FAILURE;
        }
        let out = match std::fs::File::create(&log) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("weir dev-cluster: cannot create {}: {e}", log.display());
                stop(&mut children);
                return ExitCode::FAILURE;
            }
        };
        let err = out.try_clone().ok();
        let mut cmd = Command::new(&exe);
        cmd.arg("serve")
            .args(["--node-id", &i.to_string()])
            .args(["--listen", &format!("127.0.0.1:{kafka}")])
            .args(["--controller-listen", &format!("127.0.0.1:{controller}")])
            .args(["--controller-quorum-voters", &voters])
            // Each node its own admin port (metrics, console): Kafka port + 2.
            .args(["--set", &format!("admin.listeners=127.0.0.1:{}", kafka + 2)])
            .arg("--data-dir")
            .arg(&dir)
            .args(extra)
            .env("NO_COLOR", "1")
            .stdout(out);
        if let Some(err) = err {
            cmd.stderr(err);
        }
        match cmd.spawn() {
            Ok(child) => {
                println!(
                    "node {i}: kafka 127.0.0.1:{kafka}  controller 127.0.0.1:{controller}  admin http://127.0.0.1:{}  data {}  log {}",
                    kafka + 2,
                    dir.display(),
                    log.display()
                );
                children.push((i, child));
            }
            Err(e) => {
                eprintln!("weir dev-cluster: cannot start node {i}: {e}");
                stop(&mut children);
                return ExitCode::FAILURE;
            }
        }
    }
    let bootstrap: Vec<String> = (1..=nodes)
        .map(|i| format!("127.0.0.1:{}", ports(base_port, i).0))
        .collect();
    println!("bootstrap: {}", bootstrap.join(","));
    println!("Ctrl-C stops every node.");
    wait_for_signal_or_exit(&mut children).await;
    stop(&mut children);
    ExitCode::SUCCESS
}

/// Waits for Ctrl-C/SIGTERM, or for any node to exit on its own (reported).
async fn wait_for_signal_or_exit(children: &mut [(u16, Child)]) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => return,
            _ = poll.tick() => {
                for (i, child) in children.iter_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        eprintln!("node {i} exited ({status}); see its log");
                    }
                }
            }
        }
    }
}

/// SIGTERM to every node still running (controlled shutdown), then waits for each.
fn stop(children: &mut Vec<(u16, Child)>) {
    for (_, child) in children.iter() {
        send_term(child.id());
    }
    for (i, mut child) in children.drain(..) {
        match child.wait() {
            Ok(status) => println!("node {i} stopped ({status})"),
            Err(e) => eprintln!("node {i}: {e}"),
        }
    }
}

/// `kill -TERM` (the crate forbids `unsafe`, so no direct libc call).
fn send_term(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_voters_follow_the_documented_layout() {
        assert_eq!(ports(9092, 2), (9192, 9193));
        assert_eq!(
            voters(9092, 3),
            "1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293"
        );
    }
}
