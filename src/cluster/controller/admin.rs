//! Admin requests on the controller: topics created, deleted, grown and reconfigured. Validation happens
//! here, against the image, so every broker forwarding a request gets the same answer.

use rand::Rng;
use uuid::Uuid;

use super::{ControllerConfig, ControllerError, ControllerReply, ControllerRequest};
use crate::cluster::image::{initial_state, MetadataImage, TopicMeta};
use crate::cluster::placement::{self, Candidate};
use crate::cluster::records::MetadataRecord;
use crate::cluster::{topic_config, topic_name, PARTITIONS_PER_TOPIC_MAX};

type Decision = (ControllerReply, Vec<MetadataRecord>);

/// Validates and decides one admin request.
pub(super) fn handle(
    config: &ControllerConfig,
    image: &MetadataImage,
    req: ControllerRequest,
) -> Result<Decision, ControllerError> {
    match req {
        ControllerRequest::CreateTopic {
            name,
            partitions,
            replication_factor,
            configs,
            internal,
            validate_only,
            assignments,
        } => {
            let shape = match assignments {
                Some(manual) => Shape::Manual(manual),
                None => Shape::Count {
                    partitions,
                    replication_factor,
                },
            };
            let meta = new_topic(config, image, name, shape, configs, internal)?;
            let records = if validate_only {
                Vec::new()
            } else {
                vec![MetadataRecord::CreateTopic {
                    name: meta.name.clone(),
                    id: meta.id,
                    configs: meta.configs.clone(),
                    internal,
                    assignments: meta.partitions.iter().map(|p| p.replicas.clone()).collect(),
                }]
            };
            Ok((ControllerReply::Topic(meta), records))
        }
        ControllerRequest::DeleteTopic { name } => {
            let t = image
                .topics
                .get(&name)
                .ok_or(ControllerError::UnknownTopic)?;
            let records = vec![MetadataRecord::DeleteTopic { id: t.id }];
            Ok((ControllerReply::Topic(t.clone()), records))
        }
        ControllerRequest::CreatePartitions {
            name,
            total,
            validate_only,
            assignments,
        } => create_partitions(image, &name, total, assignments, validate_only),
        ControllerRequest::AlterTopicConfigs {
            name,
            configs,
            validate_only,
        } => {
            topic_config::log_config(&config.log_defaults, &configs)
                .map_err(ControllerError::InvalidConfig)?;
            let t = image
                .topics
                .get(&name)
                .ok_or(ControllerError::UnknownTopic)?;
            let records = if validate_only {
                Vec::new()
            } else {
                vec![MetadataRecord::TopicConfigs { id: t.id, configs }]
            };
            Ok((ControllerReply::Done, records))
        }
        other => Err(ControllerError::Quorum(format!(
            "not an admin request: {other:?}"
        ))),
    }
}

/// Live brokers as placement candidates.
fn candidates(image: &MetadataImage) -> Vec<Candidate> {
    image
        .live_brokers()
        .map(|b| Candidate {
            id: b.id,
            rack: b.rack.clone(),
        })
        .collect()
}

/// Places `count` partitions from index `first` with `rf` replicas on the live brokers.
fn place(
    image: &MetadataImage,
    count: usize,
    first: usize,
    rf: i16,
) -> Result<Vec<Vec<i32>>, ControllerError> {
    let brokers = candidates(image);
    let n = brokers.len().max(1);
    let mut rng = rand::rng();
    let (start, shift) = (rng.random_range(0..n), rng.random_range(0..n));
    let rf = usize::try_from(rf).unwrap_or(0);
    placement::assign(&brokers, count, first, rf, start, shift)
        .map_err(ControllerError::InvalidReplicationFactor)
}

/// How a new topic's partitions are laid out: a count placed by the controller, or the client's own
/// replica lists.
enum Shape {
    Count {
        partitions: i32,
        replication_factor: i16,
    },
    Manual(Vec<Vec<i32>>),
}

