//! Every difference between the two backends, in one place.
//!
//! PostgreSQL lets many writers run at once and serialises them per row (row
//! locks, `SKIP LOCKED`) or per name (advisory locks). SQLite has one writer
//! per database: a write transaction starts with `BEGIN IMMEDIATE`, which
//! takes the database's write lock at once (waiting up to `busy_timeout` for
//! another process), so every lock below is already held on SQLite and its
//! helper does nothing there. Planner hints and the spelling of constraint
//! violations differ too.

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error};
use diesel::sql_types::Text;

use super::DbConnection;

/// The PostgreSQL URL with the network timeouts of `settings` added as
/// libpq parameters (those the URL sets already are left as they are):
/// `connect_timeout`, TCP keepalives every few seconds, and
/// `tcp_user_timeout`, which drops a connection whose sent data stays
/// unacknowledged — without them a silent partition hangs a query forever.
pub fn pg_url_with_timeouts(url: &str, settings: &crate::config::DatabaseSettings) -> String {
    let params = [
        ("connect_timeout", settings.connect_timeout_secs.max(1).to_string()),
        ("keepalives", "1".into()),
        ("keepalives_idle", "5".into()),
        ("keepalives_interval", "2".into()),
        ("keepalives_count", "3".into()),
        ("tcp_user_timeout", (settings.tcp_user_timeout_secs * 1000).to_string()),
    ];
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let given = |key: &str| query.split('&').any(|kv| kv.split('=').next() == Some(key));
    let mut out = url.to_string();
    for (key, value) in params.iter().filter(|(k, _)| !given(k)) {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&format!("{key}={value}"));
    }
    out
}

/// Settings of a pooled connection's session: PostgreSQL cancels a
/// statement running past `statement_timeout_secs` (SQLite has no such
/// limit; its writers wait `busy_timeout` for each other).
pub fn configure_session(conn: &mut DbConnection, statement_timeout_secs: u64) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => pg.batch_execute(&format!("SET statement_timeout = {}", statement_timeout_secs * 1000)),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Runs `f` in a write transaction: `BEGIN` on PostgreSQL, `BEGIN IMMEDIATE`
/// on SQLite (a deferred transaction that reads first could not upgrade to
/// a writer once another connection has written: `SQLITE_BUSY_SNAPSHOT`).
/// Inside a transaction already, a savepoint.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<Error>,
{
    let nested = <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some();
    match conn {
        DbConnection::Sqlite(sqlite) if !nested => {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?
        }
        _ => return conn.transaction(f),
    }
    // From here on, as `Connection::transaction` does after its own BEGIN.
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => match <DbConnection as Connection>::TransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// Names that serialise work across every instance sharing a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Applying migrations.
    Migrations,
    /// Linking audit entries into the hash chain (`src/audit/chain.rs`).
    AuditChain,
    /// Seeding the demo data into an empty database.
    Seed,
}

impl Lock {
    fn key(self) -> i64 {
        match self {
            Lock::Migrations => 7_243_001,
            Lock::AuditChain => 7_243_002,
            Lock::Seed => 7_243_003,
        }
    }
}

/// Holds `lock` until the current transaction ends.
pub fn lock_for_transaction(conn: &mut DbConnection, lock: Lock) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => pg.batch_execute(&format!("SELECT pg_advisory_xact_lock({})", lock.key())),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Holds a lock named by `text` (hashed) until the current transaction ends:
/// concurrent requests carrying one idempotency key wait for each other.
pub fn lock_text_for_transaction(conn: &mut DbConnection, text: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7243005))")
            .bind::<Text, _>(text)
            .execute(pg)
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Runs `f` holding `lock` for the session (outside a transaction: migrations).
pub fn with_session_lock<T>(
    conn: &mut DbConnection,
    lock: Lock,
    f: impl FnOnce(&mut DbConnection) -> T,
) -> QueryResult<T> {
    if let DbConnection::Pg(pg) = conn {
        pg.batch_execute(&format!("SELECT pg_advisory_lock({})", lock.key()))?;
    }
    let out = f(conn);
    if let DbConnection::Pg(pg) = conn {
        pg.batch_execute(&format!("SELECT pg_advisory_unlock({})", lock.key()))?;
    }
    Ok(out)
}

