//! The roles of NATS users and exactly what each may publish and subscribe to.
//!
//! Everything not listed is denied. The lists were checked against nats-server 2.9 and the
//! subjects async-nats 0.51 uses (bus/tests/it/auth.rs exercises each entry and each refusal).

use std::fmt;

use alloy_primitives::Address;
use nsed_protocol::wire::{HEARTBEAT_WILDCARD, RESULTS_STREAM, TASKS_STREAM, task_subject};

use crate::{consumer_name, inbox_prefix};

/// What a NATS user is for; decides its permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The administrator: may publish and subscribe to everything, and so is the only user
    /// that creates, updates, purges or deletes streams.
    Operator,
    /// A keeper: publishes tasks, reads results and heartbeats.
    Keeper {
        /// The user's name, e.g. `keeper`.
        name: String,
    },
    /// An agent's worker: reads its own task queue, publishes its own results and heartbeats.
    Agent(Address),
}

impl Role {
    /// The user name: `operator`, the keeper's name, or `agent-<0x address>`.
    ///
    /// ```
    /// use alloy_primitives::Address;
    /// use nsed_bus::auth::Role;
    /// assert_eq!(
    ///     Role::Agent(Address::repeat_byte(0xab)).user_name(),
    ///     "agent-0xabababababababababababababababababababab"
    /// );
    /// ```
    pub fn user_name(&self) -> String {
        match self {
            Self::Operator => super::OPERATOR.to_owned(),
            Self::Keeper { name } => name.clone(),
            Self::Agent(address) => format!("{AGENT_PREFIX}{address:#x}"),
        }
    }

    /// What a user of this role with the NKey `public_key` may publish and subscribe to.
    pub fn permissions(&self, public_key: &str) -> Permissions {
        let inbox = Allow::new(
            format!("{}.>", inbox_prefix(public_key)),
            "replies to its own requests (JetStream API answers, publish acks, pulled messages); \
             no other user's inbox",
        );
        match self {
            Self::Operator => Permissions {
                publish: vec![Allow::new(">", "everything: stream administration included")],
                subscribe: vec![Allow::new(">", "everything")],
            },
            Self::Keeper { .. } => Permissions {
                publish: [
                    vec![Allow::new("nsed.task.*", "tasks for any agent's queue")],
                    stream_lookups(),
                    vec![
                        // An ordered consumer is first created without a name (this subject),
                        // then recreated under `<name>.<filter>` after a gap or a server restart.
                        Allow::new(
                            format!("$JS.API.CONSUMER.CREATE.{RESULTS_STREAM}"),
                            "creates the ordered consumers that read results (all new ones, or a resumed phase's)",
                        ),
                        Allow::new(
                            format!("$JS.API.CONSUMER.CREATE.{RESULTS_STREAM}.>"),
                            "recreates that ordered consumer under a name and filter",
                        ),
                        Allow::new(
                            format!("$JS.API.CONSUMER.INFO.{RESULTS_STREAM}.*"),
                            "looks its result consumers up",
                        ),
                        Allow::new(
                            format!("$JS.API.CONSUMER.DELETE.{RESULTS_STREAM}.*"),
                            "deletes a result consumer before recreating it, and when its phase ends",
                        ),
                        Allow::new(
                            format!("$JS.API.CONSUMER.MSG.NEXT.{RESULTS_STREAM}.*"),
                            "pulls results",
                        ),
                    ],
                ]
                .concat(),
                subscribe: vec![Allow::new(HEARTBEAT_WILDCARD, "every agent's heartbeat"), inbox],
            },
            Self::Agent(agent) => {
                let token = format!("{agent:#x}");
                let consumer = consumer_name(*agent);
                Permissions {
                    publish: [
                        vec![
                            Allow::new(
                                format!("nsed.result.*.*.*.{token}"),
                                "its own proposals and ballots (job, round and phase vary)",
                            ),
                            Allow::new(
                                format!("nsed.result.*.*.*.{token}.failed"),
                                "its own failure reports",
                            ),
                            Allow::new(format!("nsed.heartbeat.{token}"), "its own heartbeats"),
                        ],
                        stream_lookups(),
                        vec![
                            Allow::new(
                                format!("$JS.API.CONSUMER.INFO.{TASKS_STREAM}.{consumer}"),
                                "looks its own task consumer up",
                            ),
                            // async-nats puts the consumer name and its filter in the subject, and
                            // the server refuses a request whose body names another filter, so
                            // this entry allows exactly one consumer on exactly its own queue.
                            Allow::new(
                                format!(
                                    "$JS.API.CONSUMER.CREATE.{TASKS_STREAM}.{consumer}.{}",
                                    task_subject(*agent)
                                ),
                                "creates its own durable consumer, filtered to its own queue",
                            ),
                            Allow::new(
                                format!("$JS.API.CONSUMER.MSG.NEXT.{TASKS_STREAM}.{consumer}"),
                                "pulls its own tasks",
                            ),
                            Allow::new(
                                format!("$JS.ACK.{TASKS_STREAM}.{consumer}.>"),
                                "acks, naks and progress reports for its own tasks",
                            ),
                        ],
                    ]
                    .concat(),
                    subscribe: vec![inbox],
                }
            }
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Operator => f.write_str("operator"),
            Self::Keeper { name } => write!(f, "keeper {name}"),
            Self::Agent(address) => write!(f, "agent {address:#x}"),
        }
    }
}

