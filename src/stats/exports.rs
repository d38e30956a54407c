//! `/api/v1/exports/stats.{csv,xlsx,json}` and `/api/v1/exports/dossiers.{csv,xlsx}`: one
//! handler per format, so that each is a typed operation of the API document.
//!
//! CSV is UTF-8 with a byte-order mark (spreadsheet programs then show
//! Vietnamese correctly). Dossier exports stream: rows are read and written a
//! page at a time, so a million rows are never held in memory; XLSX goes
//! through a constant-memory worksheet in a temporary file.

use actix_web::{HttpResponse, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::StreamExt;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::Row;
use super::routes::StatsQuery;
use crate::app::AppState;
use crate::auth::Principal;
use crate::db::schema::{dossier_facts, dossiers, procedures, ratings, scope_units, units};
use crate::db::{DbConnection, text_literal};
use crate::domain::dossier::Timeliness;
use crate::domain::stats::{Counts, Figure, Figures};
use crate::domain::text::spreadsheet_safe;
use crate::domain::workflow::Status;
use crate::dossiers::routes::local_midnight;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/exports/stats.csv").route(web::get().to(stats_csv)))
        .service(web::resource("/exports/stats.xlsx").route(web::get().to(stats_xlsx)))
        .service(web::resource("/exports/stats.json").route(web::get().to(stats_json)))
        .service(web::resource("/exports/steps.csv").route(web::get().to(steps_csv)))
        .service(web::resource("/exports/steps.xlsx").route(web::get().to(steps_xlsx)))
        .service(web::resource("/exports/dossiers.csv").route(web::get().to(dossiers_csv)))
        .service(web::resource("/exports/dossiers.xlsx").route(web::get().to(dossiers_xlsx)));
}

/// A typed spreadsheet cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Number(Option<f64>),
    Bool(Option<bool>),
    Time(Option<NaiveDateTime>),
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Number(n) => n.map(|v| format!("{v:.4}")).unwrap_or_default(),
            Cell::Bool(b) => b.map(|v| if v { "1" } else { "0" }.to_string()).unwrap_or_default(),
            Cell::Time(t) => t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
        }
    }

    fn xlsx(&self, sheet: &mut Worksheet, row: u32, col: u16, time: &Format) -> Result<(), XlsxError> {
        match self {
            Cell::Text(s) => sheet.write_string(row, col, s).map(drop),
            Cell::Int(i) => sheet.write_number(row, col, *i as f64).map(drop),
            Cell::Number(Some(v)) => sheet.write_number(row, col, *v).map(drop),
            Cell::Bool(Some(b)) => sheet.write_boolean(row, col, *b).map(drop),
            Cell::Time(Some(t)) => sheet.write_datetime_with_format(row, col, t, time).map(drop),
            Cell::Number(None) | Cell::Bool(None) | Cell::Time(None) => Ok(()),
        }
    }
}

/// A spreadsheet export's format: each is its own URL, so that a generated
/// client gets one typed call per format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spreadsheet {
    Csv,
    Xlsx,
}

