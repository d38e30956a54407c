//! The database: one connection type over PostgreSQL and SQLite, chosen
//! strictly from the URL scheme, an r2d2 pool, embedded migrations per backend,
//! and the helpers that run diesel work on actix's blocking pool.

pub mod backend;
pub mod schema;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use secrecy::ExposeSecret;

use crate::config::DatabaseSettings;
use crate::error::ApiError;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Postgres(String),
    Sqlite(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Target {
    /// No URL: the embedded file under `sqlite_dir`. `postgres://` or
    /// `postgresql://`: PostgreSQL. `sqlite://path`: that file. Anything else
    /// is refused, so that a typo never opens a stray database.
    pub fn parse(url: Option<&str>, sqlite_dir: &Path) -> anyhow::Result<Self> {
        let Some(url) = url else {
            return Ok(Self::Sqlite(sqlite_dir.join("motcua.sqlite3")));
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                bail!("DATABASE_URL sqlite:// needs a file path, e.g. sqlite://data/motcua.sqlite3");
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else {
            let scheme = url.split("://").next().filter(|_| url.contains("://")).unwrap_or("(none)");
            bail!("DATABASE_URL has an unsupported scheme `{scheme}`: use postgres://… or sqlite://path")
        }
    }

    /// The target the settings name (`database.url`, else the embedded
    /// file); a PostgreSQL URL gets the network timeouts of the settings
    /// (`backend::pg_url_with_timeouts`).
    pub fn of(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let url = settings.url.as_ref().map(|u| u.expose_secret().to_string());
        Ok(match Self::parse(url.as_deref(), &settings.sqlite_dir)? {
            Self::Postgres(url) => Self::Postgres(backend::pg_url_with_timeouts(&url, settings)),
            sqlite => sqlite,
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Splits `postgres://…/name?opts` into the same server's maintenance
/// database URL and `name`.
pub fn split_pg_database(url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map(|i| i + 3).context("not a URL")?;
    let slash = base[after_scheme..].rfind('/').map(|i| i + after_scheme);
    let Some(slash) = slash.filter(|&i| i + 1 < base.len()) else {
        bail!("the PostgreSQL URL names no database");
    };
    let name = base[slash + 1..].to_string();
    let mut admin = format!("{}/postgres", &base[..slash]);
    if let Some(q) = query {
        admin.push('?');
        admin.push_str(q);
    }
    Ok((admin, name))
}

fn sqlite_uri(path: &Path, create: bool) -> String {
    let escaped = path.to_string_lossy().replace('%', "%25").replace('?', "%3f").replace('#', "%23");
    format!("file:{escaped}?mode={}", if create { "rwc" } else { "rw" })
}

/// One connection, outside the pool (migrations, backups).
pub(crate) fn open(target: &Target, create_sqlite: bool) -> ConnectionResult<DbConnection> {
    match target {
        Target::Postgres(url) => PgConnection::establish(url).map(DbConnection::Pg),
        Target::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&sqlite_uri(path, create_sqlite))?;
            conn.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            )
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

/// r2d2 manager that opens exactly the backend the target names. Pooled
/// SQLite connections never create the file: a vanished database is an
/// error, not a fresh empty one.
pub struct Manager {
    target: Target,
    statement_timeout_secs: u64,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        let mut conn = open(&self.target, false)?;
        backend::configure_session(&mut conn, self.statement_timeout_secs)
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1").map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// Handle to the database shared by the whole application.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    target: Arc<Target>,
    /// SQLite has one writer: serialising this process's write transactions
    /// avoids lock-upgrade failures under concurrency.
    sqlite_writer: Arc<Mutex<()>>,
    /// `database.operation_timeout_secs`, when set.
    operation_timeout: Option<Duration>,
}

/// An SQL text literal, for values written into a statement rather than
/// bound (ids this service generated, where a planner needs to see them).
pub fn text_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Db {
    /// Prepares the database (creates the PostgreSQL database or the SQLite
    /// file when missing), applies pending migrations and opens the pool.
    pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let (target, _) = setup(settings)?;
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            // No idle connection kept in reserve: r2d2 would open it in the
            // background whenever the last idle one is taken, and a command
            // that exits meanwhile (`motcua user create`) could crash in the
            // TLS library's exit handlers under that connecting thread.
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(settings.checkout_timeout_secs.max(1)))
            .build(Manager { target: target.clone(), statement_timeout_secs: settings.statement_timeout_secs })
            .context("opening the database pool")?;
        let operation_timeout =
            (settings.operation_timeout_secs > 0).then(|| Duration::from_secs(settings.operation_timeout_secs));
        Ok(Self { pool, target: Arc::new(target), sqlite_writer: Arc::default(), operation_timeout })
    }

    pub fn backend(&self) -> Backend {
        self.target.backend()
    }

    /// The SQLite database file, when that is the backend.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self.target.as_ref() {
            Target::Sqlite(path) => Some(path),
            Target::Postgres(_) => None,
        }
    }

    pub fn pool_state(&self) -> r2d2::State {
        self.pool.state()
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. A
    /// checkout that times out answers 503, and so does work that outlasts
    /// `database.operation_timeout_secs`.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        self.bounded(None, actix_web::web::block(move || f(&mut *checkout(&pool)?))).await
    }

    /// Runs `f` inside one write transaction (`backend::write_transaction`):
    /// everything or nothing is committed, and a 2xx is only sent after the
    /// commit. On SQLite this process's writers take turns before they
    /// check out a connection, so that those waiting hold none. A write
    /// answered 503 for outlasting `database.operation_timeout_secs` rolls
    /// back when it finishes, unless it had already asked to commit.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let writer = (self.backend() == Backend::Sqlite).then(|| self.sqlite_writer.clone());
        let pool = self.pool.clone();
        let abandoned = Arc::new(AtomicBool::new(false));
        let given_up = abandoned.clone();
        let work = actix_web::web::block(move || {
            let _turn = writer.as_ref().map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
            backend::write_transaction(&mut *checkout(&pool)?, |conn| {
                let done = f(conn)?;
                if given_up.load(Ordering::SeqCst) {
                    tracing::warn!("a write outlasted database.operation_timeout_secs and was rolled back");
                    return Err(ApiError::unavailable());
                }
                Ok(done)
            })
        });
        self.bounded(Some(&abandoned), work).await
    }

    /// The outcome of `work`, or 503 once it outlasts the operation timeout
    /// (then `abandoned` is set: the work is left to finish on its thread).
    async fn bounded<T>(
        &self,
        abandoned: Option<&AtomicBool>,
        work: impl Future<Output = Result<Result<T, ApiError>, actix_web::error::BlockingError>>,
    ) -> Result<T, ApiError> {
        let Some(limit) = self.operation_timeout else { return work.await.map_err(ApiError::internal)? };
        match tokio::time::timeout(limit, work).await {
            Ok(done) => done.map_err(ApiError::internal)?,
            Err(_) => {
                if let Some(flag) = abandoned {
                    flag.store(true, Ordering::SeqCst);
                }
                tracing::warn!(limit_secs = limit.as_secs(), "database work outlasted database.operation_timeout_secs");
                Err(ApiError::retry_soon())
            }
        }
    }

    /// Readiness: a working connection within `READY_WITHIN`, and for SQLite
    /// the file still in place.
    pub async fn ping(&self) -> Result<(), ApiError> {
        if let Target::Sqlite(path) = self.target.as_ref()
            && !path.exists()
        {
            tracing::error!(path = %path.display(), "the SQLite database file is missing");
            return Err(ApiError::unavailable());
        }
        let ping = self.run(|conn| conn.batch_execute("SELECT 1").map_err(|_| ApiError::unavailable()));
        tokio::time::timeout(READY_WITHIN, ping).await.map_err(|_| {
            tracing::warn!("the database did not answer the readiness check in time");
            ApiError::unavailable()
        })?
    }
}

/// How long the readiness check waits for the database.
pub const READY_WITHIN: Duration = Duration::from_millis(1500);

/// A pooled connection; 503 when none frees up within the checkout timeout.
fn checkout(pool: &Pool) -> Result<r2d2::PooledConnection<Manager>, ApiError> {
    pool.get().map_err(|e| {
        tracing::warn!(error = %e, "database checkout failed");
        ApiError::unavailable()
    })
}

/// Takes the next number of sequence `name` in `period` (1, 2, 3 …) inside
/// the caller's transaction. The row lock (PostgreSQL) or the single writer
/// (SQLite) serialises concurrent callers, and a rolled-back transaction gives
/// its number back: numbers are unique and gap-free.
pub fn next_in_sequence(conn: &mut DbConnection, name: &str, period: &str) -> QueryResult<i32> {
    use schema::sequences;
    let bump = |conn: &mut DbConnection| {
        diesel::update(sequences::table.find((name, period)))
            .set(sequences::last_value.eq(sequences::last_value + 1))
            .returning(sequences::last_value)
            .get_result::<i32>(conn)
            .optional()
    };
    if let Some(n) = bump(conn)? {
        return Ok(n);
    }
    // The period's first number: create the row. On PostgreSQL a concurrent
    // first caller may create it too; a savepoint keeps our transaction alive
    // through that unique violation, and we then take the next number.
    let created = conn.transaction(|c| {
        diesel::insert_into(sequences::table)
            .values((sequences::name.eq(name), sequences::period.eq(period), sequences::last_value.eq(1)))
            .execute(c)
    });
    match created {
        Ok(_) => Ok(1),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            bump(conn)?.ok_or(diesel::result::Error::NotFound)
        }
        Err(e) => Err(e),
    }
}

