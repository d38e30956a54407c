//! Delegation (ủy quyền): a staff member lends roles to a colleague of their
//! unit for a period — leave, a business trip — and may take them back.
//! Actions taken through a lent role record both people (docs/delegation.md).

use chrono::{Duration, NaiveDateTime};

use super::roles::Role;

/// The roles that can be lent: those that work dossiers.
pub const LENDABLE: [Role; 3] = [Role::Clerk, Role::Specialist, Role::Approver];

/// The longest a delegation lasts.
pub const MAX_DAYS: i64 = 90;

/// A delegation as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant<'a> {
    pub delegator_roles: &'a [Role],
    pub delegator_unit: Option<&'a str>,
    pub delegate_id: &'a str,
    pub delegator_id: &'a str,
    pub delegate_unit: Option<&'a str>,
    pub delegate_active: bool,
    pub roles: &'a [Role],
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
}

/// Why a delegation cannot be granted: the field and the rule.
pub type Problems = Vec<(&'static str, &'static str)>;

/// Whether `g` may be granted at `now`: roles the delegator holds and that
/// work dossiers, to another active account of the same unit, for a period
/// that has not ended and lasts at most `MAX_DAYS` days.
pub fn check(g: &Grant<'_>, now: NaiveDateTime) -> Result<(), Problems> {
    let mut problems = Problems::new();
    if g.roles.is_empty() || g.roles.iter().any(|r| !LENDABLE.contains(r) || !g.delegator_roles.contains(r)) {
        problems.push(("roles", "roles you hold among clerk, specialist and approver"));
    }
    if g.delegate_id == g.delegator_id {
        problems.push(("delegate_id", "a colleague, not yourself"));
    } else if !g.delegate_active || g.delegator_unit.is_none() || g.delegate_unit != g.delegator_unit {
        problems.push(("delegate_id", "an active colleague of your unit"));
    }
    if g.ends_at <= g.starts_at || g.ends_at <= now {
        problems.push(("ends_at", "after the start, and not in the past"));
    } else if g.ends_at - g.starts_at > Duration::days(MAX_DAYS) {
        problems.push(("ends_at", "at most 90 days after the start"));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Whether a delegation from `starts_at` to `ends_at`, revoked at `revoked_at`,
/// lends its roles at `now`.
pub fn in_force(
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> bool {
    starts_at <= now && now < ends_at && revoked_at.is_none_or(|r| r > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn grant<'a>(roles: &'a [Role]) -> Grant<'a> {
        Grant {
            delegator_roles: &[Role::Specialist, Role::Auditor],
            delegator_unit: Some("u1"),
            delegator_id: "a",
            delegate_id: "b",
            delegate_unit: Some("u1"),
            delegate_active: true,
            roles,
            starts_at: t("2026-03-02 07:00"),
            ends_at: t("2026-03-09 07:00"),
        }
    }

    fn fields(g: &Grant<'_>) -> Vec<&'static str> {
        check(g, t("2026-03-01 00:00")).err().unwrap_or_default().into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn only_ones_own_dossier_roles_to_an_active_colleague_for_a_while() {
        assert_eq!(check(&grant(&[Role::Specialist]), t("2026-03-01 00:00")), Ok(()));
        assert_eq!(fields(&grant(&[Role::Approver])), ["roles"], "not held");
        assert_eq!(fields(&grant(&[Role::Auditor])), ["roles"], "held, but does not work dossiers");
        assert_eq!(fields(&grant(&[])), ["roles"]);
        assert_eq!(fields(&Grant { delegate_id: "a", ..grant(&[Role::Specialist]) }), ["delegate_id"]);
        assert_eq!(fields(&Grant { delegate_unit: Some("u2"), ..grant(&[Role::Specialist]) }), ["delegate_id"]);
        assert_eq!(fields(&Grant { delegate_active: false, ..grant(&[Role::Specialist]) }), ["delegate_id"]);
        let backwards = Grant { ends_at: t("2026-03-02 06:00"), ..grant(&[Role::Specialist]) };
        assert_eq!(fields(&backwards), ["ends_at"]);
        let long = Grant { ends_at: t("2026-06-02 07:00"), ..grant(&[Role::Specialist]) };
        assert_eq!(fields(&long), ["ends_at"]);
        let past = check(&grant(&[Role::Specialist]), t("2026-03-10 00:00"));
        assert_eq!(past.unwrap_err()[0].0, "ends_at");
    }

    #[test]
    fn a_delegation_lends_from_its_start_until_it_ends_or_is_revoked() {
        let (start, end) = (t("2026-03-02 07:00"), t("2026-03-09 07:00"));
        assert!(!in_force(start, end, None, t("2026-03-02 06:59")));
        assert!(in_force(start, end, None, start));
        assert!(!in_force(start, end, None, end));
        assert!(in_force(start, end, Some(t("2026-03-05 00:00")), t("2026-03-04 23:59")));
        assert!(!in_force(start, end, Some(t("2026-03-05 00:00")), t("2026-03-05 00:00")));
    }
}
