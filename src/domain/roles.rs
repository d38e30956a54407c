//! Roles and what distinguishes staff from citizens.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Clerk,
    Specialist,
    Approver,
    Auditor,
    Admin,
    /// The national public service portal's service account: files the
    /// dossiers citizens filed on the portal (docs/portal.md), nothing else.
    Portal,
}

impl Role {
    pub const STAFF: [Role; 5] = [Role::Clerk, Role::Specialist, Role::Approver, Role::Auditor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Clerk => "clerk",
            Role::Specialist => "specialist",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Portal => "portal",
        }
    }

    pub fn is_staff(self) -> bool {
        Role::STAFF.contains(&self)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Role::Citizen, Role::Portal].into_iter().chain(Role::STAFF).find(|r| r.as_str() == s).ok_or_else(|| {
            format!("unknown role `{s}`: one of citizen, clerk, specialist, approver, auditor, admin, portal")
        })
    }
}

/// The roles of a staff account: one or more, no duplicates, never `citizen`.
pub fn parse_staff_roles(roles: &[Role]) -> Result<Vec<Role>, &'static str> {
    let mut out = roles.to_vec();
    out.sort();
    out.dedup();
    if out.is_empty() {
        Err("a staff account has at least one role")
    } else if out.contains(&Role::Citizen) {
        Err("a staff account cannot have the citizen role")
    } else if out.contains(&Role::Portal) {
        Err("the portal's service account is made by `motcua portal account`")
    } else {
        Ok(out)
    }
}

/// Stored form: comma-separated names.
pub fn encode(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

pub fn decode(s: &str) -> Vec<Role> {
    s.split(',').filter_map(|r| r.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_storage() {
        let roles = vec![Role::Clerk, Role::Approver];
        assert_eq!(decode(&encode(&roles)), roles);
        assert_eq!("auditor".parse::<Role>().unwrap(), Role::Auditor);
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn staff_roles_are_normalised() {
        assert_eq!(
            parse_staff_roles(&[Role::Specialist, Role::Clerk, Role::Clerk]).unwrap(),
            vec![Role::Clerk, Role::Specialist]
        );
        assert!(parse_staff_roles(&[]).is_err());
        assert!(parse_staff_roles(&[Role::Citizen, Role::Clerk]).is_err());
        assert!(parse_staff_roles(&[Role::Portal]).is_err());
        assert!(!Role::Portal.is_staff());
        assert_eq!("portal".parse::<Role>().unwrap(), Role::Portal);
    }
}
