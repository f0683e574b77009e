//! Client errors: a Kafka error code with its name and a hint, or a connection/protocol failure; each
//! kind has the process exit code scripts can rely on.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

/// What went wrong talking to a cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The broker answered with a Kafka error code.
    #[error("{}{name}{}{}", context.as_deref().map(|c| format!("{c}: ")).unwrap_or_default(), message.as_deref().filter(|m| !m.is_empty()).map(|m| format!(" ({m})")).unwrap_or_default(), hint(*code).map(|h| format!(" — {h}")).unwrap_or_default())]
    Kafka {
        /// The error code.
        code: i16,
        /// Kafka's name for it (`UNKNOWN_TOPIC_OR_PARTITION`).
        name: String,
        /// The broker's error message, when it sent one.
        message: Option<String>,
        /// What we were doing.
        context: Option<String>,
    },
    /// The broker could not be reached or the connection broke.
    #[error(
        "cannot reach {addr}: {reason} — is a broker running there? (--bootstrap / WEIR_BOOTSTRAP)"
    )]
    Connect { addr: String, reason: String },
    /// The broker does not serve an API this command needs.
    #[error("the broker does not support {api:?} in a version this client speaks")]
    Unsupported { api: ApiKey },
    /// A response did not parse, or did not match the request.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Bad input from the command line or stdin.
    #[error("{0}")]
    Config(String),
}

impl ClientError {
    /// `Ok` for code 0, else the Kafka error.
    pub fn check(code: i16, message: Option<&str>) -> Result<(), ClientError> {
        match ResponseError::try_from_code(code) {
            None => Ok(()),
            Some(e) => Err(ClientError::Kafka {
                code,
                name: kafka_name(e),
                message: message.map(str::to_string),
                context: None,
            }),
        }
    }

    /// Adds what was being done to a Kafka error.
    pub fn context(self, what: String) -> ClientError {
        match self {
            ClientError::Kafka {
                code,
                name,
                message,
                context: None,
            } => ClientError::Kafka {
                code,
                name,
                message,
                context: Some(what),
            },
            other => other,
        }
    }

    /// The Kafka error code, if this is one.
    pub fn code(&self) -> Option<i16> {
        match self {
            ClientError::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Process exit code: 1 a Kafka error, 2 bad usage or input, 3 unreachable, 4 protocol mismatch.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Kafka { .. } => 1,
            ClientError::Config(_) => 2,
            ClientError::Connect { .. } => 3,
            ClientError::Unsupported { .. } | ClientError::Protocol(_) => 4,
        }
    }
}

/// Kafka's name of an error (`UnknownTopicOrPartition` → `UNKNOWN_TOPIC_OR_PARTITION`).
pub fn kafka_name(e: ResponseError) -> String {
    if let ResponseError::Unknown(code) = e {
        return format!("UNKNOWN_ERROR_CODE_{code}");
    }
    let camel = e.to_string();
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The name of a code (for tables of per-partition errors).
pub fn code_name(code: i16) -> String {
    ResponseError::try_from_code(code).map_or_else(|| "NONE".to_string(), kafka_name)
}

/// What to do about the errors people meet most.
fn hint(code: i16) -> Option<&'static str> {
    Some(match code {
        3 => "check the name with `weir topic list`",
        36 => "the topic exists already; `weir topic describe` shows it",
        37 => "use a positive partition count",
        38 => "the cluster has fewer brokers than that replication factor",
        40 => "check the key against `weir config get` of the same resource",
        41 => "ask the controller (retry) or check `weir cluster info`",
        15 | 14 => "the coordinator is starting; retry shortly",
        25 | 22 => "the group is active: stop its consumers first",
        68 => "the group still has members: stop its consumers first",
        69 => "check the name with `weir group list`",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kafkas() {
        assert_eq!(code_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(code_name(36), "TOPIC_ALREADY_EXISTS");
        assert_eq!(code_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(code_name(0), "NONE");
    }

    #[test]
    fn one_line_with_context_message_and_hint() {
        let e = ClientError::check(36, Some("Topic 'a' already exists."))
            .unwrap_err()
            .context("creating topic a".into());
        let line = e.to_string();
        assert_eq!(
            line,
            "creating topic a: TOPIC_ALREADY_EXISTS (Topic 'a' already exists.) — the topic exists already; `weir topic describe` shows it"
        );
        assert_eq!(e.exit_code(), 1);
    }
}
