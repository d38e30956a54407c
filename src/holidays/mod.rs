//! The holiday calendar: non-working days and swapped working days (data,
//! not code: Tết and other lunar holidays move every year).

pub mod routes;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::holidays;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A weekday on which offices are closed.
    Holiday,
    /// A Saturday or Sunday on which offices work (ngày làm bù).
    WorkingDay,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holiday => "holiday",
            Self::WorkingDay => "working_day",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "working_day" { Self::WorkingDay } else { Self::Holiday }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Holiday {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub name: String,
}

/// The calendar's exceptions in `[from, to)`, by date.
pub fn in_range(conn: &mut DbConnection, from: NaiveDate, to: NaiveDate) -> QueryResult<Vec<Holiday>> {
    let rows: Vec<(NaiveDate, String, String)> = holidays::table
        .filter(holidays::day.ge(from).and(holidays::day.lt(to)))
        .order(holidays::day.asc())
        .select((holidays::day, holidays::kind, holidays::name))
        .load(conn)?;
    Ok(rows.into_iter().map(|(date, kind, name)| Holiday { date, kind: DayKind::parse(&kind), name }).collect())
}
