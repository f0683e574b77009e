//! Handlers: one file per API family, each mapping wire types ⇄ internal calls and declaring the versions
//! it serves. (Group-coordinator handlers only on this branch; the lead's dispatch wires them in.)

pub mod delete_groups;
pub mod describe_groups;
pub mod find_coordinator;
pub mod group_common;
pub mod heartbeat;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod sync_group;

pub use group_common::NodeInfo;

#[cfg(test)]
mod group_handler_tests;
