//! Outbox delivery, for both channels. A courier claims due messages with a
//! lease, a batch at a time, hands each to its transport (SMTP, or the
//! national portal) and settles them: sent; to retry after an exponential
//! backoff with jitter; or dead after `max_attempts` failures or a permanent
//! refusal. It runs inside `motcua serve` (unless switched off) and as
//! `motcua worker`; any number of workers may share a database, and a worker
//! that dies mid-delivery leaves a lease that expires, so nothing is lost.
//! Delivery is at least once: a worker that dies between the server's
//! acceptance and the bookkeeping leaves a message that goes out again, with
//! the same Message-ID.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Timelike;
use diesel::QueryResult;
use rand::Rng;

use super::mailer::Mailer;
use super::outbox::{self, Channel, OutboxRow};
use super::{Notifier, digest};
use crate::config::{DossierSettings, NotificationSettings, Settings};
use crate::db::{Db, DbConnection};
use crate::error::ApiError;

/// Why a delivery failed, fit to store and show: no secrets, bounded length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The recipient refused for good or the message cannot be built:
    /// retrying will not help.
    pub permanent: bool,
    /// No answer at all (refused, unreachable, TLS, timed out): the
    /// recipient, not this message, is the problem — the courier's round
    /// stops and it backs off as a whole.
    pub outage: bool,
    pub message: String,
}

/// What a round of delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    /// Failed, to be retried later.
    pub retrying: usize,
    /// Failed for good: now dead letters.
    pub dead: usize,
    /// The round stopped at a failure to reach the recipient: the rest
    /// waits for the worker's next round, after its outage backoff.
    pub outage: bool,
}

/// How a channel's messages leave: over SMTP, or to the national portal
/// (`src/portal/client.rs`).
pub trait Transport: Send + Sync + 'static {
    const CHANNEL: Channel;
    /// Delivers one message; a failure says whether retrying may help and
    /// whether the recipient could be reached at all.
    fn send(&self, row: &OutboxRow) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Completes the claimed messages before delivery, in the claim's
    /// transaction: a portal record is built when first claimed
    /// (`src/portal/record.rs`); an e-mail is complete when queued.
    fn prepare(conn: &mut DbConnection, rows: &mut [OutboxRow]) -> QueryResult<()> {
        let _ = (conn, rows);
        Ok(())
    }
}

impl Transport for Mailer {
    const CHANNEL: Channel = Channel::Email;

    fn send(&self, row: &OutboxRow) -> impl Future<Output = Result<(), Failure>> + Send {
        Mailer::send(self, row)
    }
}

/// A transport shared with others (the portal's client also fetches documents).
impl<T: Transport> Transport for Arc<T> {
    const CHANNEL: Channel = T::CHANNEL;

    fn send(&self, row: &OutboxRow) -> impl Future<Output = Result<(), Failure>> + Send {
        T::send(self, row)
    }

    fn prepare(conn: &mut DbConnection, rows: &mut [OutboxRow]) -> QueryResult<()> {
        T::prepare(conn, rows)
    }
}

/// When failed deliveries are retried, and when they give up.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub max_attempts: i32,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    pub poll_interval_ms: u64,
}

impl From<&NotificationSettings> for Retry {
    fn from(n: &NotificationSettings) -> Self {
        Self {
            max_attempts: n.max_attempts,
            backoff_base_secs: n.backoff_base_secs,
            backoff_max_secs: n.backoff_max_secs,
            poll_interval_ms: n.poll_interval_ms,
        }
    }
}

/// Delivers one channel of the outbox: claims due messages with a lease, a
/// batch at a time, hands each to the transport and settles them.
pub struct Courier<T> {
    db: Db,
    transport: T,
    retry: Retry,
    /// How long a claim holds: twice the longest a delivery may take, so
    /// that no live worker outlasts its claim.
    lease: Duration,
}

/// The most messages a courier claims at once.
const BATCH: i64 = 32;

/// The wait before retry `attempts` + 1: `base × 2^(attempts - 1)`, at most
/// `max`, half of it random ("equal jitter") so that retries spread out.
pub fn backoff(attempts: i32, base_secs: u64, max_secs: u64) -> chrono::Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let ms = base_secs.saturating_mul(1 << doublings).min(max_secs).saturating_mul(1000);
    let half = ms / 2;
    let ms = half + rand::rng().random_range(0..=ms - half);
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
}

impl<T: Transport> Courier<T> {
    /// `delivery_timeout`: the longest one delivery may take.
    pub fn new(db: Db, transport: T, retry: Retry, delivery_timeout: Duration) -> Self {
        Self { db, transport, retry, lease: (delivery_timeout * 6).max(Duration::from_secs(60)) }
    }

