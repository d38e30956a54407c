//! The procedure catalogue (thủ tục hành chính).

pub mod routes;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{procedure_components, procedures};
use crate::domain::text::fold;
use crate::domain::units::Level;
use crate::error::{ApiError, Validator};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnlineLevel {
    /// The whole procedure, payment and result included, runs online.
    Full,
    /// Some steps (e.g. signing in person) still need the counter.
    Partial,
}

impl OnlineLevel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Partial => "partial",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "partial" { Self::Partial } else { Self::Full }
    }
}

/// One required document of a procedure.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub name: String,
    pub mandatory: bool,
    /// Whether a certified electronic copy of a paper original is accepted.
    pub e_copy_accepted: bool,
}

/// Everything that defines a procedure: the body of a create, and what an
/// update changes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcedureSpec {
    /// The province catalogue's code: the national code for a national
    /// procedure (`1.001193`), the province's own for a local one.
    pub code: String,
    /// The code in the national procedure database (MaTTHC, a digit, a dot
    /// and six digits), which the national portal knows the procedure by
    /// (docs/portal.md).
    #[serde(default)]
    pub national_code: Option<String>,
    pub name: String,
    /// Sector (lĩnh vực), e.g. `Hộ tịch`.
    pub field: String,
    /// Levels whose units perform the procedure.
    pub levels: Vec<Level>,
    /// Processing time in working days.
    pub processing_days: i32,
    /// Dossiers received at or after this hour (local time) count from the
    /// next working day.
    pub cutoff_hour: i32,
    /// Fee in VND.
    pub fee_vnd: i64,
    pub online_level: OnlineLevel,
    /// Whether the result is a document (and so can be an e-result).
    pub result_is_document: bool,
    /// Whether the result is a copy certified from an original (chứng thực
    /// bản sao từ bản chính): its dossiers are the statistics' requests for
    /// certified copies (docs/statistics.md).
    #[serde(default)]
    pub certifies_copies: bool,
    pub components: Vec<Component>,
}

impl ProcedureSpec {
    pub fn validate(&mut self) -> Result<(), ApiError> {
        self.name = self.name.trim().to_string();
        self.field = self.field.trim().to_string();
        self.levels.sort();
        self.levels.dedup();
        let mut v = Validator::default();
        let code_ok = (1..=32).contains(&self.code.len())
            && self.code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        v.check(code_ok, "code", "a procedure code has 1 to 32 letters, digits, `.` or `-`");
        v.check(
            self.national_code.as_deref().is_none_or(crate::domain::portal::valid_procedure_code),
            "national_code",
            "a national procedure code is a digit, a dot and six digits, e.g. 1.001612",
        );
        v.text("name", &self.name, 500);
        v.text("field", &self.field, 200);
        v.check(!self.levels.is_empty(), "levels", "at least one level performs the procedure");
        v.check((0..=365).contains(&self.processing_days), "processing_days", "between 0 and 365 working days");
        v.check((0..=24).contains(&self.cutoff_hour), "cutoff_hour", "an hour between 0 and 24");
        v.check((0..=1_000_000_000_000).contains(&self.fee_vnd), "fee_vnd", "a fee between 0 and 10^12 VND");
        v.check((1..=50).contains(&self.components.len()), "components", "between 1 and 50 components");
        for (i, c) in self.components.iter_mut().enumerate() {
            c.name = c.name.trim().to_string();
            v.text(&format!("components[{i}].name"), &c.name, 500);
        }
        v.finish()
    }
}

/// A procedure as the catalogue shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProcedureView {
    pub id: String,
    #[serde(flatten)]
    pub spec: ProcedureSpec,
    pub active: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = procedures)]
pub struct ProcedureRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub field: String,
    pub levels: String,
    pub processing_days: i32,
    pub cutoff_hour: i32,
    pub fee_vnd: i64,
    pub online_level: String,
    pub result_is_document: bool,
    pub active: bool,
    pub national_code: Option<String>,
    pub certifies_copies: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = procedure_components)]
struct ComponentRow {
    procedure_id: String,
    name: String,
    mandatory: bool,
    e_copy_accepted: bool,
}

fn encode_levels(levels: &[Level]) -> String {
    levels.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(",")
}

