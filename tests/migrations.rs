//! Every migration's `down.sql` really reverses its `up.sql`, on both
//! backends, and the two backends define the same tables and columns.

mod common;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

fn dir(backend: &str) -> FileBasedMigrations {
    FileBasedMigrations::from_path(format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn sqlite_columns(conn: &mut SqliteConnection) -> Vec<Column> {
    let mut cols: Vec<Column> = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name != '__diesel_schema_migrations'",
    )
    .load(conn)
    .unwrap();
    cols.sort();
    cols
}

fn pg_columns(conn: &mut PgConnection) -> Vec<Column> {
    let mut cols: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name != '__diesel_schema_migrations'",
    )
    .load(conn)
    .unwrap();
    cols.sort();
    cols
}

#[test]
fn sqlite_migrations_reverse_and_reapply() {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.run_pending_migrations(dir("sqlite")).unwrap();
    let up = sqlite_columns(&mut conn);
    assert!(!up.is_empty());
    conn.revert_all_migrations(dir("sqlite")).unwrap();
    assert_eq!(sqlite_columns(&mut conn), vec![]);
    conn.run_pending_migrations(dir("sqlite")).unwrap();
    assert_eq!(sqlite_columns(&mut conn), up);
}

#[test]
fn postgres_migrations_reverse_reapply_and_match_sqlite() {
    let Some(base) = common::postgres_url() else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let (admin_url, _) = motcua::db::split_pg_database(&base).unwrap();
    let name = format!("motcua_migrations_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let at = admin_url.rfind("/postgres").unwrap();
    let url = format!("{}/{name}{}", &admin_url[..at], &admin_url[at + "/postgres".len()..]);
    let result = std::panic::catch_unwind(|| {
        let mut conn = PgConnection::establish(&url).unwrap();
        conn.run_pending_migrations(dir("postgres")).unwrap();
        let up = pg_columns(&mut conn);
        conn.revert_all_migrations(dir("postgres")).unwrap();
        assert_eq!(pg_columns(&mut conn), vec![]);
        conn.run_pending_migrations(dir("postgres")).unwrap();
        assert_eq!(pg_columns(&mut conn), up);

        let mut sqlite = SqliteConnection::establish(":memory:").unwrap();
        sqlite.run_pending_migrations(dir("sqlite")).unwrap();
        assert_eq!(sqlite_columns(&mut sqlite), up, "the backends' schemas differ");
    });
    admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
    result.unwrap();
}