    /// Delivers every message due now, a batch of claims at a time (two
    /// commits per batch, not per message), until none is left — or until
    /// the recipient cannot be reached: then the round stops at that
    /// message and gives the rest of the batch back untried (claiming and
    /// failing them would be two writes each for nothing).
    pub async fn run_pending(&self) -> Result<Delivery, ApiError> {
        let mut report = Delivery::default();
        let lease = chrono::Duration::from_std(self.lease).expect("a lease of minutes");
        loop {
            let now = crate::time::now();
            let rows = self
                .db
                .write(move |conn| {
                    let mut rows = outbox::claim_due(conn, T::CHANNEL, now, now + lease, BATCH)?;
                    T::prepare(conn, &mut rows)?;
                    Ok(rows)
                })
                .await?;
            if rows.is_empty() {
                return Ok(report);
            }
            // Every delivery of the batch ends within half the lease, so
            // that no live worker outlasts its claims.
            let (started, budget) = (std::time::Instant::now(), self.lease / 2);
            let mut tried = Vec::with_capacity(rows.len());
            let mut untried = Vec::new();
            for row in rows {
                let left = budget.saturating_sub(started.elapsed());
                if report.outage || left.is_zero() {
                    untried.push(row);
                    continue;
                }
                let outcome = tokio::time::timeout(left, self.transport.send(&row)).await.unwrap_or_else(|_| {
                    Err(Failure { permanent: false, outage: true, message: "the delivery took too long".into() })
                });
                report.outage = outcome.as_ref().is_err_and(|f| f.outage);
                tried.push((row, outcome));
            }
            self.settle(tried, untried, &mut report).await?;
            if report.outage {
                return Ok(report);
            }
        }
    }

    /// Records the batch's outcomes, and gives back what was not tried, in
    /// one transaction.
    async fn settle(
        &self,
        tried: Vec<(OutboxRow, Result<(), Failure>)>,
        untried: Vec<OutboxRow>,
        report: &mut Delivery,
    ) -> Result<(), ApiError> {
        let now = crate::time::now();
        let channel = T::CHANNEL.as_str();
        let mut settled = Vec::with_capacity(tried.len());
        for (row, outcome) in tried {
            let retry_at = match &outcome {
                Ok(()) => {
                    report.sent += 1;
                    None
                }
                Err(failure) => {
                    let (id, attempts, error) = (&row.id, row.attempts, &failure.message);
                    if failure.permanent || row.attempts >= self.retry.max_attempts {
                        report.dead += 1;
                        tracing::warn!(%id, channel, attempts, %error, "dead letter");
                        None
                    } else {
                        report.retrying += 1;
                        tracing::info!(%id, channel, attempts, %error, "delivery failed; will retry");
                        Some(now + backoff(row.attempts, self.retry.backoff_base_secs, self.retry.backoff_max_secs))
                    }
                }
            };
            settled.push((row, outcome.err().map(|f| f.message), retry_at));
        }
        let lost = self
            .db
            .write(move |conn| {
                let sent: Vec<&OutboxRow> =
                    settled.iter().filter(|(_, error, _)| error.is_none()).map(|(row, _, _)| row).collect();
                let mut lost = outbox::mark_sent(conn, &sent, now)?;
                for (row, error, retry_at) in &settled {
                    if let Some(error) = error
                        && !outbox::mark_failed(conn, row, error, *retry_at)?
                    {
                        lost.push(row.id.clone());
                    }
                }
                for row in &untried {
                    outbox::release(conn, row)?;
                }
                Ok(lost)
            })
            .await?;
        for id in lost {
            tracing::warn!(%id, channel, "the claim on this message expired during delivery; another worker holds it");
        }
        Ok(())
    }

    /// One round of the background loop. While the recipient cannot be
    /// reached, the channel pauses as a whole (a circuit breaker): each
    /// round that ends in an outage doubles the pause, from
    /// `backoff_base_secs` up to `backoff_max_secs`, and a round that
    /// reaches it closes it again — one message tried per pause, not the
    /// whole outbox. `outages` counts the rounds in a row that ended so.
    pub async fn round(&self, outages: &mut i32) {
        let channel = T::CHANNEL.as_str();
        match self.run_pending().await {
            Ok(d) if d.outage => {
                *outages += 1;
                let pause = backoff(*outages, self.retry.backoff_base_secs, self.retry.backoff_max_secs);
                tracing::warn!(
                    channel,
                    outages,
                    pause_secs = pause.num_seconds(),
                    "recipient unreachable; delivery paused"
                );
                tokio::time::sleep(pause.to_std().unwrap_or_default()).await;
            }
            Ok(d) => {
                if *outages > 0 {
                    tracing::info!(channel, "recipient reachable again; delivery resumed");
                }
                *outages = 0;
                if d != Delivery::default() {
                    tracing::info!(channel, sent = d.sent, retrying = d.retrying, dead = d.dead, "outbox delivery")
                }
            }
            Err(e) => tracing::warn!(channel, error = %e, "outbox delivery interrupted; retrying at the next tick"),
        }
    }