/// The prefix of agent user names.
pub(super) const AGENT_PREFIX: &str = "agent-";

/// Lookups every service makes: `ensure_streams` checks both streams exist.
fn stream_lookups() -> Vec<Allow> {
    vec![
        Allow::new("$JS.API.INFO", "JetStream account information"),
        Allow::new(
            format!("$JS.API.STREAM.INFO.{TASKS_STREAM}"),
            "checks that the task stream exists",
        ),
        Allow::new(
            format!("$JS.API.STREAM.INFO.{RESULTS_STREAM}"),
            "checks that the result stream exists",
        ),
    ]
}

/// The subjects one user may publish and subscribe to; everything else is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// Subjects it may publish to (JetStream API requests and acks are publishes too).
    pub publish: Vec<Allow>,
    /// Subjects it may subscribe to.
    pub subscribe: Vec<Allow>,
}

/// One allowed subject (wildcards allowed) and why the role needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// The subject.
    pub subject: String,
    /// Why the role needs it; written next to it in the server configuration.
    pub why: &'static str,
}

impl Allow {
    fn new(subject: impl Into<String>, why: &'static str) -> Self {
        Self { subject: subject.into(), why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(allows: &[Allow]) -> Vec<&str> {
        allows.iter().map(|a| a.subject.as_str()).collect()
    }

    #[test]
    fn agent_may_touch_only_its_own_subjects() {
        let agent = Address::repeat_byte(0xab);
        let a = "0xabababababababababababababababababababab";
        let c = "worker-abababababababababababababababababababab";
        let permissions = Role::Agent(agent).permissions("UKEY");
        assert_eq!(
            subjects(&permissions.publish),
            [
                format!("nsed.result.*.*.*.{a}"),
                format!("nsed.result.*.*.*.{a}.failed"),
                format!("nsed.heartbeat.{a}"),
                "$JS.API.INFO".to_owned(),
                "$JS.API.STREAM.INFO.NSED_TASKS".to_owned(),
                "$JS.API.STREAM.INFO.NSED_RESULTS".to_owned(),
                format!("$JS.API.CONSUMER.INFO.NSED_TASKS.{c}"),
                format!("$JS.API.CONSUMER.CREATE.NSED_TASKS.{c}.nsed.task.{a}"),
                format!("$JS.API.CONSUMER.MSG.NEXT.NSED_TASKS.{c}"),
                format!("$JS.ACK.NSED_TASKS.{c}.>"),
            ]
        );
        assert_eq!(subjects(&permissions.subscribe), ["_INBOX_UKEY.>"]);
    }

    #[test]
    fn only_the_operator_may_administer_streams() {
        for role in [Role::Keeper { name: "k".into() }, Role::Agent(Address::ZERO)] {
            for allow in role.permissions("U").publish {
                let subject = allow.subject.as_str();
                // Stream administration (create, update, delete, purge, message deletion) lives
                // under `$JS.API.STREAM.`; only the exact lookups are allowed.
                if subject.starts_with("$JS.API.STREAM.") {
                    assert!(subject.starts_with("$JS.API.STREAM.INFO."), "{role}: {subject}");
                    assert!(!subject.contains(['*', '>']), "{role}: {subject}");
                }
                assert!(!["$JS.>", "$JS.API.>", ">"].contains(&subject), "{role}: {subject}");
            }
        }
        assert_eq!(subjects(&Role::Operator.permissions("U").publish), [">"]);
    }
}
