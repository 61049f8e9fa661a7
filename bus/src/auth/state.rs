//! The state file (`users.json`): the server settings and the users, by public key only.

use std::path::PathBuf;

use alloy_primitives::Address;
use nkeys::KeyPair;
use serde::{Deserialize, Serialize};

use super::{OPERATOR, Role, ServerTls, roles::AGENT_PREFIX};

/// The version of the state file format this code reads and writes.
pub(super) const STATE_VERSION: u32 = 1;

/// Everything the server configuration is rendered from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct State {
    /// [`STATE_VERSION`].
    pub(super) version: u32,
    /// Where the server listens and keeps JetStream data, and its TLS files.
    pub(super) server: ServerSettings,
    /// The users, operator first.
    pub(super) users: Vec<User>,
}

/// The server settings given to [`super::AuthDir::init`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerSettings {
    pub(super) listen: String,
    pub(super) store_dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) tls: Option<ServerTls>,
}

/// A NATS user: its role and NKey public key. The seed is never stored here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UserRecord", into = "UserRecord")]
#[non_exhaustive]
pub struct User {
    /// The user name, [`Role::user_name`]; also names its seed file.
    pub name: String,
    /// What the user is for.
    pub role: Role,
    /// The NKey public key (`U…`) the server authenticates it by.
    pub public_key: String,
}

impl User {
    pub(super) fn new(role: Role, public_key: String) -> Self {
        Self { name: role.user_name(), role, public_key }
    }
}

/// How a user is written in `users.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRecord {
    role: RoleKind,
    name: String,
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<Address>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RoleKind {
    Operator,
    Keeper,
    Agent,
}

impl From<User> for UserRecord {
    fn from(user: User) -> Self {
        let (role, address) = match user.role {
            Role::Operator => (RoleKind::Operator, None),
            Role::Keeper { .. } => (RoleKind::Keeper, None),
            Role::Agent(address) => (RoleKind::Agent, Some(address)),
        };
        Self { role, name: user.name, public_key: user.public_key, address }
    }
}

impl TryFrom<UserRecord> for User {
    type Error = String;

    fn try_from(record: UserRecord) -> Result<Self, String> {
        let role = match (record.role, record.address) {
            (RoleKind::Operator, None) => Role::Operator,
            (RoleKind::Keeper, None) => Role::Keeper { name: record.name.clone() },
            (RoleKind::Agent, Some(address)) => Role::Agent(address),
            (RoleKind::Agent, None) => return Err(format!("agent {} has no address", record.name)),
            (_, Some(_)) => return Err(format!("only agents have an address ({})", record.name)),
        };
        if role.user_name() != record.name {
            return Err(format!("user {} should be named {}", record.name, role.user_name()));
        }
        if let Role::Keeper { name } = &role {
            check_keeper_name(name)?;
        }
        let key = KeyPair::from_public_key(&record.public_key)
            .map_err(|err| format!("user {}: public key: {err}", record.name))?;
        if key.key_pair_type() != nkeys::KeyPairType::User {
            return Err(format!("user {}: {} is not a user key", record.name, record.public_key));
        }
        Ok(Self { name: record.name, role, public_key: record.public_key })
    }
}

/// Keeper names become file names and must not collide with the operator or agents.
pub(super) fn check_keeper_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("a keeper name has 1 to 64 characters".to_owned());
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err("a keeper name uses only a-z, 0-9, `-` and `_`".to_owned());
    }
    if name == OPERATOR || name.starts_with(AGENT_PREFIX) {
        return Err(format!("`{OPERATOR}` and names starting with `{AGENT_PREFIX}` are reserved"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_round_trip_through_json() {
        let key = KeyPair::new_user().public_key();
        for role in [
            Role::Operator,
            Role::Keeper { name: "keeper-2".into() },
            Role::Agent(Address::repeat_byte(0xcd)),
        ] {
            let user = User::new(role, key.clone());
            let json = serde_json::to_string(&user).unwrap();
            assert_eq!(serde_json::from_str::<User>(&json).unwrap(), user, "{json}");
        }
    }

    #[test]
    fn inconsistent_records_are_rejected() {
        let key = KeyPair::new_user().public_key();
        let account = KeyPair::new_account().public_key();
        for json in [
            format!(r#"{{"role":"agent","name":"agent-0x00","public_key":"{key}"}}"#),
            format!(r#"{{"role":"operator","name":"root","public_key":"{key}"}}"#),
            format!(r#"{{"role":"keeper","name":"Keeper","public_key":"{key}"}}"#),
            format!(r#"{{"role":"keeper","name":"k","public_key":"{account}"}}"#),
            r#"{"role":"keeper","name":"k","public_key":"UNOTAKEY"}"#.to_owned(),
        ] {
            assert!(serde_json::from_str::<User>(&json).is_err(), "{json}");
        }
    }

    #[test]
    fn keeper_names_are_checked() {
        for good in ["keeper", "keeper-2", "k_1"] {
            assert!(check_keeper_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Keeper", "a/b", "a.b", "operator", "agent-x", &"k".repeat(65)] {
            assert!(check_keeper_name(bad).is_err(), "{bad}");
        }
    }
}
