//! The console's write actions (delete a topic, reset a group's committed offsets to the earliest or
//! latest offsets), served only when `admin.console.write.enabled=true`: read-only by default, as
//! Kafka UIs ship. Actions are POSTs whose parameters sit in the URL; the offsets of a group with live
//! members are not moved (the coordinator refuses a commit outside the generation, as Kafka's tool does).

use super::html::{esc, Page};
use super::{connect, decode, ConsoleInfo};
use crate::client::ClientError;

/// What a refused write answers (HTTP 403).
pub const WRITES_OFF: &str =
    "Console writes are off: start the broker with admin.console.write.enabled=true to allow them.";

/// Runs the action at `path`; `None` when it is not one. Returns (status, HTML).
pub async fn act(path: &str, query: &str, info: &ConsoleInfo) -> Option<(u16, String)> {
    let action = if let Some(rest) = path.strip_prefix("/topics/") {
        let name = rest.strip_suffix("/delete")?;
        Action::DeleteTopic(decode(name))
    } else if let Some(rest) = path.strip_prefix("/groups/") {
        let name = rest.strip_suffix("/reset")?;
        let param = |k: &str| {
            query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(key, _)| *key == k)
                .map(|(_, v)| decode(v))
        };
        Action::ResetOffsets {
            group: decode(name),
            topic: param("topic")?,
            latest: param("to")? == "latest",
        }
    } else {
        return None;
    };
    if !info.write_enabled {
        tracing::info!(
            ?action,
            "console write refused: admin.console.write.enabled is false"
        );
        return Some((403, page("Refused", WRITES_OFF)));
    }
    tracing::info!(?action, "console write");
    Some(match run(&action, info).await {
        Ok(done) => (200, page("Done", &done)),
        Err(e) => (502, page("Error", &e.to_string())),
    })
}

/// A write the console can make.
#[derive(Debug)]
enum Action {
    /// Delete a topic.
    DeleteTopic(String),
    /// Move a group's committed offsets of `topic` to the log start (or end when `latest`).
    ResetOffsets {
        group: String,
        topic: String,
        latest: bool,
    },
}

async fn run(action: &Action, info: &ConsoleInfo) -> Result<String, ClientError> {
    let mut c = connect(info).await?;
    match action {
        Action::DeleteTopic(name) => {
            c.delete_topic(name).await?;
            Ok(format!("Topic {name} deleted."))
        }
        Action::ResetOffsets {
            group,
            topic,
            latest,
        } => {
            let partitions: Vec<i32> = (0..c.leaders(topic).await?.len() as i32).collect();
            let range = c.offset_range(topic, &partitions).await?;
            let offsets: Vec<(i32, i64)> = partitions
                .iter()
                .map(|p| {
                    let (start, end) = range.get(p).copied().unwrap_or((0, 0));
                    (*p, if *latest { end } else { start })
                })
                .collect();
            c.commit(group, topic, &offsets).await?;
            let to = if *latest { "latest" } else { "earliest" };
            Ok(format!(
                "Group {group}: offsets of {topic} reset to the {to} ones."
            ))
        }
    }
}

fn page(title: &str, text: &str) -> String {
    let mut p = Page::new(title);
    p.push(&format!("<p id=result>{}</p>", esc(text)));
    p.finish()
}

/// A button posting to `action` (shown on pages only when writes are enabled).
pub fn button(action: &str, label: &str) -> String {
    format!(
        "<form method=post action=\"{}\" style=\"display:inline\"><button>{}</button></form>",
        esc(action),
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(write_enabled: bool) -> ConsoleInfo {
        ConsoleInfo {
            // Nothing listens here: a write that got past the check would fail to connect (502).
            bootstrap: "127.0.0.1:1".into(),
            rates: Default::default(),
            write_enabled,
            local: None,
        }
    }

    #[tokio::test]
    async fn writes_are_refused_unless_enabled() {
        for path in ["/topics/orders/delete", "/groups/billing/reset"] {
            let (status, body) = act(path, "topic=orders&to=latest", &info(false))
                .await
                .unwrap();
            assert_eq!(status, 403, "{path}");
            assert!(body.contains("admin.console.write.enabled=true"));
            let (status, _) = act(path, "topic=orders&to=latest", &info(true))
                .await
                .unwrap();
            assert_eq!(status, 502, "{path} is attempted when enabled");
        }
        assert!(act("/topics/orders", "", &info(true)).await.is_none());
        assert!(
            act("/groups/billing/reset", "", &info(true))
                .await
                .is_none(),
            "no topic"
        );
    }
}
