//! The `outbox` table: messages are queued in the transaction of the change
//! that causes them, claimed a batch at a time with a lease, and settled as sent,
//! to retry, or dead. One outbox, two channels: e-mails, and the sync
//! records of the national portal (`src/portal/`), which also keep their
//! dossier's order: a record is claimed only once every earlier record of
//! its dossier was delivered.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Kind;
use super::templates::Rendered;
use crate::db::DbConnection;
use crate::db::schema::outbox;
use crate::error::{ApiError, ProblemCode};

/// Where a message is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Claimed by a worker until `lease_until`.
    Sending,
    Sent,
    /// Gave up: `max_attempts` failures, or a permanent refusal. Admins retry it.
    Dead,
    /// A portal record never delivered, replaced by a later record with its
    /// dossier's whole state (`motcua portal resync`, docs/portal.md).
    Superseded,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Dead => "dead",
            State::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [State::Pending, State::Sending, State::Sent, State::Dead, State::Superseded]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = OutboxChannel)]
pub enum Channel {
    /// An e-mail, over SMTP (`src/notify/mailer.rs`).
    Email,
    /// A sync record of a dossier, to the national portal (`src/portal/client.rs`).
    Portal,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Portal => "portal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Channel::Email, Channel::Portal].into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub dossier_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub channel: String,
    /// A portal record's place in its dossier's order.
    pub seq: Option<i32>,
    /// A portal record's change (`src/portal/record.rs`).
    pub audit_id: Option<String>,
}

impl OutboxRow {
    pub fn channel(&self) -> Channel {
        Channel::parse(&self.channel).expect("channels are written by the outbox")
    }
}

/// What a delivered message that carried a single-use link keeps of its body.
pub const REDACTED: &str = "(removed after delivery: the message carried a single-use link)";

/// A message to queue.
pub struct Message<'a> {
    pub channel: Channel,
    /// The e-mail's kind, or `portal_sync`.
    pub kind: &'a str,
    /// An e-mail address, or the portal.
    pub recipient: &'a str,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub dossier_id: Option<&'a str>,
    pub seq: Option<i32>,
    /// A portal record's change (`src/portal/record.rs`).
    pub audit_id: Option<&'a str>,
    /// When it is first due.
    pub due_at: NaiveDateTime,
    /// Its id, which the recipient sees (`Message-ID`, the portal's idempotency id).
    pub id: String,
}

/// Queues `message` in the caller's transaction.
pub fn queue(conn: &mut DbConnection, message: Message) -> QueryResult<()> {
    let now = crate::time::now();
    let row = OutboxRow {
        id: message.id,
        kind: message.kind.into(),
        recipient: message.recipient.into(),
        subject: message.subject,
        text_body: message.text_body,
        html_body: message.html_body,
        state: State::Pending.as_str().into(),
        attempts: 0,
        next_attempt_at: message.due_at,
        lease_until: None,
        last_error: None,
        dossier_id: message.dossier_id.map(str::to_string),
        created_at: now,
        sent_at: None,
        channel: message.channel.as_str().into(),
        seq: message.seq,
        audit_id: message.audit_id.map(str::to_string),
    };
    diesel::insert_into(outbox::table).values(&row).execute(conn)?;
    Ok(())
}

/// Queues the e-mail `message` for `recipient` in the caller's transaction.
pub fn enqueue(
    conn: &mut DbConnection,
    kind: Kind,
    recipient: &str,
    message: Rendered,
    dossier_id: Option<&str>,
) -> QueryResult<()> {
    queue(
        conn,
        Message {
            channel: Channel::Email,
            kind: kind.as_str(),
            recipient,
            subject: message.subject,
            text_body: message.text,
            html_body: message.html,
            dossier_id,
            seq: None,
            audit_id: None,
            due_at: crate::time::now(),
            id: uuid::Uuid::now_v7().to_string(),
        },
    )
}

