//! Shared by the group-API handlers: who this broker is, who the client is, and the single mapping from
//! `GroupError` to Kafka error codes.

use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::group::GroupError;

/// This broker's advertised address (FindCoordinator answers with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `node.id` of this broker.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

/// The requesting client, from the request header and the connection (JoinGroup needs both).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientInfo {
    /// `client_id` from the request header ("" when null).
    pub client_id: String,
    /// The peer address as Kafka shows it (`/1.2.3.4`).
    pub client_host: String,
}

pub use super::errors::group_error_code as error_code;

/// Topic ids ⇄ names, for the offset APIs' v10 (KIP-848 names topics by id only): the metadata image in
/// the broker, a fixed table in tests.
pub trait TopicIds: Send + Sync {
    /// The name of the topic with this id, if there is one.
    fn name_of(&self, id: Uuid) -> Option<String>;
    /// The id of the topic with this name, if there is one.
    fn id_of(&self, name: &str) -> Option<Uuid>;
}

impl TopicIds for crate::cluster::Cluster {
    fn name_of(&self, id: Uuid) -> Option<String> {
        self.topic_name(id)
    }

    fn id_of(&self, name: &str) -> Option<Uuid> {
        self.topic(name).map(|t| t.id)
    }
}

/// `error_code` of an optional error, 0 for none.
pub fn code_of(error: &Option<GroupError>) -> i16 {
    error.as_ref().map_or(0, error_code)
}

/// A wire string from an owned string.
pub fn sb(s: String) -> StrBytes {
    StrBytes::from_string(s)
}

/// A wire string from an optional owned string.
pub fn sb_opt(s: Option<String>) -> Option<StrBytes> {
    s.map(StrBytes::from_string)
}

/// An owned string from a wire string.
pub fn own(s: &StrBytes) -> String {
    s.as_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        assert_eq!(error_code(&GroupError::MemberIdRequired), 79);
        assert_eq!(error_code(&GroupError::FencedInstanceId), 82);
        assert_eq!(error_code(&GroupError::RebalanceInProgress), 27);
        assert_eq!(error_code(&GroupError::IllegalGeneration), 22);
        assert_eq!(error_code(&GroupError::UnknownMemberId), 25);
        assert_eq!(error_code(&GroupError::NonEmptyGroup), 68);
        assert_eq!(error_code(&GroupError::GroupIdNotFound), 69);
        assert_eq!(error_code(&GroupError::GroupSubscribedToTopic), 86);
        assert_eq!(error_code(&GroupError::Storage("x".into())), 15);
        assert_eq!(error_code(&GroupError::CorruptRecord("x".into())), -1);
        assert_eq!(code_of(&None), 0);
    }
}
