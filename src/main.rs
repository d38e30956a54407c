//! The `motcua` command: serve (default), worker, migrate, seed, simulate, unit, user, portal, openapi, backup.

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
    /// Deliver the outbox — e-mails, the staff digest and, when the portal
    /// is configured, its sync records — without serving HTTP.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Seed data into the database.
    Seed {
        /// The demo province, catalogue and accounts (refused in production).
        #[arg(long)]
        demo: bool,
    },
    /// Fill the database with a simulated province: applicants and a year of
    /// dossiers (not in production). Seeds the demo data first when needed.
    Simulate(SimulateArgs),
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
    /// Maintain the statistics.
    Stats {
        #[command(subcommand)]
        command: StatsCommand,
    },
    /// Maintain the document store.
    Files {
        #[command(subcommand)]
        command: FilesCommand,
    },
    /// The national public service portal (docs/portal.md).
    Portal {
        #[command(subcommand)]
        command: PortalCommand,
    },
}

#[derive(Subcommand)]
enum PortalCommand {
    /// Queue a record with the whole state of every dossier filed or changed
    /// on the local dates [from, to): after an outage of the portal, or when
    /// an existing database is first connected.
    Resync {
        /// First local date, inclusive (YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last local date, exclusive.
        #[arg(long)]
        to: chrono::NaiveDate,
    },
    /// Create the portal's service account; its secret is read from
    /// standard input.
    Account {
        #[arg(long)]
        email: String,
        /// Code of the province whose units it files for.
        #[arg(long)]
        unit: String,
        #[arg(long, default_value = "Cổng Dịch vụ công quốc gia")]
        name: String,
        /// Read the secret from standard input (required: never on the command line).
        #[arg(long, required = true)]
        secret_stdin: bool,
    },
}

#[derive(Subcommand)]
enum FilesCommand {
    /// List (or with --delete remove) stored documents no row names, older
    /// than the grace period: left by crashes between storing a file and
    /// committing its row. A dry run unless --delete.
    Gc {
        /// Remove them (otherwise only count them).
        #[arg(long)]
        delete: bool,
        /// Only files at least this old are considered.
        #[arg(long, default_value_t = 24)]
        grace_hours: u64,
    },
}

#[derive(Subcommand)]
enum StatsCommand {
    /// Recompute the daily counts from the dossiers (after editing the
    /// database by hand, or to check them: the counts kept by the service
    /// and the recomputed ones are the same).
    Rebuild,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Dossiers received over the year.
    #[arg(long, default_value_t = 100_000)]
    dossiers: u64,
    /// Seed of the random generator: the same seed gives the same province.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The simulated year (default: last year).
    #[arg(long)]
    year: Option<i32>,
    /// Citizen accounts filing the dossiers (default: one per ten dossiers).
    #[arg(long)]
    applicants: Option<u64>,
    /// Extra dossiers received on the last day and left unclaimed in the queues.
    #[arg(long, default_value_t = 0)]
    backlog: u64,
    /// Generated communes added to the demo hierarchy.
    #[arg(long, default_value_t = 0)]
    communes: u32,
    /// Share filed online, at every level (default: Quảng Ninh's, level by level).
    #[arg(long)]
    online: Option<f64>,
    /// Share with every mandatory component digitized, at every level.
    #[arg(long)]
    digitized: Option<f64>,
    /// Share of document results issued as e-results, at every level.
    #[arg(long)]
    e_result: Option<f64>,
    /// Share reusing a repository document.
    #[arg(long)]
    reuse: Option<f64>,
    /// Share of fee-bearing dossiers paid online.
    #[arg(long)]
    online_payment: Option<f64>,
    /// Share of satisfied ratings.
    #[arg(long)]
    satisfaction: Option<f64>,
    /// Share of results by the appointment date.
    #[arg(long)]
    on_time: Option<f64>,
}