/// Checks one client-given replica list as Kafka's `validateManualPartitionAssignment` does: not empty,
/// registered brokers, no duplicates, and `rf` replicas when the topic already has a replication factor.
pub(super) fn check_manual(
    image: &MetadataImage,
    replicas: &[i32],
    rf: Option<usize>,
) -> Result<(), ControllerError> {
    let invalid = |m: String| Err(ControllerError::InvalidReplicaAssignment(m));
    if replicas.is_empty() {
        return invalid("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    for (i, id) in sorted.iter().enumerate() {
        if !image.brokers.contains_key(id) {
            return invalid(format!(
                "The manual partition assignment includes broker {id}, but no such broker is registered."
            ));
        }
        if i > 0 && sorted[i - 1] == *id {
            return invalid(format!(
                "The manual partition assignment includes the broker {id} more than once."
            ));
        }
    }
    match rf {
        Some(rf) if rf != sorted.len() => invalid(format!(
            "The manual partition assignment includes a partition with {} replica(s), but this is not \
             consistent with previous partitions, which have {rf} replica(s).",
            sorted.len()
        )),
        _ => Ok(()),
    }
}

/// Checks client-given replica lists for partitions `first..`: each valid, one replication factor, and
/// a live replica in each (Kafka refuses a partition born without a leader).
fn check_manual_all(
    image: &MetadataImage,
    assignments: &[Vec<i32>],
    first: usize,
    mut rf: Option<usize>,
) -> Result<(), ControllerError> {
    for (i, replicas) in assignments.iter().enumerate() {
        check_manual(image, replicas, rf)?;
        rf = Some(replicas.len());
        if !replicas.iter().any(|r| image.live_broker(*r).is_some()) {
            return Err(ControllerError::InvalidReplicaAssignment(format!(
                "All brokers specified in the manual partition assignment for partition {} are fenced \
                 or in controlled shutdown.",
                first + i
            )));
        }
    }
    Ok(())
}

fn new_topic(
    config: &ControllerConfig,
    image: &MetadataImage,
    name: String,
    shape: Shape,
    configs: std::collections::BTreeMap<String, String>,
    internal: bool,
) -> Result<TopicMeta, ControllerError> {
    topic_name::validate(&name).map_err(ControllerError::InvalidTopic)?;
    let (partitions, rf) = match &shape {
        Shape::Count {
            partitions,
            replication_factor,
        } => (*partitions, *replication_factor),
        Shape::Manual(a) => (
            i32::try_from(a.len()).unwrap_or(i32::MAX),
            a.first()
                .map_or(0, |r| i16::try_from(r.len()).unwrap_or(i16::MAX)),
        ),
    };
    if !(1..=PARTITIONS_PER_TOPIC_MAX).contains(&partitions) {
        return Err(ControllerError::InvalidPartitions(format!(
            "Number of partitions must be between 1 and {PARTITIONS_PER_TOPIC_MAX}, was {partitions}."
        )));
    }
    if let Shape::Manual(a) = &shape {
        check_manual_all(image, a, 0, None)?;
    }
    if rf < 1 {
        return Err(ControllerError::InvalidReplicationFactor(
            "Replication factor must be larger than 0.".into(),
        ));
    }
    topic_config::log_config(&config.log_defaults, &configs)
        .map_err(ControllerError::InvalidConfig)?;
    if image.topics.contains_key(&name) {
        return Err(ControllerError::TopicAlreadyExists(name));
    }
    let key = topic_name::collision_key(&name);
    if let Some(other) = image
        .topics
        .keys()
        .find(|t| topic_name::collision_key(t) == key)
    {
        return Err(ControllerError::InvalidTopic(format!(
            "Topic '{name}' collides with existing topic: {other}"
        )));
    }
    let assignments = match shape {
        Shape::Manual(a) => a,
        Shape::Count { .. } => place(image, usize::try_from(partitions).unwrap_or(0), 0, rf)?,
    };
    Ok(TopicMeta {
        name,
        id: Uuid::new_v4(),
        configs,
        internal,
        partitions: assignments.iter().map(|r| initial_state(r)).collect(),
    })
}

fn create_partitions(
    image: &MetadataImage,
    name: &str,
    total: i32,
    manual: Option<Vec<Vec<i32>>>,
    validate_only: bool,
) -> Result<Decision, ControllerError> {
    let t = image
        .topics
        .get(name)
        .ok_or(ControllerError::UnknownTopic)?;
    let current = t.partition_count();
    if total <= current {
        return Err(ControllerError::InvalidPartitions(format!(
            "Topic currently has {current} partitions, which is higher than the requested {total}."
        )));
    }
    if total > PARTITIONS_PER_TOPIC_MAX {
        return Err(ControllerError::InvalidPartitions(format!(
            "Number of partitions must be at most {PARTITIONS_PER_TOPIC_MAX}, was {total}."
        )));
    }
    let first = usize::try_from(current).unwrap_or(0);
    let count = usize::try_from(total - current).unwrap_or(0);
    let assignments = match manual {
        Some(manual) => {
            if manual.len() != count {
                return Err(ControllerError::InvalidReplicaAssignment(format!(
                    "Attempted to add {count} additional partition(s), but only {} assignment(s) \
                     were specified.",
                    manual.len()
                )));
            }
            let rf = usize::try_from(t.replication_factor()).unwrap_or(0);
            check_manual_all(image, &manual, first, Some(rf))?;
            manual
        }
        None => place(image, count, first, t.replication_factor())?,
    };
    let records = if validate_only {
        Vec::new()
    } else {
        vec![MetadataRecord::CreatePartitions {
            id: t.id,
            assignments,
        }]
    };
    Ok((ControllerReply::Done, records))
}