/// Resolves the target, creates the database when missing and applies the
/// pending migrations, whose names it returns.
pub fn setup(settings: &DatabaseSettings) -> anyhow::Result<(Target, Vec<String>)> {
    let target = Target::of(settings)?;
    prepare(&target, settings.create_if_missing)?;
    let applied = migrate(&target)?;
    Ok((target, applied))
}

fn prepare(target: &Target, create_if_missing: bool) -> anyhow::Result<()> {
    match target {
        Target::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            open(target, true).with_context(|| format!("opening SQLite database {}", path.display()))?;
        }
        Target::Postgres(url) => {
            if PgConnection::establish(url).is_ok() {
                return Ok(());
            }
            let (admin_url, name) = split_pg_database(url)?;
            if !create_if_missing {
                bail!(
                    "cannot connect to PostgreSQL database `{name}`: create it (createdb {name}) or set database.create_if_missing"
                );
            }
            let mut admin = PgConnection::establish(&admin_url).context(
                "cannot reach the PostgreSQL server named by DATABASE_URL; is it running and is the URL right?",
            )?;
            tracing::info!(database = %name, "creating the PostgreSQL database");
            // Another instance may create it at the same moment: that is fine.
            if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""))) {
                tracing::info!(error = %e, "CREATE DATABASE did not succeed; connecting anyway");
            }
            PgConnection::establish(url).context("connecting to PostgreSQL")?;
        }
    }
    Ok(())
}

