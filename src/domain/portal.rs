//! The national public service portal's vocabulary (Cổng Dịch vụ công quốc
//! gia, DVCQG) and the rules of mirroring dossiers there: which changes it
//! is told about, how codes and times are written, and when a dossier
//! counts as synced. docs/portal.md documents the record field by field.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::to_local;
use super::dossier::{Channel, Digitization};
use super::workflow::{Action, EventAction, Recorded, Status};

/// How the portal writes a date-time: local time (UTC+7), `yyyyMMddHHmmss`,
/// as the Vietnamese implementations send it. The one place it is written.
pub const TIME_FORMAT: &str = "%Y%m%d%H%M%S";

/// `at` (UTC, as stored) in the portal's format.
pub fn time(at: NaiveDateTime) -> String {
    to_local(DateTime::<Utc>::from_naive_utc_and_offset(at, Utc)).format(TIME_FORMAT).to_string()
}

/// `KenhThucHien`: 1 at the counter, 2 online, 3 by post.
pub fn channel_code(channel: Channel) -> u8 {
    match channel {
        Channel::Counter => 1,
        Channel::Online => 2,
        Channel::Postal => 3,
    }
}

/// `LoaiDoiTuong`: 1 a citizen, 2 a business, 3 an organisation, 4 other.
/// motcua's applicants are citizens, businesses, and representatives
/// filing for someone else (other).
pub fn applicant_code(kind: &str) -> u8 {
    match kind {
        "citizen" => 1,
        "business" => 2,
        _ => 4,
    }
}

/// The portal's flags are 1 (yes) and 0 (no).
pub fn flag(yes: bool) -> u8 {
    u8::from(yes)
}

/// Whether the portal is told about a change: every change of status
/// (national status included: a payment), every handover between steps
/// and units, every change of the documents, dates or result. Moving a
/// dossier between colleagues of one step (assign, claim, release without
/// a change of status), a rating and binding an account are internal.
pub fn mirrored(action: EventAction, from: Option<Status>, to: Status) -> bool {
    let internal = matches!(
        action,
        EventAction::Workflow(Action::Assign | Action::Claim | Action::Release)
            | EventAction::Other(Recorded::Rate | Recorded::BindApplicant)
    );
    from != Some(to) || !internal
}

/// A national procedure code (MaTTHC) as the national procedure database
/// writes it: a digit, a dot and six digits (`1.001612`).
pub fn valid_procedure_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 8 && bytes[0].is_ascii_digit() && bytes[1] == b'.' && bytes[2..].iter().all(u8::is_ascii_digit)
}

/// One dossier as the portal receives it (its `HoSo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dossier {
    /// The dossier's code: the portal's own for a dossier filed there, else motcua's.
    #[serde(rename = "MaHoSo")]
    pub code: String,
    /// motcua's code, when `MaHoSo` is the portal's.
    #[serde(rename = "MaHoSoMotCua", skip_serializing_if = "Option::is_none")]
    pub local_code: Option<String>,
    #[serde(rename = "MaTTHC")]
    pub procedure_code: String,
    #[serde(rename = "TenTTHC")]
    pub procedure_name: String,
    #[serde(rename = "KenhThucHien")]
    pub channel: u8,
    #[serde(rename = "ChuHoSo")]
    pub applicant: String,
    #[serde(rename = "LoaiDoiTuong")]
    pub applicant_kind: u8,
    #[serde(rename = "NgayNopHoSo")]
    pub submitted_at: String,
    /// Empty until received.
    #[serde(rename = "NgayTiepNhan")]
    pub received_at: String,
    #[serde(rename = "NgayHenTra")]
    pub due_at: String,
    /// The national status, 1–10.
    #[serde(rename = "TrangThaiHoSo")]
    pub status: u8,
    /// When processing ended: the result ready, or the dossier refused,
    /// withdrawn or stopped.
    #[serde(rename = "NgayKetThucXuLy")]
    pub ended_at: String,
    /// When the result was handed to the applicant.
    #[serde(rename = "NgayTra")]
    pub returned_at: String,
    /// The code of the unit that processes it.
    #[serde(rename = "DonViXuLy")]
    pub unit_code: String,
    #[serde(rename = "TenDonViXuLy")]
    pub unit_name: String,
    #[serde(rename = "HoSoCoThanhPhanSoHoa")]
    pub digitized: u8,
    #[serde(rename = "DuocThanhToanTrucTuyen")]
    pub paid_online: u8,
    #[serde(rename = "TaiLieuNop")]
    pub components: Vec<Component>,
    /// The processing history this record adds (every entry, on a resync).
    #[serde(rename = "QuaTrinhXuLy")]
    pub history: Vec<Handling>,
}

