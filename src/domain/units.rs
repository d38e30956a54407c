//! The administrative tree: which level may sit under which. Nothing assumes
//! that a commune's parent is a district: three-tier (province → district →
//! commune) and two-tier (province → commune) trees are both valid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    District,
    Commune,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Province, Level::District, Level::Commune];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::District => "district",
            Level::Commune => "commune",
        }
    }

    /// A unit may sit under a parent of a strictly higher level; a root is a
    /// province.
    pub fn may_sit_under(self, parent: Option<Level>) -> bool {
        match parent {
            None => self == Level::Province,
            Some(p) => p < self,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown level `{s}`: one of province, district, commune"))
    }
}

/// A unit code: 1 to 16 ASCII letters, digits, `.` or `-`.
pub fn check_unit_code(code: &str) -> Result<(), &'static str> {
    let ok =
        (1..=16).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok { Ok(()) } else { Err("a unit code has 1 to 16 letters, digits, `.` or `-`") }
}

/// The materialised path of a unit under `parent_path` (or a root).
pub fn child_path(parent_path: Option<&str>, id: &str) -> String {
    format!("{}{id}/", parent_path.unwrap_or("/"))
}

/// Whether the unit at `path` lies in the subtree rooted at `root_path`.
pub fn in_subtree(path: &str, root_path: &str) -> bool {
    path.starts_with(root_path)
}

/// How a clerk of the desk at `desk_path` receives a dossier for the unit
/// at `unit_path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reception {
    /// A unit of the clerk's subtree.
    Own,
    /// Another unit of the same province: received at the clerk's desk and
    /// routed to the competent unit (Decree 118/2025/NĐ-CP, reception
    /// regardless of administrative boundaries within the province).
    ForAnother,
}

/// Whether, and how, a clerk of the desk at `desk_path` registers a dossier
/// for the unit at `unit_path`: `None` for a unit of another province.
pub fn reception(unit_path: &str, desk_path: &str) -> Option<Reception> {
    let province = |p: &str| p.split('/').find(|s| !s.is_empty()).map(str::to_string);
    if in_subtree(unit_path, desk_path) {
        Some(Reception::Own)
    } else if province(unit_path).is_some() && province(unit_path) == province(desk_path) {
        Some(Reception::ForAnother)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_and_two_tier_trees_are_both_valid() {
        assert!(Level::Province.may_sit_under(None));
        assert!(Level::District.may_sit_under(Some(Level::Province)));
        assert!(Level::Commune.may_sit_under(Some(Level::District)));
        assert!(Level::Commune.may_sit_under(Some(Level::Province)));
    }

    #[test]
    fn levels_never_sit_under_their_equals_or_inferiors() {
        assert!(!Level::District.may_sit_under(None));
        assert!(!Level::Province.may_sit_under(Some(Level::Province)));
        assert!(!Level::District.may_sit_under(Some(Level::Commune)));
        assert!(!Level::Commune.may_sit_under(Some(Level::Commune)));
    }

    #[test]
    fn paths_nest() {
        let root = child_path(None, "a");
        let child = child_path(Some(&root), "b");
        assert_eq!(child, "/a/b/");
        assert!(in_subtree(&child, &root));
        assert!(!in_subtree(&root, &child));
        assert!(!in_subtree("/ab/", "/a/"));
    }

    #[test]
    fn any_desk_of_the_province_receives() {
        assert_eq!(reception("/p/d1/c1/", "/p/d1/"), Some(Reception::Own));
        assert_eq!(reception("/p/d2/c9/", "/p/d1/c1/"), Some(Reception::ForAnother));
        assert_eq!(reception("/p/", "/p/d1/"), Some(Reception::ForAnother), "a provincial department");
        assert_eq!(reception("/q/d1/", "/p/d1/"), None, "another province");
    }

    #[test]
    fn unit_codes() {
        assert!(check_unit_code("22").is_ok());
        assert!(check_unit_code("06658").is_ok());
        assert!(check_unit_code("").is_err());
        assert!(check_unit_code("a b").is_err());
    }
}
