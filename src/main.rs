//! The `motcua` command: serve (default), worker, migrate, seed, unit, user, openapi.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use motcua::app::Application;
use motcua::auth::password;
use motcua::config::Settings;
use motcua::db::{self, Db};
use motcua::domain::roles::Role;
use motcua::domain::units::Level;
use motcua::error::ApiError;
use motcua::staff::NewStaff;

#[derive(Parser)]
#[command(name = "motcua", version, about = "Electronic one-stop shop backend")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default), delivering e-mail too unless
    /// `notifications.worker_enabled` is false.
    Serve,
    /// Deliver the e-mail outbox (and the staff digest) without serving HTTP.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Seed data into the database.
    Seed {
        /// The demo province, catalogue and accounts (refused in production).
        #[arg(long)]
        demo: bool,
    },
    /// Manage administrative units (to bootstrap a production tree).
    Unit {
        #[command(subcommand)]
        command: UnitCommand,
    },
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Write a consistent backup while the service runs: the database
    /// snapshot (SQLite `VACUUM INTO`, PostgreSQL `pg_dump`) and the documents.
    Backup {
        /// A new directory for the snapshot (`motcua.sqlite3` or `motcua.pgdump`).
        #[arg(long)]
        to: PathBuf,
        /// Where the documents go (default: `files/` in the backup directory).
        /// Only the missing ones are copied, so backups can share one.
        #[arg(long)]
        files_to: Option<PathBuf>,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff account; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// One or more roles, comma-separated: clerk, specialist, approver, auditor, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        role: Vec<Role>,
        /// Code of the account's unit, e.g. 22.
        #[arg(long)]
        unit: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum UnitCommand {
    /// Create a unit; without --parent, a root (a province).
    Create {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// province, district or commune.
        #[arg(long)]
        level: Level,
        /// Code of the parent unit.
        #[arg(long)]
        parent: Option<String>,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", motcua::openapi::document());
        return Ok(());
    }
    let settings = Settings::load()?;
    motcua::telemetry::init(&settings.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(settings).await?.run_until_stopped().await?,
        Command::Worker => {
            let db_settings = settings.database.clone();
            let db = tokio::task::spawn_blocking(move || Db::connect(&db_settings)).await??;
            let worker = Arc::new(motcua::notify::worker::Worker::new(&settings, db)?);
            tokio::select! {
                () = worker.run() => {}
                () = shutdown_signal() => tracing::info!("outbox worker stopping"),
            }
        }
        Command::Migrate => {
            let (target, applied) = tokio::task::spawn_blocking(move || db::setup(&settings.database)).await??;
            for name in &applied {
                println!("applied {name}");
            }
            println!("{:?} database is up to date", target.backend());
        }
        Command::Seed { demo } => {
            if !demo {
                bail!("say what to seed: --demo");
            }
            if settings.profile == motcua::config::Profile::Production {
                bail!("the production profile never seeds demo data");
            }
            let db = tokio::task::spawn_blocking(move || Db::connect(&settings.database)).await??;
            let seeded = motcua::seed::demo(&db).await?;
            println!("{}", if seeded { "demo data seeded" } else { "demo data already present" });
        }
        Command::Unit { command: UnitCommand::Create { code, name, level, parent } } => {
            let db = tokio::task::spawn_blocking(move || Db::connect(&settings.database)).await??;
            let id = db
                .write(move |conn| {
                    let parent = match parent {
                        Some(p) => Some(
                            motcua::units::find_by_code(conn, &p)?
                                .ok_or_else(|| ApiError::invalid_field("parent", "no unit with this code"))?,
                        ),
                        None => None,
                    };
                    Ok(motcua::units::create(conn, &code, &name, level, parent.as_ref())?.id)
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created unit {id}");
        }
        Command::Backup { to, files_to } => {
            let target = db::Target::of(&settings.database)?;
            let files_to = files_to.unwrap_or_else(|| to.join("files"));
            let files_dir = settings.files.dir;
            let report = tokio::task::spawn_blocking(move || {
                motcua::backup::run(&target, &files_dir, &to, &files_to).map(|r| (r, files_to))
            })
            .await??;
            let (report, files_to) = report;
            println!("database snapshot: {}", report.snapshot.display());
            println!("documents: {} copied, {} already in {}", report.copied, report.present, files_to.display());
        }
        Command::Openapi => unreachable!("handled before loading the settings"),
        Command::User { command: UserCommand::Create { email, role, unit, name, password_stdin: _ } } => {
            let mut pw = String::new();
            std::io::stdin().read_to_string(&mut pw).context("reading the password from standard input")?;
            let pw = pw.trim_end_matches(['\r', '\n']).to_string();
            let new = NewStaff::parse(&email, &name, &pw, &role, None).map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = password::hash_blocking(&pw)?;
            let email = new.email.clone();
            let db = tokio::task::spawn_blocking(move || Db::connect(&settings.database)).await??;
            let id = db
                .write(move |conn| {
                    let unit = motcua::units::find_by_code(conn, &unit)?
                        .ok_or_else(|| ApiError::invalid_field("unit", "no unit with this code"))?;
                    Ok(new.insert(conn, &unit, hash)?.id)
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {email} ({id})");
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (a container stopping).
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