/// Loads the components of `rows` in one query and assembles the views.
pub fn views(conn: &mut DbConnection, rows: Vec<ProcedureRow>) -> QueryResult<Vec<ProcedureView>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut components: HashMap<String, Vec<Component>> = HashMap::new();
    for c in procedure_components::table
        .filter(procedure_components::procedure_id.eq_any(&ids))
        .order((procedure_components::procedure_id, procedure_components::position))
        .select(ComponentRow::as_select())
        .load(conn)?
    {
        components.entry(c.procedure_id).or_default().push(Component {
            name: c.name,
            mandatory: c.mandatory,
            e_copy_accepted: c.e_copy_accepted,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| ProcedureView {
            spec: ProcedureSpec {
                levels: r.levels.split(',').filter_map(|l| l.parse().ok()).collect(),
                components: components.remove(&r.id).unwrap_or_default(),
                code: r.code,
                national_code: r.national_code,
                name: r.name,
                field: r.field,
                processing_days: r.processing_days,
                cutoff_hour: r.cutoff_hour,
                fee_vnd: r.fee_vnd,
                online_level: OnlineLevel::parse(&r.online_level),
                result_is_document: r.result_is_document,
                certifies_copies: r.certifies_copies,
            },
            id: r.id,
            active: r.active,
        })
        .collect())
}

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<ProcedureView>> {
    let rows: Vec<ProcedureRow> =
        procedures::table.filter(procedures::code.eq(code)).select(ProcedureRow::as_select()).load(conn)?;
    Ok(views(conn, rows)?.pop())
}

/// 409 `procedure_code_taken` when another procedure than `id` has the
/// national code of `spec`.
pub fn check_national_code(conn: &mut DbConnection, id: &str, spec: &ProcedureSpec) -> Result<(), ApiError> {
    let Some(code) = &spec.national_code else { return Ok(()) };
    let other: Option<String> = procedures::table
        .filter(procedures::national_code.eq(code).and(procedures::id.ne(id)))
        .select(procedures::code)
        .first(conn)
        .optional()?;
    match other {
        Some(other) => Err(ApiError::conflict(
            crate::error::ProblemCode::ProcedureCodeTaken,
            format!("National code {code} is already procedure {other}'s."),
        )),
        None => Ok(()),
    }
}

/// Writes `spec` as procedure `id` (inserting it when `insert`), replacing
/// its components.
pub fn save(conn: &mut DbConnection, id: &str, spec: &ProcedureSpec, active: bool, insert: bool) -> QueryResult<()> {
    let at: NaiveDateTime = crate::time::now();
    let values = (
        procedures::code.eq(&spec.code),
        procedures::national_code.eq(&spec.national_code),
        procedures::name.eq(&spec.name),
        procedures::field.eq(&spec.field),
        procedures::levels.eq(encode_levels(&spec.levels)),
        procedures::processing_days.eq(spec.processing_days),
        procedures::cutoff_hour.eq(spec.cutoff_hour),
        procedures::fee_vnd.eq(spec.fee_vnd),
        procedures::online_level.eq(spec.online_level.as_str()),
        procedures::result_is_document.eq(spec.result_is_document),
        procedures::certifies_copies.eq(spec.certifies_copies),
        procedures::active.eq(active),
        procedures::search_text.eq(fold(&format!("{} {} {}", spec.code, spec.name, spec.field))),
        procedures::updated_at.eq(at),
    );
    if insert {
        diesel::insert_into(procedures::table)
            .values((procedures::id.eq(id), procedures::created_at.eq(at), values))
            .execute(conn)?;
    } else {
        diesel::update(procedures::table.find(id)).set(values).execute(conn)?;
        diesel::delete(procedure_components::table.filter(procedure_components::procedure_id.eq(id))).execute(conn)?;
    }
    for (i, c) in spec.components.iter().enumerate() {
        diesel::insert_into(procedure_components::table)
            .values((
                procedure_components::id.eq(uuid::Uuid::now_v7().to_string()),
                procedure_components::procedure_id.eq(id),
                procedure_components::position.eq(i as i32),
                procedure_components::name.eq(&c.name),
                procedure_components::mandatory.eq(c.mandatory),
                procedure_components::e_copy_accepted.eq(c.e_copy_accepted),
            ))
            .execute(conn)?;
    }
    Ok(())
}
