//! The `outbox` table: messages are queued in the transaction of the change
//! that causes them, claimed one at a time with a lease, and settled as sent,
//! to retry, or dead.

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
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [State::Pending, State::Sending, State::Sent, State::Dead].into_iter().find(|st| st.as_str() == s)
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
}

/// What a delivered message that carried a single-use link keeps of its body.
pub const REDACTED: &str = "(removed after delivery: the message carried a single-use link)";

/// Queues `message` for `recipient` in the caller's transaction.
pub fn enqueue(
    conn: &mut DbConnection,
    kind: Kind,
    recipient: &str,
    message: Rendered,
    dossier_id: Option<&str>,
) -> QueryResult<()> {
    let now = crate::time::now();
    let row = OutboxRow {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.as_str().into(),
        recipient: recipient.into(),
        subject: message.subject,
        text_body: message.text,
        html_body: message.html,
        state: State::Pending.as_str().into(),
        attempts: 0,
        next_attempt_at: now,
        lease_until: None,
        last_error: None,
        dossier_id: dossier_id.map(str::to_string),
        created_at: now,
        sent_at: None,
    };
    diesel::insert_into(outbox::table).values(&row).execute(conn)?;
    Ok(())
}

/// Claims the next message due at `now` (pending and due, or claimed by a
/// worker whose lease has run out) until `lease_until`, counting the attempt.
/// Run in a write transaction: PostgreSQL skips the rows other workers are
/// claiming (`FOR UPDATE SKIP LOCKED`), SQLite's single writer serialises
/// claims; either way each message has one holder at a time.
pub fn claim_next(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<OutboxRow>> {
    macro_rules! claimable {
        () => {
            outbox::table.filter(
                outbox::state
                    .eq(State::Pending.as_str())
                    .and(outbox::next_attempt_at.le(now))
                    .or(outbox::state.eq(State::Sending.as_str()).and(outbox::lease_until.lt(now))),
            )
        };
    }
    macro_rules! due {
        () => {
            claimable!().order((outbox::next_attempt_at.asc(), outbox::id.asc())).select(outbox::id).limit(1)
        };
    }
    loop {
        let id: Option<String> = crate::first_unlocked!(conn, due!())?;
        let Some(id) = id else { return Ok(None) };
        // The update re-checks that the message is still claimable, so that
        // correctness does not rest on the locking alone.
        let claimed = diesel::update(claimable!().filter(outbox::id.eq(&id)))
            .set((
                outbox::state.eq(State::Sending.as_str()),
                outbox::lease_until.eq(lease_until),
                outbox::attempts.eq(outbox::attempts + 1),
            ))
            .execute(conn)?;
        if claimed == 1 {
            return outbox::table.find(&id).select(OutboxRow::as_select()).first(conn).map(Some);
        }
    }
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

/// Records the delivery of a claimed message; false if the claim was lost.
pub fn mark_sent(conn: &mut DbConnection, row: &OutboxRow, now: NaiveDateTime) -> QueryResult<bool> {
    let updated = if Kind::parse(&row.kind).is_some_and(Kind::carries_secret) {
        diesel::update(still_claimed!(row))
            .set((
                outbox::state.eq(State::Sent.as_str()),
                outbox::sent_at.eq(now),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::text_body.eq(REDACTED),
                outbox::html_body.eq(REDACTED),
            ))
            .execute(conn)?
    } else {
        diesel::update(still_claimed!(row))
            .set((
                outbox::state.eq(State::Sent.as_str()),
                outbox::sent_at.eq(now),
                outbox::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?
    };
    Ok(updated == 1)
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
    Ok(updated == 1)
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