/// A component of the dossier (`TaiLieuNop`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Its position in the procedure, from 1.
    #[serde(rename = "MaThanhPhanHoSo")]
    pub position: String,
    #[serde(rename = "TenThanhPhanHoSo")]
    pub name: String,
    #[serde(rename = "BatBuoc")]
    pub mandatory: u8,
    /// The files attached to it.
    #[serde(rename = "SoTepDinhKem")]
    pub files: i64,
    #[serde(rename = "DuocSoHoa")]
    pub digitized: u8,
    #[serde(rename = "DuocTaiSuDung")]
    pub reused: u8,
}

impl Component {
    pub fn new(position: i32, name: String, mandatory: bool, digitization: Digitization, files: i64) -> Self {
        Self {
            position: (position + 1).to_string(),
            name,
            mandatory: flag(mandatory),
            files,
            digitized: flag(digitization != Digitization::NotDigitized),
            reused: flag(digitization == Digitization::Reused),
        }
    }
}

/// An entry of the processing history (`QuaTrinhXuLy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handling {
    /// Who acted: a person's name, or the applicant.
    #[serde(rename = "NguoiXuLy")]
    pub actor: String,
    /// The role they acted in.
    #[serde(rename = "ChucDanh")]
    pub role: String,
    #[serde(rename = "ThoiDiemXuLy")]
    pub at: String,
    #[serde(rename = "PhongBanXuLy")]
    pub unit: String,
    /// What was done.
    #[serde(rename = "NoiDungXuLy")]
    pub summary: String,
    /// The national status after it.
    #[serde(rename = "TrangThai")]
    pub status: u8,
    /// When the step the dossier is at after it started, and its deadline.
    #[serde(rename = "NgayBatDau")]
    pub step_started_at: String,
    #[serde(rename = "NgayKetThucTheoQuyDinh")]
    pub step_due_at: String,
}

/// What is delivered: one record of one dossier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Always `DongBoHoSoMC` (the portal's sync service).
    pub service: String,
    /// The record's id: the same on every delivery of it (the idempotency id).
    #[serde(rename = "MaDongBo")]
    pub id: String,
    /// Its place in the dossier's order: 1, 2, 3 …
    #[serde(rename = "ThuTu")]
    pub seq: i32,
    pub data: Vec<Dossier>,
}

pub const SERVICE: &str = "DongBoHoSoMC";

/// Where a dossier's mirror stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// The portal acknowledged its latest record.
    Synced,
    /// A record waits, within the allowed delay.
    Pending,
    /// The last attempt to deliver failed.
    Failed,
    /// A record has waited longer than the allowed delay.
    Overdue,
}