/// CSV lines for `records`, through one writer (a writer per line would
/// allocate its buffer for every row); no cell reads as a formula
/// (`domain::text::spreadsheet_safe`).
fn csv_lines<R: IntoIterator<Item = String>>(records: impl IntoIterator<Item = R>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    for r in records {
        let cells: Vec<String> = r.into_iter().map(|c| spreadsheet_safe(&c).into_owned()).collect();
        w.write_record(cells).expect("writing to memory");
    }
    w.into_inner().expect("flushing to memory")
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

// ---- statistics -------------------------------------------------------------

/// The figures of a row by column name, in column order.
fn figures(f: &Figures) -> [(&'static str, &Figure); 13] {
    [
        ("online_rate", &f.online_rate),
        ("on_time_rate", &f.on_time_rate),
        ("average_processing_days", &f.average_processing_days),
        ("digitization_rate", &f.digitization_rate),
        ("e_result_rate", &f.e_result_rate),
        ("reuse_rate", &f.reuse_rate),
        ("online_payment_rate", &f.online_payment_rate),
        ("satisfaction_rate", &f.satisfaction_rate),
        ("apology_rate", &f.apology_rate),
        ("assessment_points", &f.assessment_points),
        ("assessment_rate", &f.assessment_rate),
        ("certified_copy_rate", &f.certified_copy_rate),
        ("fully_online_rate", &f.fully_online_rate),
    ]
}

fn stats_header() -> Vec<String> {
    let mut h: Vec<String> =
        ["row", "key", "label", "received", "received_online", "received_counter", "received_postal"]
            .map(String::from)
            .into();
    for (r, _) in figures(&Figures::from_counts(&Counts::default())) {
        h.extend([format!("{r}_numerator"), format!("{r}_denominator"), r.to_string()]);
    }
    h
}

fn stats_cells(kind: &str, row: &Row) -> Vec<Cell> {
    let f = &row.figures;
    let mut cells = vec![
        Cell::Text(kind.into()),
        Cell::Text(row.key.clone()),
        Cell::Text(row.label.clone()),
        Cell::Int(f.received),
        Cell::Int(f.received_online),
        Cell::Int(f.received_counter),
        Cell::Int(f.received_postal),
    ];
    for (_, figure) in figures(f) {
        cells.extend([Cell::Int(figure.numerator), Cell::Int(figure.denominator), Cell::Number(figure.value)]);
    }
    cells
}

/// The statistics table as CSV: the total, the level subtotals, then the
/// rows; UTF-8 with a byte-order mark.
#[utoipa::path(get, path = "/api/v1/exports/stats.csv", tag = "statistics", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The statistics table", body = inline(crate::http::Binary),
            content_type = "text/csv", headers(("Content-Disposition" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn stats_csv(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    export_stats(state, principal, query, Spreadsheet::Csv).await
}

/// The statistics table as an XLSX workbook.
#[utoipa::path(get, path = "/api/v1/exports/stats.xlsx", tag = "statistics", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The statistics table", body = inline(crate::http::Binary),
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers(("Content-Disposition" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn stats_xlsx(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    export_stats(state, principal, query, Spreadsheet::Xlsx).await
}

/// The statistics as a JSON file to keep: what `GET /stats` answers, as an
/// attachment.
#[utoipa::path(get, path = "/api/v1/exports/stats.json", tag = "statistics", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = super::Statistics, headers(("Content-Disposition" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn stats_json(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let stats = query.into_inner().statistics(&state, principal).await?;
    let name = format!("thong-ke-{}-{}-{}.json", stats.unit_code, stats.from, stats.to);
    Ok(HttpResponse::Ok().insert_header(crate::http::attachment(&name)).json(stats))
}

const STEP_HEADER: [&str; 10] = [
    "row",
    "key",
    "label",
    "step",
    "step_name",
    "completed",
    "late",
    "late_rate",
    "total_delay_minutes",
    "average_delay_minutes",
];

fn step_cells(kind: &str, r: &super::steps::StepRow) -> Vec<Cell> {
    vec![
        Cell::Text(kind.into()),
        Cell::Text(r.key.clone()),
        Cell::Text(r.label.clone()),
        Cell::Int(r.step.into()),
        Cell::Text(r.step_name.clone()),
        Cell::Int(r.tally.completed),
        Cell::Int(r.tally.late),
        Cell::Number(r.late_rate),
        Cell::Int(r.tally.delay_minutes),
        Cell::Number(r.average_delay_minutes),
    ]
}

/// The step statistics (`GET /stats/steps`) as CSV: each step over the
/// subtree, then each group and step; UTF-8 with a byte-order mark.
#[utoipa::path(get, path = "/api/v1/exports/steps.csv", tag = "statistics", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The step statistics", body = inline(crate::http::Binary),
            content_type = "text/csv", headers(("Content-Disposition" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn steps_csv(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    export_steps(state, principal, query, Spreadsheet::Csv).await
}

/// The step statistics as an XLSX workbook.
#[utoipa::path(get, path = "/api/v1/exports/steps.xlsx", tag = "statistics", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The step statistics", body = inline(crate::http::Binary),
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers(("Content-Disposition" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn steps_xlsx(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    export_steps(state, principal, query, Spreadsheet::Xlsx).await
}

async fn export_steps(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
    format: Spreadsheet,
) -> Result<HttpResponse, ApiError> {
    let stats = query.into_inner().step_statistics(&state, principal).await?;
    let name = format!("thong-ke-buoc-{}-{}-{}", stats.unit_code, stats.from, stats.to);
    let mut rows: Vec<Vec<Cell>> = stats.steps.iter().map(|r| step_cells("total", r)).collect();
    rows.extend(stats.rows.iter().map(|r| step_cells("row", r)));
    spreadsheet(format, &name, "Thong ke buoc", &STEP_HEADER.map(String::from), rows).await
}

/// `rows` under `header` as a CSV or XLSX attachment `name` (the sheet
/// named `sheet`).
async fn spreadsheet(
    format: Spreadsheet,
    name: &str,
    sheet: &'static str,
    header: &[String],
    rows: Vec<Vec<Cell>>,
) -> Result<HttpResponse, ApiError> {
    match format {
        Spreadsheet::Csv => {
            let mut body = BOM.to_vec();
            body.extend(csv_lines(
                std::iter::once(header.to_vec()).chain(rows.iter().map(|cells| cells.iter().map(Cell::csv).collect())),
            ));
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header(crate::http::attachment(&format!("{name}.csv")))
                .body(body))
        }
        Spreadsheet::Xlsx => {
            let header = header.to_vec();
            let bytes = web::block(move || -> Result<Vec<u8>, XlsxError> {
                let mut book = Workbook::new();
                let worksheet = book.add_worksheet();
                worksheet.set_name(sheet)?;
                write_sheet(worksheet, &header, rows.iter())?;
                book.save_to_buffer()
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
            Ok(HttpResponse::Ok()
                .content_type(XLSX)
                .insert_header(crate::http::attachment(&format!("{name}.xlsx")))
                .body(bytes))
        }
    }
}

async fn export_stats(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
    format: Spreadsheet,
) -> Result<HttpResponse, ApiError> {
    let stats = query.into_inner().statistics(&state, principal).await?;
    let name = format!("thong-ke-{}-{}-{}", stats.unit_code, stats.from, stats.to);
    let mut rows = vec![stats_cells("total", &stats.total)];
    rows.extend(stats.levels.iter().map(|r| stats_cells("level", r)));
    rows.extend(stats.rows.iter().map(|r| stats_cells("row", r)));
    spreadsheet(format, &name, "Thong ke", &stats_header(), rows).await
}

fn write_sheet<'a>(
    sheet: &mut Worksheet,
    header: &[String],
    rows: impl Iterator<Item = &'a Vec<Cell>>,
) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, h, &bold)?;
    }
    for (r, cells) in rows.enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            cell.xlsx(sheet, r as u32 + 1, c as u16, &time)?;
        }
    }
    Ok(())
}

// ---- dossiers ---------------------------------------------------------------

const DOSSIER_HEADER: [&str; 24] = [
    "code",
    "procedure_code",
    "procedure_name",
    "receiving_unit",
    "unit",
    "channel",
    "status",
    "national_status",
    "applicant_kind",
    "submitted_at",
    "received_at",
    "due_at",
    "original_due_at",
    "result_at",
    "finished_at",
    "on_time",
    "digitized",
    "reused",
    "e_result",
    "fee_vnd",
    "payment_channel",
    "paid_at",
    "satisfied",
    "supplement_requests",
];

type ExportRow = (
    crate::dossiers::DossierRow,
    String,
    String,
    String,
    String,
    Option<bool>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
);

const PAGE: i64 = 2000;

/// One page of the export, after dossier id `after`.
fn page(
    conn: &mut DbConnection,
    in_scope: &[String],
    from: NaiveDateTime,
    to: NaiveDateTime,
    after: &str,
) -> QueryResult<Vec<ExportRow>> {
    dossiers::table
        .inner_join(procedures::table)
        .inner_join(units::table.on(units::id.eq(dossiers::unit_id)))
        .inner_join(scope_units.on(scope_units.field(units::id).eq(dossiers::receiving_unit_id)))
        // The keyset bound on the joined keys too: PostgreSQL merges these
        // joins in id order, and would otherwise read them from the start
        // for every page (160 ms instead of 5 ms per page at a million).
        .left_join(
            dossier_facts::table
                .on(dossier_facts::dossier_id.eq(dossiers::id).and(dossier_facts::dossier_id.gt(after.to_owned()))),
        )
        .left_join(
            ratings::table.on(ratings::dossier_id.eq(dossiers::id).and(ratings::dossier_id.gt(after.to_owned()))),
        )
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "{} IN ({}) AND {} >= ",
                crate::db::backend::export_filter_column(conn, "receiving_unit_id"),
                in_scope.iter().map(|id| text_literal(id)).collect::<Vec<_>>().join(", "),
                crate::db::backend::export_filter_column(conn, "submitted_at")
            ))
            .bind::<diesel::sql_types::Timestamp, _>(from)
            .sql(&format!(" AND {} < ", crate::db::backend::export_filter_column(conn, "submitted_at")))
            .bind::<diesel::sql_types::Timestamp, _>(to),
        )
        .filter(dossiers::id.gt(after))
        .order(dossiers::id.asc())
        .limit(PAGE)
        .select((
            crate::dossiers::DossierRow::as_select(),
            procedures::code,
            procedures::name,
            scope_units.field(units::code),
            units::code,
            dossier_facts::digitized.nullable(),
            dossier_facts::reused.nullable(),
            dossier_facts::e_result.nullable(),
            ratings::satisfied.nullable(),
        ))
        .load(conn)
}

fn dossier_cells(r: &ExportRow, now: NaiveDateTime) -> Vec<Cell> {
    let (d, procedure_code, procedure_name, receiving, unit, digitized, reused, e_result, satisfied) = r;
    let local = |t: Option<NaiveDateTime>| Cell::Time(t.map(crate::dossiers::local));
    let status = d.status();
    let timeliness = match (d.result_at, d.original_due_at) {
        (Some(result), Some(due)) => Some(Timeliness::finished(due, result, d.supplement_requests)),
        (None, Some(due)) if status.is_in_processing() => {
            Some(Timeliness::open(status, due, d.paused_at, d.supplement_requests, now))
        }
        _ => None,
    };
    let on_time = timeliness.map(|t| t == Timeliness::OnTime);
    vec![
        Cell::Text(d.code.clone()),
        Cell::Text(procedure_code.clone()),
        Cell::Text(procedure_name.clone()),
        Cell::Text(receiving.clone()),
        Cell::Text(unit.clone()),
        Cell::Text(d.channel.clone()),
        Cell::Text(d.status.clone()),
        Cell::Int(i64::from(d.national_status())),
        Cell::Text(d.applicant_kind.clone()),
        local(Some(d.submitted_at)),
        local(d.received_at),
        local(d.due_at),
        local(d.original_due_at),
        local(d.result_at),
        local(d.finished_at),
        Cell::Bool(on_time),
        Cell::Bool(*digitized),
        Cell::Bool(*reused),
        Cell::Bool(e_result.filter(|_| d.result_at.is_some() || status == Status::ResultReady)),
        Cell::Int(d.fee_vnd),
        Cell::Text(d.payment_channel.clone().unwrap_or_default()),
        local(d.paid_at),
        Cell::Bool(*satisfied),
        Cell::Int(i64::from(d.supplement_requests)),
    ]
}

/// One row per dossier submitted in the period in the subtree (key dates,
/// status, on-time flag, digitization, payment and rating) as CSV. Streams.
#[utoipa::path(get, path = "/api/v1/exports/dossiers.csv", tag = "statistics", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One row per dossier", body = inline(crate::http::Binary),
            content_type = "text/csv", headers(("Content-Disposition" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn dossiers_csv(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    export_dossiers(state, principal, query, Spreadsheet::Csv).await
}

/// The dossier rows as an XLSX workbook, written in constant memory.
#[utoipa::path(get, path = "/api/v1/exports/dossiers.xlsx", tag = "statistics", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One row per dossier", body = inline(crate::http::Binary),
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers(("Content-Disposition" = String))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn dossiers_xlsx(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    export_dossiers(state, principal, query, Spreadsheet::Xlsx).await
}

async fn export_dossiers(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
    format: Spreadsheet,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (unit, from, to) = state.db.run(move |conn| q.resolve(conn, &principal)).await?;
    let name = format!("ho-so-{}-{from}-{to}", unit.code);
    let (start, end) = (local_midnight(from), local_midnight(to));
    let now = crate::time::now();
    match format {
        Spreadsheet::Csv => {
            let header = futures_util::stream::once(async move {
                let mut first = BOM.to_vec();
                first.extend(csv_lines([DOSSIER_HEADER.map(String::from)]));
                Ok::<_, ApiError>(web::Bytes::from(first))
            });
            let db = state.db.clone();
            let scope = unit.path.clone();
            let in_scope =
                std::sync::Arc::new(state.db.run(move |conn| Ok(crate::units::ids_in_subtree(conn, &scope)?)).await?);
            let pages = futures_util::stream::unfold(Some(String::new()), move |after| {
                let (db, in_scope) = (db.clone(), in_scope.clone());
                async move {
                    let after = after?;
                    let rows = db.run(move |conn| Ok(page(conn, &in_scope, start, end, &after)?)).await;
                    match rows {
                        Ok(rows) if rows.is_empty() => None,
                        Ok(rows) => {
                            let next =
                                (rows.len() as i64 == PAGE).then(|| rows.last().expect("non-empty").0.id.clone());
                            let chunk = csv_lines(
                                rows.iter().map(|r| dossier_cells(r, now).iter().map(Cell::csv).collect::<Vec<_>>()),
                            );
                            Some((Ok(web::Bytes::from(chunk)), next))
                        }
                        Err(e) => Some((Err(e), None)),
                    }
                }
            });
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header(crate::http::attachment(&format!("{name}.csv")))
                .streaming(header.chain(pages)))
        }
        Spreadsheet::Xlsx => {
            let scope = unit.path.clone();
            let file = state
                .db
                .run(move |conn| {
                    let file = tempfile::NamedTempFile::new().map_err(ApiError::internal)?;
                    dossier_workbook(conn, &scope, start, end, now, file.path()).map_err(|e| match e {
                        WorkbookError::Db(e) => ApiError::from(e),
                        WorkbookError::Xlsx(e) => ApiError::internal(e),
                    })?;
                    Ok(file)
                })
                .await?;
            let bytes = web::block(move || std::fs::read(file.path()))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            Ok(HttpResponse::Ok()
                .content_type(XLSX)
                .insert_header(crate::http::attachment(&format!("{name}.xlsx")))
                .body(bytes))
        }
    }
}

enum WorkbookError {
    Db(diesel::result::Error),
    Xlsx(XlsxError),
}

/// Writes the dossiers a page at a time into a constant-memory worksheet.
fn dossier_workbook(
    conn: &mut DbConnection,
    scope: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
    now: NaiveDateTime,
    path: &std::path::Path,
) -> Result<(), WorkbookError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory().map_err(WorkbookError::Xlsx)?;
    sheet.set_name("Ho so").map_err(WorkbookError::Xlsx)?;
    let header = DOSSIER_HEADER.map(String::from);
    write_sheet(sheet, &header, std::iter::empty()).map_err(WorkbookError::Xlsx)?;
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let in_scope = crate::units::ids_in_subtree(conn, scope).map_err(WorkbookError::Db)?;
    let (mut after, mut row) = (String::new(), 1u32);
    loop {
        let rows = page(conn, &in_scope, from, to, &after).map_err(WorkbookError::Db)?;
        for r in &rows {
            for (c, cell) in dossier_cells(r, now).iter().enumerate() {
                cell.xlsx(sheet, row, c as u16, &time).map_err(WorkbookError::Xlsx)?;
            }
            row += 1;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => after = last.0.id.clone(),
            _ => break,
        }
    }
    book.save(path).map_err(WorkbookError::Xlsx)
}