/// `$query.first($conn).optional()` with the row locked until the
/// transaction ends: `FOR UPDATE` on PostgreSQL; on SQLite the write
/// transaction already excludes every other writer.
#[macro_export]
macro_rules! first_locked {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg(pg) => $query.for_update().first(pg).optional(),
            $crate::db::DbConnection::Sqlite(sqlite) => $query.first(sqlite).optional(),
        }
    };
}

/// `$query.first($conn).optional()` taking the first row no other
/// transaction holds, and locking it: `FOR UPDATE SKIP LOCKED` on
/// PostgreSQL, so that concurrent claimers — of any instance — get different
/// rows; SQLite's single writer serialises the claimers instead.
#[macro_export]
macro_rules! first_unlocked {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg(pg) => $query.for_update().skip_locked().first(pg).optional(),
            $crate::db::DbConnection::Sqlite(sqlite) => $query.first(sqlite).optional(),
        }
    };
}

/// Like [`first_unlocked!`], every row `$query` selects (it has its own
/// `LIMIT`) that no other transaction holds, locked.
#[macro_export]
macro_rules! all_unlocked {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg(pg) => $query.for_update().skip_locked().load(pg),
            $crate::db::DbConnection::Sqlite(sqlite) => $query.load(sqlite),
        }
    };
}

/// Inserts `$rows` (a slice of `Insertable` rows) into `$table` in one
/// statement; diesel's multi-row insert needs the concrete backend.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
            $crate::db::DbConnection::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    };
}

/// Refreshes PostgreSQL's planner statistics of `table` (or of every table)
/// after a bulk change, rather than waiting for autovacuum: planned with the
/// row counts of an empty table, statistics and exports read a million rows
/// the slow way. SQLite plans without them.
pub fn analyze(conn: &mut DbConnection, table: Option<&str>) -> QueryResult<()> {
    if let DbConnection::Pg(pg) = conn {
        pg.batch_execute(&format!("ANALYZE {}", table.unwrap_or_default()))?;
    }
    Ok(())
}

/// The start of the local day (`domain::calendar::local_day_start`) of the
/// timestamp column `column`, in SQL: a fixed offset from UTC.
pub fn local_day_start(conn: &DbConnection, column: &str) -> String {
    let secs = crate::domain::calendar::local_offset().local_minus_utc();
    match conn {
        DbConnection::Pg(_) => {
            format!("(date_trunc('day', {column} + interval '{secs} seconds') - interval '{secs} seconds')")
        }
        DbConnection::Sqlite(_) => format!("datetime(date({column}, '{secs:+} seconds'), '{:+} seconds')", -secs),
    }
}

/// `dossiers.{column}` as an export's filter names it. On SQLite wrapped in
/// COALESCE, which no index serves, so that the planner walks the primary
/// key in export order instead of reading the whole period by unit and
/// sorting it; PostgreSQL needs the bare column to estimate the rows.
pub fn export_filter_column(conn: &DbConnection, column: &str) -> String {
    match conn {
        DbConnection::Pg(_) => format!("dossiers.{column}"),
        DbConnection::Sqlite(_) => format!("COALESCE(dossiers.{column}, dossiers.{column})"),
    }
}

/// The unique constraints whose violation means something to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    UserEmail,
    /// The verified national ID of an account.
    UserNationalId,
    UnitCode,
    ProcedureCode,
    /// A provider's transaction reference, recorded once per provider.
    ProviderRef,
    /// At most one valid result per dossier.
    OneValidResult,
    /// At most one settlement of a dossier's fee, one pending online payment.
    OnePayment,
    /// One rating per dossier.
    OneRating,
}

/// Each constraint as PostgreSQL names it, and as SQLite reports it (the
/// columns of the violated index: the two partial indexes of
/// `payments (dossier_id)` read the same).
const CONSTRAINTS: [(Constraint, &[&str], &str); 8] = [
    (Constraint::UserEmail, &["users_email_key"], "users.email"),
    (Constraint::UserNationalId, &["users_national_id_key"], "users.national_id"),
    (Constraint::UnitCode, &["units_code_key"], "units.code"),
    (Constraint::ProcedureCode, &["procedures_code_key"], "procedures.code"),
    (Constraint::ProviderRef, &["payments_provider_provider_ref_key"], "payments.provider, payments.provider_ref"),
    (Constraint::OneValidResult, &["results_one_valid_idx"], "results.dossier_id"),
    (Constraint::OnePayment, &["payments_one_settlement_idx", "payments_one_pending_idx"], "payments.dossier_id"),
    (Constraint::OneRating, &["ratings_pkey"], "ratings.dossier_id"),
];

