//! Typed settings: `config/default.toml`, then the profile file chosen by
//! `MOTCUA_ENV` (`local` unless set), then environment variables
//! (`MOTCUA__SECTION__KEY`, and `DATABASE_URL`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The JWT secret shipped in `config/default.toml`; production refuses it.
pub const DEFAULT_JWT_SECRET: &str = "insecure-development-secret-change-me";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Local,
    Production,
}

impl Profile {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "local" => Ok(Self::Local),
            "production" => Ok(Self::Production),
            other => bail!("MOTCUA_ENV must be `local` or `production`, not `{other}`"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip, default = "default_profile")]
    pub profile: Profile,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub throttle: ThrottleSettings,
    pub dossiers: DossierSettings,
    pub files: FileSettings,
    pub results: ResultSettings,
    pub payments: PaymentSettings,
    /// The service-quality scorecard's formula (`config/scorecard.toml`).
    pub scorecard: crate::domain::scorecard::ScorecardConfig,
    pub seed: SeedSettings,
    pub log: LogSettings,
    pub smtp: SmtpSettings,
    pub notifications: NotificationSettings,
    /// The national public service portal (docs/portal.md).
    pub portal: PortalSettings,
    /// Complaints and petitions (docs/complaints.md).
    pub complaints: ComplaintSettings,
    /// The 18-point assessment of dossiers (docs/assessment.md).
    pub assessment: AssessmentSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentSettings {
    /// Codes of the units whose one-stop unit decides, not only receives
    /// and returns, at least their level's share of procedures (index 5);
    /// `*` for every unit.
    pub units_deciding_at_desk: Vec<String>,
}

