//! Administrative units: the tree every scope is cut from.

pub mod routes;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::units;
use crate::domain::units::{Level, check_unit_code};
use crate::error::{ApiError, ProblemCode, Validator};
use crate::time::utc;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = units)]
pub struct UnitRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_id: Option<String>,
    pub path: String,
    pub active: bool,
    pub search_text: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UnitRow {
    pub fn level(&self) -> Level {
        self.level.parse().expect("levels are checked by the database")
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitView {
    pub id: String,
    pub code: String,
    pub name: String,
    pub level: Level,
    pub parent_id: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UnitRow> for UnitView {
    fn from(u: UnitRow) -> Self {
        Self {
            level: u.level(),
            id: u.id,
            code: u.code,
            name: u.name,
            parent_id: u.parent_id,
            active: u.active,
            created_at: utc(u.created_at),
            updated_at: utc(u.updated_at),
        }
    }
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<UnitRow>> {
    units::table.find(id).select(UnitRow::as_select()).first(conn).optional()
}

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<UnitRow>> {
    units::table.filter(units::code.eq(code)).select(UnitRow::as_select()).first(conn).optional()
}

/// The unit `id` if it lies in the subtree at `scope_path`; None otherwise,
/// so that callers answer 404 for what they may not see.
pub fn find_in_scope(conn: &mut DbConnection, id: &str, scope_path: &str) -> QueryResult<Option<UnitRow>> {
    Ok(find(conn, id)?.filter(|u| crate::domain::units::in_subtree(&u.path, scope_path)))
}

/// The ids of the units in the subtree at `scope`. Queries filter on them as
/// literal values (`IN (…)`), which PostgreSQL plans for the subtree at hand
/// rather than with a generic plan for any path pattern.
pub fn ids_in_subtree(conn: &mut DbConnection, scope: &str) -> QueryResult<Vec<String>> {
    units::table.filter(units::path.like(format!("{scope}%"))).select(units::id).load(conn)
}

/// Validates and inserts a unit under `parent` (or as a root).
pub fn create(
    conn: &mut DbConnection,
    code: &str,
    name: &str,
    level: Level,
    parent: Option<&UnitRow>,
) -> Result<UnitRow, ApiError> {
    let name = name.trim();
    let mut v = Validator::default();
    v.parsed("code", check_unit_code(code));
    v.name("name", name, 200);
    v.finish()?;
    check_level(level, parent)?;
    if find_by_code(conn, code)?.is_some() {
        return Err(ApiError::conflict(ProblemCode::UnitCodeTaken, format!("Unit code {code} is already used.")));
    }
    Ok(insert(conn, code, name, level, parent)?)
}

pub fn check_level(level: Level, parent: Option<&UnitRow>) -> Result<(), ApiError> {
    let parent_level = parent.map(UnitRow::level);
    if level.may_sit_under(parent_level) {
        Ok(())
    } else {
        let msg = match parent_level {
            None => "a root unit is a province".to_string(),
            Some(p) => format!("a {level} cannot sit under a {p}"),
        };
        Err(ApiError::invalid_field("level", msg))
    }
}

/// Inserts a unit under `parent` (or as a root), computing its path.
fn insert(
    conn: &mut DbConnection,
    code: &str,
    name: &str,
    level: Level,
    parent: Option<&UnitRow>,
) -> QueryResult<UnitRow> {
    let id = uuid::Uuid::now_v7().to_string();
    let at = crate::time::now();
    let row = UnitRow {
        path: crate::domain::units::child_path(parent.map(|p| p.path.as_str()), &id),
        id,
        code: code.to_string(),
        name: name.to_string(),
        level: level.as_str().to_string(),
        parent_id: parent.map(|p| p.id.clone()),
        active: true,
        search_text: search_text(code, name),
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(units::table).values(&row).execute(conn)?;
    Ok(row)
}

/// What `GET /units?q=` searches: code and name, folded.
pub fn search_text(code: &str, name: &str) -> String {
    crate::domain::text::fold(&format!("{code} {name}"))
}