impl SimulateArgs {
    fn options(self) -> motcua::simulate::Options {
        let d = motcua::simulate::Mix::default();
        let every_level = motcua::simulate::PerLevel::all;
        let mix = motcua::simulate::Mix {
            online: self.online.map_or(d.online, every_level),
            digitized: self.digitized.map_or(d.digitized, every_level),
            e_result: self.e_result.map_or(d.e_result, every_level),
            reuse: self.reuse.unwrap_or(d.reuse),
            online_payment: self.online_payment.unwrap_or(d.online_payment),
            satisfaction: self.satisfaction.unwrap_or(d.satisfaction),
            on_time: self.on_time.unwrap_or(d.on_time),
            ..d
        };
        motcua::simulate::Options {
            dossiers: self.dossiers,
            seed: self.seed,
            year: self.year.unwrap_or_else(|| chrono::Datelike::year(&motcua::time::now()) - 1),
            applicants: self.applicants,
            backlog: self.backlog,
            communes: self.communes,
            mix,
        }
    }
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
    return_large_blocks_to_the_system();
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", motcua::openapi::document());
        return Ok(());
    }
    let mut settings = Settings::load()?;
    motcua::telemetry::init(&settings.log);
    let command = cli.command.unwrap_or(Command::Serve);
    if !matches!(command, Command::Serve | Command::Worker) {
        // An operator's command (simulate, stats rebuild, backup…) may run
        // long statements on purpose: the request time limits are the service's.
        settings.database.statement_timeout_secs = 0;
        settings.database.operation_timeout_secs = 0;
    }
    match command {
        Command::Serve => Application::build(settings).await?.run_until_stopped().await?,
        Command::Worker => {
            let db_settings = settings.database.clone();
            let db = tokio::task::spawn_blocking(move || Db::connect(&db_settings)).await??;
            let worker = Arc::new(motcua::notify::worker::Worker::new(&settings, db.clone())?);
            let client = Arc::new(motcua::portal::client::PortalClient::new(&settings.portal)?);
            let portal = async {
                match motcua::portal::courier(&settings.portal, &client, &db) {
                    Some(courier) => courier.run().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = worker.run() => {}
                () = portal => {}
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
        Command::Simulate(args) => {
            if settings.profile == motcua::config::Profile::Production {
                bail!("the production profile never simulates: simulated accounts share the demo password");
            }
            let options = args.options();
            let db = tokio::task::spawn_blocking({
                let database = settings.database.clone();
                move || Db::connect(&database)
            })
            .await??;
            motcua::seed::demo(&db).await?;
            let signer = motcua::results::keys::Signer::load(&settings.results, settings.profile)?;
            let files = motcua::storage::LocalDir::new(settings.files.dir.clone())?;
            let (dossiers, assessment) = (settings.dossiers.clone(), settings.assessment.clone());
            let report = db
                .run(move |conn| {
                    motcua::results::publish_key(conn, &signer.key_id, &signer.public_key_b64())?;
                    Ok(motcua::simulate::run(conn, &signer, &files, (&dossiers, &assessment), &options))
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))??;
            println!(
                "simulated {} dossiers (+{} of the year before) for {} applicants: {} events, {} e-results in {:.1} s",
                report.dossiers,
                report.history_dossiers,
                report.applicants,
                report.events,
                report.results,
                report.seconds
            );
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
        Command::Stats { command: StatsCommand::Rebuild } => {
            let db = tokio::task::spawn_blocking(move || Db::connect(&settings.database)).await??;
            let done =
                db.write(|conn| Ok(motcua::stats::daily::rebuild(conn)?)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("daily counts rebuilt: {} rows, {} differed from the kept counts", done.rows, done.differing);
        }
        Command::Files { command: FilesCommand::Gc { delete, grace_hours } } => {
            let db = tokio::task::spawn_blocking(move || Db::connect(&settings.database)).await??;
            let store = motcua::storage::LocalDir::new(settings.files.dir)?;
            let grace = std::time::Duration::from_secs(grace_hours * 3600);
            let report = db
                .run(move |conn| motcua::files_gc::run(conn, &store, grace, delete).map_err(ApiError::internal))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{} files older than {grace_hours} h; {} named by no row ({} bytes); {}",
                report.examined,
                report.orphans,
                report.orphan_bytes,
                if delete { format!("{} removed", report.removed) } else { "dry run: nothing removed".into() }
            );
        }
        Command::Portal { command: PortalCommand::Resync { from, to } } => {
            if settings.portal.mirrors().is_none() {
                bail!("portal.sync_url is not set: nothing would deliver the records");
            }
            if to <= from {
                bail!("--to is after --from");
            }
            let db = tokio::task::spawn_blocking(move || Db::connect(&settings.database)).await??;
            let queued = motcua::portal::resync(&db, from, to).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{queued} dossiers queued for the portal");
        }
        Command::Portal { command: PortalCommand::Account { email, unit, name, secret_stdin: _ } } => {
            let secret = read_secret("secret")?;
            let new = NewStaff::portal_account(&email, &name, &secret).map_err(|e| anyhow::anyhow!("{e}"))?;
            let id = create_account(settings, new, &secret, unit).await?;
            println!("created the portal's service account {email} ({id})");
        }
        Command::Openapi => unreachable!("handled before loading the settings"),
        Command::User { command: UserCommand::Create { email, role, unit, name, password_stdin: _ } } => {
            let pw = read_secret("password")?;
            let new = NewStaff::parse(&email, &name, &pw, &role, None).map_err(|e| anyhow::anyhow!("{e}"))?;
            let email = new.email.clone();
            let id = create_account(settings, new, &pw, unit).await?;
            println!("created {email} ({id})");
        }
    }
    Ok(())
}

/// A password or secret from standard input (never the command line).
fn read_secret(what: &str) -> anyhow::Result<String> {
    let mut secret = String::new();
    std::io::stdin().read_to_string(&mut secret).with_context(|| format!("reading the {what} from standard input"))?;
    Ok(secret.trim_end_matches(['\r', '\n']).to_string())
}

/// Creates the account `new`, with `secret` hashed, in the unit with code `unit`; its id.
async fn create_account(settings: Settings, new: NewStaff, secret: &str, unit: String) -> anyhow::Result<String> {
    let hash = password::hash_blocking(secret)?;
    let db = tokio::task::spawn_blocking(move || Db::connect(&settings.database)).await??;
    db.write(move |conn| {
        let unit = motcua::units::find_by_code(conn, &unit)?
            .ok_or_else(|| ApiError::invalid_field("unit", "no unit with this code"))?;
        Ok(new.insert(conn, &unit, hash)?.id)
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
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

/// glibc raises its mmap threshold to the size of the largest block freed so
/// far; from then on argon2's 19 MiB per hash (and the exports' buffers) come
/// from per-thread arenas that keep the memory for good. A fixed threshold
/// has blocks of 1 MiB and more mapped on their own and returned when freed.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator, under its lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