    /// Delivers forever, a round per poll interval.
    pub async fn run(self: Arc<Self>) {
        tracing::info!(channel = T::CHANNEL.as_str(), "outbox courier started");
        let mut ticks = tokio::time::interval(Duration::from_millis(self.retry.poll_interval_ms));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut outages = 0;
        loop {
            ticks.tick().await;
            self.round(&mut outages).await;
        }
    }
}

/// The e-mail worker: the daily digest, late-step alerts, and the e-mail
/// channel of the outbox.
pub struct Worker {
    db: Db,
    mail: Courier<Mailer>,
    notifier: Notifier,
    settings: NotificationSettings,
    /// Office hours and the step deadlines' margins.
    dossiers: DossierSettings,
}

impl Worker {
    pub fn new(settings: &Settings, db: Db) -> anyhow::Result<Self> {
        let mailer = Mailer::new(&settings.smtp)?;
        let timeout = Duration::from_secs(settings.smtp.timeout_secs);
        Ok(Self {
            mail: Courier::new(db.clone(), mailer, Retry::from(&settings.notifications), timeout),
            notifier: Notifier::new(&settings.notifications),
            settings: settings.notifications.clone(),
            dossiers: settings.dossiers.clone(),
            db,
        })
    }

    /// Delivers every e-mail due now (`Courier::run_pending`).
    pub async fn run_pending(&self) -> Result<Delivery, ApiError> {
        self.mail.run_pending().await
    }

    /// Queues the staff digests once per local day, from `digest_hour` on;
    /// returns how many were queued, or `None` when it was not time or
    /// another run (of any instance) already did today's.
    pub async fn digest_if_due(&self, now: chrono::NaiveDateTime) -> Result<Option<usize>, ApiError> {
        let local = crate::dossiers::local(now);
        if local.hour() < self.settings.digest_hour {
            return Ok(None);
        }
        let (notifier, dossiers) = (self.notifier.clone(), self.dossiers.clone());
        self.db
            .write(move |conn| {
                if digest::claim_day(conn, local.date())? {
                    digest::queue_digests(conn, &notifier, &dossiers, now).map(Some)
                } else {
                    Ok(None)
                }
            })
            .await
    }

    /// Alerts the approvers of the steps late beyond the margin
    /// (`alerts::alert_late_steps`); how many steps were alerted.
    pub async fn alert_late_steps(&self, now: chrono::NaiveDateTime) -> Result<usize, ApiError> {
        let dossiers = self.dossiers.clone();
        let late = self.db.run(move |conn| Ok(super::alerts::late_steps(conn, &dossiers, now)?)).await?;
        if late.is_empty() {
            return Ok(0);
        }
        let (notifier, dossiers) = (self.notifier.clone(), self.dossiers.clone());
        self.db.write(move |conn| super::alerts::alert_late_steps(conn, &notifier, &dossiers, &late, now)).await
    }

    /// Polls forever: the digest when due, late-step alerts, then the
    /// e-mails (`Courier::round`). Errors (the database away, say) are
    /// logged and retried at the next tick.
    pub async fn run(self: Arc<Self>) {
        tracing::info!(poll_interval_ms = self.settings.poll_interval_ms, "outbox worker started");
        let mut ticks = tokio::time::interval(Duration::from_millis(self.settings.poll_interval_ms));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut outages = 0;
        loop {
            ticks.tick().await;
            if let Err(e) = self.digest_if_due(crate::time::now()).await {
                tracing::warn!(error = %e, "staff digest failed; retrying at the next tick");
            }
            if let Err(e) = self.alert_late_steps(crate::time::now()).await {
                tracing::warn!(error = %e, "late-step alerts failed; retrying at the next tick");
            }
            self.mail.round(&mut outages).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for _ in 0..200 {
            let first = backoff(1, 30, 3600).num_milliseconds();
            assert!((15_000..=30_000).contains(&first), "{first}");
            let third = backoff(3, 30, 3600).num_milliseconds();
            assert!((60_000..=120_000).contains(&third), "{third}");
            let late = backoff(40, 30, 3600).num_milliseconds();
            assert!((1_800_000..=3_600_000).contains(&late), "{late}");
        }
        let spread: std::collections::HashSet<i64> = (0..50).map(|_| backoff(2, 30, 3600).num_milliseconds()).collect();
        assert!(spread.len() > 10, "jitter spreads retries");
    }
}