/// Claims up to `limit` messages of `channel` due at `now` — pending and
/// due, then claimed by a worker whose lease has run out — until
/// `lease_until`, counting the attempt. A portal record waits while an
/// earlier record of its dossier is undelivered (pending, being sent or
/// dead): records reach the portal in their dossier's order, and one claim
/// never holds two records of a dossier. Run in a write transaction:
/// PostgreSQL skips the rows other workers are claiming (`FOR UPDATE SKIP
/// LOCKED`), SQLite's single writer serialises claims; either way each
/// message has one holder at a time.
pub fn claim_due(
    conn: &mut DbConnection,
    channel: Channel,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let earlier = diesel::alias!(outbox as earlier);
    // No earlier record of the dossier undelivered (e-mails have no `seq`).
    macro_rules! in_order {
        () => {
            diesel::dsl::not(diesel::dsl::exists(
                earlier.filter(
                    earlier
                        .field(outbox::dossier_id)
                        .eq(outbox::dossier_id)
                        .and(earlier.field(outbox::seq).lt(outbox::seq))
                        .and(earlier.field(outbox::state).ne_all([State::Sent.as_str(), State::Superseded.as_str()])),
                ),
            ))
        };
    }
    // Two scans, each along `outbox_due_idx`, rather than one with an OR.
    macro_rules! pending {
        () => {
            outbox::table.filter(
                outbox::channel
                    .eq(channel.as_str())
                    .and(outbox::state.eq(State::Pending.as_str()))
                    .and(outbox::next_attempt_at.le(now))
                    .and(in_order!()),
            )
        };
    }
    macro_rules! expired {
        () => {
            outbox::table.filter(
                outbox::channel
                    .eq(channel.as_str())
                    .and(outbox::state.eq(State::Sending.as_str()))
                    .and(outbox::lease_until.lt(now))
                    .and(in_order!()),
            )
        };
    }
    let mut ids: Vec<String> = crate::all_unlocked!(
        conn,
        pending!().order((outbox::next_attempt_at.asc(), outbox::id.asc())).select(outbox::id).limit(limit)
    )?;
    let room = limit - ids.len() as i64;
    if room > 0 {
        ids.extend(crate::all_unlocked!(
            conn,
            expired!().order((outbox::lease_until.asc(), outbox::id.asc())).select(outbox::id).limit(room)
        )?);
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The update re-checks that each message is still claimable, so that
    // correctness does not rest on the locking alone.
    let claim = (
        outbox::state.eq(State::Sending.as_str()),
        outbox::lease_until.eq(lease_until),
        outbox::attempts.eq(outbox::attempts + 1),
    );
    diesel::update(pending!().filter(outbox::id.eq_any(&ids))).set(claim).execute(conn)?;
    diesel::update(expired!().filter(outbox::id.eq_any(&ids))).set(claim).execute(conn)?;
    // Ours: the rows are locked (or the writer is) until the commit.
    let claimed = outbox::table
        .filter(
            outbox::id
                .eq_any(&ids)
                .and(outbox::state.eq(State::Sending.as_str()))
                .and(outbox::lease_until.eq(lease_until)),
        )
        .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
        .select(OutboxRow::as_select())
        .load(conn)?;
    Ok(claimed)
}

/// The next message of `channel` due at `now`, claimed (`claim_due`).
pub fn claim_next(
    conn: &mut DbConnection,
    channel: Channel,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<OutboxRow>> {
    Ok(claim_due(conn, channel, now, lease_until, 1)?.pop())
}

/// Stores the subject, body and place of claimed message `row`, completed
/// before its first delivery (`worker::Transport::prepare`).
pub fn complete(conn: &mut DbConnection, row: &OutboxRow) -> QueryResult<()> {
    diesel::update(outbox::table.find(&row.id))
        .set((outbox::subject.eq(&row.subject), outbox::text_body.eq(&row.text_body), outbox::seq.eq(row.seq)))
        .execute(conn)?;
    Ok(())
}

/// The claimed message, if the claim still holds (it may have expired and
/// gone to another worker).
macro_rules! still_claimed {
    ($row:expr) => {
        outbox::table.filter(
            outbox::id
                .eq(&$row.id)
                .and(outbox::state.eq(State::Sending.as_str()))
                .and(outbox::lease_until.eq($row.lease_until)),
        )
    };
}

/// Records the delivery of claimed messages `rows` (and, for a portal
/// record, that its dossier's mirror has it), one statement for those of a
/// claim; returns the ids whose claim was lost.
pub fn mark_sent(conn: &mut DbConnection, rows: &[&OutboxRow], now: NaiveDateTime) -> QueryResult<Vec<String>> {
    let mut kept: Vec<String> = Vec::with_capacity(rows.len());
    // Those carrying a single-use link keep no body; a claim's messages
    // share its lease.
    let mut groups: Vec<(bool, Option<NaiveDateTime>, Vec<&str>)> = Vec::new();
    for row in rows {
        let secret = Kind::parse(&row.kind).is_some_and(Kind::carries_secret);
        match groups.iter_mut().find(|(s, lease, _)| *s == secret && *lease == row.lease_until) {
            Some((_, _, ids)) => ids.push(&row.id),
            None => groups.push((secret, row.lease_until, vec![&row.id])),
        }
    }
    for (secret, lease, ids) in groups {
        let claimed = outbox::table.filter(
            outbox::id.eq_any(ids).and(outbox::state.eq(State::Sending.as_str())).and(outbox::lease_until.eq(lease)),
        );
        let sent = (
            outbox::state.eq(State::Sent.as_str()),
            outbox::sent_at.eq(now),
            outbox::lease_until.eq(None::<NaiveDateTime>),
        );
        let ids: Vec<String> = if secret {
            diesel::update(claimed)
                .set((sent, outbox::text_body.eq(REDACTED), outbox::html_body.eq(REDACTED)))
                .returning(outbox::id)
                .get_results(conn)?
        } else {
            diesel::update(claimed).set(sent).returning(outbox::id).get_results(conn)?
        };
        kept.extend(ids);
    }
    let delivered: Vec<&OutboxRow> =
        rows.iter().copied().filter(|r| r.channel() == Channel::Portal && kept.contains(&r.id)).collect();
    crate::portal::sync::acknowledged(conn, &delivered, now)?;
    Ok(rows.iter().filter(|r| !kept.contains(&r.id)).map(|r| r.id.clone()).collect())
}

/// Records a failed delivery: to retry at `retry_at`, or dead when `None`.
pub fn mark_failed(
    conn: &mut DbConnection,
    row: &OutboxRow,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> QueryResult<bool> {
    let state = if retry_at.is_some() { State::Pending } else { State::Dead };
    let updated = diesel::update(still_claimed!(row))
        .set((
            outbox::state.eq(state.as_str()),
            outbox::next_attempt_at.eq(retry_at.unwrap_or(row.next_attempt_at)),
            outbox::lease_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(error),
        ))
        .execute(conn)?;
    if updated == 1 && row.channel() == Channel::Portal {
        crate::portal::sync::failed(conn, row, error, retry_at)?;
    }
    Ok(updated == 1)
}

/// Gives back a claimed message that was not tried (the round stopped
/// before it): pending again, its attempt uncounted.
pub fn release(conn: &mut DbConnection, row: &OutboxRow) -> QueryResult<()> {
    diesel::update(still_claimed!(row))
        .set((
            outbox::state.eq(State::Pending.as_str()),
            outbox::lease_until.eq(None::<NaiveDateTime>),
            outbox::attempts.eq(outbox::attempts - 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// Puts a dead letter back in the queue with a fresh set of attempts.
pub fn retry(conn: &mut DbConnection, id: &str) -> Result<OutboxRow, ApiError> {
    let state: String =
        outbox::table.find(id).select(outbox::state).first(conn).optional()?.ok_or_else(ApiError::not_found)?;
    if state != State::Dead.as_str() {
        return Err(ApiError::conflict(
            ProblemCode::NotDeadLetter,
            format!("Only dead letters are retried; this message is {state}."),
        ));
    }
    diesel::update(outbox::table.find(id))
        .set((
            outbox::state.eq(State::Pending.as_str()),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
    Ok(outbox::table.find(id).select(OutboxRow::as_select()).first(conn)?)
}