impl AssessmentSettings {
    /// Whether unit `code`'s one-stop unit decides at the desk (index 5).
    pub fn decides_at_desk(&self, code: &str) -> bool {
        self.units_deciding_at_desk.iter().any(|c| c == "*" || c == code)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintSettings {
    /// Working days a unit has to answer a complaint.
    pub answer_working_days: u32,
    /// Complaints one account may have waiting for an answer at once.
    pub max_open_per_applicant: u32,
}

fn default_profile() -> Profile {
    Profile::Local
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub json_limit_bytes: usize,
    pub body_limit_bytes: usize,
    pub workers: usize,
    /// Where `/metrics` is served, apart from the API (loopback by default).
    pub metrics_address: String,
    /// Reverse proxies (CIDRs) whose `Forwarded` / `X-Forwarded-For` name the
    /// client; from anyone else these headers are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Open connections the API listener holds at once, all workers together.
    pub max_connections: usize,
    /// A request body is cut off (408) once, after `body_grace_secs`, it has
    /// delivered less than `body_min_bytes_per_sec` on average, or after
    /// `body_timeout_secs` in all (`domain::throttle::BodyPace`).
    pub body_grace_secs: u64,
    pub body_min_bytes_per_sec: u64,
    pub body_timeout_secs: u64,
}

impl HttpSettings {
    pub fn body_pace(&self) -> crate::domain::throttle::BodyPace {
        crate::domain::throttle::BodyPace {
            grace: std::time::Duration::from_secs(self.body_grace_secs),
            min_bytes_per_sec: self.body_min_bytes_per_sec,
            max: std::time::Duration::from_secs(self.body_timeout_secs),
        }
    }

    /// The API's worker threads: `workers`, or one per core when 0.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Option<SecretString>,
    pub sqlite_dir: PathBuf,
    pub pool_size: u32,
    pub checkout_timeout_secs: u64,
    pub create_if_missing: bool,
    /// PostgreSQL: how long opening a connection may take.
    pub connect_timeout_secs: u64,
    /// PostgreSQL: how long sent data may stay unacknowledged before the
    /// kernel drops the connection (a silent partition); keepalives probe
    /// idle connections every few seconds besides.
    pub tcp_user_timeout_secs: u64,
    /// PostgreSQL: the server cancels a statement running longer (0: never).
    pub statement_timeout_secs: u64,
    /// The longest one request's database work may take, checkout included;
    /// past it the request gets 503 and an unfinished write is rolled back
    /// (0: no limit, for commands such as `stats rebuild`).
    pub operation_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    /// A refresh token presented again this soon after its exchange gets the
    /// same successor (two tabs refreshing at once), not a revocation.
    pub refresh_reuse_grace_secs: i64,
}

/// What one client may do how often (`src/throttle.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSettings {
    pub login_failures_per_minute_per_account_and_address: u32,
    pub login_failures_per_minute_per_account: u32,
    pub login_failures_per_minute_per_address: u32,
    pub password_resets_per_hour_per_address: u32,
    pub password_resets_per_hour_per_account: u32,
    pub registrations_per_hour_per_address: u32,
    pub lookups_per_minute_per_address: u32,
    pub lookup_failures_per_code: u32,
    pub lookup_lock_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DossierSettings {
    pub day_end_hour: u32,
    /// Office hours of a working day: what the working hours allotted to the
    /// steps of an internal process count (docs/processes.md).
    pub office_hours: crate::domain::calendar::OfficeHours,
    /// A step due within this many working hours is due soon: the queue's
    /// `due_soon` filter and the staff digest (docs/processes.md).
    pub due_soon_working_hours: u32,
    /// A step late by more than this many working hours alerts the unit's
    /// approvers, once (docs/processes.md).
    pub step_alert_after_working_hours: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub dir: PathBuf,
    pub max_bytes: usize,
    /// Uploads read at once by one instance; beyond, 503 with `Retry-After`.
    pub max_concurrent_uploads: usize,
    pub max_files_per_dossier: u64,
    pub max_bytes_per_dossier: u64,
    /// What one applicant account uploads per local day.
    pub max_bytes_per_account_per_day: u64,
    /// Below this many free bytes on the file store's or the SQLite
    /// database's file system, `/readyz` answers 503.
    pub min_free_bytes: u64,
}

impl FileSettings {
    pub fn quota(&self) -> crate::domain::dossier::UploadQuota {
        crate::domain::dossier::UploadQuota {
            files_per_dossier: self.max_files_per_dossier,
            bytes_per_dossier: self.max_bytes_per_dossier,
            bytes_per_account_per_day: self.max_bytes_per_account_per_day,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultSettings {
    pub signing_key: Option<SecretString>,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    pub providers: std::collections::BTreeMap<String, ProviderSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub secret: SecretString,
    pub checkout_url: String,
}

/// The demo payment provider's shipped secret; production refuses it.
pub const DEFAULT_PROVIDER_SECRET: &str = "insecure-demo-provider-secret";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSettings {
    pub demo: bool,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP: a local relay or a mail catcher.
    None,
    /// Plain connection upgraded with STARTTLS (usually port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from_address: String,
    pub from_name: String,
    /// Per SMTP operation.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Deliver the outbox from `motcua serve` (else run `motcua worker`).
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
    /// After this many failed deliveries a message is dead (admins retry it).
    pub max_attempts: i32,
    /// Retry `n` waits about `backoff_base_secs × 2^(n-1)`, at most `backoff_max_secs`.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// Where the links in e-mails point, without a trailing slash.
    pub public_base_url: String,
    /// The province's public lookup page, `{code}` standing for the dossier
    /// code: the receipt links to it (never with the national ID).
    pub lookup_page_url: Option<String>,
    /// Citizens file dossiers only once their e-mail address is verified.
    pub require_verified_email_to_file: bool,
    pub verification_ttl_hours: i64,
    pub password_reset_ttl_minutes: i64,
    /// Local hour at which staff get their daily digest.
    pub digest_hour: u32,
    /// The digest lists dossiers due within this many working days.
    pub digest_soon_working_days: u32,
}

/// The national public service portal: where dossiers are mirrored, how to
/// authenticate there, and where the documents of its dossiers come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    /// The portal's sync endpoint, issued to the province. Unset: nothing is
    /// mirrored (and no sync record is written).
    pub sync_url: Option<String>,
    /// Authentication: a bearer token, or HTTP basic credentials.
    pub bearer_token: Option<SecretString>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// A PEM file with the client certificate and its private key, for
    /// mutual TLS.
    pub client_certificate: Option<PathBuf>,
    /// A PEM file of a certificate authority to trust besides the system's.
    pub ca_certificate: Option<PathBuf>,
    /// Per delivery.
    pub timeout_secs: u64,
    /// Deliver from `motcua serve` (else from `motcua worker`).
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
    /// How long a record waits before its first delivery, so that a burst of
    /// changes to one dossier reaches the portal as one record
    /// (`portal::record::build`).
    pub settle_ms: u64,
    pub max_attempts: i32,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// A dossier whose latest record waits longer than this is overdue.
    pub overdue_after_minutes: i64,
    /// The only origin (`scheme://host[:port]`) documents of dossiers filed
    /// on the portal are fetched from.
    pub document_origin: Option<String>,
    /// The largest filing the portal may send (documents inline, in base64).
    pub max_filing_bytes: usize,
    /// The most documents one filing attaches.
    pub max_documents: usize,
}

impl PortalSettings {
    /// Whether dossiers are mirrored to the portal: then, how long their
    /// records wait before delivery.
    pub fn mirrors(&self) -> Option<chrono::Duration> {
        self.sync_url.as_ref().map(|_| chrono::Duration::milliseconds(self.settle_ms as i64))
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

/// The scorecard's file in the configuration directory: `MOTCUA_SCORECARD`,
/// or `scorecard.toml` (the national portal's six groups; the Decision's
/// five are `scorecard-five-groups.toml`).
fn scorecard_file(env: &[(String, String)]) -> String {
    env.iter().find(|(k, _)| k == "MOTCUA_SCORECARD").map_or_else(|| "scorecard.toml".into(), |(_, v)| v.clone())
}

impl Settings {
    /// Loads the settings from `MOTCUA_CONFIG_DIR` (default `config/`), the
    /// profile named by `MOTCUA_ENV` and the process environment.
    pub fn load() -> anyhow::Result<Self> {
        let dir = std::env::var("MOTCUA_CONFIG_DIR").unwrap_or_else(|_| "config".into());
        let profile = Profile::parse(&std::env::var("MOTCUA_ENV").unwrap_or_else(|_| "local".into()))?;
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(Path::new(&dir), profile, &env)
    }

    /// Loads from an explicit directory, profile and environment (the
    /// scorecard from `MOTCUA_SCORECARD`, default `scorecard.toml`): the pure core
    /// of [`Settings::load`], used by tests.
    pub fn load_from(dir: &Path, profile: Profile, env: &[(String, String)]) -> anyhow::Result<Self> {
        let file = |name: &str| config::File::from(dir.join(name)).required(true);
        let mut builder = config::Config::builder()
            .add_source(file("default.toml"))
            .add_source(file(&scorecard_file(env)))
            .add_source(file(&format!("{}.toml", profile.as_str())))
            .add_source(
                config::Environment::with_prefix("MOTCUA")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(env.iter().cloned().collect())),
            );
        if let Some((_, url)) = env.iter().find(|(k, _)| k == "DATABASE_URL") {
            builder = builder.set_override("database.url", url.as_str())?;
        }
        let mut settings: Settings = builder
            .build()
            .with_context(|| format!("reading configuration from {}", dir.display()))?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.profile = profile;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.profile == Profile::Production {
            let secret = self.auth.jwt_secret.expose_secret();
            if secret == DEFAULT_JWT_SECRET {
                bail!("the production profile refuses the default JWT secret: set MOTCUA__AUTH__JWT_SECRET");
            }
            if secret.len() < 32 {
                bail!("the production JWT secret must be at least 32 characters long");
            }
            if self.database.url.is_none() {
                bail!("the production profile needs an explicit DATABASE_URL");
            }
            if self.seed.demo {
                bail!("the production profile never seeds demo data: unset MOTCUA__SEED__DEMO");
            }
            if self.results.signing_key.is_none() {
                bail!("the production profile needs a result signing key: set MOTCUA__RESULTS__SIGNING_KEY");
            }
            if let Some((name, _)) =
                self.payments.providers.iter().find(|(_, p)| p.secret.expose_secret() == DEFAULT_PROVIDER_SECRET)
            {
                bail!("payment provider `{name}` still has the shipped demo secret: set its secret");
            }
            if self.smtp.username.is_some() && self.smtp.security == SmtpSecurity::None {
                bail!("smtp.security = \"none\" would send the SMTP password in clear: use starttls or tls");
            }
        }
        if !(1..=60).contains(&self.complaints.answer_working_days) {
            bail!("complaints.answer_working_days is between 1 and 60");
        }
        if !(1..=100).contains(&self.complaints.max_open_per_applicant) {
            bail!("complaints.max_open_per_applicant is between 1 and 100");
        }
        if !(1..=23).contains(&self.dossiers.day_end_hour) {
            bail!("dossiers.day_end_hour is an hour between 1 and 23");
        }
        self.scorecard
            .validate()
            .map_err(|e| anyhow::anyhow!("the scorecard (config/scorecard.toml or MOTCUA_SCORECARD): {e}"))?;
        if self.database.pool_size == 0 {
            bail!("database.pool_size must be at least 1");
        }
        if self.auth.access_token_ttl_secs <= 0 || self.auth.refresh_token_ttl_days <= 0 {
            bail!("token lifetimes must be positive");
        }
        self.validate_mail()?;
        self.validate_portal()
    }

    fn validate_portal(&self) -> anyhow::Result<()> {
        let p = &self.portal;
        let http = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        if p.sync_url.as_deref().is_some_and(|u| !http(u)) {
            bail!("portal.sync_url is an http(s) URL");
        }
        if p.document_origin.as_deref().is_some_and(|u| !http(u) || u.ends_with('/')) {
            bail!("portal.document_origin is scheme://host[:port], without a trailing slash");
        }
        if p.username.is_some() != p.password.is_some() {
            bail!("portal.username and portal.password go together");
        }
        if p.bearer_token.is_some() && p.username.is_some() {
            bail!("portal: a bearer token or basic credentials, not both");
        }
        if p.timeout_secs == 0 || p.poll_interval_ms < 10 || p.max_attempts < 1 || p.backoff_base_secs == 0 {
            bail!("portal: timeout_secs ≥ 1, poll_interval_ms ≥ 10, max_attempts ≥ 1 and backoff_base_secs ≥ 1");
        }
        if p.backoff_max_secs < p.backoff_base_secs || p.overdue_after_minutes < 1 {
            bail!("portal: backoff_max_secs ≥ backoff_base_secs and overdue_after_minutes ≥ 1");
        }
        if p.settle_ms > 600_000 {
            bail!("portal.settle_ms is at most 600000 (ten minutes)");
        }
        let clear = |u: &Option<String>| u.as_deref().is_some_and(|u| u.starts_with("http://"));
        if self.profile == Profile::Production && (clear(&p.sync_url) || clear(&p.document_origin)) {
            bail!(
                "the production profile talks to the portal over TLS only: portal.sync_url and document_origin are https"
            );
        }
        Ok(())
    }

    fn validate_mail(&self) -> anyhow::Result<()> {
        let (smtp, n) = (&self.smtp, &self.notifications);
        if smtp.host.trim().is_empty() || smtp.port == 0 || smtp.timeout_secs == 0 {
            bail!("smtp.host, smtp.port and smtp.timeout_secs must be set");
        }
        if crate::domain::identity::Email::parse(&smtp.from_address).is_err() {
            bail!("smtp.from_address is not an e-mail address");
        }
        if smtp.username.is_some() != smtp.password.is_some() {
            bail!("smtp.username and smtp.password go together");
        }
        if !(n.public_base_url.starts_with("http://") || n.public_base_url.starts_with("https://"))
            || n.public_base_url.ends_with('/')
        {
            bail!("notifications.public_base_url is an http(s) URL without a trailing slash");
        }
        if n.poll_interval_ms < 10 || n.max_attempts < 1 || n.backoff_base_secs == 0 {
            bail!("notifications: poll_interval_ms ≥ 10, max_attempts ≥ 1 and backoff_base_secs ≥ 1");
        }
        if n.backoff_max_secs < n.backoff_base_secs {
            bail!("notifications.backoff_max_secs must be at least backoff_base_secs");
        }
        if n.verification_ttl_hours <= 0 || n.password_reset_ttl_minutes <= 0 {
            bail!("notifications: token lifetimes must be positive");
        }
        if n.digest_hour > 23 {
            bail!("notifications.digest_hour is an hour between 0 and 23");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(profile: Profile, env: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load_from(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config")), profile, &env)
    }

    #[test]
    fn local_profile_loads_defaults_and_seeds_demo_data() {
        let s = load(Profile::Local, &[]).unwrap();
        assert_eq!(s.http.port, 8080);
        assert!(s.seed.demo);
        assert!(s.database.url.is_none());
    }

    #[test]
    fn environment_overrides_any_key() {
        let s = load(Profile::Local, &[("MOTCUA__HTTP__PORT", "9123"), ("MOTCUA__SEED__DEMO", "false")]).unwrap();
        assert_eq!(s.http.port, 9123);
        assert!(!s.seed.demo);
    }

    #[test]
    fn database_url_comes_from_the_conventional_variable() {
        let s = load(Profile::Local, &[("DATABASE_URL", "postgres://x@h/db")]).unwrap();
        assert_eq!(s.database.url.unwrap().expose_secret(), "postgres://x@h/db");
    }

    #[test]
    fn production_refuses_the_default_secret() {
        let err = load(Profile::Production, &[("DATABASE_URL", "postgres://x@h/db")]).unwrap_err();
        assert!(err.to_string().contains("default JWT secret"), "{err}");
    }

    #[test]
    fn production_needs_an_explicit_database() {
        let secret = "0123456789abcdef0123456789abcdef";
        let err = load(Profile::Production, &[("MOTCUA__AUTH__JWT_SECRET", secret)]).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        let env = [("MOTCUA__AUTH__JWT_SECRET", secret), ("DATABASE_URL", "postgres://x@h/db")];
        let err = load(Profile::Production, &env).unwrap_err();
        assert!(err.to_string().contains("signing key"), "{err}");
        let key = ("MOTCUA__RESULTS__SIGNING_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        let ok = load(Profile::Production, &[env[0], env[1], key]).unwrap();
        assert!(!ok.seed.demo);
        assert!(ok.payments.providers.is_empty(), "production ships no demo provider");
        let demo_secret = ("MOTCUA__PAYMENTS__PROVIDERS__BANK__SECRET", DEFAULT_PROVIDER_SECRET);
        let url = ("MOTCUA__PAYMENTS__PROVIDERS__BANK__CHECKOUT_URL", "https://pay.example/{payment_id}");
        let err = load(Profile::Production, &[env[0], env[1], key, demo_secret, url]).unwrap_err();
        assert!(err.to_string().contains("payment provider `bank`"), "{err}");
    }

    #[test]
    fn unknown_profiles_are_refused() {
        assert!(Profile::parse("staging").is_err());
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let s =
            load(Profile::Local, &[("MOTCUA__SMTP__USERNAME", "mailer"), ("MOTCUA__SMTP__PASSWORD", "smtp-hunter2")])
                .unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains(DEFAULT_JWT_SECRET));
        assert!(!debug.contains("smtp-hunter2"));
    }

    #[test]
    fn mail_settings_have_defaults_and_overrides() {
        let s = load(Profile::Local, &[]).unwrap();
        assert_eq!((s.smtp.host.as_str(), s.smtp.port, s.smtp.security), ("127.0.0.1", 1025, SmtpSecurity::None));
        assert!(s.notifications.worker_enabled);
        assert!(!s.notifications.require_verified_email_to_file, "local development files without a mail server");
        let s = load(
            Profile::Local,
            &[
                ("MOTCUA__SMTP__SECURITY", "starttls"),
                ("MOTCUA__SMTP__PORT", "587"),
                ("MOTCUA__SMTP__PASSWORD", "1234"),
            ],
        );
        assert!(s.unwrap_err().to_string().contains("go together"));
        let s = load(Profile::Local, &[("MOTCUA__SMTP__SECURITY", "ssl")]);
        assert!(s.is_err());
        let s = load(Profile::Local, &[("MOTCUA__NOTIFICATIONS__PUBLIC_BASE_URL", "https://dichvucong.example.vn/")]);
        assert!(s.unwrap_err().to_string().contains("trailing slash"));
    }

    #[test]
    fn production_verifies_e_mail_and_never_sends_passwords_in_clear() {
        let env = [
            ("MOTCUA__AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "postgres://x@h/db"),
            ("MOTCUA__RESULTS__SIGNING_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ];
        let s = load(Profile::Production, &env).unwrap();
        assert!(s.notifications.require_verified_email_to_file);
        let mut clear = env.to_vec();
        clear.extend([("MOTCUA__SMTP__USERNAME", "mailer"), ("MOTCUA__SMTP__PASSWORD", "secret")]);
        let err = load(Profile::Production, &clear).unwrap_err();
        assert!(err.to_string().contains("in clear"), "{err}");
        clear.push(("MOTCUA__SMTP__SECURITY", "tls"));
        assert!(load(Profile::Production, &clear).is_ok());
    }
}