/// The named constraint a unique violation broke, if it is one of [`Constraint`].
/// Whether the database refused a write for want of disk space: SQLite's
/// `SQLITE_FULL` ("database or disk is full"), PostgreSQL's `disk_full`
/// (53100, "could not extend file …: No space left on device").
pub fn is_disk_full(info: &dyn DatabaseErrorInformation) -> bool {
    let m = info.message();
    m.contains("database or disk is full")
        || m.contains("No space left on device")
        || m.contains("could not extend file")
}

pub fn unique_violation(err: &Error) -> Option<Constraint> {
    let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = err else { return None };
    constraint_of(info.as_ref())
}

fn constraint_of(info: &dyn DatabaseErrorInformation) -> Option<Constraint> {
    let found = match info.constraint_name() {
        // PostgreSQL names the constraint.
        Some(name) => CONSTRAINTS.iter().find(|(_, pg, _)| pg.contains(&name)),
        // SQLite: "UNIQUE constraint failed: table.column, table.column".
        None => {
            let columns = info.message().strip_prefix("UNIQUE constraint failed: ")?;
            CONSTRAINTS.iter().find(|(_, _, sqlite)| *sqlite == columns)
        }
    };
    found.map(|(c, _, _)| *c)
}

/// A database error as a backend reports it, for the unit tests of the
/// errors' mapping (here and in `src/error.rs`).
#[cfg(test)]
pub(crate) struct ReportedError {
    pub message: &'static str,
    pub constraint: Option<&'static str>,
}

#[cfg(test)]
impl DatabaseErrorInformation for ReportedError {
    fn message(&self) -> &str {
        self.message
    }
    fn details(&self) -> Option<&str> {
        None
    }
    fn hint(&self) -> Option<&str> {
        None
    }
    fn table_name(&self) -> Option<&str> {
        None
    }
    fn column_name(&self) -> Option<&str> {
        None
    }
    fn constraint_name(&self) -> Option<&str> {
        self.constraint
    }
    fn statement_position(&self) -> Option<i32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_network_timeouts_unless_they_set_them() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
        let settings = crate::config::Settings::load_from(dir, crate::config::Profile::Local, &[]).unwrap().database;
        let url = pg_url_with_timeouts("postgres://u@h/db", &settings);
        assert!(url.starts_with("postgres://u@h/db?connect_timeout=3&keepalives=1&"), "{url}");
        assert!(url.ends_with("&tcp_user_timeout=10000"), "{url}");
        let url = pg_url_with_timeouts("postgres://u@h/db?sslmode=disable&connect_timeout=9", &settings);
        assert!(url.starts_with("postgres://u@h/db?sslmode=disable&connect_timeout=9&keepalives=1&"), "{url}");
        assert_eq!(url.matches("connect_timeout").count(), 1, "{url}");
    }

    fn constraint(message: &'static str, name: Option<&'static str>) -> Option<Constraint> {
        constraint_of(&ReportedError { message, constraint: name })
    }

    #[test]
    fn constraints_are_recognised_as_each_backend_reports_them() {
        let pg = constraint("duplicate key value violates unique constraint", Some("results_one_valid_idx"));
        assert_eq!(pg, Some(Constraint::OneValidResult));
        let sqlite = constraint("UNIQUE constraint failed: payments.provider, payments.provider_ref", None);
        assert_eq!(sqlite, Some(Constraint::ProviderRef));
        assert_eq!(constraint("UNIQUE constraint failed: payments.dossier_id", None), Some(Constraint::OnePayment));
        assert_eq!(constraint("x", Some("payments_one_pending_idx")), Some(Constraint::OnePayment));
        assert_eq!(constraint("UNIQUE constraint failed: dossiers.code", None), None);
        assert_eq!(constraint("x", Some("dossiers_code_key")), None);
        assert_eq!(constraint("something else", None), None);
    }
}