/// Applies the pending migrations of the target's backend; returns their names.
fn migrate(target: &Target) -> anyhow::Result<Vec<String>> {
    let mut conn = open(target, true).context("connecting for migrations")?;
    // Several instances may start at once: one migrates, the others wait.
    let applied = backend::with_session_lock(&mut conn, backend::Lock::Migrations, |conn| match conn {
        DbConnection::Pg(c) => {
            c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.iter().map(|m| m.to_string()).collect())
        }
        DbConnection::Sqlite(c) => {
            c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.iter().map(|m| m.to_string()).collect())
        }
    })?;
    let applied: Vec<String> = applied.map_err(|e| anyhow::anyhow!("applying migrations: {e}"))?;
    // The daily counts start from the dossiers already there, and are
    // counted again when the rules change.
    if applied.iter().any(|m| COUNTING_MIGRATIONS.contains(&m.as_str())) {
        crate::stats::daily::rebuild(&mut conn).context("counting the dossiers into daily_counts")?;
    }
    Ok(applied)
}

/// The migrations after which the daily counts are recomputed: the one that
/// creates `daily_counts`, and those that change what they count.
const COUNTING_MIGRATIONS: [&str; 3] = ["20250107000001", "20250114000002", "20250116000001"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_url_means_the_embedded_file() {
        let t = Target::parse(None, Path::new("data")).unwrap();
        assert_eq!(t, Target::Sqlite(PathBuf::from("data/motcua.sqlite3")));
    }

    #[test]
    fn schemes_select_the_backend() {
        let dir = Path::new("data");
        assert_eq!(Target::parse(Some("postgres://u@h/db"), dir).unwrap().backend(), Backend::Postgres);
        assert_eq!(Target::parse(Some("postgresql://u@h/db"), dir).unwrap().backend(), Backend::Postgres);
        assert_eq!(Target::parse(Some("sqlite:///tmp/x.db"), dir).unwrap(), Target::Sqlite("/tmp/x.db".into()));
        assert_eq!(Target::parse(Some("sqlite://rel/x.db"), dir).unwrap(), Target::Sqlite("rel/x.db".into()));
    }

    #[test]
    fn anything_else_is_refused() {
        let dir = Path::new("data");
        for bad in ["mysql://u@h/db", "data/motcua.sqlite3", "postgre://x", "sqlite://", ""] {
            assert!(Target::parse(Some(bad), dir).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn splits_the_database_name_off_a_postgres_url() {
        assert_eq!(
            split_pg_database("postgres://postgres@127.0.0.1:5432/motcua").unwrap(),
            ("postgres://postgres@127.0.0.1:5432/postgres".into(), "motcua".into())
        );
        assert_eq!(
            split_pg_database("postgres://u:p@h/db?sslmode=disable").unwrap(),
            ("postgres://u:p@h/postgres?sslmode=disable".into(), "db".into())
        );
        assert!(split_pg_database("postgres://u@h/").is_err());
        assert!(split_pg_database("postgres://u@h").is_err());
    }

    #[test]
    fn sqlite_uris_escape_special_characters() {
        assert_eq!(sqlite_uri(Path::new("a b/c?d#e%.db"), false), "file:a b/c%3fd%23e%25.db?mode=rw");
    }
}