/// The state of a mirror whose records run to `latest`, `acked` of them
/// acknowledged; the oldest waiting since `waiting_since`; `failing` when
/// the last attempt failed. Failure outranks delay.
pub fn sync_state(
    latest: i32,
    acked: i32,
    failing: bool,
    waiting_since: Option<NaiveDateTime>,
    now: NaiveDateTime,
    allowed: chrono::Duration,
) -> SyncState {
    if acked >= latest {
        SyncState::Synced
    } else if failing {
        SyncState::Failed
    } else if waiting_since.is_some_and(|t| now - t > allowed) {
        SyncState::Overdue
    } else {
        SyncState::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2025, 7, 1).unwrap().and_hms_opt(h, m, 5).unwrap()
    }

    #[test]
    fn times_are_local_and_compact() {
        assert_eq!(time(at(2, 30)), "20250701093005");
        // 17:00 UTC is already the next day in Vietnam.
        assert_eq!(time(at(17, 0)), "20250702000005");
    }

    #[test]
    fn codes_follow_the_portal() {
        assert_eq!([Channel::Counter, Channel::Online, Channel::Postal].map(channel_code), [1, 2, 3]);
        assert_eq!(["citizen", "business", "representative"].map(applicant_code), [1, 2, 4]);
        assert!(valid_procedure_code("1.001612"));
        assert!(valid_procedure_code("2.000889"));
        for bad in ["1001612", "1.00161", "1.0016123", "a.001612", "1,001612", "", "1.00161x"] {
            assert!(!valid_procedure_code(bad), "{bad}");
        }
    }

    #[test]
    fn internal_moves_are_not_mirrored() {
        use Status::*;
        let claim = EventAction::Workflow(Action::Claim);
        assert!(!mirrored(claim, Some(InProgress), InProgress));
        // A claim that starts processing changes the national status.
        assert!(mirrored(claim, Some(Received), InProgress));
        assert!(!mirrored(EventAction::Other(Recorded::Rate), Some(Returned), Returned));
        assert!(mirrored(EventAction::Workflow(Action::Forward), Some(InProgress), InProgress));
        assert!(mirrored(EventAction::Other(Recorded::Payment), Some(Received), Received));
        assert!(mirrored(EventAction::Other(Recorded::Upload), Some(Received), Received));
        assert!(mirrored(EventAction::Other(Recorded::Submit), None, Submitted));
        assert!(mirrored(EventAction::Workflow(Action::Apologize), Some(InProgress), InProgress));
    }

    proptest::proptest! {
        /// Any time reads back, in local time, from the portal's format.
        #[test]
        fn portal_times_read_back_in_local_time(secs in 0i64..4_102_444_800) {
            let at = DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
            let written = time(at);
            proptest::prop_assert_eq!(written.len(), 14);
            let read = NaiveDateTime::parse_from_str(&written, TIME_FORMAT).unwrap();
            proptest::prop_assert_eq!(read, to_local(DateTime::<Utc>::from_naive_utc_and_offset(at, Utc)));
        }

        /// Synced exactly when every record is acknowledged; a failure shows
        /// whatever the wait.
        #[test]
        fn sync_states_follow_the_counts(latest in 1i32..50, acked in 0i32..50, failing: bool, waited in 0i64..500) {
            let now = at(10, 0);
            let state = sync_state(latest, acked, failing, Some(now - chrono::Duration::minutes(waited)), now, chrono::Duration::minutes(60));
            proptest::prop_assert_eq!(state == SyncState::Synced, acked >= latest);
            if acked < latest && failing {
                proptest::prop_assert_eq!(state, SyncState::Failed);
            }
            if acked < latest && !failing {
                proptest::prop_assert_eq!(state == SyncState::Overdue, waited > 60);
            }
        }
    }

    #[test]
    fn sync_states() {
        let allowed = chrono::Duration::minutes(30);
        let now = at(10, 0);
        assert_eq!(sync_state(3, 3, false, None, now, allowed), SyncState::Synced);
        assert_eq!(sync_state(3, 2, false, Some(at(9, 50)), now, allowed), SyncState::Pending);
        assert_eq!(sync_state(3, 2, false, Some(at(9, 0)), now, allowed), SyncState::Overdue);
        assert_eq!(sync_state(3, 2, true, Some(at(9, 59)), now, allowed), SyncState::Failed);
        // A failure that was later delivered is synced.
        assert_eq!(sync_state(3, 3, true, None, now, allowed), SyncState::Synced);
    }
}
